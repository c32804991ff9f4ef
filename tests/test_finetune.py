"""core/finetune: the Train button's recipe, checks, split and runs list (no Qt)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.finetune import (
    FineTuneError,
    Recipe,
    check_labels,
    default_recipe,
    describe_plan,
    estimate_duration,
    list_runs,
    load_recipe,
    new_run_dir,
    split,
)
from core.formats.coco import read_coco
from core.labels import Category, LabelSet
from tests.conftest import DATASETS, ROOT

CHESS_VALID = read_coco(DATASETS / "chess" / "valid" / "_annotations.coco.json")
DEMO = read_coco(ROOT / "resources" / "demo" / "annotations.coco.json")


def test_defaults_follow_the_data_and_the_hardware():
    small = default_recipe(DEMO, None, cuda=False)
    assert small.epochs == 60 and small.batch_size == 4 and small.val_fraction == 0.15
    assert small.image_size % 32 == 0 and 320 <= small.image_size <= 800
    big = default_recipe(CHESS_VALID, ROOT / "x.safetensors", cuda=True, start_input_size=512, start_backbone="resnet50")
    assert big.epochs == 26 and big.batch_size == 8 and big.image_size == 512  # 1500 images seen / 58 labelled
    assert big.backbone == "resnet50" and small.backbone == "mobilenet_v2"  # the start model's (recipe.json named the default's)
    tiny = LabelSet(DEMO.categories, DEMO.images[:3])
    assert default_recipe(tiny, None, cuda=False).val_fraction == 0.0  # too few to hold any out


def test_checks_name_the_problem():
    assert check_labels(LabelSet(DEMO.categories, [])) and "no labelled images" in check_labels(LabelSet(DEMO.categories, []))[0]
    extra = LabelSet([*DEMO.categories, Category(99, "clock")], DEMO.images)
    assert check_labels(extra) == ["The class clock has no boxes: label some, or delete the class, before training."]
    # the plan counts the classes a run learns: clock only if it gets boxes (it was counted)
    assert describe_plan(extra, None).startswith(f"Train uses {len(DEMO.images)} labelled images and {len(DEMO.categories)} classes.\n"
                                                 "No boxes yet: clock. Train asks to leave it out of the run (label some first to learn it).")
    assert check_labels(DEMO) == []
    # Roboflow's class 0 names the project, the supercategory of every class, and has no boxes: not a
    # class to learn, so it does not stop the first Train of every Roboflow export
    rooted = LabelSet([Category(0, "pieces", "none"), *(replace(c, supercategory="pieces") for c in DEMO.categories)], DEMO.images)
    assert check_labels(rooted) == []
    assert describe_plan(rooted, None).startswith(f"Train uses {len(DEMO.images)} labelled images and {len(DEMO.categories)} classes "
                                                  "(pieces, the name of a group of classes, is left out).\n")
    loose = LabelSet([Category(0, "pieces", "none"), *(replace(c, supercategory="") for c in DEMO.categories)], DEMO.images)  # nothing in it: an empty class like any other
    assert check_labels(loose) == ["The class pieces has no boxes: label some, or delete the class, before training."]


def test_split_is_repeatable_and_keeps_both_sides_non_empty():
    train, val = split(CHESS_VALID, 0.15, seed=0)
    again, val_again = split(CHESS_VALID, 0.15, seed=0)
    assert [im.file_name for im in val.images] == [im.file_name for im in val_again.images]
    labelled = [im for im in CHESS_VALID.images if im.boxes or im.reviewed]
    assert len(val.images) == round(len(labelled) * 0.15) and len(train.images) + len(val.images) == len(labelled)
    assert not {im.file_name for im in train.images} & {im.file_name for im in val.images}
    two = LabelSet(DEMO.categories, DEMO.images[:2])
    t, v = split(two, 0.15, seed=0)
    assert len(t.images) == 1 and len(v.images) == 1


def test_a_resumed_run_keeps_the_images_it_was_validated_on(tmp_path):
    """Split again on resume, the labels as they are now (one more labelled image) held out an
    image the run had trained on, and its best checkpoint was chosen across two validation sets."""
    from core.finetune import record_split, resumed_split

    fewer = LabelSet(CHESS_VALID.categories, [im for im in CHESS_VALID.images if im.boxes][:-1])
    train, val = split(fewer, 0.15, seed=0)
    record_split(tmp_path, train, val)
    now = LabelSet(CHESS_VALID.categories, [im for im in CHESS_VALID.images if im.boxes])
    assert {im.file_name for im in split(now, 0.15, seed=0)[1].images} != {im.file_name for im in val.images}  # (what it did)
    again_train, again_val = resumed_split(now, tmp_path)
    assert {im.file_name for im in again_val.images} == {im.file_name for im in val.images}
    assert {im.file_name for im in again_train.images} == {im.file_name for im in now.images} - {im.file_name for im in val.images}
    gone = LabelSet(now.categories, [im for im in now.images if im.file_name not in {v.file_name for v in val.images}])
    assert resumed_split(gone, tmp_path)[1] is None  # its validation images unlabelled since: none left
    assert resumed_split(now, tmp_path / "elsewhere") is None  # no split.json: split as a new run is


def test_a_resumed_fine_tune_is_still_a_fine_tune(tmp_path):
    """Resume dropped the start weights' path, and a fine-tune that beat them was taken for a new model."""
    (tmp_path / "recipe.json").write_text(json.dumps(Recipe(start=Path("models/start.safetensors")).to_json()))
    assert load_recipe(tmp_path).start == Path("models/start.safetensors")
    (tmp_path / "recipe.json").write_text(json.dumps(Recipe(start=None).to_json()))
    assert load_recipe(tmp_path).start is None


def test_a_class_whose_only_boxes_would_be_held_out_is_trained():
    from core.labels import Box

    _, val = split(DEMO, 0.15, seed=0)
    held = val.images[0]
    clock = Category(99, "clock")
    images = [replace(im, boxes=[*im.boxes, Box(1, 1, 40, 40, 99)]) if im.id == held.id else im for im in DEMO.images]
    train, val = split(LabelSet([*DEMO.categories, clock], images), 0.15, seed=0)
    assert held.id in {im.id for im in train.images} and val is None  # back in training; nothing else was held out
    assert 99 in {b.category_id for im in train.images for b in im.boxes}
    # all boxes on one image, the others reviewed negatives: that image trains, the negatives validate
    negatives = [replace(im, boxes=[] if im.id != held.id else im.boxes, reviewed=True) for im in DEMO.images]
    train, val = split(LabelSet(DEMO.categories, negatives), 0.3, seed=0)
    assert any(im.boxes for im in train.images) and val is not None and not any(im.boxes for im in val.images)
    assert check_labels(LabelSet(DEMO.categories, [replace(im, boxes=[], reviewed=True) for im in DEMO.images])) == [
        "The 8 labelled images are all negatives (reviewed, no boxes): training needs boxes too."]


def test_runs_are_listed_newest_first_with_their_best_map(tmp_path):
    first = new_run_dir(tmp_path)
    first.mkdir(parents=True)
    (first / "last.safetensors").write_bytes(b"x")
    (first / "recipe.json").write_text(json.dumps({"epochs": 2}))
    # epoch 0: the start weights, scored before training; neither an epoch done nor the run's best
    (first / "metrics.json").write_text(json.dumps([{"epoch": 0, "mAP": 0.7, "per_class": {"king": 0.6, "queen": 0.8}},
                                                    {"epoch": 1, "mAP": 0.5, "per_class": {"king": 0.3, "queen": 0.7}},
                                                    {"epoch": 2, "mAP": 0.5, "per_class": {"king": 0.4, "queen": "–"}}]))
    second = new_run_dir(tmp_path)
    second.mkdir(parents=True)
    (second / "last.safetensors").write_bytes(b"x")
    (second / "best.safetensors").write_bytes(b"x")
    (second / "recipe.json").write_text(json.dumps({"epochs": 5}))
    (second / "metrics.json").write_text(json.dumps([{"epoch": 1, "mAP": 0.2}]))
    runs = list_runs(tmp_path)
    assert [r.path for r in runs] == [second, first]
    (first / "train_state.pt").write_bytes(b"x")  # killed while committing its last epoch: the history has it, the state is left
    assert not list_runs(tmp_path)[1].finished
    (first / "train_state.pt").unlink()
    assert runs[0].best_map == 0.2 and not runs[0].finished and runs[0].checkpoint.name == "best.safetensors"
    assert runs[1].best_map == 0.5 and runs[1].finished and runs[1].checkpoint.name == "last.safetensors"
    assert runs[1].epochs_done == 2 and runs[1].start_map == 0.7 and runs[0].start_map is None
    # per class at the best epoch (of equal ones the first: the checkpoint the trainer kept), and before training
    assert runs[1].best_epoch == 1 and runs[1].per_class == {"king": 0.3, "queen": 0.7}
    assert runs[1].start_per_class == {"king": 0.6, "queen": 0.8} and runs[0].per_class == {} and runs[0].start_per_class == {}
    # stopped early: finished before its last epoch (not a stopped run to resume)
    (second / "metrics.json").write_text(json.dumps([{"epoch": 1, "mAP": 0.2}, {"epoch": 2, "mAP": 0.1, "stopped_early": True}]))
    early = list_runs(tmp_path)[0]
    assert early.finished and early.stopped_early and early.epochs_done == 2 and not runs[1].stopped_early


def test_a_note_on_a_run_is_kept_in_its_folder_and_listed_with_it(tmp_path):
    from core.finetune import NOTE_FILE, write_run_note

    run = new_run_dir(tmp_path)
    run.mkdir(parents=True)
    (run / "last.safetensors").write_bytes(b"x")
    assert list_runs(tmp_path)[0].note == ""
    write_run_note(run, "  colour-agnostic, 30 images ")
    assert list_runs(tmp_path)[0].note == "colour-agnostic, 30 images" and not list(run.glob("*.tmp*"))
    (run / NOTE_FILE).write_bytes(b"\xff\xfe not text")  # damaged: no note, still listed
    assert list_runs(tmp_path)[0].note == ""
    write_run_note(run, " ")
    assert not (run / NOTE_FILE).exists()


@pytest.mark.parametrize("recipe, metrics", [
    ({"epochs": "three"}, [1, 2]),
    ([1], {"epoch": 1}),
    ({"epochs": 2, "start": 7}, [{"epoch": "1", "mAP": "high"}, {"epoch": 2, "mAP": float("nan")}, {"epoch": 2, "mAP": 0.25, "step": None, "per_class": ["king"]}]),
])
def test_a_damaged_run_is_listed_with_what_can_be_read(tmp_path, recipe, metrics):
    """A hand-edited recipe.json or metrics.json ([1, 2], {"epochs": "three"}) raised in list_runs,
    and the window could not open the folder."""
    from core.finetune import describe_recipe
    from core.history import read_history

    run = new_run_dir(tmp_path)
    run.mkdir(parents=True)
    (run / "last.safetensors").write_bytes(b"x")
    (run / "recipe.json").write_text(json.dumps(recipe))
    (run / "metrics.json").write_text(json.dumps(metrics))  # NaN too, as Python writes it
    (info,) = list_runs(tmp_path)
    describe_recipe(info.recipe)
    if isinstance(metrics, list):
        history = read_history(run)
    else:  # no list of epochs: damaged (a resumed run must not write a new history over it)
        with pytest.raises(ValueError, match="not a list of epochs"):
            read_history(run)
        history = []
    assert all(isinstance(h, dict) and all(isinstance(v, (int, float)) for k, v in h.items() if k in ("epoch", "step", "mAP")) for h in history)
    if isinstance(recipe, dict) and recipe.get("epochs") == 2:
        assert info.best_map == 0.25 and info.epochs == 2 and info.best_epoch == 2 and info.per_class == {}


def test_a_runs_recipe_reads_as_a_line():
    from core.finetune import describe_recipe

    assert describe_recipe(Recipe(start=Path("/models/demo.safetensors"), hflip=False).to_json()) == \
        "fine-tuned from models/demo.safetensors, 512 px, 12 epochs, batch 4, lr 0.0003, scale jitter + photometric"
    run_model = Path("/data/runs/20261129-101500/best.safetensors")  # a run's model: named with its run
    assert describe_recipe(Recipe(start=run_model).to_json()).startswith("fine-tuned from 20261129-101500/best.safetensors, ")
    assert describe_recipe(Recipe(start=None, backbone="resnet18", epochs=3).to_json()).startswith("new resnet18 model, 512 px, 3 epochs")
    assert describe_recipe(Recipe(start=None, backbone="resnet18", epochs=1).to_json()).startswith("new resnet18 model, 512 px, 1 epoch,")
    assert describe_recipe({}) == "unknown (no recipe.json)"
    assert describe_recipe(Recipe(start=None, lr=0.01, optimizer="sgd", precision="fp32", photometric=False).to_json()) == \
        "new mobilenet_v2 model, 512 px, 12 epochs, batch 4, lr 0.01, SGD, fp32, flip + scale jitter"
    assert describe_recipe(Recipe(start=None, epochs=30, patience=5, hflip=False, scale_jitter=False, photometric=False).to_json()) == \
        "new mobilenet_v2 model, 512 px, 30 epochs, batch 4, lr 0.0003, early stop after 5"


def test_a_recipe_with_an_unknown_optimizer_or_precision_is_refused_on_resume(tmp_path):
    (tmp_path / "recipe.json").write_text(json.dumps({**Recipe(start=None).to_json(), "optimizer": "adam"}))
    with pytest.raises(FineTuneError, match="recipe.json is unreadable .*optimizer 'adam' is not adamw or sgd"):
        load_recipe(tmp_path)
    (tmp_path / "recipe.json").write_text(json.dumps({**Recipe(start=None).to_json(), "precision": "int8"}))
    with pytest.raises(FineTuneError, match="precision 'int8' is not one of auto, fp32, bf16, fp16"):
        load_recipe(tmp_path)
    for patience in (0, 2.5, "3", True):
        (tmp_path / "recipe.json").write_text(json.dumps({**Recipe(start=None).to_json(), "patience": patience}))
        with pytest.raises(FineTuneError, match="patience .* is not a whole number of epochs, 1 or more"):
            load_recipe(tmp_path)


def test_the_plan_counts_the_images_in_the_folder_and_names_negatives_and_new_classes():
    """Images moved out of the folder were still counted ("13 labelled images"; the run used 9), and
    one negative read "1 negatives"."""
    labels = LabelSet(DEMO.categories, [replace(im, boxes=[], reviewed=True) if k == 0 else im for k, im in enumerate(DEMO.images)])
    text = describe_plan(labels, DEMO.categories[1:], present=[im.file_name for im in labels.images][:7])
    assert text.startswith(f"Train uses 7 labelled images (1 negative) and {len(DEMO.categories)} classes")
    assert f"\nNew to the model (learnt from scratch): {DEMO.categories[0].name}.\n" in text
    dropped = describe_plan(LabelSet(DEMO.categories[1:], DEMO.images), DEMO.categories)
    assert f"\nThe model's classes without boxes here are left out of the new one: {DEMO.categories[0].name}.\n" in dropped
    coco_like = describe_plan(LabelSet(DEMO.categories[1:], DEMO.images),
                              [Category(0, "__background__"), DEMO.categories[0], Category(12, "N/A")])
    assert "__background__" not in coco_like and "N/A" not in coco_like  # a COCO head's placeholder rows are no classes
    many = describe_plan(LabelSet(DEMO.categories[:1], DEMO.images), DEMO.categories)
    names = ", ".join(c.name for c in DEMO.categories[1:7])
    # how many more, not "…", and no "…." at the sentence's end
    assert f"\nThe model's classes without boxes here are left out of the new one: {names} and {len(DEMO.categories) - 7} more.\n" in many


def test_the_plan_holds_out_what_the_recipe_says_and_says_when_there_is_nothing_to_train_on():
    """It counted the default share whatever Advanced said (2 images held out; the run held out 3)."""
    labels = CHESS_VALID
    default = describe_plan(labels, None)
    assert describe_plan(labels, None, recipe=Recipe(start=None, val_fraction=0.15)).splitlines()[:-1] == default.splitlines()[:-1]
    held = round(len(labels.images) * 0.3)
    assert f"\n{held} images (" in describe_plan(labels, None, recipe=Recipe(start=None, val_fraction=0.3))
    assert describe_plan(labels, None, recipe=Recipe(start=None, val_fraction=0.0, epochs=1, batch_size=2, image_size=320)).endswith(
        "\nNo validation (a share of 0 %): no mAP, and the last epoch's weights are the new model.\n1 epoch at 320 px, 2 images a step.")
    empty = describe_plan(LabelSet(labels.categories, []), labels.categories)
    assert empty == "Nothing to train on yet: draw boxes (or accept predictions) on some images, and Train learns from them."


def test_a_runs_model_learnt_from_its_runs_images_and_those_of_the_runs_it_started_from(tmp_path):
    from core.finetune import trained_on

    def run(name, train, start):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        (folder / "split.json").write_text(json.dumps({"train": train, "validation": []}))
        (folder / "recipe.json").write_text(json.dumps({"start": start}))
        return folder / "best.safetensors"

    first = run("a", ["1.jpg", "2.jpg"], "/models/demo.safetensors")
    second = run("b", ["3.jpg"], str(first))
    assert trained_on(second, tmp_path) == {"1.jpg", "2.jpg", "3.jpg"} and trained_on(first, tmp_path) == {"1.jpg", "2.jpg"}
    (first.parent / "recipe.json").write_text(json.dumps({"start": str(second)}))  # (a loop: each run once)
    assert trained_on(second, tmp_path) == {"1.jpg", "2.jpg", "3.jpg"}
    assert trained_on(tmp_path / "models" / "demo.safetensors", tmp_path) is None  # not a run: not known
    other = tmp_path / "site_b"  # another folder's run: its 1.jpg is another photo
    assert trained_on(second, other) is None
    third = run("c", ["4.jpg"], str(first))
    third_elsewhere = other / "runs" / "c" / "best.safetensors"
    third_elsewhere.parent.mkdir(parents=True)
    for name in ("split.json", "recipe.json"):
        (third_elsewhere.parent / name).write_text((third.parent / name).read_text())
    assert trained_on(third_elsewhere, other) == {"4.jpg"}  # started from site A's run: its images are not these


def test_the_time_of_a_run_is_estimated_from_the_newest_run_on_that_kind_of_device(tmp_path):
    def run(recipe, history):
        folder = new_run_dir(tmp_path)
        folder.mkdir(parents=True)
        (folder / "last.safetensors").write_bytes(b"x")
        (folder / "recipe.json").write_text(json.dumps(recipe))
        (folder / "metrics.json").write_text(json.dumps(history))
        return folder

    labels = CHESS_VALID  # 58 labelled images: 49 trained on at a validation fraction of 0.15
    recipe = Recipe(start=None, image_size=512, epochs=10, val_fraction=0.15)
    assert estimate_duration(labels, recipe, list_runs(tmp_path), "cpu") == ""  # no run yet
    run({"epochs": 2, "image_size": 256}, [{"epoch": 1, "step": 3}])  # a run of an older version: no times
    assert estimate_duration(labels, recipe, list_runs(tmp_path), "cpu") == ""
    speed_of = {"device": "cpu", "backbone": "mobilenet_v2", "processes": 1}
    timed = run({"epochs": 2, "image_size": 256}, [{"epoch": 1, "step": 5, **speed_of, "train_s": 5.0, "images": 40, "val_s": 1.0},
                                                   {"epoch": 2, "step": 10, **speed_of, "train_s": 5.0, "images": 40, "val_s": 1.5}])
    (speed,) = [r.speed for r in list_runs(tmp_path) if r.path == timed]
    assert speed.images_per_s == 8.0 and speed.validation_share == 0.25 and speed.image_size == 256 and speed.backbone == "mobilenet_v2"
    # 8 images/s at 256 px is 2 at 512 (4x the pixels); 10 epochs of 50 images, plus a quarter for validation: 306 s
    text = estimate_duration(labels, recipe, list_runs(tmp_path), "cpu")
    assert text == f"About 5 min on the CPU (at the speed of the run {timed.name}: 8.0 images/s at 256 px)."
    assert estimate_duration(labels, recipe, list_runs(tmp_path), "cuda") == ""  # no run on a GPU to go by
    assert "About 3.4 h" in estimate_duration(labels, replace(recipe, epochs=400), list_runs(tmp_path), "cpu")
    assert estimate_duration(labels, replace(recipe, patience=3), list_runs(tmp_path), "cpu") == f"{text} Less if it stops early."
    assert estimate_duration(labels, replace(recipe, epochs=1, image_size=256), list_runs(tmp_path), "cpu").startswith("Under a minute on")
    assert estimate_duration(labels, replace(recipe, backbone="resnet50"), list_runs(tmp_path), "cpu") == ""  # no run of that backbone
    assert estimate_duration(LabelSet(labels.categories, []), recipe, list_runs(tmp_path), "cpu") == ""  # nothing to train on
    # a fine-tune trains its start model's backbone; a torchrun run's speed is of all its processes together
    from tests.conftest import DEMO_MODEL

    assert "About 5 min" in estimate_duration(labels, replace(recipe, start=DEMO_MODEL, backbone="resnet50"), list_runs(tmp_path), "cpu")
    run({"epochs": 1, "image_size": 256}, [{"epoch": 1, "step": 5, **speed_of, "processes": 4, "train_s": 5.0, "images": 160, "val_s": 1.25}])
    assert estimate_duration(labels, recipe, list_runs(tmp_path), "cpu").startswith("About 5 min")


def test_time_left_reads_as_a_person_says_it():
    from core.text import duration

    assert [duration(s) for s in (0.4, 40, 59.4, 60, 498, 1500, 3600, 28_800, 7_500)] == [
        "0 s", "40 s", "59 s", "1.0 min", "8.3 min", "25 min", "1 h 00 min", "8 h 00 min", "2 h 05 min"]


@pytest.mark.parametrize("ending", ["finished", "disk full"])
def test_a_run_is_freed_as_it_returns_without_a_garbage_collection(tmp_path, tiny_checkpoint, monkeypatch, ending):
    """The run's objects are frozen out of the cyclic collector's reach and stay so: a reference
    cycle through the trainer or its model (or a failure's traceback) would keep the model's memory
    for good, run after run (the full collection that used to free them paused the window 0.2 s)."""
    import errno
    import gc
    import weakref

    import core.train
    from core.finetune import fine_tune
    from tests.conftest import valid_subset

    data = valid_subset(tmp_path, count=4)
    data["categories"] = [c for c in data["categories"] if any(a["category_id"] == c["id"] for a in data["annotations"])]
    (tmp_path / "labels.json").write_text(json.dumps(data))
    trainers = []
    init = core.train.Trainer.__init__

    def watched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        trainers.append((weakref.ref(self), weakref.ref(self.model), weakref.ref(self.optimizer)))

    monkeypatch.setattr(core.train.Trainer, "__init__", watched)
    if ending == "disk full":
        def save_nothing(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(core.train.Trainer, "_save", save_nothing)
    recipe = Recipe(start=tiny_checkpoint, epochs=1, image_size=160, batch_size=2, val_fraction=0.25, precision="fp32", device="cpu")
    gc.disable()
    try:
        try:
            fine_tune(read_coco(tmp_path / "labels.json"), tmp_path, tmp_path / "run", recipe)
        except FineTuneError as exc:
            assert ending == "disk full" and "disk is full" in str(exc)
        else:
            assert ending == "finished"
        assert trainers and all(ref() is None for ref in trainers[0])
    finally:
        gc.enable()
        gc.unfreeze()  # (what the run froze and is still alive: modules imported for it)
        gc.collect()
        gc.freeze()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_replaced_detector_is_freed_without_a_garbage_collection(tiny_checkpoint, precision):
    """A fine-tune freezes every object alive at its start, the window's Detector included: one in
    a reference cycle would keep its model's memory after a run's model replaced it."""
    import gc
    import weakref

    import numpy as np

    from core.detector import Detector

    gc.disable()
    try:
        detector = Detector.from_file(tiny_checkpoint, device="cpu", precision=precision)
        detector.detect([np.zeros((90, 120, 3), np.uint8)])
        refs = weakref.ref(detector), weakref.ref(detector.network)
        del detector
        assert all(ref() is None for ref in refs)
    finally:
        gc.enable()


def test_a_run_cancelled_before_its_first_step_is_not_kept_a_resumed_one_is(tmp_path, tiny_checkpoint):
    """Also for a run the window let go of (its folder closed, the window quit) that ends in the
    background: it left a "0/n stopped" run of 60+ MB, the start weights saved again."""
    from core.cancel import CancelToken
    from core.finetune import fine_tune
    from tests.conftest import valid_subset

    data = valid_subset(tmp_path, count=4)
    data["categories"] = [c for c in data["categories"] if any(a["category_id"] == c["id"] for a in data["annotations"])]
    (tmp_path / "labels.json").write_text(json.dumps(data))
    labels = read_coco(tmp_path / "labels.json")
    recipe = Recipe(start=tiny_checkpoint, epochs=1, image_size=160, batch_size=2, val_fraction=0.25, precision="fp32", device="cpu")
    run = tmp_path / "runs" / "r"
    cancelled = CancelToken()
    cancelled.cancel()
    result = fine_tune(labels, tmp_path, run, recipe, cancel=cancelled)
    assert result.cancelled and result.steps == 0 and not (run).exists()
    # a run with a step done, resumed and cancelled before its next one: kept, with what it learnt
    steps = []
    one_step = CancelToken()

    def after_a_step(event):
        if event.kind == "step":
            steps.append(event.step)
            one_step.cancel()

    first = fine_tune(labels, tmp_path, run, replace(recipe, epochs=3), on_event=after_a_step, cancel=one_step)
    assert first.cancelled and first.steps == 1 and (run / "train_state.pt").exists()
    again = fine_tune(labels, tmp_path, run, replace(recipe, epochs=3), resume=True, cancel=cancelled)
    assert again.cancelled and (run / "train_state.pt").exists() and [r.path for r in list_runs(tmp_path)] == [run]


def test_a_run_whose_files_hold_numbers_past_a_float_or_nest_too_deep_is_still_listed(tmp_path):
    """A recipe's 400-digit "epochs" (OverflowError) or a metrics.json nested 100,000 deep
    (RecursionError) stopped the folder's opening halfway."""
    from core.labels import is_number

    assert not is_number(10**400) and is_number(10**300) and not is_number(float("nan")) and not is_number(True)
    run = new_run_dir(tmp_path)
    run.mkdir(parents=True)
    (run / "last.safetensors").write_bytes(b"x")
    (run / "recipe.json").write_text('{"epochs": 1' + "0" * 400 + "}")
    (run / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)
    (listed,) = list_runs(tmp_path)
    assert listed.epochs == 0 and listed.epochs_done == 0 and listed.best_map is None
    (run / "recipe.json").write_text("[" * 100_000 + "]" * 100_000)
    assert list_runs(tmp_path)[0].recipe == {}
    with pytest.raises(FineTuneError, match=f"Cannot resume {run.name}: its recipe.json is unreadable \\(its JSON is nested too deeply to read\\)"):
        load_recipe(run)  # (Resume raised RecursionError)


def test_a_class_renamed_since_keeps_its_trained_rows_by_its_id_where_the_ids_are_the_same_labels():
    """Renamed in the window (its id kept), white-king was learnt from scratch by the next fine-tune,
    and the plan called it new, while Resume matched it by its id."""
    from core.labels import kept_class_rows

    head = [Category(1, "white-king"), Category(2, "white-queen"), Category(3, "black-king")]
    renamed = [Category(1, "white-monarch"), Category(2, "white-queen"), Category(3, "black-king")]
    assert kept_class_rows(head, renamed) == {0: 0, 1: 1, 2: 2}
    # ids of other labels (a model of another project, COCO's): by name only
    other = [Category(7, "white-monarch"), Category(2, "white-queen"), Category(1, "black-king")]
    assert kept_class_rows(head, other) == {1: 1, 2: 2}
    # a head class whose name a class still has is that class's, not the renamed one's
    assert kept_class_rows(head, [Category(3, "white-king"), Category(2, "white-queen")]) == {0: 0, 1: 1}
    labels = LabelSet(DEMO.categories, DEMO.images)
    first = next(c for c in DEMO.categories if any(b.category_id == c.id for im in DEMO.images for b in im.boxes))
    edited = LabelSet([replace(c, name="monarch") if c.id == first.id else c for c in DEMO.categories], DEMO.images)
    assert "New to the model" not in describe_plan(edited, labels.categories) and "left out of the new one" not in describe_plan(
        edited, [c for c in labels.categories if any(b.category_id == c.id for im in DEMO.images for b in im.boxes)])


def test_a_new_run_failing_before_its_first_checkpoint_leaves_no_folder(tmp_path):
    """Its start weights unreadable, the window's run left a folder of a recipe and a split among
    the runs, with nothing to resume."""
    from core.finetune import fine_tune

    labels = LabelSet(DEMO.categories, DEMO.images)
    (tmp_path / "start.safetensors").write_bytes(b"not a checkpoint")
    recipe = Recipe(start=tmp_path / "start.safetensors", epochs=1, image_size=160, batch_size=2, precision="fp32", device="cpu")
    with pytest.raises(FineTuneError, match="start.safetensors"):
        fine_tune(labels, ROOT / "resources" / "demo", tmp_path / "runs" / "new", recipe)
    assert not (tmp_path / "runs" / "new").exists()
    (tmp_path / "given").mkdir()  # a folder that was there is not removed
    (tmp_path / "given" / "notes.txt").write_text("mine")
    with pytest.raises(FineTuneError):
        fine_tune(labels, ROOT / "resources" / "demo", tmp_path / "given", recipe)
    assert (tmp_path / "given" / "notes.txt").read_text() == "mine"
