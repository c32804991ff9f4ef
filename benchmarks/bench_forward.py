"""End-to-end inference (preprocess + network + post-process) against torchvision's RetinaNet with
the same weights; bf16 agreement with fp32 on real photos; achieved GFLOP/s next to the matmul peak.

    .venv/bin/python benchmarks/bench_forward.py [--device cpu|cuda] [--repeat N]

On CUDA it also measures img/s at 800x1333, batch 8: our bf16 autocast vs torchvision fp32 eager.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.detection import retinanet_resnet50_fpn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import matmul_peak, median_time, print_table  # noqa: E402
from core.config import PreprocessConfig  # noqa: E402
from core.detector import Detector  # noqa: E402
from core.images import load_image  # noqa: E402
from core.review import count_twins  # noqa: E402
from core.weights import load_checkpoint  # noqa: E402

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sample_photos"
AGREEMENT_PHOTOS = ["skimage/astronaut.png", "skimage/coffee.png", "skimage/chelsea.png", "sklearn/china.jpg",
                    "sklearn/flower.jpg", "matplotlib/grace_hopper.jpg", "skimage/rocket.jpg", "skimage/motorcycle_left.png"]


def build(tmp: Path, size: tuple[int, int]):
    torch.manual_seed(0)
    tv = retinanet_resnet50_fpn(weights=None, weights_backbone=None, min_size=min(size), max_size=max(size)).eval()
    with torch.no_grad():  # enough detections for post-processing and agreement to matter
        tv.head.classification_head.cls_logits.bias.normal_(-3.0, 0.5)
        tv.head.classification_head.cls_logits.weight.mul_(5)
    path = tmp / "tv_v1.pth"
    torch.save(tv.state_dict(), path)
    return tv, load_checkpoint(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    device = args.device
    cuda = device.startswith("cuda")
    if not cuda:
        torch.set_num_threads(os.cpu_count() or 1)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "retina_bench"
    tmp.mkdir(exist_ok=True)
    peak32, peak16 = matmul_peak(torch.float32, device), matmul_peak(torch.bfloat16, device)
    print(f"device {device}, threads {torch.get_num_threads()}, matmul peak fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")
    rows = []
    for size in [(512, 512), (800, 1333)]:
        tv, ckpt = build(tmp, size)
        tv = tv.to(device)
        pre = PreprocessConfig(min_size=min(size), max_size=max(size), size_rounding="floor", antialias=False)
        image = np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)
        x = torch.from_numpy(image).permute(2, 0, 1).float().div(255).to(device)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            feats = tv.backbone(x[None])
            tv.head(list(feats.values()))
        flops = counter.get_total_flops()
        with torch.no_grad():
            t_tv = median_time(lambda: tv([x]), args.repeat, sync=cuda)
        rows.append([f"{size[0]}x{size[1]}", "torchvision fp32", t_tv * 1e3, 1.0, flops / t_tv / 1e9])
        for precision in ("fp32", "bf16"):
            det = Detector(ckpt.build_model(), ckpt.spec, device=device, precision=precision, preprocess_config=pre)
            t = median_time(lambda: det.detect([image]), args.repeat, sync=cuda)
            rows.append([f"{size[0]}x{size[1]}", f"ours {precision}", t * 1e3, t / t_tv, flops / t / 1e9])
    print_table("End-to-end inference, R50-FPN, batch 1 (GFLOP/s counts the network's convolutions)",
                ["input", "implementation", "ms (median)", "ratio vs torchvision", "GFLOP/s"], rows)

    tv, ckpt = build(tmp, (800, 1333))
    fp32 = Detector(ckpt.build_model(), ckpt.spec, device=device, precision="fp32")
    bf16 = Detector(ckpt.build_model(), ckpt.spec, device=device, precision="bf16")
    agree = []
    for name in AGREEMENT_PHOTOS:
        image = load_image(PHOTOS / name)
        ref, low = fp32.detect([image])[0], bf16.detect([image])[0]
        agree.append([name, len(ref), len(low), count_twins(ref, low) / max(1, len(ref))])
    total = sum(r[1] for r in agree)
    agree.append(["all", total, sum(r[2] for r in agree), sum(r[1] * r[3] for r in agree) / max(1, total)])
    print_table("bf16 vs fp32 detections on real photos (share of fp32 detections kept: same class, IoU >= 0.9, score within 0.02)",
                ["photo", "fp32 detections", "bf16 detections", "kept"], agree)

    if cuda:
        batch = [torch.rand(3, 800, 1333, device=device) for _ in range(8)]
        images = [(b.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8) for b in batch]
        tv = tv.to(device)
        with torch.no_grad():
            t_tv = median_time(lambda: tv(batch), args.repeat, sync=True)
        t_ours = median_time(lambda: bf16.detect(images), args.repeat, sync=True)
        print_table("CUDA throughput at 800x1333, batch 8", ["implementation", "img/s", "speed-up"],
                    [["torchvision fp32 eager", 8 / t_tv, 1.0], ["ours bf16 autocast", 8 / t_ours, t_tv / t_ours]])


if __name__ == "__main__":
    main()
