"""The evaluation view's score slider: re-listing the errors at another threshold from a report's
detections (``ReviewReport.at_score``) against evaluating again (pycocotools on the same
detections), and filling the error list (the panel's model-backed list, shown and painted, vs
one QListWidgetItem a row, as it was), on synthetic folders (20 labels and 100 detections an
image, 10 classes; a weak model: most detections are errors).

    .venv/bin/python benchmarks/bench_review.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import median_time, print_table  # noqa: E402
from core.detections import Detections  # noqa: E402
from core.evaluate import coco_evaluate, detections_for_evaluation  # noqa: E402
from core.labels import Box, Category, ImageEntry, LabelSet, category_of_class  # noqa: E402
from core.review import ReviewReport, find_errors  # noqa: E402


def synthetic(images: int, seed: int = 0) -> tuple[LabelSet, dict[str, Detections], list[str]]:
    rng = np.random.default_rng(seed)
    categories = [Category(i + 1, f"class{i}") for i in range(10)]
    entries, found = [], {}
    for i in range(images):
        corner = rng.uniform(0, 900, (20, 2))
        boxes = np.c_[corner, corner + rng.uniform(20, 100, (20, 2))]
        classes = rng.integers(0, 10, 20)
        entries.append(ImageEntry(i + 1, f"{i}.jpg", 1000, 1000, [Box(*map(float, b), int(c) + 1) for b, c in zip(boxes, classes)]))
        near = boxes + rng.normal(0, 5, boxes.shape)  # one near each label, 80 anywhere
        anywhere = rng.uniform(0, 900, (80, 4))
        anywhere[:, 2:] = anywhere[:, :2] + rng.uniform(10, 100, (80, 2))
        scores = np.sort(rng.uniform(0.05, 1, 100))[::-1].astype(np.float32)
        found[f"{i}.jpg"] = Detections(np.r_[near, anywhere].astype(np.float32), scores, np.r_[classes, rng.integers(0, 10, 80)],
                                       np.arange(100))
    return LabelSet(categories, entries), found, [c.name for c in categories]


def main() -> None:
    from PySide6.QtWidgets import QApplication, QListWidget, QListWidgetItem

    from retina_gui.evaluation_panel import ErrorList

    app = QApplication.instance() or QApplication([])  # noqa: F841 - the list needs one
    view = ErrorList()
    view.resize(350, 300)
    view.show()
    rows = []
    for images in (200, 2000):
        labels, found, names = synthetic(images)
        category_of = category_of_class(names, labels.categories)
        scored = [d for image in labels.images for d in detections_for_evaluation(found[image.file_name], category_of, image.id)]
        evaluate = median_time(lambda: coco_evaluate(labels, scored), repeat=1, warmup=0)
        report = ReviewReport.of(None, labels, found, names, score_thresh=0.0, score_floor=0.05)
        match = median_time(lambda: ReviewReport.of(None, labels, found, names, score_thresh=0.3, score_floor=0.05), repeat=1)
        for score in (0.3, 0.7):
            relist = median_time(lambda: report.at_score(score), repeat=3)
            errors = find_errors(labels, found, names, score)
            widget = QListWidget()
            start = time.perf_counter()
            for e in errors:
                widget.addItem(QListWidgetItem(f"{e.kind}  {e.class_name} · {e.file_name}"))
            items = time.perf_counter() - start
            start = time.perf_counter()
            view.set_errors(errors)
            QApplication.processEvents()  # the view's layout is deferred to the event loop: counted (it was left out)
            view.repaint()
            fill = time.perf_counter() - start
            rows.append([images, score, len(errors), match, relist, f"{fill:.4f}", f"{items:.3f}", evaluate, f"{evaluate / relist:.1f}x"])
    print_table("Errors at another score threshold (s): re-listed from the report's matching vs evaluated again", [
        "images", "score", "errors", "report (match, sweep, errors)", "at_score", "list fill + paint", "list fill, QListWidgetItems",
        "pycocotools", "pycocotools / at_score"], rows)


if __name__ == "__main__":
    main()
