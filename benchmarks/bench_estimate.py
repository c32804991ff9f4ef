"""How close the Training panel's estimate of a run's time comes: a first fine-tune of the demo
model on chess training images gives the speed, then runs at its size and at a larger one are
estimated (core.finetune.estimate_seconds) and timed.

    .venv/bin/python benchmarks/bench_estimate.py [--images 40] [--epochs 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import DEMO_MODEL, print_table  # noqa: E402
from core.finetune import Recipe, estimate_seconds, fine_tune, list_runs, new_run_dir  # noqa: E402
from core.formats.coco import read_coco  # noqa: E402

CHESS = ROOT.parent / "shared" / "datasets" / "chess" / "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    labels = read_coco(CHESS / "_annotations.coco.json")
    labels = labels.subset({im.id for im in labels.images[: args.images]})
    work = Path(tempfile.mkdtemp(prefix="bench-estimate-"))
    recipe = Recipe(start=DEMO_MODEL, image_size=320, epochs=args.epochs, batch_size=4, device="cpu")
    rows = []
    try:
        fine_tune(labels, CHESS, new_run_dir(work), recipe)  # the run whose speed the estimates go by
        for size in (320, 448):
            planned = replace(recipe, image_size=size)
            estimated, _ = estimate_seconds(labels, planned, list_runs(work), "cpu")
            start = time.perf_counter()
            fine_tune(labels, CHESS, new_run_dir(work), planned)
            took = time.perf_counter() - start
            rows.append([f"{size} px", estimated, took, estimated / took])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(f"Train's time estimate against the run's time ({args.images} images, {args.epochs} epochs, CPU, 1 thread; "
                "the speed of a first run at 320 px)", ["run", "estimated s", "taken s", "estimate / taken"], rows)


if __name__ == "__main__":
    main()
