"""RetinaNet losses: sigmoid focal loss and smooth L1, vectorised over the whole batch."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import generalized_box_iou_loss

from core.assign import IGNORED, assign, intersection_over_anchor
from core.boxes import BoxCoder
from core.config import AssignConfig, LossConfig


class Losses(NamedTuple):
    classification: Tensor
    box: Tensor
    num_positives: int


class _NegativeFocalWithPositives(torch.autograd.Function):
    """Focal loss from logits for one-hot targets, with its gradient computed in the same pass.

    Every entry is first treated as a negative (the overwhelming majority); the few positive entries
    are then corrected by index. This avoids building a dense one-hot target tensor and the dozen
    intermediate tensors autograd would keep, which is where the time of a naive version goes.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, weights: Tensor, pos_index: Tensor, alpha: float, gamma: float) -> Tensor:
        # logits [B, A, K]; weights [B, A] (0 for ignored anchors, 1/num_pos of the image otherwise);
        # pos_index [P, 3] (b, a, k) of positive entries.
        x = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
        weights = weights.to(x.dtype)
        p = torch.sigmoid(x)
        p_gamma = p * p if gamma == 2.0 else p.pow(gamma)
        # Negative term for every entry: (1-a) p^g softplus(x), softplus(x) = -log(1 - p).
        neg = F.softplus(x).mul_(p_gamma)
        loss = (1 - alpha) * (neg.sum(-1) * weights).sum()
        b, a, k = pos_index.unbind(1)
        xp, pp, wp = x[b, a, k], p[b, a, k], weights[b, a]
        qp = 1 - pp
        qp_gamma = qp.pow(gamma)
        log_p = -F.softplus(-xp)
        pos = -alpha * qp_gamma * log_p
        loss = loss + ((pos - (1 - alpha) * neg[b, a, k]) * wp).sum()
        if ctx.needs_input_grad[0]:
            # d/dx (1-a) p^g softplus(x) = (1-a) (p^(g+1) + g (1-p) p^g softplus(x)), in few passes.
            grad = torch.addcmul(p_gamma.mul_(p), torch.sub(1, p), neg, value=gamma)
            grad.mul_(weights[..., None] * (1 - alpha))
            # d/dx of -a (1-p)^g log p = a (1-p)^g (g p log p - (1-p))
            grad[b, a, k] = alpha * qp_gamma * (gamma * pp * log_p - qp) * wp
            ctx.save_for_backward(grad)
            ctx.logits_dtype = logits.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        (grad,) = ctx.saved_tensors
        return grad.mul_(grad_output).to(ctx.logits_dtype), None, None, None, None


def _seed_focal(logits: Tensor, cls_targets: Tensor, valid: Tensor, alpha: float, gamma: float) -> Tensor:
    """yhenon's loss on clamped probabilities; returns the per-image sum [B]."""
    p = torch.sigmoid(logits.float()).clamp(1e-4, 1.0 - 1e-4)
    alpha_factor = torch.where(cls_targets == 1.0, alpha, 1.0 - alpha)
    focal_weight = torch.where(cls_targets == 1.0, 1.0 - p, p)
    focal_weight = alpha_factor * focal_weight.pow(gamma)
    bce = -(cls_targets * torch.log(p) + (1.0 - cls_targets) * torch.log(1.0 - p))
    return (focal_weight * bce * valid[..., None]).sum(dim=(1, 2))


def pad_targets(boxes: list[Tensor], labels: list[Tensor], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Stack per-image boxes [G_i, 4] / labels [G_i] into [B, G, 4], [B, G] and a validity mask."""
    g = max((len(b) for b in boxes), default=0)
    out_boxes = torch.zeros((len(boxes), g, 4), device=device)
    out_labels = torch.full((len(boxes), g), -1, dtype=torch.long, device=device)
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        out_boxes[i, : len(b)] = b.to(device=device, dtype=torch.float32)
        out_labels[i, : len(b)] = lab.to(device)
    return out_boxes, out_labels, out_labels >= 0


def retinanet_loss(
    cls_logits: Tensor,
    box_deltas: Tensor,
    anchors: Tensor,
    gt_boxes: list[Tensor],
    gt_labels: list[Tensor],
    *,
    coder: BoxCoder,
    assign_config: AssignConfig,
    loss_config: LossConfig,
    ignore_boxes: list[Tensor] | None = None,
) -> Losses:
    """Classification and box loss of a batch, each the mean over images.

    cls_logits [B, A, K], box_deltas [B, A, 4], anchors [A, 4] (padded-input pixels);
    gt_boxes[i] [G_i, 4] xyxy and gt_labels[i] [G_i] class indices in the same pixels;
    ignore_boxes[i] [C_i, 4]: crowd regions, where anchors that are not positive are ignored.
    """
    batch, _, num_classes = cls_logits.shape
    boxes, labels, valid = pad_targets(gt_boxes, gt_labels, cls_logits.device)
    matches, _ = assign(anchors, boxes, valid, assign_config)
    if ignore_boxes is not None and any(len(b) for b in ignore_boxes):
        crowd, _, crowd_valid = pad_targets(ignore_boxes, [torch.zeros(len(b), dtype=torch.long) for b in ignore_boxes], cls_logits.device)
        in_crowd = (intersection_over_anchor(anchors, crowd).masked_fill_(~crowd_valid[:, None, :], 0).amax(2) >= 0.5)
        matches = torch.where(in_crowd & (matches < 0), IGNORED, matches)
    positive = matches >= 0
    pos_b, pos_a = positive.nonzero(as_tuple=True)
    matched = matches[pos_b, pos_a]
    pos_labels = labels[pos_b, matched]
    num_pos = positive.sum(1)
    normaliser = num_pos.clamp(min=1).to(torch.float32)

    pos_deltas = box_deltas[pos_b, pos_a].float()
    if loss_config.box_loss == "giou":
        box_el = generalized_box_iou_loss(coder.decode(pos_deltas, anchors[pos_a].float()), boxes[pos_b, matched].float(), reduction="none")
    else:
        pos_targets = coder.encode(boxes[pos_b, matched], anchors[pos_a])
        box_el = F.smooth_l1_loss(pos_deltas, pos_targets, beta=loss_config.box_beta, reduction="none").sum(1)
    box_per_image = torch.zeros(batch, device=cls_logits.device).index_add(0, pos_b, box_el)

    if loss_config.formulation == "seed":
        cls_targets = torch.zeros_like(cls_logits, dtype=torch.float32)
        cls_targets[pos_b, pos_a, pos_labels] = 1.0
        cls_per_image = _seed_focal(cls_logits, cls_targets, matches != IGNORED, loss_config.alpha, loss_config.gamma)
        cls_loss = (cls_per_image / normaliser).mean()
        box_loss = (box_per_image / (4 * num_pos).clamp(min=1)).mean()
    else:
        weights = (matches != IGNORED).to(torch.float32) / normaliser[:, None]
        pos_index = torch.stack([pos_b, pos_a, pos_labels], 1)
        cls_loss = _NegativeFocalWithPositives.apply(
            cls_logits, weights, pos_index, loss_config.alpha, loss_config.gamma
        ) / batch
        box_loss = (box_per_image / normaliser).mean()
    return Losses(cls_loss, box_loss, int(num_pos.sum()))
