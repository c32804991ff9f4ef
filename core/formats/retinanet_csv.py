"""RetinaNet CSV, the custom-dataset format of yhenon/pytorch-retinanet and keras-retinanet: an
annotations file of ``path,x1,y1,x2,y2,class_name`` lines (one per box; ``path,,,,,`` for an
image with nothing in it) and a class list of ``class_name,id`` lines, ids 0 … n-1. Both readers
parse the corners as whole numbers; relative paths are taken from the annotations file's folder
(keras-retinanet) or the working folder (yhenon: run it from there)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from core.atomic import write_text
from core.cancel import CancelToken
from core.formats import LabelFormatError, path_under, pixel_values_ok, written_boxes
from core.formats.coco import check_file_name
from core.labels import Box, Category, ImageEntry, LabelSet

# beside the annotations, after <stem>_classes.csv (Roboflow's RetinaNet export: _annotations.csv with _classes.csv)
CLASS_LIST_NAMES = ("classes.csv", "_classes.csv", "class_list.csv")


NO_CLASS_LIST_NOTE = "no class list beside "  # starts the note on classes numbered as they come (a note: nothing is lost)


def class_list_path(annotations: Path | str) -> Path:
    """The class list written beside ``annotations`` (``train.csv``: ``train_classes.csv``), so that
    exports of other class sets into one folder do not share one."""
    annotations = Path(annotations)
    return annotations.with_name(f"{annotations.stem}_classes.csv")


def found_class_list(annotations: Path | str) -> Path | None:
    """The class list read with ``annotations``: ``<stem>_classes.csv``, ``classes.csv``,
    ``_classes.csv`` or ``class_list.csv`` beside it, the first there; None when none is."""
    annotations = Path(annotations)
    return next((p for p in (class_list_path(annotations), *(annotations.parent / n for n in CLASS_LIST_NAMES)) if p.is_file()), None)


def read_retinanet_csv(annotations: Path | str, images: Path | str | None = None, classes: Path | str | None = None, *,
                       keep_outside: bool = False) -> tuple[LabelSet, list[str]]:
    """Labels of the annotations file (image sizes left 0: the caller reads them from the images)
    and notes on what was assumed. ``images``: the folder the file names are made relative to
    (default: the annotations file's); a path outside it is an error, or with ``keep_outside`` kept
    as a normalised absolute path (an import matches those to the folder's images by file name).
    ``classes``: the class list (default: :func:`found_class_list`; with none, classes in order of
    appearance)."""
    annotations = Path(annotations)
    if not annotations.is_file():  # ("[Errno 21] Is a directory")
        raise LabelFormatError(f"{annotations}: {'no such file' if not annotations.exists() else 'a folder, not a RetinaNet CSV file'}")
    base = annotations.parent
    root = Path(images) if images is not None else base
    real_base, normal_root = Path(os.path.realpath(base)), Path(os.path.normpath(root.absolute()))
    notes = []
    if classes is None:
        classes = found_class_list(annotations)
    categories = _read_class_list(Path(classes)) if classes is not None else None
    if categories is None:
        notes.append(f"{NO_CLASS_LIST_NOTE}{annotations.name} ({class_list_path(annotations).name}, {', '.join(CLASS_LIST_NAMES)}): "
                     "classes numbered in the order they first appear")
    by_name = {c.name: c for c in categories or []}
    entries: dict[str, ImageEntry] = {}
    for n, row in _rows(annotations):
        if len(row) != 6:
            hint = "; this looks like a class list (class_name,id): choose the annotations file beside it" if len(row) == 2 else ""
            raise LabelFormatError(f"{annotations}:{n}: expected 'path,x1,y1,x2,y2,class_name' (6 fields), got {len(row)}: "
                                   f"{','.join(row)!r}{hint}")
        path, *corners, name = (field.strip() for field in row)
        file_name = _file_name(path, real_base, normal_root, f"{annotations}:{n}", keep_outside)
        entry = entries.setdefault(file_name, ImageEntry(len(entries) + 1, file_name, 0, 0))
        if not any(corners) and not name:  # "nothing here": a negative
            entry.reviewed = not entry.boxes
            continue
        try:
            x1, y1, x2, y2 = (float(v) for v in corners)
        except ValueError:
            raise LabelFormatError(f"{annotations}:{n}: the corners must be numbers (all four, or none with no class for an image "
                                   f"with nothing in it), got {','.join(corners)!r}") from None
        if not pixel_values_ok(x1, y1, x2, y2):
            raise LabelFormatError(f"{annotations}:{n}: a corner is not a finite number, got {','.join(corners)!r}")
        if x2 <= x1 or y2 <= y1:
            raise LabelFormatError(f"{annotations}:{n}: x2 must be above x1 and y2 above y1, got {','.join(corners)!r}")
        if not name:
            raise LabelFormatError(f"{annotations}:{n}: a box without a class name")
        if name not in by_name:
            if categories is not None:
                raise LabelFormatError(f"{annotations}:{n}: class {name!r} is not in the class list {classes}")
            by_name[name] = Category(len(by_name), name)
        entry.boxes.append(Box(x1, y1, x2, y2, by_name[name].id))
        entry.reviewed = False
    if not entries:
        raise LabelFormatError(f"{annotations}: no lines of 'path,x1,y1,x2,y2,class_name'")
    return LabelSet(categories if categories is not None else list(by_name.values()), list(entries.values())), notes


def write_retinanet_csv(labels: LabelSet, annotations: Path | str, images: Path | str, cancel: CancelToken | None = None) -> None:
    """The annotations file and its class list (:func:`class_list_path`), each written atomically.
    Paths are relative to the annotations file's folder (keras-retinanet reads them so). Corners
    are whole pixels, as both readers parse them: rounded outwards, clipped to the image; boxes
    wholly outside it and crowd regions (no form here) are left out. Images with boxes get their
    lines; reviewed negatives one ``path,,,,,`` line; images neither labelled nor reviewed none."""
    annotations = Path(annotations)
    categories = sorted(labels.categories, key=lambda c: c.id)
    index = {c.id: k for k, c in enumerate(categories)}
    unwritable = [c.name for c in categories if not c.name.strip() or c.name != c.name.strip() or c.name.splitlines() != [c.name]]
    if unwritable:  # both readers strip nothing and split lines: the name would not read back
        raise LabelFormatError(f"class name {unwritable[0]!r} cannot be written to a CSV class list (empty, spaces around it, or "
                               "several lines); nothing was written")
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\n")
    # from the CSV's folder as it really is: a trainer opens <its folder>/../imgs through the link the folder may be
    folder, root = os.path.realpath(annotations.parent), os.path.abspath(images)
    for im in labels.images:
        if cancel is not None:
            cancel.raise_if_cancelled()
        image = os.path.join(root, check_file_name(im.file_name))
        try:
            path = Path(os.path.relpath(image, folder)).as_posix()
        except ValueError:  # (Windows: on another drive there is no relative path)
            path = Path(image).as_posix()
        boxes = written_boxes(im, "csv")
        if boxes and (im.width <= 0 or im.height <= 0):
            raise LabelFormatError(f"{im.file_name}: image size unknown, needed to clip its boxes to it; nothing was written")
        for b in boxes:
            x1, y1 = max(0, int(b.x1 // 1)), max(0, int(b.y1 // 1))
            x2, y2 = min(im.width, -int(-b.x2 // 1)), min(im.height, -int(-b.y2 // 1))
            writer.writerow([path, x1, y1, max(x2, x1 + 1), max(y2, y1 + 1), categories[index[b.category_id]].name])
        if not boxes and im.reviewed and not im.boxes:
            writer.writerow([path, "", "", "", "", ""])
    class_list = io.StringIO()
    csv.writer(class_list, lineterminator="\n").writerows([c.name, k] for k, c in enumerate(categories))
    write_text(class_list_path(annotations), class_list.getvalue())
    write_text(annotations, lines.getvalue())


def _rows(path: Path):
    """(line number, fields) of the non-empty lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text))
    start = 1  # the line the next row starts on
    try:
        for row in reader:
            if reader.line_num > start:  # a row over several lines (a 90 KB file's lines after one went into a class name, unsaid)
                raise LabelFormatError(f"{path}:{start}: a quote (\") opens a field that runs on over the lines after it")
            if row and any(field.strip() for field in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:  # (a traceback: "field larger than field limit")
        raise LabelFormatError(f"{path}:{start}: a quote (\") opens a field that runs on over the lines after it ({exc})") from None


def _read_class_list(path: Path) -> list[Category]:
    categories, ids = [], set()
    for n, row in _rows(path):
        if len(row) != 2:
            raise LabelFormatError(f"{path}:{n}: expected 'class_name,id', got {','.join(row)!r}")
        name, value = row[0].strip(), row[1].strip()
        try:
            class_id = int(value)
        except ValueError:
            raise LabelFormatError(f"{path}:{n}: the id must be a whole number, got {value!r}") from None
        if class_id in ids or any(c.name == name for c in categories):
            raise LabelFormatError(f"{path}:{n}: class {name!r} or id {class_id} is listed twice")
        ids.add(class_id)
        categories.append(Category(class_id, name))
    if not categories:
        raise LabelFormatError(f"{path}: no lines of 'class_name,id'")
    return sorted(categories, key=lambda c: c.id)


def _file_name(path: str, base: Path, root: Path, where: str, keep_outside: bool) -> str:
    """The image's path relative to ``root``, from the path as the file gives it (relative ones
    from ``base``, the annotations file's folder as it really is: the trainers open ``<base>/../imgs``
    through the link ``base`` may be); inside ``root`` (absolute, normalised) as given, or as it really is."""
    if not path:
        raise LabelFormatError(f"{where}: no image path")
    full = Path(os.path.normpath(base / path.replace("\\", "/")))
    if (inside := path_under(full, root)) is not None:
        return inside
    if keep_outside:
        return full.as_posix()
    # (the relative path's start said nothing: "--images DIR" was asked for when it had been given)
    start = f" (from {base}, the CSV file's folder, where its relative paths start)" if not Path(path).is_absolute() else ""
    raise LabelFormatError(f"{where}: {path} is {full}{start}, not inside the image folder {root}: give the folder that holds the images "
                           "(--images DIR)")
