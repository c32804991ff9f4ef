"""The ``retina`` command: a thin layer over core's functions.

Exit codes: 0 success; 1 an error that stopped the command (message on stderr); 2 bad usage;
3 finished, but some inputs were skipped (each one reported on stderr); 130 training stopped by
Ctrl+C, saved and resumable.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import io
import math
import os
import re
import shlex
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from core.config import updated
from core.text import count, first_names

if TYPE_CHECKING:
    from core.labels import LabelSet

EXIT_ERROR, EXIT_USAGE, EXIT_SKIPPED = 1, 2, 3
TRAIN_BACKBONE, TRAIN_PRESET, TRAIN_FPN_CHANNELS = "resnet50", "retinanet", 256  # retina train's defaults for a new model


class UsageError(ValueError):
    """An option value found wrong only once core is loaded (a backbone name): exit 2, as argparse's."""


def _predict(args: argparse.Namespace) -> int:
    from core.atomic import json_text, write_json
    from core.detector import Detector
    from core.predict import coco_results, predict_files

    missing = [item for item in args.inputs if not Path(item).exists()]
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}")
    if args.out != "-":  # (a file named "-" was written)
        _check_out(args.out, "--out", "results.json", [Path(args.weights), *map(Path, args.inputs), *([Path(args.coco)] if args.coco else [])])
    detector = Detector.from_file(args.weights, preset=args.preset, device=args.device, precision=args.precision)
    _note_slow_precision(detector)
    detector.postprocess_config = updated(detector.postprocess_config, score_thresh=args.score_thresh, nms_thresh=args.nms_thresh)
    left_out: list[str] = []
    names = _result_names([Path(item) for item in args.inputs], left_out)
    for line in left_out:
        print(f"skipped {line}", file=sys.stderr)
    paths = list(names)
    skipped = len(left_out)
    category_ids = {k: c.id for k, c in enumerate(detector.classes)}
    written_ids: dict[int, str] = {}
    sizes: dict[int, tuple[int, int]] = {}  # the COCO file's image sizes, by id
    if args.coco:
        from core.formats.coco import read_coco
        from core.labels import category_of_class, placeholder_rows, same_named_categories

        coco = read_coco(args.coco)
        ids = {im.file_name: im.id for im in coco.images}
        by_id = {i: name for name, i in ids.items()}
        written_ids = {im.id: im.id_as_written for im in coco.images if im.id_as_written is not None}
        sizes = {im.id: (im.width, im.height) for im in coco.images if im.width > 0}
        if coco.categories:  # results scored against this file need its ids: classes matched by name, as eval does
            if problem := same_named_categories(coco.categories):  # (one of the two was taken, unsaid; train and eval refuse such a file)
                print(f"note: {args.coco}: {problem}; the model's class takes the category of exactly its name, if one has it",
                      file=sys.stderr)
            category_ids = category_of_class([c.name for c in detector.classes], coco.categories)
            none = placeholder_rows([c.name for c in detector.classes])
            lacking = [c.name for k, c in enumerate(detector.classes) if k not in category_ids and k not in none]
            if lacking:
                print(f"note: {args.coco} has no class named {first_names(lacking, 5)}: "
                      "those detections are left out (their ids would name none, or another, of its classes)", file=sys.stderr)
        root = Path(args.coco).parent.resolve()
        same_name: dict[str, list[str]] = {}  # (each image scanned every entry: 39 s for 5,000 images of a 5,000-image file)
        for name in ids:
            same_name.setdefault(PurePosixPath(name).name, []).append(name)
        found = {p: _match(p, root, ids, same_name) for p in paths}
        # an image of the entry's own path takes it before another of its file name (two files named
        # a.jpg took one entry's id, and the results mixed their detections)
        taken = {}
        for p, match in found.items():
            if not isinstance(match, str) and match[1]:
                taken.setdefault(match[0], p)
        matched = []
        for p in paths:
            match = found[p]
            if not isinstance(match, str) and taken.setdefault(match[0], p) != p:
                match = (f"matches {by_id[match[0]]} of the COCO file, as {taken[match[0]]} does: give each image by its path under "
                         "the COCO file's folder")
            if isinstance(match, str):
                print(f"skipped {p}: {match}", file=sys.stderr)
                skipped += 1
            else:
                matched.append((p, match[0]))
                names[p] = by_id[match[0]]  # the results name each image as the COCO file does
    else:
        matched = [(p, i + 1) for i, p in enumerate(paths)]
    if not matched:
        given = first_names(args.inputs, 3)
        print(f"retina: no images to predict in {given}" + (" (none of them is listed in --coco)" if args.coco and paths else ""), file=sys.stderr)
        return EXIT_ERROR
    image_ids = dict(matched)
    results: list[dict] = []
    errors: list[str] = []
    resized: list[tuple[str, tuple[int, int], tuple[int, int]]] = []
    rt = detector.runtime
    # (closed also by Ctrl+C: "retina: interrupted" was written on the bar's line)
    with _progress_bar(total=len(matched), unit="img", desc=f"predict ({rt.device}, {rt.precision})") as bar:
        for result in predict_files(detector, [p for p, _ in matched], batch_size=args.batch_size,
                                    on_progress=lambda p: bar.update(p.done - bar.n), on_error=lambda e: errors.append(str(e))):
            image_id = image_ids[result.path]
            results.extend(coco_results(result, written_ids.get(image_id, image_id), names[result.path], category_ids))
            if image_id in sizes and sizes[image_id] != (result.width, result.height):
                resized.append((names[result.path], sizes[image_id], (result.width, result.height)))
    for message in errors:
        print(f"skipped {message}", file=sys.stderr)
    if len(errors) == len(matched):
        print(f"retina: {_none_read(len(matched))}: nothing written", file=sys.stderr)
        return EXIT_ERROR
    if args.out == "-":
        # UTF-8 as a file would be, whatever the terminal's encoding (a cp1252 or ASCII one failed on "café.jpg" after predicting)
        sys.stdout.flush()
        sys.stdout.buffer.write(json_text(results).encode("utf-8"))
        sys.stdout.buffer.flush()
    else:
        write_json(args.out, results)
    where = "standard output" if args.out == "-" else args.out
    print(f"{count(len(results), 'detection')} on {count(len(matched) - len(errors), 'image')} written to {where}", file=sys.stderr)
    if resized:  # the results are in the images' pixels: scored against that file, they would miss (eval says so of the labels)
        (name, (lw, lh), (iw, ih)), more = resized[0], f" (and {len(resized) - 1} more)" if len(resized) > 1 else ""
        print(f"note: {args.coco} gives {count(len(resized), 'image')} another size than the image has, e.g. {name}: {lw}×{lh}, the "
              f"image {iw}×{ih}{more}. The results are in the images' pixels: scored against that file, they would not lie on its "
              "boxes", file=sys.stderr)
    return EXIT_SKIPPED if (errors or skipped) else 0


def _match(path: Path, root: Path, ids: dict[str, int], same_name: dict[str, list[str]]) -> tuple[int, bool] | str:
    """The COCO id of ``path`` and whether it is the entry's own path: by its path relative to the
    COCO file's folder ``root`` (resolved), else by file name (``same_name``: the entries of each
    file name); else why not."""
    try:
        rel = path.resolve().relative_to(root).as_posix()
        if rel in ids:
            return ids[rel], True
    except ValueError:
        pass
    by_name = same_name.get(path.name, [])
    if len(by_name) == 1:
        return ids[by_name[0]], False
    if by_name:
        return (f"its name matches {len(by_name)} images of the COCO file ({', '.join(by_name[:3])}): give the image by its "
                "path under the COCO file's folder")
    return "not among the images of the COCO file"


def _progress_bar(**kwargs):
    """tqdm on stderr; into a log file or pipe, a line every 30 s (each update, ten a second, was a
    line of its own there), as lines (:class:`_LogLines`)."""
    from tqdm import tqdm

    if sys.stderr.isatty():
        return tqdm(file=sys.stderr, mininterval=0.1, **kwargs)
    return tqdm(file=_LogLines(sys.stderr), mininterval=30, **kwargs)


class _LogLines:
    """What tqdm writes, as a log keeps it: its redraws (``\r``) become lines, and the blanks it
    writes to clear the bar (a line of spaces before each message) and a state said again (the
    last one, at close) are left out."""

    def __init__(self, out) -> None:
        self.out, self._last = out, None

    def write(self, text: str) -> None:
        for part in re.split(r"[\r\n]", text):
            same = part.split(" [")[0].strip()  # (the bar without its timing)
            if same and same != self._last:
                self.out.write(part.rstrip() + "\n")
                self._last = same

    def flush(self) -> None:
        self.out.flush()


def _note_slow_precision(detector) -> None:
    """fp16 on a CPU runs, as asked, but several times slower than fp32 (18.8 s an image against
    2.7 s on a 2-core CPU): said, as it went by without a word."""
    if detector.runtime.precision == "fp16" and not detector.runtime.device.startswith("cuda"):
        print("note: fp16 on the CPU is slow (several times fp32's time): --precision bf16 or fp32 run faster there", file=sys.stderr)


def _none_read(images: int) -> str:
    """"none of the 3 images could be read", "the image could not be read" ("none of the 1 images")."""
    return "the image could not be read" if images == 1 else f"none of the {images} images could be read"


def _check_out(given: str, flag: str, example: str, inputs: list[Path] = ()) -> None:
    """Fail before the work, not after it, on an output path that cannot be written, that is one of
    the command's inputs (results written over the labels file, or over an image), or that holds
    something else than what is written (labels under metrics, JSON under a CSV: ``example``'s
    suffix says what is written)."""
    from core.images import IMAGE_SUFFIXES

    if given == "-":  # (a file named "-" was written: only predict writes to standard output)
        raise ValueError(f"{flag} -: only retina predict writes to standard output; give a file to write, e.g. {example}")
    path = Path(given)
    if given.endswith(("/", os.sep)) and not path.is_dir():  # (Path drops the slash: a file "newdir" was written)
        if path.exists():
            raise ValueError(f"{flag} {given}: {path} is a file, not a folder: give the file to write without the slash")
        raise ValueError(f"{flag} {given} names a folder, which does not exist: give the file to write, e.g. {path / example}")
    if path.is_symlink():  # the file written is the one it names, in that one's folder
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder: give the file to write, e.g. {path / example}")
    if path.exists() and not path.is_file():
        raise ValueError(f"{flag} {path} is not a regular file (a device or a pipe): give the path of a file to write")
    if not path.parent.is_dir():
        raise ValueError(f"{flag} {path}: the folder {path.parent.absolute()} does not exist (a typo? else make it first: "
                         f"mkdir -p {path.parent})")
    _check_writable(path.parent, f"{flag} {path}:")
    if path.exists() and any(path.resolve() == Path(p).resolve() for p in inputs):
        raise ValueError(f"{flag} {path} is one of the inputs: it would be overwritten; write to another file")
    if path.exists() and path.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(f"{flag} {path} is an image: it would be overwritten; write to a {Path(example).suffix} file")
    head = _head(path)
    if example.endswith(".csv") and re.match(r'\{\s*["}]|\[\s*([{\["\]]|$)', head):  # JSON's start, not a path "[2021] trip/a.jpg"
        raise ValueError(f"{flag} {path} holds JSON (labels or results?), not a CSV: it would be replaced; write to another file")
    if example == "results.json" and head.startswith("{"):
        raise ValueError(f"{flag} {path} holds a JSON object (labels?), not results: it would be replaced; write to another file")
    if example == "metrics.json" and head.startswith("{") and ('"annotations"' in head or '"images"' in head):
        raise ValueError(f"{flag} {path} holds COCO labels, not metrics: it would be replaced; write to another file")


def _head(path: Path) -> str:
    """The start of a file, as text, for what it holds ("" for none, or none readable)."""
    with contextlib.suppress(OSError, UnicodeDecodeError), open(path, encoding="utf-8-sig") as f:
        return f.read(65536).lstrip()
    return ""


def _check_writable(folder: Path, what: str) -> None:
    """Try it the way results are written (a temp file in the folder): os.access says yes to root in
    a read-only (immutable) folder. A folder that does not exist yet is made by the writer: its
    nearest existing parent is tried."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise ValueError(f"{what} the folder {folder} cannot be written to ({exc.strerror})") from None


def _result_names(inputs: list[Path], skipped: list[str]) -> dict[Path, str]:
    """Each image of the inputs with the ``file_name`` its results get: its path relative to the
    folder given, a file's own name; when two images would share a name (``a/x.jpg`` and
    ``b/x.jpg`` given as folders), every image is named by its path under the inputs' common folder.
    What is left out goes into ``skipped`` with the reason: what a folder's listing leaves out (a
    name that is not UTF-8, a link to itself), and a file given whose name is not UTF-8 (the
    results file could not hold it, and nothing was written after every image had been predicted)."""
    from core.images import list_images

    names: dict[Path, str] = {}
    seen: set[Path] = set()  # an image given twice (a folder, and a file in it) is predicted once
    for item in inputs:
        for p, name in ([(p, p.relative_to(item).as_posix()) for p in list_images([item], skipped)] if item.is_dir() else [(item, item.name)]):
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                skipped.append(f"{os.fsencode(p).decode('utf-8', 'replace')} (its name is not valid UTF-8: rename it)")
                continue
            if p.resolve() not in seen:
                seen.add(p.resolve())
                names[p] = name
    if len(set(names.values())) < len(names):
        common = Path(os.path.commonpath([p.resolve().parent for p in names]))
        names = {p: p.resolve().relative_to(common).as_posix() for p in names}
    return names


def _model_flags_given(args: argparse.Namespace) -> list[str]:
    """The options given that choose a new model (ignored where the model comes from --weights or the run resumed)."""
    return [flag for flag, value, default in (("--backbone", args.backbone, TRAIN_BACKBONE), ("--preset", args.preset, TRAIN_PRESET),
                                              ("--pretrained-backbone", args.pretrained_backbone, False),
                                              ("--fpn-channels", args.fpn_channels, TRAIN_FPN_CHANNELS)) if value != default]


def _check_resume_arguments(args: argparse.Namespace, out: Path, val_labels: LabelSet | None) -> None:
    """--resume goes on with the run's own validation images, ``val_labels`` (another --val-split
    or --val-coco would validate it on images it trained on, and pick its best weights across
    different sets); the options that choose a new run's model are said to be ignored, not
    silently dropped."""
    from core.train import validation_digest
    from core.weights import CheckpointError, read_spec

    ignored = (["--weights"] if args.weights else []) + _model_flags_given(args)
    if ignored:
        print(f"note: {', '.join(ignored)} ignored: a resumed run goes on with its own model and weights", file=sys.stderr)
    try:
        training = read_spec(out / "last.safetensors").training
    except CheckpointError:  # no readable checkpoint: the trainer says what is wrong with the run
        return
    command, digest = training.get("command", ""), training.get("validation")
    if not isinstance(command, str) or not command.startswith("retina train"):  # a run of the window's (it splits its labels itself)
        return
    recorded = _recorded_options(command)
    if digest is not None:  # (runs before 2026-11-29 did not record it: their options are compared instead)
        same = digest == validation_digest(val_labels)
    elif recorded is not None:
        same = recorded.val_split == args.val_split and (recorded.val_coco is None) == (args.val_coco is None)
    else:  # an old run whose command does not read: nothing to compare with
        return
    if not same:
        started = ("its own validation" if recorded is None else f"--val-split {recorded.val_split:g}" if recorded.val_split else
                   f"--val-coco {recorded.val_coco}" if recorded.val_coco else "no validation option")
        resplit = (" (--val-split splits the labels anew: images added to or removed from them since the stop change the split)"
                   if args.val_split and recorded is not None and recorded.val_split == args.val_split else "")
        raise UsageError(f"this run was started with {started}, and these options validate it on other images{resplit}: resume it "
                         "with the same validation (other images would have it validated on images it trained on)")


def _recorded_options(command: str) -> argparse.Namespace | None:
    """The options of a run's recorded command, as argparse read them ("--val-s 0.3" is
    --val-split), or None when it does not read (another version's options)."""
    try:
        words = shlex.split(command)
    except ValueError:  # (runs before 2026-11 kept it unquoted)
        words = command.split()
    parser = build_parser()
    with contextlib.redirect_stderr(io.StringIO()):  # (argparse printed its usage and error for it)
        try:
            return parser.parse_known_args(words[1:])[0]
        except SystemExit:
            return None


def _train(args: argparse.Namespace) -> int:
    from core.backbones import BACKBONES
    from core.cancel import CancelToken
    from core.dataset import AugmentConfig, check_image_folder
    from core.finetune import record_split
    from core.formats.coco import read_coco
    from core.images import IMAGE_SUFFIXES
    from core.labels import same_named_categories
    from core.train import DataSource, TrainConfig, Trainer
    from core.weights import load_checkpoint

    if args.backbone not in BACKBONES:
        raise UsageError(f"--backbone {args.backbone}: choose from {', '.join(BACKBONES)}")
    if args.preset == "torchvision_v2" and args.fpn_channels % 32:
        raise UsageError(f"--fpn-channels {args.fpn_channels}: the torchvision_v2 heads' GroupNorm takes a multiple of 32")
    if args.max_size is not None and args.max_size < args.image_size:
        raise UsageError(f"--max-size {args.max_size} is below --image-size {args.image_size}: the long side cannot be "
                         "shorter than the short side")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give the folder for the run (made if new)")
    if out.is_dir() and (image := next((p for p in sorted(out.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES), None)):
        # the run's checkpoints, log and metrics went in among the images, without a word
        raise ValueError(f"--out {out} holds images ({image.name}): give a folder of its own for the run, e.g. {out / 'runs' / 'first'}")
    _check_writable(out, f"--out {out}:")
    if args.val_images and not args.val_coco:
        raise UsageError("--val-images is the folder of --val-coco's images: give --val-coco too")
    if args.val_coco and Path(args.val_coco).resolve() == Path(args.coco).resolve():  # (taken without a word)
        print(f"note: --val-coco is the training labels, {args.coco}: its mAP says how well the model learnt them, not how it does on "
              "images it has not seen (--val-split holds some out)", file=sys.stderr)
    labels = read_coco(args.coco)
    val_labels = read_coco(args.val_coco) if args.val_coco else None
    for path, found in ((args.coco, labels), (args.val_coco, val_labels)):
        if found is not None and (problem := same_named_categories(found.categories)):
            raise ValueError(f"{path}: {problem}")
    images = Path(args.images) if args.images else Path(args.coco).parent
    check_image_folder(labels, images, "--images")
    val_images = (Path(args.val_images) if args.val_images else Path(args.val_coco).parent) if args.val_coco else None
    if val_labels is not None:
        check_image_folder(val_labels, val_images, "--val-images")
    if args.weights and not args.resume:
        if chosen := _model_flags_given(args):  # (dropped without a word: the log said "training mobilenet_v2" for --backbone resnet18)
            print(f"note: {', '.join(chosen)} ignored: the model is --weights' own, only its class head is adapted", file=sys.stderr)
    if not args.weights and not args.pretrained_backbone and not args.resume:
        print(f"note: training a {args.backbone} RetinaNet from scratch (random weights: neither --weights nor "
              "--pretrained-backbone). That needs far more images and time than fine-tuning.", file=sys.stderr)
    if args.val_coco:
        val = DataSource(val_labels, val_images)
    elif args.val_split:
        if len(labels.images) < 2:
            raise ValueError(f"--val-split needs at least 2 images; {args.coco} has {len(labels.images)}")
        labels, held_out = labels.split(args.val_split, args.seed)
        val = DataSource(held_out, images) if held_out.images else None
        if val is None:
            print("note: no validation images left: every held-out image had the only boxes of a class, so it trains", file=sys.stderr)
    else:
        val = None
    if args.resume:
        _check_resume_arguments(args, out, val.labels if val is not None else None)
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
        lr=args.lr if args.lr is not None else (3e-4 if args.optimizer == "adamw" else 0.01), image_size=args.image_size,
        max_size=args.max_size or round(args.image_size * 1.5), precision=args.precision, seed=args.seed,
        num_workers=args.workers, frozen_stages=args.frozen_stages, warmup_iters=args.warmup,
        augment=None if args.no_augment else AugmentConfig(), patience=args.patience,
    )
    bar = None

    def on_event(event) -> None:
        nonlocal bar
        if event.kind == "step":
            if bar is None:  # from the step done (begun one step earlier, the first update gave "11491 step/s")
                bar = _progress_bar(total=event.total_steps, initial=event.step, unit="step", desc="train")
            bar.update(event.step - bar.n)
            # (refresh=False: a refresh here wrote every step into a log, past the bar's 30 s)
            bar.set_postfix(cls=f"{event.cls_loss:.3f}", box=f"{event.box_loss:.3f}", lr=f"{event.lr:.2g}", img_s=f"{event.images_per_s:.1f}",
                            refresh=False)
        elif event.kind in ("log", "nan"):
            (bar.write if bar else print)(event.message, file=sys.stderr)

    cancel = CancelToken()
    trainer = Trainer(
        train_data=DataSource(labels, images), val_data=val, run_dir=args.out, config=config,
        start=load_checkpoint(args.weights) if args.weights else None, backbone=args.backbone, preset=args.preset,
        pretrained_backbone=args.pretrained_backbone, fpn_channels=args.fpn_channels, device=args.device,
        resume=args.resume, on_event=on_event, cancel=cancel, command=shlex.join(args.argv),
    )
    if int(os.environ.get("RANK", "0")) == 0:  # which images the model learns from: an evaluation in retina-gui leaves them out
        record_split(Path(args.out), labels, None if args.val_coco or val is None else val.labels, resume=args.resume)
    try:
        with _ctrl_c_cancels(cancel):
            result = trainer.run()
    finally:
        if bar is not None:
            bar.close()
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun the first process speaks for all (the others have no scores)
        return 130 if result.cancelled else 0
    if result.cancelled:
        print(f"stopped at step {result.steps}; the checkpoint is saved: add --resume to the same command to go on", file=sys.stderr)
        return 130
    start = "" if result.start_map is None else f" (start weights: {result.start_map:.3f})"
    if result.best_map is None:
        print(f"run folder {result.run_dir}: {count(result.epochs_done, 'epoch')}; no validation data, so no best.safetensors: "
              "the weights are last.safetensors", file=sys.stderr)
    else:
        early = f" (stopped early, of {args.epochs})" if result.stopped_early else ""
        print(f"run folder {result.run_dir}: {count(result.epochs_done, 'epoch')}{early}, best val mAP {result.best_map:.3f}{start}",
              file=sys.stderr)
        if result.start_map is not None and result.best_map < result.start_map:
            sizes = (f" (the start weights were scored at {result.start_input_size} px, the run at {result.input_size} px)"
                     if result.start_input_size and result.input_size and result.start_input_size != result.input_size else "")
            print(f"note: best.safetensors is the best epoch of this run, and it scores below the start weights{sizes}: "
                  f"keep using the start weights{f' ({args.weights})' if args.weights else ''}, or train longer or with another recipe",
                  file=sys.stderr)
    if result.skipped_images:
        named = "named" if result.skipped_images <= 20 else "the first 20 named"
        print(f"{count(result.skipped_images, 'image')} left out as unreadable ({named} in {result.run_dir / 'train.log'})", file=sys.stderr)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # torchrun reports any other exit code as the run's failure, with a traceback
            return 0
        return EXIT_SKIPPED
    return 0


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold Ctrl+C until the block ends, then raise it: torch and its kin take seconds to import, and
    an interrupt inside a library's import was swallowed there (the run went on) or left numpy
    half-imported (a traceback at the first checkpoint)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum, frame) -> None:
        if held:  # a second Ctrl+C: an import that hangs (a slow network disk) is stopped at once
            raise KeyboardInterrupt
        held.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _ctrl_c_cancels(cancel) -> Iterator[None]:
    """The first Ctrl+C stops training after the current step and saves it (resumable there); a
    second one stops at once. Under torchrun, every process would stop at a step of its own and
    the others would wait for it forever, so Ctrl+C keeps its usual meaning there."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or threading.current_thread() is not threading.main_thread():
        yield
        return

    main_process = os.getpid()

    def interrupt(signum, frame) -> None:
        if os.getpid() != main_process:  # a DataLoader worker, forked with this handler: the main process stops them
            return  # (each said "stopping after this step" too)
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after this step and saving it (Ctrl+C again stops at once) …", file=sys.stderr)
        cancel.cancel()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _eval(args: argparse.Namespace) -> int:
    from core.atomic import write_json
    from core.dataset import check_image_folder
    from core.detector import Detector
    from core.evaluate import METRICS, evaluate_detector, scoreable
    from core.formats.coco import read_coco

    labels = read_coco(args.coco)
    images = Path(args.images) if args.images else Path(args.coco).parent
    check_image_folder(labels, images, "--images")
    if args.json:
        _check_out(args.json, "--json", "metrics.json", [Path(args.coco), Path(args.weights)])
    if args.errors:
        if args.json and Path(args.json).resolve() == Path(args.errors).resolve():  # (the CSV went over the metrics just written)
            raise UsageError(f"--errors and --json are both {args.errors}: give each a file of its own")
        _check_out(args.errors, "--errors", "errors.csv", [Path(p) for p in (args.coco, args.weights, args.json) if p])
    elif args.errors_score is not None:
        raise UsageError("--errors-score is the threshold of --errors: give --errors too")
    detector = Detector.from_file(args.weights, preset=args.preset, device=args.device, precision=args.precision)
    _note_slow_precision(detector)
    detector.postprocess_config = updated(detector.postprocess_config, score_thresh=args.score_thresh, nms_thresh=args.nms_thresh)
    floor = detector.postprocess_config.score_thresh
    if args.errors_score is not None and args.errors_score < floor:
        raise UsageError(f"--errors-score {args.errors_score:g} is below the score threshold {floor:g} (--score-thresh): "
                         "no detection under it was kept")
    scored, notes = scoreable(labels, [c.name for c in detector.classes])
    if not any(b for im in scored.images for b in im.boxes):  # found out now, not after predicting every image
        for note in notes:
            print(note, file=sys.stderr)
        print("retina: nothing to evaluate: the model and the labels share no class with a labelled box (classes are matched by name)",
              file=sys.stderr)
        return EXIT_ERROR
    with _progress_bar(total=len(labels.images), unit="img", desc="eval") as bar:
        result = evaluate_detector(detector, labels, images, batch_size=args.batch_size,
                                   on_progress=lambda done, total: bar.update(done - bar.n))
    if result.skipped and not result.num_images:
        for message in result.skipped:
            print(message, file=sys.stderr)
        print(f"retina: {_none_read(len(result.skipped))}: nothing to evaluate", file=sys.stderr)
        return EXIT_ERROR
    fmt = lambda v: "  n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print(" ".join(f"{m:>6}" for m in METRICS))
    print(" ".join(f"{fmt(getattr(result, m)):>6}" for m in METRICS))
    width = max((len(n) for n in result.per_class), default=5)
    for name, ap in result.per_class.items():
        print(f"{name:<{width}}  {fmt(ap)}")
    if (best := result.best_f1) is not None:
        print(f"best F1 {best['f1']:.3f} at score > {best['score']:.2f} (precision {best['precision']:.3f}, recall {best['recall']:.3f}, IoU 0.5)")
    elif result.mAP is not None:
        print("best F1: none (at no score threshold does a detection find a label, at IoU 0.5)")
    sys.stdout.flush()  # the notes on what the metrics leave out come after them, not scrolled away above
    for message in (*result.skipped, *result.notes):
        print(message, file=sys.stderr)
    if result.skipped:
        print(f"{count(len(result.skipped), 'unreadable image')} left out; the metrics are of the other {result.num_images}", file=sys.stderr)
    if args.json:
        # which images the metrics are of: a file read later does not say "3 of 59 images were left out" otherwise
        write_json(args.json, {**result.to_json(), "images": result.num_images, "skipped": list(result.skipped)})
    if args.errors:
        from core.atomic import write_text
        from core.review import errors_at, errors_csv

        score = args.errors_score if args.errors_score is not None else (result.best_f1 or {}).get("score", floor)
        errors = errors_at(list(result.matches), labels.category_names(), [c.name for c in detector.classes], score)
        write_text(args.errors, errors_csv(errors))
        misses = sum(e.kind == "FN" for e in errors)
        print(f"{count(misses, 'missed label')} and {count(len(errors) - misses, 'false positive')} at score > {score:.2f} written to "
              f"{args.errors}", file=sys.stderr)
    return EXIT_SKIPPED if result.skipped else 0


def _convert(args: argparse.Namespace) -> int:
    from core.formats import FORMAT_NAMES, writes_label_file
    from core.formats.convert import (
        NOTES,
        crowd_left_out,
        export_notes,
        first_label_file,
        fit_to_images,
        labelme_file_over,
        read_labels,
        with_image_files,
        with_image_sizes,
        write_labels,
        written_classes,
        written_counts,
    )
    from core.formats.retinanet_csv import class_list_path, found_class_list

    if args.target == "-":  # (a file, or folder, named "-" was written)
        raise ValueError("target -: only retina predict writes to standard output; give the file or folder to write")
    target, source = Path(args.target), Path(args.source)
    # RetinaNet CSV's paths are relative to its folder, labelme's images lie beside its files, as LabelImg's beside its VOC
    # files (a size a VOC file lacks is read there): without --images, that is the image folder
    images = args.images if args.images is not None else source.parent if args.source_format == "csv" else \
        source if args.source_format in ("labelme", "voc") else None
    inputs = [source]
    if args.source_format == "csv" and source.is_file() and (classes := found_class_list(source)) is not None:
        inputs.append(classes)  # read with the source: written over, the class ids would be lost
    if args.target_format in ("coco", "csv"):
        _check_out(args.target, "target", "labels.json" if args.target_format == "coco" else "annotations.csv", inputs)
        if args.target_format == "csv" and (hit := next((p for p in inputs if class_list_path(target).resolve() == p.resolve()), None)):
            raise ValueError(f"target {target}'s class list {class_list_path(target).name} would be written over the input {hit}; "
                             "write to another file")
        if source.is_dir() and target.exists() and target.resolve().is_relative_to(source.resolve()):
            # a file of the source folder: its classes.txt or a label file, lost to the JSON written over it
            raise ValueError(f"target {target} is a file of the source folder {source}: it would be overwritten; write to another file")
    elif target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file: VOC, YOLO and labelme labels are written into a folder")
    elif target.is_dir() and (found := first_label_file(args.target_format, target)):
        raise ValueError(f"{target} already holds {FORMAT_NAMES[args.target_format]} label files ({found.relative_to(target)}): write into a "
                         "folder without any (label files of other images would stay beside the new ones)")
    else:
        _check_writable(target if target.is_dir() else target.parent, f"{target}:")
    labels, problems = read_labels(args.source_format, args.source, images)
    labels = _relative_to_images(labels, args.images, args.target_format)
    if args.target_format == "labelme" and (hit := next((p for p in inputs if labelme_file_over(labels, target, p)), None)):
        raise ValueError(f"the labelme file of {labelme_file_over(labels, target, hit)} would be written over the input {hit}; "
                         "write into another folder")
    if args.target_format in ("csv", "labelme"):
        # their paths lead to the images written (labelme opens a file's image by it): without --images, the
        # labels' folder is taken for theirs (Roboflow's COCO export holds them beside the JSON)
        where = Path(images) if images is not None else source if source.is_dir() else source.parent
        written = [im.file_name for im in labels.images if writes_label_file(im, args.target_format)]
        if missing := [name for name in written if not (where / name).is_file()]:
            ask = "--images must be the folder that holds them" if args.images is not None else "give their folder (--images DIR)"
            paths = "the CSV's paths lead" if args.target_format == "csv" else "each labelme file's imagePath leads"
            raise ValueError(f"{count(len(missing), 'image')} of the labels not in {where.absolute()} (the first: {missing[0]}): {paths} "
                             f"to its image, so {ask}; nothing was written")
    # the images a labelme folder's files name lie beside them, unless --images says where: file names that lead nowhere were
    # written without a word, and X-AnyLabeling's boxes left on stored pixels (a CSV is refused above: its paths lead to the images)
    images_known = args.images is not None or args.source_format == "labelme"
    if images_known and args.target_format not in ("csv", "labelme") and (missing := with_image_files(labels, images)[1]):
        if args.images is None and len(missing) == len(labels.images):
            named = "the image the labelme file names is not beside it" if len(missing) == 1 else \
                f"none of the {len(missing)} images the labelme files name is beside them"
            from core.formats.labelme import images_led_to

            led = images_led_to(source)
            ask = f"give their folder (--images {led}, where the files' imagePath leads)" if led is not None else "give their folder (--images DIR)"
            raise ValueError(f"{named} in {source} (the first: {missing[0]}): {ask}; nothing was written")
        where = f"--images {args.images}" if args.images is not None else f"{source}, beside the labelme files"
        hint = ("; for a VOC2012 folder, give its Annotations folder as the source and its JPEGImages folder as --images"
                if args.source_format == "voc" and (source / "Annotations").is_dir() else "")
        problems.append(f"{count(len(missing), 'image')} of the labels not found under {where} (the first: {missing[0]}){hint}: "
                        "written as they are")
    labels = with_image_sizes(labels, images)
    if images_known and args.source_format not in ("yolo", "csv"):  # (YOLO's and CSV's sizes are the images' own)
        labels, fit = fit_to_images(labels, images)
        problems += fit.fixed + ([f"{fit.unfitted_line}: written as they are"] if fit.unfitted else [])
    problems += export_notes(labels, args.target_format, target)
    for problem in problems:
        print(problem, file=sys.stderr)
    classes = written_classes(labels, args.target_format, target)  # (before a YOLO class list is written)
    write_labels(labels, args.target_format, args.target, images=images if images is not None else source if source.is_dir() else source.parent)
    left_out = f" ({crowd})" if (crowd := crowd_left_out(labels, args.target_format)) else ""
    images, boxes = written_counts(labels, args.target_format)
    print(f"{count(images, 'image')}, {count(boxes, 'box')}{left_out}, {count(classes, 'category')} written to {args.target}", file=sys.stderr)
    serious = [p for p in problems if not p.startswith(NOTES)]  # (a note gave exit code 3, "inputs skipped")
    return EXIT_SKIPPED if serious else 0


def _relative_to_images(labels, images: str | None, target_format: str):
    """Every format names an image by its path inside the image folder (VOC and YOLO write its label
    file at that path under the target folder): absolute file names (a FiftyOne export's) are made
    relative to ``--images`` where they lie in it, else refused with the folder that would do (it
    said only "not a relative path inside the image folder", and for COCO and CSV took no --images)."""
    from core.formats import FORMAT_NAMES, path_under
    from core.formats.coco import inside_folder
    from core.formats.convert import FOLDER_FORMATS
    from core.labels import LabelSet

    outside = {im.file_name for im in labels.images if not inside_folder(im.file_name)}
    if not outside:
        return labels
    under = {n: path_under(n, images) for n in outside if Path(n).is_absolute()} if images is not None else {}
    if len(under) == len(outside) and None not in under.values():
        print(f"note: {count(len(outside), 'absolute file name')} written relative to --images {images}", file=sys.stderr)
        return LabelSet(labels.categories, [dataclasses.replace(im, file_name=under[im.file_name]) if im.file_name in outside else im
                                            for im in labels.images], labels.extra)
    first = sorted(outside)[0]
    way = "they are not all inside --images" if images is not None else "give --images, the folder that holds them, to write them relative to it"
    if images is None and all(Path(n).is_absolute() for n in outside):
        way += f" (here {os.path.commonpath([str(Path(n).parent) for n in outside])}?)"
    writes = ("writes each image's label file at its path under the target folder" if target_format in FOLDER_FORMATS else
              "names each image by its path inside the image folder")
    raise ValueError(f"{count(len(outside), 'image')} of the labels named by a path outside the image folder (the first: {first}): "
                     f"{FORMAT_NAMES[target_format]} {writes}, so {way}; nothing was written")


def _number(kind: type, low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False):
    """An argparse type: ``kind`` within [low, high] (a bound excluded when ``*_open``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high or value != value or value in (math.inf, -math.inf):  # value != value: NaN
            left, right = "(" if low_open else "[", ")" if high_open or high is None else "]"
            raise argparse.ArgumentTypeError(f"{text} is outside {left}{low}, {'∞' if high is None else high}{right}")
        return value

    return parse


DEVICE = "auto, cpu or cuda:N (default auto: CUDA when there is one)"


def _device(text: str) -> str:
    """An argparse type: the spelling of a device (whether it exists is checked when it is used)."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use auto, cpu or cuda:N")
    return text


PRECISION = "auto: bf16 where the hardware runs it fast (Ampere+ GPUs, AVX512-BF16/AMX CPUs), else fp32 (default auto)"
POSITIVE = _number(int, 1)
SCORE = _number(float, 0, 1, high_open=True)
IOU = _number(float, 0, 1, low_open=True)


def _model_arguments(command: argparse.ArgumentParser) -> None:
    """The options of the commands that run a model (predict, eval): one spelling for both."""
    command.add_argument("--weights", required=True, help="a retina-gui .safetensors, torchvision or yhenon weights file")
    command.add_argument("--preset", choices=["retinanet", "yhenon", "torchvision_v1", "torchvision_v2"], help="override the weights' preset")
    command.add_argument("--score-thresh", type=SCORE, help="minimum score, in [0, 1) (default: the preset's, 0.05)")
    command.add_argument("--nms-thresh", type=IOU, help="NMS IoU threshold, in (0, 1] (default: the preset's, 0.5)")
    command.add_argument("--device", type=_device, default="auto", help=DEVICE)
    command.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"], help=PRECISION)
    command.add_argument("--batch-size", type=POSITIVE, default=1,
                         help="images per forward pass (default 1; images of other sizes are padded to the largest, which can move a "
                              "detection slightly)")


EXIT_CODES = """exit codes: 0 done; 1 an error stopped the command; 2 bad usage; 3 done, but some inputs were
skipped (each one named); 130 stopped by Ctrl+C (a training run is saved: --resume goes on)"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("retina-gui")
    except PackageNotFoundError:  # (run from a checkout that was not installed)
        return "(not installed)"


class _ShowVersion(argparse.Action):
    """--version: the installed version, looked up only when asked (17 ms on every command)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retina", description="RetinaNet tools of retina-gui.", epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_ShowVersion)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="detect objects in images and write COCO results JSON")
    p.add_argument("inputs", nargs="+", help="image files and/or folders (searched recursively)")
    _model_arguments(p)
    p.add_argument("--coco", help="take image ids from this COCO file, matching by file_name, and its category ids, matching classes by name")
    p.add_argument("--out", required=True, help="results JSON to write (-: standard output)")
    p.set_defaults(run=_predict)

    t = sub.add_parser("train", help="train or fine-tune a RetinaNet on a COCO dataset")
    t.add_argument("--coco", required=True, help="training annotations (COCO JSON)")
    t.add_argument("--images", help="training image folder (default: the COCO file's folder)")
    validation = t.add_mutually_exclusive_group()
    validation.add_argument("--val-coco", help="validation annotations (COCO JSON)")
    t.add_argument("--val-images", help="validation image folder (default: the file's folder)")
    validation.add_argument("--val-split", type=_number(float, 0, 1, low_open=True, high_open=True),
                            help="hold out this share of the training images instead (e.g. 0.1)")
    t.add_argument("--weights", help="start from these weights (ours, torchvision or yhenon); the class head is adapted")
    t.add_argument("--backbone", default=TRAIN_BACKBONE,
                   help="for a new model: resnet18/34/50/101, mobilenet_v2, mobilenet_v3_large (default resnet50)")
    t.add_argument("--pretrained-backbone", action="store_true",
                   help="start the new model's backbone from ImageNet weights via torchvision (cached or downloaded); "
                        "without it or --weights, training starts from random weights")
    t.add_argument("--fpn-channels", type=POSITIVE, default=TRAIN_FPN_CHANNELS, help="for a new model (default 256)")
    t.add_argument("--preset", default=TRAIN_PRESET, choices=["retinanet", "yhenon", "torchvision_v1", "torchvision_v2"],
                   help="for a new model (default retinanet)")
    t.add_argument("--epochs", type=POSITIVE, default=12, help="(default 12)")
    t.add_argument("--patience", type=POSITIVE,
                   help="stop once validation mAP has not risen for this many epochs (default: train every epoch)")
    t.add_argument("--batch-size", type=POSITIVE, default=4, help="images per step and process (default 4)")
    t.add_argument("--lr", type=_number(float, 0, low_open=True), help="learning rate (default 3e-4 for adamw, 0.01 for sgd)")
    t.add_argument("--optimizer", default="adamw", choices=["sgd", "adamw"], help="(default adamw)")
    t.add_argument("--warmup", type=_number(int, 0), default=100, help="warm-up steps (default 100)")
    t.add_argument("--image-size", type=_number(int, 32), default=512, help="short side of training images (default 512)")
    t.add_argument("--max-size", type=_number(int, 32), help="long-side limit (default 1.5 x image size)")
    t.add_argument("--frozen-stages", type=_number(int, 0, 5), help="backbone stages to freeze (default: 1 from trained weights, else 0)")
    t.add_argument("--no-augment", action="store_true", help="no flip, scale jitter or photometric changes")
    t.add_argument("--device", type=_device, default="auto", help=DEVICE)
    t.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"], help=PRECISION)
    t.add_argument("--workers", type=_number(int, 0), default=0, help="DataLoader worker processes (default 0: in the main process)")
    t.add_argument("--seed", type=_number(int, -2**63, 2**64 - 1), default=0,  # (torch.manual_seed's range)
                   help="for the shuffle, the split and new weights (default 0)")
    t.add_argument("--out", required=True, help="run folder (checkpoints, log, metrics.json)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.set_defaults(run=_train)

    e = sub.add_parser("eval", help="COCO mAP of a model on a labelled dataset")
    _model_arguments(e)
    e.add_argument("--coco", required=True, help="the labels to score against (COCO JSON); classes are matched by name")
    e.add_argument("--images", help="image folder (default: the COCO file's folder)")
    e.add_argument("--json", help="also write the metrics to this JSON file")
    e.add_argument("--errors", help="also write the missed labels and false positives, with what went wrong with each, to this CSV file "
                                    "(the columns of the window's Export list…)")
    e.add_argument("--errors-score", type=SCORE, help="the score threshold of --errors (default: the best F1's)")
    e.set_defaults(run=_eval)

    c = sub.add_parser("convert", help="convert labels between COCO JSON, Pascal VOC XML, YOLO txt, RetinaNet CSV "
                                       "(yhenon/pytorch-retinanet's and keras-retinanet's path,x1,y1,x2,y2,class_name) "
                                       "and labelme JSON (labelme's and X-AnyLabeling's)")
    c.add_argument("--from", dest="source_format", required=True, choices=["coco", "voc", "yolo", "csv", "labelme"],
                   help="the source's format (labelme: labelme's or X-AnyLabeling's JSON files)")
    c.add_argument("source", help="a JSON file for COCO, a CSV file for RetinaNet CSV (its class list beside it: NAME_classes.csv, "
                                  "classes.csv or class_list.csv), a folder for VOC, YOLO and labelme (its images beside its "
                                  "files unless --images says where)")
    c.add_argument("--to", dest="target_format", required=True, choices=["coco", "voc", "yolo", "csv", "labelme"], help="the target's format")
    c.add_argument("target", help="a JSON file for COCO, a CSV file for RetinaNet CSV (its class list is written beside it as "
                                  "NAME_classes.csv), a folder for VOC, YOLO and labelme (labelme files lead to their images "
                                  "under --images, default the source's folder)")
    c.add_argument("--images", help="the image folder (needed to read YOLO, and for labels that lack image sizes; given, COCO and VOC "
                                    "labels made at another size or on an EXIF-turned photo's stored pixels are brought onto the images)")
    c.set_defaults(run=_convert)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """The errors that are the input's, not the program's: a message, not a traceback. core's own
    are looked up among the modules loaded: one never imported raised nothing, and importing it
    would load torch (4 s) into ``retina convert``."""
    kinds: list[type[BaseException]] = [ValueError, OSError]
    for module, name in (("core.backbones", "WeightsUnavailableError"), ("core.train", "TrainingError")):
        if module in sys.modules:
            kinds.append(getattr(sys.modules[module], name))
    return tuple(kinds)


def main(argv: list[str] | None = None) -> int:
    args = None
    # a terminal or pipe that cannot show every character (cp1252, ASCII) gets class names escaped, not a traceback after the work
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:  # Ctrl+C while torch is still being imported (the first seconds) is an interruption too
        args = build_parser().parse_args(argv)
        args.argv = ["retina", *(sys.argv[1:] if argv is None else argv)]  # as given (a run keeps its command)
        if args.command in ("predict", "train", "eval"):
            with _interrupt_after():
                for module in ("torch", "torchvision", "pycocotools.cocoeval", "core.train", "core.detector"):
                    importlib.import_module(module)
        return args.run(args)
    except KeyboardInterrupt:
        if int(os.environ.get("RANK", "0")) == 0:  # once, not once per torchrun process
            resume = ""
            if getattr(args, "command", None) == "train":
                saved = (Path(args.out) / "train_state.pt").exists()
                resume = (" (--resume goes on from the last checkpoint: the end of the last finished epoch, or where a first Ctrl+C "
                          "stopped)") if saved else " (before its first checkpoint: the same command starts it over)"
            print(f"retina: interrupted{resume}", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"retina {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError as exc:
        if getattr(args, "out", None) == "-":  # the reader of standard output went (predict --out - | head): as other tools, quietly
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (Python's own flush at exit failed on it again)
        else:  # another pipe or socket (a download): said
            with contextlib.suppress(OSError):
                print(f"retina: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if "core.train" in sys.modules and isinstance(exc, sys.modules["core.train"].ResumeMismatch):  # (as the validation check's)
            print(f"retina {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not isinstance(exc, _user_errors()):
            raise
        print(f"retina: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
