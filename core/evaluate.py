"""COCO-style evaluation with pycocotools (bbox), safe for 0-based ids and crowded images."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from core.cancel import CancelToken
from core.labels import LabelSet

METRICS = ("mAP", "AP50", "AP75", "APs", "APm", "APl")


@dataclass(frozen=True)
class Detection:
    """A detection in original image pixels, for evaluation."""

    image_id: int
    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    category_id: int


@dataclass(frozen=True)
class EvalResult:
    """COCO metrics in [0, 1]; None where undefined (no ground truth in that range or class)."""

    mAP: float | None
    AP50: float | None
    AP75: float | None
    APs: float | None
    APm: float | None
    APl: float | None
    per_class: dict[str, float | None] = field(default_factory=dict)
    num_images: int = 0
    num_detections: int = 0

    def to_json(self) -> dict:
        return {**{m: getattr(self, m) for m in METRICS}, "per_class": self.per_class}


def _mean_valid(values: np.ndarray) -> float | None:
    """Mean over entries that are defined (> -1). Rounded to 12 places: COCOeval divides by
    ``tp + fp + eps``, so a perfect class with few boxes comes out as 0.9999999999999998."""
    valid = values[values > -1]
    return round(math.fsum(valid.tolist()) / valid.size, 12) if valid.size else None


def coco_evaluate(ground_truth: LabelSet, detections: list[Detection]) -> EvalResult:
    """Evaluate ``detections`` against ``ground_truth`` with pycocotools' COCOeval.

    Annotation ids are renumbered from 1 (COCOeval reads a matched id of 0 as "unmatched"), and the
    largest ``maxDets`` is raised to the most boxes any image has, so crowded images are not cut at
    100. Metrics are read from the precision table directly, because ``summarize()`` hard-codes 100.
    """
    gt = {"images": [], "annotations": [], "categories": [{"id": c.id, "name": c.name} for c in ground_truth.categories]}
    most = 0
    for im in ground_truth.images:
        gt["images"].append({"id": im.id, "width": im.width, "height": im.height, "file_name": im.file_name})
        most = max(most, len(im.boxes))
        for b in im.boxes:
            gt["annotations"].append({
                "id": len(gt["annotations"]) + 1, "image_id": im.id, "category_id": b.category_id,
                "bbox": [b.x1, b.y1, b.width, b.height], "area": b.width * b.height, "iscrowd": int(b.iscrowd),
            })
    per_image: dict[int, int] = {}
    for d in detections:
        per_image[d.image_id] = per_image.get(d.image_id, 0) + 1
    max_dets = max(100, most, max(per_image.values(), default=0))
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        results = [{"image_id": d.image_id, "category_id": d.category_id, "bbox": [d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1], "score": d.score} for d in detections]
        coco_dt = coco_gt.loadRes(results) if results else COCO()
        if not results:
            coco_dt.dataset = {"images": gt["images"], "annotations": [], "categories": gt["categories"]}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.maxDets = [1, 10, max_dets]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][..., -1]  # [T, R, K, A] at the largest maxDets
    names = {c.id: c.name for c in ground_truth.categories}
    return EvalResult(
        mAP=_mean_valid(precision[:, :, :, 0]),
        AP50=_mean_valid(precision[0, :, :, 0]),
        AP75=_mean_valid(precision[5, :, :, 0]),
        APs=_mean_valid(precision[:, :, :, 1]),
        APm=_mean_valid(precision[:, :, :, 2]),
        APl=_mean_valid(precision[:, :, :, 3]),
        per_class={names[c]: _mean_valid(precision[:, :, k, 0]) for k, c in enumerate(ev.params.catIds)},
        num_images=len(ground_truth.images),
        num_detections=len(detections),
    )


def evaluate_detector(
    detector,
    labels: LabelSet,
    image_root: Path | str,
    *,
    batch_size: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
) -> EvalResult:
    """Run ``detector`` (a :class:`core.detector.Detector`) on the labelled images and evaluate.

    Images that cannot be read are evaluated as having no detections (their labels still count).
    """
    from core.predict import predict_files

    root = Path(image_root)
    paths = [root / im.file_name for im in labels.images]
    ids = {p: im.id for p, im in zip(paths, labels.images)}
    category_ids = [c.id for c in detector.classes]
    detections: list[Detection] = []

    def progress(p):
        if on_progress is not None:
            on_progress(p.done, p.total)

    for result in predict_files(detector, paths, batch_size=batch_size, on_progress=progress, on_error=lambda e: None, cancel=cancel):
        d = result.detections
        for box, score, label in zip(d.boxes.tolist(), d.scores.tolist(), d.labels.tolist()):
            detections.append(Detection(ids[result.path], *box, score, category_ids[label]))
    return coco_evaluate(labels, detections)


def ground_truth_as_detections(labels: LabelSet) -> list[Detection]:
    """Every non-crowd box as a detection with score 1 (an export self-check: AP must be 1.0)."""
    return [Detection(im.id, b.x1, b.y1, b.x2, b.y2, 1.0, b.category_id) for im in labels.images for b in im.boxes if not b.iscrowd]
