"""One-click fine-tuning: a recipe chosen from the data and the hardware, the checks that give a
clear message before any training starts, the runs folder beside the annotations, and the run
itself on :class:`core.train.Trainer` (synchronous; progress callback and cancel token)."""

from __future__ import annotations

import errno
import gc
import json
import math
import os
import shutil
import statistics
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import parse_json, write_json, write_text
from core.cancel import CancelToken
from core.config import PRECISIONS
from core.history import read_history
from core.labels import (
    ImageEntry,
    LabelSet,
    class_name_key,
    group_categories,
    is_number,
    kept_class_rows,
    placeholder_rows,
    same_named_categories,
)
from core.text import count, first_names

RUNS_FOLDER = "runs"
NOTE_FILE = "note.txt"  # the user's words on a run ("colour-agnostic, more data"), in its folder


DEFAULT_LR = {"adamw": 3e-4, "sgd": 0.01}  # each optimizer's learning rate for fine-tuning


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """What the Train button runs; the Advanced section edits it."""

    start: Path | None  # weights to fine-tune; None: an ImageNet backbone (or random, offline)
    backbone: str = "mobilenet_v2"
    image_size: int = 512
    epochs: int = 12
    lr: float = DEFAULT_LR["adamw"]
    optimizer: str = "adamw"  # or "sgd" (momentum 0.9)
    batch_size: int = 4
    hflip: bool = True
    scale_jitter: bool = True
    photometric: bool = True
    frozen_stages: int | None = None  # None: the trainer's default (1 from trained weights)
    val_fraction: float = 0.15
    device: str = "auto"
    precision: str = "auto"  # core.config.PRECISIONS
    seed: int = 0
    patience: int | None = None  # stop once validation mAP has not risen for this many epochs (None: never)

    def __post_init__(self) -> None:  # (a recipe.json edited by hand: its run says so, not a KeyError deep in training)
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer {self.optimizer!r} is not adamw or sgd")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.patience is not None and (not isinstance(self.patience, int) or isinstance(self.patience, bool) or self.patience < 1):
            raise ValueError(f"patience {self.patience!r} is not a whole number of epochs, 1 or more")

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))


def describe_recipe(saved: dict) -> str:
    """A recipe.json in a line: "fine-tuned from models/demo.safetensors, 512 px, 12 epochs, batch 4, lr
    0.0003, flip + scale jitter + photometric" (keys it lacks are left out; the backbone is named for
    a new model, a fine-tune keeps its start model's)."""
    start = saved.get("start")
    # with its folder: every run's model is a best.safetensors, which named no run
    parts = [f"fine-tuned from {Path(str(start)).parent.name}/{Path(str(start)).name}" if start else
             f"new {saved.get('backbone', '')} model" if "start" in saved else ""]
    parts += [f"{saved['image_size']} px" if "image_size" in saved else "",
              count(saved['epochs'], 'epoch') if is_number(saved.get("epochs")) else "", f"batch {saved['batch_size']}" if "batch_size" in saved else "",
              f"lr {saved['lr']:g}" if isinstance(saved.get("lr"), (int, float)) else "",
              "SGD" if saved.get("optimizer") == "sgd" else "",
              str(saved["precision"]) if saved.get("precision", "auto") != "auto" else "",
              f"early stop after {saved['patience']}" if is_number(saved.get("patience")) else ""]
    augment = [name for key, name in (("hflip", "flip"), ("scale_jitter", "scale jitter"), ("photometric", "photometric")) if saved.get(key)]
    parts.append(" + ".join(augment))
    return ", ".join(p for p in parts if p) or "unknown (no recipe.json)"


def labelled_images(labels: LabelSet) -> list[ImageEntry]:
    """Images a person labelled: with boxes, or marked reviewed (negatives)."""
    return [im for im in labels.images if im.boxes or im.reviewed]


FEW_VALIDATION_IMAGES = 5  # below this, one image more or less found moves mAP by tenths


def describe_plan(labels: LabelSet, model_classes: Sequence[Any] | None, present: Collection[str] | None = None,
                  recipe: Recipe | None = None) -> str:
    """What Train would use, a line each (one dense paragraph was hard to scan): the labelled
    images (only those in ``present``, the folder's, when given: a labelled image gone from the
    folder cannot be trained on), the classes (naming those without boxes, and those the model's
    ``model_classes`` (each with ``id`` and ``name``) keep no class-head rows for, as
    :func:`core.labels.kept_class_rows` matches them: they start anew), how many images ``recipe`` (else
    the defaults) holds out for validation, and its epochs, image size and batch."""
    if present is not None:
        labels = labels.with_files(present)
    labelled = labelled_images(labels)
    if not labelled:
        return "Nothing to train on yet: draw boxes (or accept predictions) on some images, and Train learns from them."
    negatives = sum(1 for im in labelled if not im.boxes)
    negative = "" if not negatives else f" ({negatives} negative{'s' if negatives > 1 else ''})"
    counts = labels.box_counts()
    group_ids = _empty_groups(labels, counts)
    groups = [c.name for c in labels.categories if c.id in group_ids]
    empty = empty_classes(labels, counts)
    classes = len(labels.categories) - len(groups) - len(empty)  # (a class without boxes was counted: a run learns it only from boxes)
    first = f"Train uses {len(labelled)} labelled image{'' if len(labelled) == 1 else 's'}{negative} and {classes} class{'' if classes == 1 else 'es'}"
    if groups:
        first += f" ({', '.join(groups)}, the name of a group of classes, is left out)" if len(groups) == 1 else \
            f" ({', '.join(groups)}, names of groups of classes, are left out)"
    lines = [first + "."]
    if empty:
        # (it read as a note, and the next line said such classes were left out: Train asks first)
        them = "them" if len(empty) > 1 else "it"
        lines.append(f"No boxes yet: {first_names(empty)}. Train asks to leave {them} out of the run (label some first to learn {them}).")
    if model_classes is not None:
        boxed = [c for c in labels.categories if counts.get(c.id)]
        kept = kept_class_rows(model_classes, boxed)
        new = [c.name for j, c in enumerate(boxed) if j not in kept]
        if new:
            lines.append(f"New to the model (learnt from scratch): {first_names(new)}.")
        none = placeholder_rows([c.name for c in model_classes]) | set(kept.values())
        said = {class_name_key(n) for n in empty}  # (named just above)
        dropped = [c.name for k, c in enumerate(model_classes) if k not in none and class_name_key(c.name) not in said]
        if dropped:
            lines.append(f"The model's classes without boxes here are left out of the new one: {first_names(dropped)}.")
    default = default_recipe(labels, None, cuda=False)
    recipe = recipe or default
    lines.append(_validation_line(labels, labelled, recipe, default.val_fraction))
    # (8 images started 60 epochs at 512 px, some 8 minutes, without a word of either)
    lines.append(f"{recipe.epochs} epoch{'' if recipe.epochs == 1 else 's'} at {recipe.image_size} px, {recipe.batch_size} "
                 f"image{'' if recipe.batch_size == 1 else 's'} a step.")
    return "\n".join(lines)


def _validation_line(labels: LabelSet, labelled: list, recipe: Recipe, default_fraction: float) -> str:
    if not recipe.val_fraction:
        return ("No validation (a share of 0 %): no mAP, and the last epoch's weights are the new model." if default_fraction
                else "No validation: too few labelled images to hold any out.")
    held = split(labels, recipe.val_fraction, recipe.seed)[1]
    n = len(held.images) if held is not None else 0
    if not n:
        return "No validation: every image it would hold out has the only boxes of a class."
    if n < FEW_VALIDATION_IMAGES:
        return f"{n} image{'' if n == 1 else 's'} held out for validation, so few that its mAP is a rough guide."
    return f"{n} images ({n / len(labelled):.0%}) held out for validation."


def default_recipe(labels: LabelSet, start: Path | None, *, cuda: bool, start_input_size: int | None = None,
                   start_backbone: str | None = None) -> Recipe:
    """Defaults from the data: about 1,500 images seen in all (at least 8, at most 60 epochs), the
    start model's input size or one fitted to the images, batch 8 on a GPU and 4 on a CPU; the
    start model's backbone (what a fine-tune trains, and its recipe.json names)."""
    images = labelled_images(labels)
    n = max(1, len(images))
    if start_input_size:
        size = start_input_size
    else:
        short = statistics.median([min(im.width, im.height) for im in images]) if images else 512
        size = int(min(800, max(320, 32 * round(short / 32))))
    epochs = int(min(60, max(8, math.ceil(1500 / n))))
    return Recipe(start=start, backbone=start_backbone or Recipe.backbone, image_size=size, epochs=epochs, batch_size=8 if cuda else 4,
                  device="auto",
                  val_fraction=0.15 if n >= 7 else 0.0)


def check_labels(labels: LabelSet, *, resuming: bool = False) -> list[str]:
    """Reasons training cannot start (empty: it can). A resumed run goes on with the classes of its
    head: a class added since, with no boxes yet, does not stop it."""
    if problem := same_named_categories(labels.categories):  # all of them: validation keeps the empty ones too
        return [f"The {problem}."]
    if resuming:
        labels = labels.without_empty_classes()
    images = labelled_images(labels)
    if not images:
        return ["There are no labelled images in this folder yet: draw some boxes (or accept predictions) first."]
    if not any(im.boxes for im in images):
        return [f"The {len(images)} labelled images are all negatives (reviewed, no boxes): training needs boxes too."]
    if empty := empty_classes(LabelSet(labels.categories, images)):
        return [f"The class{'es' if len(empty) > 1 else ''} {', '.join(empty)} {'have' if len(empty) > 1 else 'has'} no boxes: "
                "label some, or delete the class, before training."]
    return []


def empty_classes(labels: LabelSet, counts: dict[int, int] | None = None) -> list[str]:
    """The classes without boxes that training would have to learn (not names of groups of
    classes): training refuses them, or leaves them out (``labels.without_empty_classes()``).
    ``counts``: ``labels.box_counts()``, where the caller has them (at 100,000 boxes they take time)."""
    counts = labels.box_counts() if counts is None else counts
    groups = _empty_groups(labels, counts)
    return [c.name for c in labels.categories if not counts.get(c.id) and c.id not in groups]


def _empty_groups(labels: LabelSet, counts: dict[int, int]) -> set[int]:
    """Categories without boxes that name a group of classes (Roboflow's class 0): not classes to
    learn, so they neither stop training nor count as classes."""
    return {i for i in group_categories(labels.categories) if not counts.get(i)}


def split(labels: LabelSet, val_fraction: float, seed: int) -> tuple[LabelSet, LabelSet | None]:
    """Labelled images split into train and validation (at least one of each when there are 2+)."""
    labelled = LabelSet(labels.categories, labelled_images(labels), labels.extra)
    if val_fraction <= 0 or len(labelled.images) < 2:
        return labelled, None
    train, val = labelled.split(val_fraction, seed)
    return train, val if val.images else None


def runs_folder_problem(root: Path) -> str | None:
    """Why runs cannot be kept under ``root`` (a read-only folder or disk), or None."""
    folder = root / RUNS_FOLDER
    if folder.exists() and not folder.is_dir():  # (found only when the run wrote there: "Not a directory")
        return f"Training keeps its runs in the folder {folder}, but that is a file (move or rename it)"
    if folder.is_dir():
        return None if os.access(folder, os.W_OK) else f"The runs folder {folder} cannot be written (its permissions, or a read-only disk)"
    return None if os.access(root, os.W_OK) else (f"Training keeps its runs in {folder}, and {root} cannot be written "
                                                  "(its permissions, or a read-only disk)")


def new_run_dir(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / RUNS_FOLDER / stamp
    k = 1
    while path.exists():
        k += 1
        path = root / RUNS_FOLDER / f"{stamp}-{k}"
    return path


@dataclass(frozen=True)
class RunSpeed:
    """How fast a run trained, from its history: images a second in one process (their loading
    included), the time validation added to it (0.25: a quarter more), on which kind of device,
    with which backbone, at which size."""

    images_per_s: float
    validation_share: float
    device: str
    backbone: str
    image_size: int


@dataclass(frozen=True)
class RunInfo:
    path: Path
    started: str
    epochs_done: int
    epochs: int
    best_map: float | None
    finished: bool
    recipe: dict
    start_map: float | None = None  # the start weights' validation mAP, before training
    speed: RunSpeed | None = None  # None: no epoch of it recorded its time (a run of an older version)
    best_epoch: int | None = None  # the epoch of best_map (its best checkpoint's)
    per_class: dict[str, float | None] = field(default_factory=dict)  # validation AP per class at best_epoch (None: no labels of it)
    start_per_class: dict[str, float | None] = field(default_factory=dict)  # the start weights', before training
    stopped_early: bool = False  # finished before its last epoch: validation mAP had stopped rising
    note: str = ""  # the user's note on it (:func:`write_run_note`)

    @property
    def checkpoint(self) -> Path:
        best = self.path / "best.safetensors"
        return best if best.exists() else self.path / "last.safetensors"


def list_runs(root: Path) -> list[RunInfo]:
    """Runs under ``root/runs`` with a checkpoint, newest first. A run whose recipe.json or
    metrics.json is unreadable or damaged is listed all the same, with what can be read (one
    hand-edited file stopped the window from opening the folder)."""
    out = []
    folder = root / RUNS_FOLDER
    for run in sorted(folder.iterdir() if folder.is_dir() else [], reverse=True):
        if not (run / "last.safetensors").exists():
            continue
        recipe = _read_json(run / "recipe.json", dict)
        try:
            history = read_history(run)
        except ValueError:  # unreadable: listed all the same
            history = []
        trained = [h for h in history if h["epoch"] > 0]  # epoch 0: the start weights, scored before training
        start = [h for h in history if h.get("epoch") == 0]
        maps = [h["mAP"] for h in trained if h.get("mAP") is not None]
        best = next((h for h in trained if maps and h.get("mAP") == max(maps)), None)  # (the first: the trainer keeps it)
        epochs = int(recipe["epochs"]) if is_number(recipe.get("epochs")) else 0
        # finished: every epoch trained and no state left to resume (killed while committing its last epoch, the
        # history had the epoch, the state did not)
        stopped_early = bool(trained and trained[-1].get("stopped_early"))
        finished = (len(trained) >= epochs > 0 or stopped_early) and not (run / "train_state.pt").exists()
        out.append(RunInfo(run, run.name, len(trained), epochs, max(maps) if maps else None, finished, recipe,
                           start[0].get("mAP") if start else None, _speed(trained, recipe), int(best["epoch"]) if best else None,
                           _per_class(best), _per_class(start[0] if start else None), stopped_early, _read_note(run)))
    return out


def write_run_note(run: Path, note: str) -> None:
    """Keep the user's note on a run in its folder (atomically); an empty note removes it. Raises
    OSError when the folder cannot be written."""
    note = note.strip()
    if note:
        write_text(run / NOTE_FILE, note + "\n")
    else:
        (run / NOTE_FILE).unlink(missing_ok=True)


def _read_note(run: Path) -> str:
    try:
        return (run / NOTE_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):  # none, or not text: no note
        return ""


def _per_class(entry: dict | None) -> dict[str, float | None]:
    """An epoch's AP per class, as its metrics.json entry holds it (a hand-edited one: what is a number)."""
    values = entry.get("per_class") if entry is not None else None
    if not isinstance(values, dict):
        return {}
    return {str(name): ap if is_number(ap) else None for name, ap in values.items()}


def _speed(history: list[dict], recipe: dict) -> RunSpeed | None:
    keys = ("train_s", "images", "val_s", "processes")
    timed = [h for h in history if all(is_number(h.get(k)) and h[k] >= 0 for k in keys) and h.get("device") and h.get("backbone")]
    seconds, images = sum(h["train_s"] for h in timed), sum(h["images"] / max(1, h["processes"]) for h in timed)
    if not timed or seconds <= 0 or not images or not is_number(recipe.get("image_size")) or recipe["image_size"] <= 0:
        return None
    return RunSpeed(images / seconds, sum(h["val_s"] for h in timed) / seconds, str(timed[-1]["device"]), str(timed[-1]["backbone"]),
                    int(recipe["image_size"]))


def estimate_seconds(labels: LabelSet, recipe: Recipe, runs: Sequence[RunInfo], device: str,
                     present: Collection[str] | None = None) -> tuple[float, RunInfo] | None:
    """How long a run of ``recipe`` would take on ``device`` ("cpu", "cuda"), and the run that says
    so: the newest of ``runs`` that trained the same backbone on that kind of device, its speed
    scaled by the image area (the time of a step grows about as the pixels do). None when no run
    has such a speed, or there is nothing to train on."""
    from core.weights import CheckpointError, read_spec

    if recipe.start is None:
        backbone = recipe.backbone
    else:
        try:
            backbone = read_spec(recipe.start).model.backbone
        except CheckpointError:  # torchvision or yhenon weights: their backbone is not written down
            backbone = None
    timed = next((run for run in runs if run.speed is not None and run.speed.device == device
                  and backbone in (None, run.speed.backbone)), None)
    if present is not None:
        labels = labels.with_files(present)
    training_images = round(len(labelled_images(labels)) * (1 - recipe.val_fraction))
    if timed is None or not training_images:
        return None
    speed = timed.speed
    rate = speed.images_per_s * (speed.image_size / recipe.image_size) ** 2
    return recipe.epochs * training_images / rate * (1 + speed.validation_share), timed


def estimate_duration(labels: LabelSet, recipe: Recipe, runs: Sequence[RunInfo], device: str,
                      present: Collection[str] | None = None) -> str:
    """:func:`estimate_seconds` in a sentence ("" without an estimate)."""
    estimate = estimate_seconds(labels, recipe, runs, device, present)
    if estimate is None:
        return ""
    seconds, timed = estimate
    took = ("Under a minute" if seconds < 45 else "About a minute" if seconds < 90 else f"About {seconds / 60:.0f} min"
            if seconds < 5400 else f"About {seconds / 3600:.1f} h")
    where = "the GPU" if device == "cuda" else "the CPU"
    early = " Less if it stops early." if recipe.patience and recipe.val_fraction else ""
    return (f"{took} on {where} (at the speed of the run {timed.started}: {timed.speed.images_per_s:.1f} images/s at "
            f"{timed.speed.image_size} px).{early}")


def _read_json(path: Path, kind: type):
    """The JSON value in ``path`` if it is a ``kind``; else (missing, unreadable, another kind) an empty one."""
    try:
        value = parse_json(path.read_text(encoding="utf-8")) if path.exists() else kind()
    except (OSError, ValueError):
        return kind()
    return value if isinstance(value, kind) else kind()


class FineTuneError(RuntimeError):
    """A failure with a message for the user, and what to try (``smaller_batch``: retry with it)."""

    def __init__(self, message: str, smaller_batch: int | None = None) -> None:
        super().__init__(message)
        self.smaller_batch = smaller_batch


SPLIT_FILE = "split.json"  # a run's training and validation images, by file name


def resumed_split(labels: LabelSet, run_dir: Path) -> tuple[LabelSet, LabelSet | None] | None:
    """(train, validation) of a resumed run: validated on the images it started with, so that its
    best checkpoint is chosen on one set and no image it learnt from is scored (split again, the
    labels as they are now held out an image it had trained on), and learning from all the other
    labelled images, those labelled since included. None when the run recorded no split."""
    held = _read_json(run_dir / SPLIT_FILE, dict).get("validation")
    if not isinstance(held, list):
        return None
    held = set(map(str, held))
    labelled = LabelSet(labels.categories, labelled_images(labels), labels.extra)
    val = {im.id for im in labelled.images if im.file_name in held}
    return labelled.subset({im.id for im in labelled.images} - val), labelled.subset(val) if val else None


def record_split(run_dir: Path, train: LabelSet, val: LabelSet | None, *, resume: bool = False) -> None:
    """Write the run's :data:`SPLIT_FILE`: the images it learns from and those it is validated on
    (:func:`trained_on` reads it, so that an evaluation can leave out what the model has seen). A
    resumed run (see :func:`resumed_split`) learnt from the images of both its parts."""
    learnt = {im.file_name for im in train.images} | (set(map(str, _read_json(run_dir / SPLIT_FILE, dict).get("train") or []))
                                                      if resume else set())
    write_json(run_dir / SPLIT_FILE, {"train": sorted(learnt),
                                      "validation": sorted(im.file_name for im in val.images if im.file_name not in learnt) if val else []})


def trained_on(checkpoint: Path, root: Path) -> set[str] | None:
    """The images of the folder ``root`` (where the labels are, its runs in ``root/runs``) that a
    model of one of its runs learnt from: those of its run, and of the runs of ``root`` its start
    weights came from, as far as their split.json files tell (None: not a run of this folder's, or
    an older one that did not say; another folder's images of the same names are other photos).
    Its scores on them are no guide to images it has not seen."""
    runs = (root / RUNS_FOLDER).resolve()
    names: set[str] = set()
    seen: set[Path] = set()
    known = False  # the checkpoint's own run says what it learnt from
    run = checkpoint.parent
    while run not in seen and run.parent.resolve() == runs:
        seen.add(run)
        train = _read_json(run / SPLIT_FILE, dict).get("train")
        if not isinstance(train, list):
            break
        known = True
        names.update(str(n) for n in train)
        start = _read_json(run / "recipe.json", dict).get("start")
        if not isinstance(start, str):
            break
        run = Path(start).parent
    return names if known else None


def load_recipe(run_dir: Path) -> Recipe:
    """The recipe a stopped run was started with (for Resume; its start weights are not loaded
    again, but say that the run is a fine-tune: a resumed one was taken for a new model)."""
    try:
        saved = parse_json((run_dir / "recipe.json").read_text(encoding="utf-8"))
        start = saved.get("start")
        return Recipe(**{**saved, "start": Path(start) if isinstance(start, str) and start else None})
    except FileNotFoundError:
        raise FineTuneError(f"{run_dir.name} has no recipe.json (a run not started by Train): "
                            "resume it with the `retina train` command that started it, adding --resume") from None
    except (OSError, ValueError, TypeError) as exc:
        raise FineTuneError(f"Cannot resume {run_dir.name}: its recipe.json is unreadable ({exc})") from None


def fine_tune(labels: LabelSet, image_root: Path, run_dir: Path, recipe: Recipe, *, resume: bool = False,
              on_event: Callable | None = None, cancel: CancelToken | None = None):
    """Train per ``recipe`` on the labelled images of ``labels`` (a snapshot: the GUI keeps
    editing). Returns :class:`core.train.TrainResult`; raises :class:`FineTuneError`."""
    from core.dataset import AugmentConfig
    from core.train import TrainConfig

    problems = check_labels(labels, resuming=resume)
    if problems:
        raise FineTuneError(problems[0])
    train, val = (resume and resumed_split(labels, run_dir)) or split(labels, recipe.val_fraction, recipe.seed)
    augment = AugmentConfig(hflip=0.5 if recipe.hflip else 0.0, scale_jitter=(0.8, 1.2) if recipe.scale_jitter else (1.0, 1.0),
                            photometric=recipe.photometric)
    config = TrainConfig(epochs=recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr, image_size=recipe.image_size,
                         max_size=round(recipe.image_size * 1.5), frozen_stages=recipe.frozen_stages, seed=recipe.seed,
                         optimizer=recipe.optimizer, precision=recipe.precision, augment=augment, patience=recipe.patience, warmup_iters=min(100, max(1, len(train.images) // recipe.batch_size * recipe.epochs // 10)))
    made = not run_dir.exists()
    try:
        result = _fine_tune(train, val, image_root, run_dir, recipe, config, resume=resume, on_event=on_event, cancel=cancel)
    except BaseException:
        # a new run failing before its first checkpoint (its start weights unreadable, say) left a folder of nothing to resume
        if made and not resume and not (run_dir / "train_state.pt").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if result.cancelled and result.steps == 0 and not resume:
        # nothing learnt: its checkpoint (the start weights again, 60+ MB) would only be clutter among the runs; also
        # for a run let go of, ending in the background after its folder was closed or the window quit
        shutil.rmtree(run_dir, ignore_errors=True)
    return result


def _fine_tune(train: LabelSet, val: LabelSet, image_root: Path, run_dir: Path, recipe: Recipe, config, *, resume: bool,
               on_event: Callable | None, cancel: CancelToken | None):
    import torch

    from core.train import DataSource, Trainer, TrainingError
    from core.weights import CheckpointError, load_checkpoint

    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_json(run_dir / "recipe.json", recipe.to_json())
        record_split(run_dir, train, val, resume=resume)
        start = load_checkpoint(recipe.start) if recipe.start is not None and not resume else None
        trainer = Trainer(train_data=DataSource(train, image_root), val_data=DataSource(val, image_root) if val else None, run_dir=run_dir,
                          config=config, start=start, backbone=recipe.backbone, pretrained_backbone=start is None and _imagenet_cached(recipe),
                          fpn_channels=128 if recipe.backbone.startswith("mobilenet") else 256, device=recipe.device, resume=resume,
                          on_event=on_event, cancel=cancel, command="retina-gui Train")
        # The model, optimizer and dataset live for the whole run: outside the cyclic collector's
        # reach, its full collections stop pausing every thread (a GUI's included) for 150+ ms. They
        # stay frozen: the run holds them in no reference cycle, so they are freed as the run returns,
        # without the full collection of the whole process (0.2 s on a GUI's thread) unfreezing asks for.
        gc.freeze()
        result = trainer.run()
    except torch.cuda.OutOfMemoryError:
        smaller = max(1, recipe.batch_size // 2)
        raise FineTuneError(f"The GPU ran out of memory at batch size {recipe.batch_size}. Try batch size {smaller}.",
                            smaller_batch=smaller if smaller < recipe.batch_size else None) from None
    except OSError as exc:
        kept = ("the last checkpoint is kept, and Resume goes on once it can be written" if (run_dir / "train_state.pt").exists() else
                "no checkpoint had been written yet, so train again once it can be")
        if exc.errno == errno.ENOSPC:
            raise FineTuneError(f"The disk is full: could not write to {run_dir}. Free some space; {kept}.") from None
        # the folder, not a temporary file's name (".metrics.json.agt6woum.tmp" said nothing to the user)
        folder = Path(exc.filename).parent if exc.filename else run_dir
        raise FineTuneError(f"Could not read or write in {folder}: {exc.strerror or exc}. Of the run, {kept}.") from None
    except (TrainingError, CheckpointError, ValueError) as exc:
        raise FineTuneError(str(exc).replace(", or --precision fp32", "")) from None  # (an option of retina train's, not the window's)
    return result


def _imagenet_cached(recipe: Recipe) -> bool:
    """A new model gets ImageNet backbone weights when torchvision has them locally (never a
    download behind the user's back)."""
    from core.backbones import pretrained_cached

    return pretrained_cached(recipe.backbone)
