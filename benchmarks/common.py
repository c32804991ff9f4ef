"""Helpers shared by the benchmark scripts: timing, tables, and a matmul peak for context."""

from __future__ import annotations

import atexit
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

DEMO_MODEL = Path(__file__).resolve().parents[1] / "resources" / "models" / "demo_chess_mobilenet_v2.safetensors"


def scratch_dir(prefix: str) -> Path:
    """A new temporary folder, removed when the script ends: a benchmark's runs write checkpoints of
    tens of MB each, which were left in the temporary folder run after run."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def median_time(fn: Callable[[], object], repeat: int, warmup: int = 1, sync: bool = False) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, device: str = "cpu", n: int = 2048) -> float:
    """Achieved GFLOP/s of an n x n matmul: the practical ceiling for convolution-heavy work."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    t = median_time(lambda: a @ b, repeat=5, sync=device != "cpu")
    return 2 * n**3 / t / 1e9


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    cells = [header] + [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")


def torchvision_mobilenet_retinanet(num_classes: int, channels: int):
    """torchvision's RetinaNet on the MobileNetV2 body our ``mobilenet_v2`` backbone uses (C3-C5 at
    blocks 6, 13, 18; P6 from C5 as the retinanet preset does; frozen BatchNorm), with its default
    anchor sizes. Parameter names equal ours, so our state dicts load into it."""
    from torchvision.models import mobilenet_v2
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops import misc as misc_ops
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    body = mobilenet_v2(weights=None, norm_layer=misc_ops.FrozenBatchNorm2d).features
    backbone = BackboneWithFPN(body, {"6": "0", "13": "1", "18": "2"}, [32, 96, 1280], channels, extra_blocks=LastLevelP6P7(1280, channels))
    sizes = tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (32, 64, 128, 256, 512))
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5)
    return RetinaNet(backbone, num_classes, anchor_generator=anchors, min_size=512, max_size=768)
