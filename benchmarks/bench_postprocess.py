"""Post-processing ~100k candidates (800x1333, 91 classes): ours vs torchvision's
``postprocess_detections`` vs the seed's per-class NMS loop; re-filtering cached candidates.

    .venv/bin/python benchmarks/bench_postprocess.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torchvision.models.detection import retinanet_resnet50_fpn
from torchvision.ops import nms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import median_time, print_table  # noqa: E402
from core.anchors import AnchorGenerator  # noqa: E402
from core.boxes import BoxCoder, clip_boxes  # noqa: E402
from core.config import PostprocessConfig  # noqa: E402
from core.postprocess import make_candidates  # noqa: E402
from core.presets import get_preset  # noqa: E402

GRIDS = [(100, 167), (50, 84), (25, 42), (13, 21), (7, 11)]
PADDED = (800, 1344)


def seed_per_class(scores: torch.Tensor, boxes: torch.Tensor):
    """yhenon's inference loop: for every class, threshold then NMS."""
    out = []
    for i in range(scores.shape[1]):
        s = scores[:, i]
        over = s > 0.05
        if over.sum() == 0:
            continue
        keep = nms(boxes[over], s[over], 0.5)
        out.append((s[over][keep], boxes[over][keep]))
    return out


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    preset = get_preset("torchvision_v1")
    gen = AnchorGenerator(preset.anchors)
    anchors = gen(PADDED, GRIDS)
    per_level = gen.num_anchors_per_level(GRIDS)
    a, k = anchors.shape[0], 91
    logits = torch.randn(1, a, k) - 5.45  # ~0.6 % of the 16.4M entries above 0.05: ~100k candidates
    deltas = torch.randn(1, a, 4) * 0.1
    above = int((torch.sigmoid(logits) > 0.05).sum())
    coder = BoxCoder(preset.coder)

    tv = retinanet_resnet50_fpn(weights=None, weights_backbone=None).eval()
    split_logits = list(logits.split(per_level, dim=1))
    split_deltas = list(deltas.split(per_level, dim=1))
    split_anchors = [list(anchors.split(per_level))]

    def torchvision_post():
        return tv.postprocess_detections({"cls_logits": split_logits, "bbox_regression": split_deltas}, split_anchors, [(800, 1333)])

    config = PostprocessConfig()

    def ours():
        (c,) = make_candidates(logits, deltas, anchors, per_level, [(800, 1333)], PADDED, [(1.0, 1.0)], coder=coder, config=config, score_floor=0.05)
        return c.filter(0.05, 0.5, 300)

    def seed():
        boxes = clip_boxes(coder.decode(deltas[0], anchors), *PADDED, seed_style=True)
        return seed_per_class(torch.sigmoid(logits[0]), boxes)

    seed_config = PostprocessConfig(topk_per_level=None, max_detections=None, clip="seed_padded")

    def ours_seed():
        (c,) = make_candidates(logits, deltas, anchors, per_level, [(800, 1333)], PADDED, [(1.0, 1.0)], coder=coder, config=seed_config, score_floor=0.05)
        return c.filter(0.05, 0.5, None)

    t_tv = median_time(torchvision_post, 5)
    t_ours = median_time(ours, 5)
    t_seed = median_time(seed, 3)
    t_ours_seed = median_time(ours_seed, 3)
    assert len(ours()) == len(torchvision_post()[0]["scores"])
    assert len(ours_seed()) == sum(len(s) for s, _ in seed())
    print(f"{above} (anchor, class) pairs above 0.05 of {a * k}")
    print_table("Post-processing one 800x1333 image", ["what", "ms (median)", "vs torchvision", "vs seed loop"], [
        ["torchvision postprocess_detections (top-1000/level, 300 max)", t_tv * 1e3, 1.0, t_tv / t_seed],
        ["ours, same settings", t_ours * 1e3, t_ours / t_tv, t_ours / t_seed],
        ["seed per-class NMS loop (no top-k, no cap)", t_seed * 1e3, t_seed / t_tv, 1.0],
        ["ours, seed settings (class-aware batched NMS)", t_ours_seed * 1e3, t_ours_seed / t_tv, t_ours_seed / t_seed],
    ])

    (cached,) = make_candidates(logits, deltas, anchors, per_level, [(800, 1333)], PADDED, [(1.0, 1.0)], coder=coder, config=config, score_floor=0.01)
    (cached_all,) = make_candidates(logits, deltas, anchors, per_level, [(800, 1333)], PADDED, [(1.0, 1.0)], coder=coder, config=seed_config, score_floor=0.05)
    rows = []
    for cand, label in [(cached, "top-1000/level cache"), (cached_all, "every candidate > 0.05 (seed)")]:
        for score, iou in [(0.05, 0.5), (0.3, 0.5), (0.5, 0.3)]:
            t = median_time(lambda: cand.filter(score, iou, 300), 20)
            rows.append([label, len(cand), score, iou, t * 1e3])
    print_table("Re-filtering cached candidates (what a slider move costs)", ["cache", "candidates", "score", "NMS IoU", "ms (median)"], rows)


if __name__ == "__main__":
    main()
