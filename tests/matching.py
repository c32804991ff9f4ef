"""Comparing two detection lists whose near-equal scores may come out in different orders."""

import numpy as np


def assert_same_detections(boxes, scores, labels, exp_boxes, exp_scores, exp_labels, box_tol=1e-3, score_tol=1e-5):
    """Every expected detection has its own counterpart (same label, box and score within tolerance)."""
    boxes, scores, labels = np.asarray(boxes), np.asarray(scores), np.asarray(labels)
    assert len(scores) == len(exp_scores)
    free = np.ones(len(scores), dtype=bool)
    for box, score, label in zip(np.asarray(exp_boxes), np.asarray(exp_scores), np.asarray(exp_labels)):
        ok = free & (labels == label) & (np.abs(scores - score) <= score_tol) & (np.abs(boxes - box).max(1) <= box_tol)
        hits = np.flatnonzero(ok)
        assert len(hits), f"no counterpart for label {label} score {score} box {box}"
        free[hits[0]] = False
