"""Post-processing in two steps, so thresholds can change without running the network again:

1. :func:`make_candidates` (batched): keep (anchor, class) pairs above a score floor, the top-k per
   pyramid level, decode and clip them -> one :class:`Candidates` per image.
2. :meth:`Candidates.filter`: score threshold, class-aware NMS, detection cap -> :class:`Detections`.

A fresh run is step 1 at the configured score threshold followed by step 2, so re-filtering a cached
candidate set with the same thresholds gives exactly the same detections.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from core.boxes import BoxCoder, clip_boxes
from core.config import PostprocessConfig
from core.detections import Candidates


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def make_candidates(
    cls_logits: Tensor,
    box_deltas: Tensor,
    anchors: Tensor,
    anchors_per_level: list[int],
    image_sizes: list[tuple[int, int]],
    padded_size: tuple[int, int],
    scales: list[tuple[float, float]],
    *,
    coder: BoxCoder,
    config: PostprocessConfig,
    score_floor: float,
) -> list[Candidates]:
    """cls_logits [B, A, K], box_deltas [B, A, 4], anchors [A, 4] -> one :class:`Candidates` per image.

    Selection happens on logits (sigmoid is monotonic): one comparison per entry, then the top-k of
    the survivors per level. Sigmoid is evaluated only on those, and the exact ``score > floor`` test
    is applied to their float32 scores.
    """
    batch, _, num_classes = cls_logits.shape
    # The margin keeps the coarse logit test below the exact one even after the threshold is rounded
    # to the logits' dtype (bf16 has ~3 significant digits).
    coarse = logit(score_floor) - 0.05 if score_floor > 0 else -math.inf
    bounds = [0, *np.cumsum(anchors_per_level).tolist()] if config.topk_per_level else [0, cls_logits.shape[1]]
    picks: list[tuple[int, int, Tensor, Tensor]] = []  # (image, first anchor, flat index, logit)
    for i in range(batch):
        for start, end in zip(bounds, bounds[1:]):
            flat = cls_logits[i, start:end].reshape(-1)
            index = (flat > coarse).nonzero().squeeze(1)
            values = flat[index]
            if config.topk_per_level and len(values) > config.topk_per_level:
                values, top = values.topk(config.topk_per_level, sorted=False)
                index = index[top]
            picks.append((i, start, index, values))
    scores = torch.sigmoid(torch.cat([v for *_, v in picks]).float())
    index = torch.cat([idx // num_classes + start for _, start, idx, _ in picks])
    labels = torch.cat([idx % num_classes for *_, idx, _ in picks])
    b = torch.cat([torch.full_like(idx, i) for i, _, idx, _ in picks])
    exact = scores > score_floor
    b, anchor, labels, scores = b[exact], index[exact], labels[exact], scores[exact]
    level_ends = torch.tensor(np.cumsum(anchors_per_level), device=anchor.device)
    level = torch.searchsorted(level_ends, anchor, right=True)

    boxes = coder.decode(box_deltas[b, anchor], anchors[anchor])
    if config.clip == "seed_padded":
        boxes = clip_boxes(boxes, padded_size[0], padded_size[1], seed_style=True)
    else:
        sizes = torch.tensor(image_sizes, dtype=boxes.dtype, device=boxes.device)[b]
        boxes = clip_boxes(boxes, sizes[:, 0], sizes[:, 1])

    counts = torch.bincount(b, minlength=batch).tolist()
    arrays = [t.cpu().numpy() for t in (boxes.float(), scores, labels, anchor, level)]
    out, start = [], 0
    for i, n in enumerate(counts):
        sl = slice(start, start + n)
        start += n
        out.append(Candidates(*(a[sl] for a in arrays), scale=scales[i], score_floor=score_floor))
    return out
