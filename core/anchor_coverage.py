"""What the anchors of a model look like on an image and which labels they can learn: the anchor
grid in original image pixels, the anchors at one point, the real assignment of the image's labels
(positive / ignored / best anchors with their IoU), unreachable labels with a suggestion, and a
dataset-wide coverage report. Plain numpy in and out; :mod:`core.anchors` and :mod:`core.assign`
do the work, so what is shown is what training does."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.anchors import AnchorGenerator
from core.assign import IGNORED, assign, batched_iou
from core.cancel import CancelToken
from core.config import AnchorConfig, AssignConfig, PreprocessConfig
from core.labels import LabelSet
from core.preprocess import resized_size
from core.review import box_iou


@dataclass(frozen=True)
class Level:
    number: int  # pyramid level (3 = P3)
    stride: int
    grid: tuple[int, int]  # (rows, columns)
    start: int  # first anchor index of this level
    count: int


@dataclass(frozen=True)
class AnchorLayout:
    """All anchors of an image of ``width`` x ``height``, in its pixels (xyxy), ordered level ->
    row -> column -> ratio -> scale as the network's outputs."""

    boxes: np.ndarray
    levels: tuple[Level, ...]
    per_location: int
    width: int
    height: int
    input_scale: float  # network-input pixels per image pixel (anchor sizes are in network pixels)


def feature_sizes(padded: tuple[int, int], strides: tuple[int, ...]) -> list[tuple[int, int]]:
    """Feature-map sizes of the FPN levels: each stride-2 convolution gives ceil(n / 2)."""
    return [(math.ceil(padded[0] / s), math.ceil(padded[1] / s)) for s in strides]


def anchor_layout(width: int, height: int, anchors: AnchorConfig, preprocess: PreprocessConfig, first_level: int = 3) -> AnchorLayout:
    nh, nw = resized_size(height, width, preprocess)
    d = preprocess.size_divisible
    padded = (math.ceil(nh / d) * d, math.ceil(nw / d) * d)
    sizes = feature_sizes(padded, anchors.strides)
    generator = AnchorGenerator(anchors)
    boxes = generator(padded, sizes).numpy().astype(np.float64)
    boxes *= np.array([width / nw, height / nh, width / nw, height / nh])
    counts = generator.num_anchors_per_level(sizes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    levels = tuple(Level(first_level + i, anchors.strides[i], sizes[i], int(starts[i]), counts[i]) for i in range(len(sizes)))
    return AnchorLayout(boxes, levels, anchors.anchors_per_location, width, height, nw / width)


def anchors_at(layout: AnchorLayout, x: float, y: float) -> dict[int, np.ndarray]:
    """The anchors [R*S, 4] of the grid cell of each level whose centre is nearest to (x, y)."""
    out = {}
    a = layout.per_location
    for level in layout.levels:
        rows, cols = level.grid
        cells = layout.boxes[level.start : level.start + level.count : a]
        centres = (cells[:, :2] + cells[:, 2:]) / 2  # the ratio/scale variants share a centre
        nearest = int(np.argmin(((centres - [x, y]) ** 2).sum(1)))
        out[level.number] = layout.boxes[level.start + nearest * a : level.start + (nearest + 1) * a]
    return out


@dataclass(frozen=True)
class LabelAnchors:
    """How one label is assigned: anchor indices into the layout, and its best anchor IoU."""

    positive: np.ndarray
    ignored: np.ndarray
    best: np.ndarray
    best_iou: float
    reachable: bool  # some anchor has IoU >= the positive threshold (else only the low-quality rule matches it)
    suggestion: str


def near_anchors(layout: AnchorLayout, boxes: np.ndarray) -> np.ndarray:
    """Sorted indices of the anchors that may overlap any of ``boxes`` [G, 4] (image pixels): a
    superset of those with IoU > 0, found from the grid (for each level and anchor shape, the rows
    and columns whose anchor of that shape can reach a box), so the IoU work that follows grows
    with the labels' area instead of the image's."""
    a = layout.per_location
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    found = [np.zeros(0, dtype=np.int64)]
    for level in layout.levels:
        rows, cols = level.grid
        shapes = layout.boxes[level.start : level.start + a]  # the anchors of the first cell, one per shape
        per_cell = layout.boxes[level.start : level.start + level.count : a]
        cx = (per_cell[:cols, 0] + per_cell[:cols, 2]) / 2
        cy = (per_cell[::cols, 1] + per_cell[::cols, 3]) / 2
        ox = shapes[:, [0, 2]] - cx[0]  # [a, 2] extent of each shape around its cell's centre
        oy = shapes[:, [1, 3]] - cy[0]
        c0 = np.searchsorted(cx, boxes[:, None, 0] - ox[None, :, 1], "left")  # [G, a]
        c1 = np.searchsorted(cx, boxes[:, None, 2] - ox[None, :, 0], "right")
        r0 = np.searchsorted(cy, boxes[:, None, 1] - oy[None, :, 1], "left")
        r1 = np.searchsorted(cy, boxes[:, None, 3] - oy[None, :, 0], "right")
        mask = np.zeros((rows, cols, a), dtype=bool)
        for g, k in zip(*np.nonzero((c0 < c1) & (r0 < r1))):
            mask[r0[g, k] : r1[g, k], c0[g, k] : c1[g, k], k] = True
        found.append(level.start + np.flatnonzero(mask))
    return np.concatenate(found)


def assign_labels(layout: AnchorLayout, boxes: np.ndarray, config: AssignConfig, anchors: AnchorConfig) -> list[LabelAnchors]:
    """Runs :func:`core.assign.assign` on the labels ``boxes`` [G, 4] (image pixels). Only the
    anchors near a label take part: every other anchor has IoU 0 with all labels, so the
    assignment makes it a negative whatever it is (``negative_iou`` > 0), and leaving it out
    changes nothing but the time (30 ms instead of 300 ms for 21 labels on a 2 MP photo)."""
    if len(boxes) == 0:
        return []
    near = near_anchors(layout, boxes)
    if len(near) == 0:  # every label is far outside the anchors (an image shrunk since it was labelled)
        return [LabelAnchors(near, near, near, 0.0, False, "the box lies outside the image") for _ in range(len(boxes))]
    a = torch.from_numpy(layout.boxes[near])
    g = torch.from_numpy(np.asarray(boxes, dtype=np.float64))[None]
    result = assign(a, g, torch.ones(1, len(boxes), dtype=torch.bool), config)
    iou = batched_iou(a, g)[0]  # [near, G]
    matches = result.matches[0].numpy()
    owner = iou.argmax(1).numpy()
    iou = iou.numpy()
    out = []
    for i in range(len(boxes)):
        best_iou = float(iou[:, i].max(initial=0.0))
        best = near[iou[:, i] == best_iou] if best_iou > 0 else near[:0]
        reachable = best_iou >= config.positive_iou
        w, h = boxes[i][2] - boxes[i][0], boxes[i][3] - boxes[i][1]
        suggestion = "" if reachable else "the box lies outside the image" if best_iou == 0 else \
            suggest_anchor(w * layout.input_scale, h * layout.input_scale, anchors, config.positive_iou)
        out.append(LabelAnchors(near[matches == i], near[(matches == IGNORED) & (owner == i)], best, best_iou, reachable, suggestion))
    return out


def best_anchor_ious(layout: AnchorLayout, boxes: np.ndarray) -> np.ndarray:
    """The best IoU of any anchor with each label ``boxes`` [G, 4] (image pixels): the
    ``best_iou`` of :func:`assign_labels` alone, one label at a time against the anchors near it
    (what "why missed?" needs on every selection)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.zeros(len(boxes))
    for i in range(len(boxes)):
        out[i] = box_iou(boxes[i : i + 1], layout.boxes[near_anchors(layout, boxes[i : i + 1])]).max(initial=0.0)
    return out


def _centred_iou(w1: float, h1: float, w2: float, h2: float) -> float:
    inter = min(w1, w2) * min(h1, h2)
    return inter / (w1 * h1 + w2 * h2 - inter)


def suggest_anchor(w: float, h: float, anchors: AnchorConfig, positive_iou: float) -> str:
    """A change of the anchor settings that would give a (w x h, network pixels) box a positive
    anchor: a new aspect ratio or a new size, whichever the box needs."""
    if w <= 0 or h <= 0:
        return "degenerate box"
    ratio = h / w
    side = math.sqrt(w * h)
    best_ratio = min(anchors.ratios, key=lambda r: abs(math.log(r / ratio)))
    sides = [s * k for s in anchors.sizes for k in anchors.scales]
    best_side = min(sides, key=lambda s: abs(math.log(s / side)))
    # IoU with the best anchor of the right size but the nearest existing ratio, and vice versa
    aw, ah = best_side / math.sqrt(best_ratio), best_side * math.sqrt(best_ratio)
    if _centred_iou(w, h, side / math.sqrt(best_ratio), side * math.sqrt(best_ratio)) < positive_iou:
        return f"add the aspect ratio {ratio:.2f} (height / width; now {', '.join(f'{r:g}' for r in anchors.ratios)})"
    # sizes in the network's input pixels, as anchor sizes are (the box's own size in the image differs by the resize)
    if side < min(sides):
        return (f"use smaller anchor sizes: the box is about {side:.0f} px at the model's input size, the smallest anchor "
                f"{min(sides):.0f} px (or train at a larger input size)")
    if side > max(sides):
        return f"use larger anchor sizes: the box is about {side:.0f} px at the model's input size, the largest anchor {max(sides):.0f} px"
    return (f"add a scale between the sizes: the box is about {side:.0f} px at the model's input size, the nearest anchor "
            f"{best_side:.0f} px (IoU {_centred_iou(w, h, aw, ah):.2f})")


@dataclass(frozen=True)
class CoverageReport:
    best_iou: np.ndarray  # per label, in the order of the label set
    category_ids: np.ndarray
    positive_iou: float
    histogram: tuple[np.ndarray, np.ndarray]  # counts, bin edges (0..1 in steps of 0.05)

    @property
    def unreachable_share(self) -> float:
        return float((self.best_iou < self.positive_iou).mean()) if len(self.best_iou) else 0.0

    def per_class(self) -> dict[int, tuple[int, float, float]]:
        """category id -> (labels, share unreachable, median best IoU)."""
        out = {}
        for cid in np.unique(self.category_ids):
            ious = self.best_iou[self.category_ids == cid]
            out[int(cid)] = (len(ious), float((ious < self.positive_iou).mean()), float(np.median(ious)))
        return out


def coverage(labels: LabelSet, anchors: AnchorConfig, preprocess: PreprocessConfig, config: AssignConfig, *,
             cancel: CancelToken | None = None) -> CoverageReport:
    """Best anchor IoU of every (non-crowd) label of a label set, at the model's input size.
    Raises :class:`core.cancel.Cancelled` when ``cancel`` is set (checked per image)."""
    best, cats = [], []
    layouts: dict[tuple[int, int], AnchorLayout] = {}
    for image in labels.images:
        if cancel is not None:
            cancel.raise_if_cancelled()
        boxes = [b for b in image.boxes if not b.iscrowd and b.width > 0 and b.height > 0]
        if not boxes or image.width <= 0 or image.height <= 0:
            continue
        key = (image.width, image.height)
        if key not in layouts:
            layouts[key] = anchor_layout(image.width, image.height, anchors, preprocess)
        best.extend(best_anchor_ious(layouts[key], np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes])).tolist())
        cats.extend(b.category_id for b in boxes)
    best_iou = np.array(best, dtype=np.float64)
    return CoverageReport(best_iou, np.array(cats, dtype=np.int64), config.positive_iou, np.histogram(best_iou, bins=20, range=(0, 1)))
