"""Detections and detection candidates of one image: plain numpy data that the GUI caches and
re-filters. torch is imported only when candidates are filtered (by then a model has run), so
modules that merely hold or compare detections load without it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Final detections of one image, highest score first. ``boxes`` [N, 4] xyxy in original image
    pixels; ``labels`` are class indices of the model; ``candidate_index`` points into the
    :class:`Candidates` they came from."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    candidate_index: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def subset(self, keep: np.ndarray) -> Detections:
        """The detections ``keep`` (a mask, or indices in score order) picks."""
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep], self.candidate_index[keep])


@dataclass(frozen=True)
class Candidates:
    """Every detection candidate of one image above ``score_floor`` (after the per-level top-k).

    ``boxes`` [M, 4] are in network-input pixels (NMS runs there, as in the reference models);
    ``scale`` = (sx, sy) maps them to original pixels. ``anchor_index`` and ``level`` say where each
    candidate came from.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    anchor_index: np.ndarray
    level: np.ndarray
    scale: tuple[float, float]
    score_floor: float
    _kept: dict = field(default_factory=dict, repr=False, compare=False)  # NMS results by (threshold, limit)

    def __len__(self) -> int:
        return len(self.scores)

    def to_image_pixels(self, boxes: np.ndarray) -> np.ndarray:
        sx, sy = self.scale
        return boxes * np.array([sx, sy, sx, sy], dtype=np.float32)

    def filter(self, score_thresh: float, nms_thresh: float, max_detections: int | None) -> Detections:
        """Detections at these thresholds. ``score_thresh`` below ``score_floor`` cannot bring back
        candidates that were never kept, so it is raised to the floor.

        With a detection cap the result is taken from :meth:`kept`, computed once per NMS
        threshold: greedy NMS decides each box from higher-scoring boxes only, so the detections
        at any score threshold are the part of that list above it. A score slider then costs a
        comparison, whatever the number of candidates."""
        floor = max(score_thresh, self.score_floor)
        if max_detections is None:
            keep = np.flatnonzero(self.scores > floor)
            order = _nms(self.boxes[keep], self.scores[keep], self.labels[keep], nms_thresh)
            index = keep[order]
        else:
            kept = self.kept(nms_thresh, max_detections)
            index = kept[self.scores[kept] > floor]
        return Detections(self.to_image_pixels(self.boxes[index]), self.scores[index], self.labels[index], index)

    def remember_kept(self, nms_thresh: float, limit: int, index: np.ndarray) -> None:
        """What :meth:`kept` returns for these arguments, computed elsewhere (with the network, on
        its GPU)."""
        self._kept[(nms_thresh, limit)] = index

    def kept(self, nms_thresh: float, limit: int) -> np.ndarray:
        """The first ``limit`` candidates that class-aware greedy NMS keeps, highest score first.
        NMS runs on the top of the score order only, growing it until ``limit`` boxes are kept or
        every candidate was seen: the boxes it processes are decided exactly as in a full run."""
        key = (nms_thresh, limit)
        if key not in self._kept:
            order = np.argsort(-self.scores, kind="stable")
            size = min(len(order), 4 * limit)
            while True:
                top = order[:size]
                keep = _nms(self.boxes[top], self.scores[top], self.labels[top], nms_thresh)
                if len(keep) >= limit or size == len(order):
                    break
                size = min(len(order), 4 * size)
            self._kept[key] = top[keep[:limit]]
        return self._kept[key]


def _nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float) -> np.ndarray:
    import torch

    from core.boxes import class_aware_nms

    return class_aware_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels), iou_threshold).numpy()
