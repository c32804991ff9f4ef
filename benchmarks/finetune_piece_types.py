"""A real fine-tune, as the Train button runs it: the demo model (12 coloured chess classes) onto a
new class list, the 6 colour-agnostic piece types, from 30 labelled chess training images, with
the default recipe. Reports validation mAP (chess valid split, relabelled the same way) before and
after, and the wall time.

"Before" is measured two ways: the start model as fine-tuning sees it (a new class head: no piece
type has a name match, so every row starts from the prior) and the demo model with its colour
classes merged into piece types (what the old model knew).

Usage: python benchmarks/finetune_piece_types.py [--images 30] [--device auto] [--out /tmp/piece-run]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHESS = ROOT.parent / "shared" / "datasets" / "chess"


def piece_types(labels):
    """Coloured classes -> piece types (ids 1..6 in name order); Roboflow's 'pieces' supercategory dropped."""
    from core.labels import Box, Category, ImageEntry, LabelSet

    names = labels.category_names()
    kinds = sorted({n.split("-", 1)[1] for n in names.values() if "-" in n})
    ids = {k: i + 1 for i, k in enumerate(kinds)}
    images = [ImageEntry(im.id + 1, im.file_name, im.width, im.height,
                         [Box(b.x1, b.y1, b.x2, b.y2, ids[names[b.category_id].split("-", 1)[1]], b.iscrowd)
                          for b in im.boxes if "-" in names[b.category_id]]) for im in labels.images]
    return LabelSet([Category(i, k) for k, i in ids.items()], images)


def merged_colour_map(detector, labels):
    """mAP of the coloured demo model with its classes merged into piece types."""
    from core.evaluate import Detection, coco_evaluate
    from core.predict import predict_files

    ids = {c.name: c.id for c in labels.categories}
    by_path = {CHESS / "valid" / im.file_name: im.id for im in labels.images}
    dets = []
    for r in predict_files(detector, list(by_path)):
        for box, score, label in zip(r.detections.boxes.tolist(), r.detections.scores.tolist(), r.detections.labels.tolist()):
            name = detector.classes[label].name
            if "-" in name:
                dets.append(Detection(by_path[r.path], *box, score, ids[name.split("-", 1)[1]]))
    return coco_evaluate(labels, dets)


def print_epoch(event) -> None:
    """Progress as it goes: a run stopped at a time limit still says how far it got."""
    if event.kind == "epoch":
        score = f": mAP {event.metrics['mAP']:.3f}" if event.metrics and event.metrics.get("mAP") is not None else ""
        print(f"epoch {event.epoch} at {time.perf_counter() - STARTED:.0f} s{score}", flush=True)


STARTED = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("/tmp/piece-run"))
    args = parser.parse_args()

    from benchmarks.common import DEMO_MODEL, print_table
    from core.detector import Detector
    from core.device import set_threads
    from core.evaluate import evaluate_detector
    from core.finetune import default_recipe, fine_tune
    from core.formats.coco import read_coco
    from core.labels import LabelSet
    from core.train import adapt_classes
    from core.weights import load_checkpoint

    set_threads(leave_one_free=False)
    train_all = piece_types(read_coco(CHESS / "train" / "_annotations.coco.json"))
    chosen = sorted((im for im in train_all.images if im.boxes), key=lambda im: im.file_name)[: args.images]
    train = LabelSet(train_all.categories, chosen)
    valid = piece_types(read_coco(CHESS / "valid" / "_annotations.coco.json"))
    valid = LabelSet(valid.categories, [im for im in valid.images if im.boxes])
    detector = Detector.from_file(DEMO_MODEL, device=args.device)
    device = detector.runtime.device
    merged = merged_colour_map(detector, valid)

    start = load_checkpoint(DEMO_MODEL)
    fresh = start.build_model()
    adapt_classes(fresh, start.spec.classes, train.categories)
    from dataclasses import replace

    from core.weights import ClassInfo

    spec = replace(start.spec, model=fresh.config, classes=tuple(ClassInfo(c.id, c.name) for c in train.categories))
    before = evaluate_detector(Detector(fresh, spec, device=args.device), valid, CHESS / "valid")

    recipe = default_recipe(train, DEMO_MODEL, cuda=device.startswith("cuda"), start_input_size=start.spec.preprocess.min_size)
    recipe = replace(recipe, val_fraction=0.0, device=args.device)  # validate on the valid split below, not on 5 of the 30
    shutil.rmtree(args.out, ignore_errors=True)
    began = time.perf_counter()
    result = fine_tune(train, CHESS / "train", args.out, recipe, on_event=print_epoch)
    wall = time.perf_counter() - began
    after = evaluate_detector(Detector.from_file(result.last_checkpoint, device=args.device), valid, CHESS / "valid")

    print_table(f"Fine-tuning the demo model to 6 piece types on {len(train.images)} chess images ({recipe.epochs} epochs at "
                f"{recipe.image_size}, batch {recipe.batch_size}, {device}), validation: chess valid ({len(valid.images)} images)",
                ["", "mAP", "AP50", "AP75"],
                [["start (new class head)", before.mAP, before.AP50, before.AP75],
                 ["demo model, colours merged", merged.mAP, merged.AP50, merged.AP75],
                 ["fine-tuned", after.mAP, after.AP50, after.AP75]])
    print(f"wall time {wall / 60:.1f} min on {device}; per class after: "
          + ", ".join(f"{k} {v:.3f}" for k, v in after.per_class.items() if v is not None))


if __name__ == "__main__":
    main()
