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

from core.boxes import BoxCoder, class_aware_nms, clip_boxes
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
    on_device: bool | None = None,
) -> list[Candidates]:
    """cls_logits [B, A, K], box_deltas [B, A, 4], anchors [A, 4] -> one :class:`Candidates` per image.

    Selection happens on logits (sigmoid is monotonic): one comparison per entry, then the top-k of
    the survivors per level. Sigmoid is evaluated only on those, and the exact ``score > floor`` test
    is applied to their float32 scores.

    ``on_device`` (default: when the logits are on a GPU) selects with one top-k per level for the
    whole batch, and runs the NMS of ``config``'s thresholds there too, so that filtering at them
    on the CPU costs an index: on an H100 the per-image selection and the NMS on the CPU took 43 ms
    of a batch of 8 at 800x1333, the network 23 ms. Both give the CPU path's candidates, in the same
    order (but for entries tied at a level's k-th value, of which top-k may take either).
    """
    batch, _, num_classes = cls_logits.shape
    on_device = cls_logits.is_cuda if on_device is None else on_device
    # The margin keeps the coarse logit test below the exact one even after the threshold is rounded
    # to the logits' dtype (bf16 has ~3 significant digits).
    coarse = logit(score_floor) - 0.05 if score_floor > 0 else -math.inf
    bounds = [0, *np.cumsum(anchors_per_level).tolist()] if config.topk_per_level else [0, cls_logits.shape[1]]
    select = _select_batched if on_device else _select_per_image
    b, flat, values = select(cls_logits, bounds, config.topk_per_level, coarse)
    # one order for both paths, image by image (the slicing below needs that), then by anchor and
    # class: NMS orders equal scores by position, and the paths' top-k leave theirs in any order
    by_position = torch.argsort(b * cls_logits.shape[1] * num_classes + flat)
    b, flat, values = b[by_position], flat[by_position], values[by_position]
    scores = torch.sigmoid(values.float())
    index, labels = flat // num_classes, flat % num_classes
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
    boxes = boxes.float()
    kept = _kept(boxes, scores, labels, counts, config) if on_device and config.max_detections else None
    arrays = [t.cpu().numpy() for t in (boxes, scores, labels, anchor, level)]
    out, start = [], 0
    for i, n in enumerate(counts):
        sl = slice(start, start + n)
        start += n
        candidates = Candidates(*(a[sl] for a in arrays), scale=scales[i], score_floor=score_floor)
        if kept is not None:
            candidates.remember_kept(config.nms_thresh, config.max_detections, kept[i])
        out.append(candidates)
    return out


def _select_per_image(cls_logits: Tensor, bounds: list[int], k: int | None, coarse: float) -> tuple[Tensor, Tensor, Tensor]:
    """(image, flat index into A*K, logit) of each entry over ``coarse`` that is among the top ``k``
    of its image and level: a comparison, then a top-k of the survivors only (on a CPU a top-k over
    the whole level costs more than the few survivors of a trained model)."""
    num_classes = cls_logits.shape[2]
    picks: list[tuple[int, Tensor, Tensor]] = []
    for i in range(cls_logits.shape[0]):
        for start, end in zip(bounds, bounds[1:]):
            flat = cls_logits[i, start:end].reshape(-1)
            index = (flat > coarse).nonzero().squeeze(1)
            values = flat[index]
            if k and len(values) > k:
                values, top = values.topk(k, sorted=False)
                index = index[top]
            picks.append((i, index + start * num_classes, values))
    return (torch.cat([torch.full_like(idx, i) for i, idx, _ in picks]), torch.cat([idx for _, idx, _ in picks]),
            torch.cat([v for *_, v in picks]))


def _select_batched(cls_logits: Tensor, bounds: list[int], k: int | None, coarse: float) -> tuple[Tensor, Tensor, Tensor]:
    """What :func:`_select_per_image` picks, with one top-k per level for the whole batch and one
    ``nonzero`` for all the levels' top k (a GPU waited at each image's and level's ``nonzero``).
    The top k of a level keep every entry over ``coarse`` when there are at most k of them, and
    are the top k of those when there are more: the same set. A level taken whole is compared in
    place: an index of every entry cost 5x the logits' memory. (NaN logits, which only a broken
    model gives, take top-k places here, where the CPU path drops them first.)"""
    batch, _, num_classes = cls_logits.shape
    picks, tops = [], []
    for start, end in zip(bounds, bounds[1:]):
        level = cls_logits[:, start:end].reshape(batch, -1)
        if k and level.shape[1] > k:
            values, index = level.topk(k, dim=1, sorted=False)
            tops.append((values, index + start * num_classes))
        else:
            b, j = (level > coarse).nonzero(as_tuple=True)
            picks.append((b, j + start * num_classes, level[b, j]))
    if tops:
        values, index = torch.cat([v for v, _ in tops], dim=1), torch.cat([i for _, i in tops], dim=1)
        b, j = (values > coarse).nonzero(as_tuple=True)
        picks.append((b, index[b, j], values[b, j]))
    return tuple(torch.cat(part) for part in zip(*picks))  # in no order: make_candidates puts them in image order


def _kept(boxes: Tensor, scores: Tensor, labels: Tensor, counts: list[int], config: PostprocessConfig) -> list[np.ndarray]:
    """Per image, what :meth:`Candidates.kept` computes for ``config``'s NMS threshold and cap,
    computed where the boxes are (one class-aware NMS per image, as there)."""
    kept, start = [], 0
    for n in counts:
        sl = slice(start, start + n)
        start += n
        kept.append(class_aware_nms(boxes[sl], scores[sl], labels[sl], config.nms_thresh)[: config.max_detections])
    sizes = [len(k) for k in kept]
    return np.split(torch.cat(kept).cpu().numpy(), np.cumsum(sizes)[:-1]) if kept else []
