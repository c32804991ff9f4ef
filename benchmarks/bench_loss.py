"""Loss forward + backward, batch 4 at 512x512, 91 classes, 5 boxes per image: ours vs torchvision's
``RetinaNet.compute_loss`` on the same head outputs and anchors.

    .venv/bin/python benchmarks/bench_loss.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torchvision.models.detection import retinanet_resnet50_fpn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import median_time, print_table  # noqa: E402
from core.anchors import AnchorGenerator  # noqa: E402
from core.boxes import BoxCoder  # noqa: E402
from core.config import LossConfig  # noqa: E402
from core.losses import retinanet_loss  # noqa: E402
from core.presets import get_preset  # noqa: E402

GRIDS = [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4)]


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    preset = get_preset("torchvision_v1")
    anchors = AnchorGenerator(preset.anchors)((512, 512), GRIDS)
    a, k, batch = anchors.shape[0], 91, 4
    logits = (torch.randn(batch, a, k) - 4).requires_grad_(True)
    deltas = (torch.randn(batch, a, 4) * 0.1).requires_grad_(True)
    xy = torch.rand(batch, 5, 2) * 400
    boxes = [torch.cat([p, p + 20 + torch.rand(5, 2) * 90], 1) for p in xy]
    labels = [torch.randint(1, k, (5,)) for _ in range(batch)]

    tv = retinanet_resnet50_fpn(weights=None, weights_backbone=None)
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]

    def torchvision_loss():
        losses = tv.compute_loss(targets, {"cls_logits": logits, "bbox_regression": deltas}, [anchors] * batch)
        (losses["classification"] + losses["bbox_regression"]).backward()
        logits.grad = deltas.grad = None

    rows = []
    t_tv = median_time(torchvision_loss, 7)
    rows.append(["torchvision compute_loss (focal + L1)", t_tv * 1e3, 1.0])
    for name, config, coder in [
        ("ours, logits focal + smooth L1 (retinanet preset)", LossConfig(), BoxCoder(get_preset("retinanet").coder)),
        ("ours, same losses as torchvision (L1)", LossConfig(box_beta=0.0), BoxCoder(preset.coder)),
        ("ours, seed parity formulation", LossConfig(formulation="seed"), BoxCoder(get_preset("yhenon").coder)),
    ]:
        def ours(config=config, coder=coder):
            losses = retinanet_loss(logits, deltas, anchors, boxes, labels, coder=coder, assign_config=preset.assign, loss_config=config)
            (losses.classification + losses.box).backward()
            logits.grad = deltas.grad = None

        t = median_time(ours, 7)
        rows.append([name, t * 1e3, t / t_tv])
    print_table(f"Loss forward + backward, batch {batch} at 512x512 ({a} anchors x {k} classes)", ["implementation", "ms (median)", "vs torchvision"], rows)


if __name__ == "__main__":
    main()
