"""The evaluation view at each label edit: which false positives are now labels (they leave the
error list) and which edited images are back as evaluated (no longer "Labels changed"), against
walking every error and re-rounding every box at each edit, as first written. Synthetic: 10,000
images of 10 labels and 10 false positives each, 80 classes.

    .venv/bin/python benchmarks/bench_review_edits.py
"""

from __future__ import annotations

import os
import random
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.annotations import AnnotationStore  # noqa: E402
from core.labels import Box, Category, ImageEntry, LabelSet, class_name_key  # noqa: E402
from retina_gui.convert import stored_corners  # noqa: E402
from retina_gui.evaluation_panel import EvaluationPanel, _same_labels  # noqa: E402


@dataclass(frozen=True)
class Error:
    kind: str
    file_name: str
    box: tuple
    class_name: str


def folder(images: int = 10_000, per_image: int = 10, classes: int = 80):
    rng = random.Random(0)
    categories = [Category(i, f"class{i}") for i in range(classes)]
    entries, errors = [], []
    for k in range(images):
        name = f"img{k:05d}.jpg"
        boxes = []
        for _ in range(per_image):
            x, y = rng.uniform(0, 500), rng.uniform(0, 500)
            boxes.append(Box(x, y, x + 30, y + 30, rng.randrange(classes)))
            x, y = rng.uniform(0, 500), rng.uniform(0, 500)
            errors.append(Error("FP", name, (x, y, x + 20, y + 20), f"class{rng.randrange(classes)}"))
        entries.append(ImageEntry(k + 1, name, 640, 640, boxes))
    return AnnotationStore(LabelSet(categories, entries)), errors


def first_written(store, errors, names) -> set:
    """Every error walked, every box and detection rounded, at each edit."""
    labelled = {}
    for name in set(names):
        for b in store.boxes(name):
            labelled.setdefault(name, set()).add((stored_corners(b.x1, b.y1, b.x2, b.y2), class_name_key(store.category(b.category_id).name)))
    return {(e.file_name, e.box) for e in errors if e.kind == "FP" and e.file_name in labelled
            and (stored_corners(*e.box), class_name_key(e.class_name)) in labelled[e.file_name]}


def main() -> None:
    store, errors = folder()
    panel = types.SimpleNamespace(report=types.SimpleNamespace(errors=errors), _added=set(), _fp_index=(None, {}, {}),
                                  annotator=types.SimpleNamespace(workspace=types.SimpleNamespace(store=store)))
    panel._false_positives_by_file = types.MethodType(EvaluationPanel._false_positives_by_file, panel)
    panel._false_positive_places = types.MethodType(EvaluationPanel._false_positive_places, panel)
    relist = types.MethodType(EvaluationPanel._relist_added, panel)
    start = time.perf_counter()
    panel._false_positives_by_file()
    print(f"{len(errors):,} false positives grouped by image, once a report: {1000 * (time.perf_counter() - start):.0f} ms")
    print(f"{'images edited':>14} {'now (ms)':>10} {'first written (ms)':>19} {'ratio':>6}   (now: their first edit; again: less)")
    for n in (1, 100, 10_000):
        names = [f"img{k:05d}.jpg" for k in range(n)]
        start = time.perf_counter()
        relist(names)
        [_same_labels(store.entry(name), store.entry(name)) for name in names for _ in range(2)]  # (the report's and a run's)
        now = time.perf_counter() - start
        start = time.perf_counter()
        first_written(store, errors, names)
        before = time.perf_counter() - start
        print(f"{n:>14,} {1000 * now:>10.1f} {1000 * before:>19.1f} {now / before:>6.2f}")


if __name__ == "__main__":
    main()
