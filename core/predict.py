"""Predicting files: batches of images through a :class:`~core.detector.Detector`, with progress,
cancellation, and bad files reported rather than fatal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cancel import CancelToken
from core.detections import Candidates, Detections
from core.detector import Detector
from core.images import ImageReadError, load_image


@dataclass(frozen=True)
class ImageResult:
    path: Path
    width: int
    height: int
    detections: Detections


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    path: Path


def predict_files(
    detector: Detector,
    paths: list[Path],
    *,
    batch_size: int = 1,
    on_progress: Callable[[Progress], None] | None = None,
    on_error: Callable[[ImageReadError], None] | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ImageResult]:
    """Yields one :class:`ImageResult` per readable image, in order. Unreadable images go to
    ``on_error`` and are skipped. ``cancel`` is checked before every batch."""
    cfg = detector.postprocess_config
    for path, width, height, candidates in predict_candidates(detector, paths, batch_size=batch_size, on_progress=on_progress,
                                                              on_error=on_error, cancel=cancel):
        yield ImageResult(path, width, height, candidates.filter(cfg.score_thresh, cfg.nms_thresh, cfg.max_detections))


def predict_candidates(
    detector: Detector,
    paths: list[Path],
    *,
    batch_size: int = 1,
    score_floor: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_error: Callable[[ImageReadError], None] | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[tuple[Path, int, int, Candidates]]:
    """Like :func:`predict_files`, yielding (path, width, height, candidates): what the GUI caches."""
    done = 0
    for chunk in _batched(paths, batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        loaded: list[tuple[Path, np.ndarray]] = []
        for path in chunk:
            try:
                loaded.append((path, load_image(path)))
            except ImageReadError as exc:
                if on_error is None:
                    raise
                on_error(exc)
        if loaded:
            for (path, image), candidates in zip(loaded, detector.candidates([im for _, im in loaded], score_floor)):
                yield path, image.shape[1], image.shape[0], candidates
        done += len(chunk)
        if on_progress is not None:
            on_progress(Progress(done, len(paths), chunk[-1]))


def _batched(items: Iterable[Path], size: int) -> Iterator[list[Path]]:
    chunk: list[Path] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def coco_results(result: ImageResult, image_id: int | str, file_name: str, category_ids: dict[int, int]) -> list[dict]:
    """COCO detection results (``bbox`` = [x, y, w, h] in original pixels) of one image;
    ``category_ids``: {model class index: category id}; classes it lacks are left out."""
    d = result.detections
    xywh = d.boxes.astype(np.float64)
    xywh[:, 2:] -= xywh[:, :2]
    return [
        {"image_id": image_id, "file_name": file_name, "category_id": category_ids[int(label)], "bbox": [float(v) for v in box], "score": float(score)}
        for box, score, label in zip(xywh, d.scores, d.labels) if int(label) in category_ids
    ]
