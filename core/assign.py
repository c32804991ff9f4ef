"""IoU-based anchor assignment, batched over images (no Python loop over anchors or boxes)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from core.config import AssignConfig

NEGATIVE = -1
IGNORED = -2


class Assignment(NamedTuple):
    """``matches`` [B, A]: index of the matched ground-truth box, or NEGATIVE / IGNORED.
    ``max_iou`` [B, A]: each anchor's best IoU with any ground-truth box (0 without boxes)."""

    matches: Tensor
    max_iou: Tensor


def batched_iou(anchors: Tensor, boxes: Tensor) -> Tensor:
    """IoU of anchors [A, 4] with boxes [B, G, 4] -> [B, A, G]."""
    area_a = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])
    area_b = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    lt = torch.maximum(anchors[None, :, None, :2], boxes[:, None, :, :2])
    rb = torch.minimum(anchors[None, :, None, 2:], boxes[:, None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[None, :, None] + area_b[:, None, :] - inter)


def intersection_over_anchor(anchors: Tensor, regions: Tensor) -> Tensor:
    """Share of each anchor [A, 4] covered by each region [B, C, 4] -> [B, A, C]."""
    area_a = ((anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])).clamp(min=1e-6)
    lt = torch.maximum(anchors[None, :, None, :2], regions[:, None, :, :2])
    rb = torch.minimum(anchors[None, :, None, 2:], regions[:, None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    return wh[..., 0] * wh[..., 1] / area_a[None, :, None]


def assign(anchors: Tensor, gt_boxes: Tensor, gt_valid: Tensor, config: AssignConfig | None = None) -> Assignment:
    """Assign anchors [A, 4] to padded ground truth ``gt_boxes`` [B, G, 4] (``gt_valid`` [B, G] marks
    real boxes). Images without boxes (G == 0 or no valid entry) get only negatives.

    With ``low_quality_matches`` every ground-truth box also claims the anchor(s) with its highest IoU
    (ties included), even below ``negative_iou``; it goes to the claiming box (of several, the one it
    overlaps most) or, with ``low_quality_to="best_overlap"``, to the box it overlaps most of all.
    """
    config = config or AssignConfig()
    batch, num_anchors = gt_boxes.shape[0], anchors.shape[0]
    if gt_boxes.shape[1] == 0:
        zeros = anchors.new_zeros((batch, num_anchors))
        return Assignment(torch.full((batch, num_anchors), NEGATIVE, dtype=torch.long, device=anchors.device), zeros)
    iou = batched_iou(anchors, gt_boxes).masked_fill_(~gt_valid[:, None, :], -1.0)
    max_iou, best_overlap = iou.max(dim=2)
    matches = best_overlap.masked_fill(max_iou < config.positive_iou, IGNORED)
    matches = matches.masked_fill(max_iou < config.negative_iou, NEGATIVE)
    if config.low_quality_matches:
        gt_best = iou.amax(dim=1, keepdim=True)  # [B, 1, G]
        is_best = (iou == gt_best) & (gt_best > 0)
        best_of = torch.where(is_best, iou, -1.0).max(dim=2)
        claimed = best_of.values > 0
        matches = torch.where(claimed, best_of.indices if config.low_quality_to == "claimant" else best_overlap, matches)
    return Assignment(matches, max_iou.clamp(min=0))
