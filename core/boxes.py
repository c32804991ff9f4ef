"""Box encoding/decoding against anchors, and clipping. Boxes are xyxy in pixels (their IoU:
:func:`core.assign.batched_iou` for tensors, :func:`core.review.box_iou` for numpy arrays)."""

from __future__ import annotations

import torch
from torch import Tensor

from core.config import BoxCoderConfig

__all__ = ["BoxCoder", "clip_boxes"]


class BoxCoder:
    """Encodes boxes as ``((dx, dy, dw, dh) - mean) / std`` relative to anchors and decodes back.

    dx = (gx - ax) / aw, dw = log(gw / aw), with centres ``x1 + 0.5 * w`` and widths ``x2 - x1``.
    """

    def __init__(self, config: BoxCoderConfig | None = None) -> None:
        self.config = config or BoxCoderConfig()
        self._mean = torch.tensor(self.config.mean, dtype=torch.float32)
        self._std = torch.tensor(self.config.std, dtype=torch.float32)

    def encode(self, boxes: Tensor, anchors: Tensor, min_size: float = 1.0) -> Tensor:
        """[..., 4] boxes and anchors -> [..., 4] normalised deltas. Box sides are clamped to
        ``min_size`` pixels first (the seed's guard against log(0) for degenerate boxes)."""
        aw = anchors[..., 2] - anchors[..., 0]
        ah = anchors[..., 3] - anchors[..., 1]
        ax = anchors[..., 0] + 0.5 * aw
        ay = anchors[..., 1] + 0.5 * ah
        gw = (boxes[..., 2] - boxes[..., 0]).clamp(min=min_size)
        gh = (boxes[..., 3] - boxes[..., 1]).clamp(min=min_size)
        gx = boxes[..., 0] + 0.5 * gw
        gy = boxes[..., 1] + 0.5 * gh
        deltas = torch.stack([(gx - ax) / aw, (gy - ay) / ah, torch.log(gw / aw), torch.log(gh / ah)], -1)
        return (deltas - self._mean.to(deltas)) / self._std.to(deltas)

    def decode(self, deltas: Tensor, anchors: Tensor) -> Tensor:
        """[..., 4] deltas and anchors -> [..., 4] xyxy boxes (in the anchors' dtype)."""
        deltas = deltas.to(anchors.dtype) * self._std.to(anchors) + self._mean.to(anchors)
        aw = anchors[..., 2] - anchors[..., 0]
        ah = anchors[..., 3] - anchors[..., 1]
        ax = anchors[..., 0] + 0.5 * aw
        ay = anchors[..., 1] + 0.5 * ah
        dw, dh = deltas[..., 2], deltas[..., 3]
        if self.config.clamp is not None:
            dw = dw.clamp(max=self.config.clamp)
            dh = dh.clamp(max=self.config.clamp)
        cx = deltas[..., 0] * aw + ax
        cy = deltas[..., 1] * ah + ay
        half_w = 0.5 * (torch.exp(dw) * aw)
        half_h = 0.5 * (torch.exp(dh) * ah)
        return torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)


def clip_boxes(boxes: Tensor, height: Tensor | float, width: Tensor | float, seed_style: bool = False) -> Tensor:
    """Clamp [..., 4] boxes into [0, width] x [0, height].

    ``seed_style`` reproduces yhenon's ClipBoxes: only x1, y1 >= 0 and x2 <= width, y2 <= height.
    ``height``/``width`` may be tensors broadcastable to ``boxes[..., 0]``.
    """
    x1, y1, x2, y2 = boxes.unbind(-1)
    zero = torch.zeros((), dtype=boxes.dtype, device=boxes.device)
    width = torch.as_tensor(width, dtype=boxes.dtype, device=boxes.device)
    height = torch.as_tensor(height, dtype=boxes.dtype, device=boxes.device)
    if seed_style:
        return torch.stack([x1.clamp(min=0), y1.clamp(min=0), torch.minimum(x2, width), torch.minimum(y2, height)], -1)
    return torch.stack(
        [
            torch.minimum(torch.maximum(x1, zero), width),
            torch.minimum(torch.maximum(y1, zero), height),
            torch.minimum(torch.maximum(x2, zero), width),
            torch.minimum(torch.maximum(y2, zero), height),
        ],
        -1,
    )


def class_aware_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """Indices of boxes [N, 4] that greedy NMS keeps within each label, highest score first and
    equal scores in index order: the same result on any device and at any N. torchvision's
    ``batched_nms`` does not promise that: its float32 label offsets move coordinates (the GPU's
    NMS of a whole image and the CPU's of its top 1,200 differed in 7 of 200 test images), and its
    tie order is unspecified (bf16 scores tie often). Here coordinates are float64, where the label
    offsets leave image coordinates exact (to 2^-11 px at 80 labels over 2,000 px), so one offset
    call and a loop over labels keep the same boxes; the loop takes over at torchvision's sizes
    (4N over 4,000 on a CPU, 100,000 on a GPU), where one call's N x N work costs more (on a CPU,
    12.7 s against 0.4 s at 112,000 boxes). The threshold is rounded to float32 first, as
    torchvision's CUDA kernel compares with it, so that the CPU's comparisons are the same."""
    from torchvision.ops import nms

    iou_threshold = float(torch.tensor(iou_threshold, dtype=torch.float32))
    order = torch.sort(scores, descending=True, stable=True).indices
    placed = boxes[order].double()
    rank = torch.arange(len(order), 0, -1, dtype=torch.float64, device=boxes.device)  # no ties left for nms to order
    ranked_labels = labels[order]
    if 4 * len(order) <= (100_000 if boxes.is_cuda else 4_000):
        finite = placed[torch.isfinite(placed)]  # (a NaN box made the span NaN, and every box with it)
        if len(finite):
            placed = placed + (ranked_labels.double() * (finite.max() - finite.min() + 1))[:, None]
        return order[nms(placed, rank, iou_threshold)]
    kept = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    for label in ranked_labels.unique():
        members = (ranked_labels == label).nonzero().squeeze(1)
        kept[members[nms(placed[members], rank[members], iou_threshold)]] = True
    return order[kept.nonzero().squeeze(1)]
