"""COCO-style evaluation with pycocotools (bbox), safe for 0-based ids and crowded images."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from core.cancel import CancelToken
from core.formats.convert import box_problems
from core.labels import LabelSet, category_of_class, is_number, placeholder_rows, same_named_categories
from core.text import count

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
    skipped: tuple[str, ...] = ()  # unreadable images, left out of the evaluation (one message each)
    notes: tuple[str, ...] = ()  # what the user should know about how the model's classes were scored
    best_f1: dict[str, float] | None = None  # {"score", "precision", "recall", "f1"}: the score threshold to predict at
    # each image's labels matched by its detections above the floor (core.review.ImageMatch): its errors at any threshold come from them
    matches: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict:
        return {**{m: getattr(self, m) for m in METRICS}, "per_class": self.per_class, "best_f1": self.best_f1}


def _mean_valid(values: np.ndarray) -> float | None:
    """Mean over entries that are defined (> -1). Rounded to 12 places: COCOeval divides by
    ``tp + fp + eps``, so a perfect class with few boxes comes out as 0.9999999999999998."""
    valid = values[values > -1]
    return round(math.fsum(valid.tolist()) / valid.size, 12) if valid.size else None


def _area(box) -> float:
    """The area pycocotools sorts a label into small / medium / large by: the file's own ``area``
    (a polygon's, smaller than its box) where it has one, else the box's. (Always the box's made
    APs/APm/APl differ from pycocotools' on files with polygons.)"""
    area = (box.extra or {}).get("area")
    return float(area) if is_number(area) and area >= 0 else box.width * box.height


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
                "bbox": [b.x1, b.y1, b.width, b.height], "area": _area(b), "iscrowd": int(b.iscrowd),
            })
    max_dets = max(100, most)  # from the labels alone: raised by the detections, it was no longer COCO's AP at 100
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

    The model's classes are matched to the labels' categories by name, as in the window
    (:func:`core.labels.category_of_class`). Images
    that cannot be read are left out of the evaluation and listed in ``skipped``; scoring them as
    "nothing found" would pass a broken image folder off as a bad model.
    """
    from core.predict import predict_files

    root = Path(image_root)
    paths = [root / im.file_name for im in labels.images]
    by_path = {p: im for p, im in zip(paths, labels.images)}
    class_names = [c.name for c in detector.classes]
    category_of = category_of_class(class_names, labels.categories)
    detections: list[Detection] = []
    read: list = []
    skipped: list[str] = []

    def progress(p):
        if on_progress is not None:
            on_progress(p.done, p.total)

    resized: list[tuple[str, tuple[int, int], tuple[int, int]]] = []
    found = {}  # each image's detections: matched to its labels for the threshold sweep and the errors
    for result in predict_files(detector, paths, batch_size=batch_size, on_progress=progress, on_error=lambda e: skipped.append(str(e)), cancel=cancel):
        image = by_path[result.path]
        read.append(image)
        detections += detections_for_evaluation(result.detections, category_of, image.id)
        found[image.file_name] = result.detections
        if image.width > 0 and (image.width, image.height) != (result.width, result.height):
            resized.append((image.file_name, (image.width, image.height), (result.width, result.height)))
    scored, notes = scoreable(LabelSet(labels.categories, read, labels.extra), class_names)
    result = coco_evaluate(scored, detections)
    from core.review import match_images

    matches = match_images(LabelSet(labels.categories, read), found, class_names)  # (as the window's error list matches)
    return replace(result, skipped=tuple(skipped), notes=(*notes, *size_notes(resized), *box_problems(LabelSet(labels.categories, read))),
                   best_f1=_best_f1(matches, detector.postprocess_config.score_thresh), matches=tuple(matches))


def _best_f1(matches: list, score_floor: float) -> dict[str, float] | None:
    """The score threshold (hundredths above the floor, as the window's slider has them) of the
    best F1 at IoU 0.5."""
    from core.review import best_f1, slider_thresholds, threshold_sweep

    best = best_f1(threshold_sweep(matches, slider_thresholds(score_floor)))
    return None if best is None else {"score": best.score, "precision": best.precision, "recall": best.recall, "f1": best.f1}


def size_notes(resized: list[tuple[str, tuple[int, int], tuple[int, int]]]) -> list[str]:
    """A note for images whose size differs from the one their labels give, from (file_name, the
    labels' (w, h), the image's (w, h)): labelled on a resized copy, or by a tool that ignores EXIF
    orientation (the boxes then lie elsewhere: scored as misses, or trained on the wrong pixels,
    without a word)."""
    if not resized:
        return []
    (name, (lw, lh), (iw, ih)), more = resized[0], f" (and {len(resized) - 1} more)" if len(resized) > 1 else ""
    return [f"{len(resized)} image{'s are' if len(resized) > 1 else ' is'} not the size the labels give, e.g. {name}: the labels give "
            f"{lw}×{lh}, the image is {iw}×{ih}{more}: labelled on a resized copy, or by a tool that ignores EXIF orientation? Their "
            "boxes may not lie on the objects"]


def scoreable(labels: LabelSet, class_names: list[str]) -> tuple[LabelSet, list[str]]:
    """``labels`` without the classes the model does not have (matched by name as
    :func:`core.labels.category_of_class` matches them): a class it cannot predict would count as
    AP 0 and drag mAP down for nothing the model could do. The notes name what is left out, both ways.
    Two categories of one name are a ValueError: which of them a model class scores against would be a guess."""
    if problem := same_named_categories(labels.categories):
        raise ValueError(problem)
    category_of = category_of_class(class_names, labels.categories)
    scored = set(category_of.values())
    notes = []
    none = placeholder_rows(class_names)  # (__background__ and 11 N/A of a COCO head)
    real = [k for k in range(len(class_names)) if k not in none]
    if real and not category_of:
        notes.append(f"none of the model's {count(len(real), 'class name')} is a category of the labels: nothing it finds can be scored")
    elif unscored := [class_names[k] for k in real if k not in category_of]:
        notes.append(f"model classes not in the labels (not scored): {', '.join(unscored)}")
    lacking = [c for c in labels.categories if c.id not in scored]
    used = {b.category_id for im in labels.images for b in im.boxes}
    if any(c.id in used for c in lacking):
        notes.append(f"label classes the model does not have (left out): {', '.join(c.name for c in lacking if c.id in used)}")
    if not lacking:
        return labels, notes
    keep = [c for c in labels.categories if c.id in scored]
    images = [replace(im, boxes=[b for b in im.boxes if b.category_id in scored]) for im in labels.images]
    return LabelSet(keep, images, labels.extra), notes


def detections_for_evaluation(detections, category_of: dict[int, int], image_id: int) -> list[Detection]:
    """COCO evaluation detections of one image (a :class:`core.detections.Detections`), model
    classes mapped to label categories by ``category_of`` (:func:`core.labels.category_of_class`;
    classes the labels do not have are left out: they cannot be scored)."""
    out = []
    for box, score, label in zip(detections.boxes.tolist(), detections.scores.tolist(), detections.labels.tolist()):
        cid = category_of.get(label)
        if cid is not None:
            out.append(Detection(image_id, *box, score, cid))
    return out


def ground_truth_as_detections(labels: LabelSet) -> list[Detection]:
    """Every non-crowd box as a detection with score 1 (an export self-check: AP must be 1.0)."""
    return [Detection(im.id, b.x1, b.y1, b.x2, b.y2, 1.0, b.category_id) for im in labels.images for b in im.boxes if not b.iscrowd]
