"""YOLO txt: ``classes.txt`` (or, read, an Ultralytics ``data.yaml``) plus one ``<image stem>.txt``
per image with normalised ``class cx cy w h`` lines. Class k of ``classes.txt`` has category id k."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from core.atomic import write_text
from core.cancel import CancelToken
from core.formats import LabelFormatError, label_file_names, pixel_values_ok, visible_files, writes_label_file, written_boxes
from core.images import ImageReadError, image_size, list_images
from core.labels import Box, Category, ImageEntry, LabelSet, class_name_key, same_named_categories
from core.text import count, first_names


@dataclass
class YoloReport:
    """What reading a YOLO folder found besides the labels."""

    orphan_labels: list[str] = field(default_factory=list)  # label files with no image
    unlabelled_images: list[str] = field(default_factory=list)  # images with no label file
    unreadable_images: list[str] = field(default_factory=list)
    # images that share one label file (a.jpg and a.png: a.txt): which one it labels is unknowable,
    # so it is given to none of them
    ambiguous_images: list[str] = field(default_factory=list)


def read_yolo(folder: Path | str, images: Path | str, cancel: CancelToken | None = None) -> tuple[LabelSet, YoloReport]:
    """Labels in ``folder`` for the images under ``images`` (sizes read from their headers, EXIF
    orientation applied). An empty label file makes its image a negative (reviewed, no boxes);
    images without a label file hold no labels, and are left out and reported (kept, a COCO file
    written from them listed every unlabelled image, which training reads as "nothing here")."""
    folder, images = Path(folder), Path(images)
    if not folder.is_dir():
        raise LabelFormatError(f"{folder}: {'no such folder' if not folder.exists() else 'a file, not a folder of YOLO .txt files'}")
    names, names_source = class_names(folder)
    report = YoloReport()
    entries = []
    used: set[Path] = set()
    left_out: list[str] = []
    paths = list_images([images], left_out)
    report.unreadable_images.extend(left_out)  # (a name not UTF-8, a link to itself)
    rels = [path.relative_to(images).as_posix() for path in paths]
    sharing = Counter(PurePosixPath(rel).with_suffix(".txt") for rel in rels)
    elsewhere = _labels_elsewhere(folder, images, rels)
    for path, rel in zip(paths, rels):
        if cancel is not None:
            cancel.raise_if_cancelled()
        label_file = folder / PurePosixPath(rel).with_suffix(".txt")
        if not label_file.is_file() and rel in elsewhere:
            label_file = elsewhere[rel]
        try:
            width, height = image_size(path)
        except ImageReadError:
            report.unreadable_images.append(rel)
            continue
        boxes = []
        if sharing[PurePosixPath(rel).with_suffix(".txt")] > 1 and label_file.is_file():
            used.add(label_file.resolve())
            report.ambiguous_images.append(rel)
        elif label_file.is_file():
            used.add(label_file.resolve())
            for n, line in enumerate(label_file.read_text(encoding="utf-8-sig").splitlines(), start=1):
                if not line.strip():
                    continue
                if len(line.split()) != 5:  # a segmentation polygon or a confidence: no box label of ours
                    raise LabelFormatError(f"{label_file}:{n}: expected 'class cx cy w h' (5 numbers), got {len(line.split())}: {line!r}")
                try:
                    k, cx, cy, w, h = line.split()
                    k, cx, cy, w, h = _class_number(k), float(cx) * width, float(cy) * height, float(w) * width, float(h) * height
                except ValueError:
                    raise LabelFormatError(f"{label_file}:{n}: expected 'class cx cy w h' (a whole class number, then 4 numbers), "
                                           f"got {line!r}") from None
                # float() takes "nan" and "inf", and large numbers times the size overflow: boxes no file can hold
                if not pixel_values_ok(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2):
                    raise LabelFormatError(f"{label_file}:{n}: a coordinate is not a finite number, got {line!r}")
                if k not in names:
                    raise LabelFormatError(f"{label_file}:{n}: class {k} is not in {names_source} ({count(len(names), 'class')})")
                if w < 0 or h < 0:
                    raise LabelFormatError(f"{label_file}:{n}: a negative width or height, got {line!r}")
                # to 1e-6 px: normalised values times the size gave 229.99999999947 for 230
                boxes.append(Box(*(round(v, 6) for v in (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)), k))
        else:
            report.unlabelled_images.append(rel)
            continue
        if rel in report.ambiguous_images:
            continue
        # an empty label file says "nothing here": a negative, reviewed as holding no object (a missing one says nothing)
        entries.append(ImageEntry(len(entries) + 1, rel, width, height, boxes, reviewed=not boxes))
    for label_file in sorted(visible_files(folder, "*.txt")):  # (a README.txt beside them was called a label file without image)
        if label_file.name != "classes.txt" and label_file.resolve() not in used and _lines_of_numbers(label_file):
            report.orphan_labels.append(label_file.relative_to(folder).as_posix())
    return LabelSet([Category(i, n) for i, n in names.items()], entries), report


CLASS_LIST_SUFFIXES = (".yaml", ".yml")


def class_names(folder: Path) -> tuple[dict[int, str], str]:
    """The class names by class number of the YOLO label folder ``folder``, and the file they were
    read from (named for messages): its ``classes.txt`` (LabelImg's,
    line k class k-1), else the ``names`` of a YAML file (Ultralytics' and Roboflow's
    ``data.yaml``: a list, or class numbers to names) in the folder or up to two above it
    (``labels/train`` in a dataset holding ``data.yaml``, Roboflow's ``train/labels``)."""
    classes_file = folder / "classes.txt"
    if classes_file.is_file():
        # utf-8-sig: Windows Notepad starts a file with a byte-order mark, which became part of the first class's name
        try:
            lines = [line.strip() for line in classes_file.read_text(encoding="utf-8-sig").splitlines()]
        except UnicodeDecodeError as exc:  # (the message named no file)
            raise LabelFormatError(f"{classes_file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        while lines and not lines[-1]:
            lines.pop()
        if "" in lines:  # skipped, it would shift every class after it: line k is class k-1 to YOLO trainers
            raise LabelFormatError(f"{classes_file}:{lines.index('') + 1}: an empty line in the class list (line k is class k-1): "
                                   "remove it or name the class")
        return dict(enumerate(lines)), "classes.txt"
    if (found := dataset_class_list(folder)) is not None:
        names, path = found
        return names, path.name if path.parent.resolve() == folder.resolve() else str(path)
    raise LabelFormatError(f"{folder}: no classes.txt, and no data.yaml with the class names here or in the two folders above: write "
                           "the class names into classes.txt, one a line, the first line class 0")


def dataset_class_list(folder: Path) -> tuple[dict[int, str], Path] | None:
    """The class names by number that a YAML file in ``folder`` or the two folders above it gives
    (an Ultralytics or Roboflow ``data.yaml``), and that file; None when there is none."""
    for place in (folder, *list(folder.resolve().parents)[:2]):
        found = {}
        try:
            files = sorted(p for p in place.iterdir() if p.suffix.lower() in CLASS_LIST_SUFFIXES and not p.name.startswith(".") and p.is_file())
        except OSError:  # (a folder an export is to make, or one that cannot be listed)
            continue
        refused: list[LabelFormatError] = []
        for path in files:
            try:
                if (names := _yaml_names(path)) is not None:
                    found[path] = names
            except LabelFormatError as exc:  # (a README.yaml's "names: our team": no bar to the data.yaml beside it)
                refused.append(exc)
        if refused and not found:
            raise refused[0]
        if len({tuple(sorted(names.items())) for names in found.values()}) > 1:
            raise LabelFormatError(f"{place}: {' and '.join(p.name for p in found)} name other classes: keep the one of these labels, "
                                   "or write their names into classes.txt in the label folder, one a line, the first line class 0")
        if found:
            return next((names, path) for path, names in found.items())
    return None


def _dataset_class_list_of_labels(folder: Path) -> tuple[dict[int, str], Path] | None:
    """:func:`dataset_class_list` for a folder a trainer reads labels from: Ultralytics finds an
    image's labels by making its path's ``images`` folder ``labels``, so a folder it reads has a
    ``labels`` folder between it and the YAML file (an export to ``exports/yolo`` two folders under
    another dataset's data.yaml is none of that dataset's)."""
    if "labels" not in folder.resolve().parts[-3:]:
        return None
    found = dataset_class_list(folder)
    if found is None or "labels" not in folder.resolve().relative_to(found[1].parent.resolve()).parts:
        return None
    return found


def numbered_as_there(labels: LabelSet, folder: Path) -> tuple[LabelSet, Path | None]:
    """``labels`` with class ids that are the class numbers the YOLO folder ``folder`` already
    gives: those of its ``classes.txt``, classes it does not list added at its end, else those of a
    ``data.yaml`` (:func:`dataset_class_list`), which an Ultralytics trainer reads in place of a
    classes.txt (a classes.txt written in the labels' own order made the folder's other label
    files, or every file to that trainer, name other classes); and the file the numbers come from,
    None where they are the labels' own. Raises LabelFormatError for a class of a box written that
    a YAML file does not name (that file is not this writer's to change)."""
    listed = folder / "classes.txt"
    if listed.is_file():
        try:
            names, path = class_names(folder)[0], listed
        except LabelFormatError as exc:  # (written anew, it gave the folder's other label files other classes)
            raise LabelFormatError(f"{exc}: the folder's label files number their classes by it: mend it, or export into another "
                                   "folder; nothing was written") from None
    elif (found := _dataset_class_list_of_labels(folder)) is not None:
        names, path = found
    else:
        return labels, None
    if same := same_named_categories(labels.categories):  # (one number for both: merged, while the notes said "written as they are")
        raise LabelFormatError(f"{same}: {path} numbers the classes by name, so both would be one class there; nothing was written")
    if sorted(names) != list(range(len(names))):
        raise LabelFormatError(f"{path}: its names skip class numbers ({', '.join(map(str, sorted(names)))}), which classes.txt cannot "
                               "hold; nothing was written")
    number: dict[str, int] = {}
    for k, name in sorted(names.items()):
        number.setdefault(class_name_key(name), k)  # (two names spelt alike: the first numbers the class, as a reader would take it)
    old = labels.category_names()
    unnamed = sorted({old[b.category_id] for im in labels.images for b in written_boxes(im, "yolo")
                      if class_name_key(old[b.category_id]) not in number})
    if unnamed and path != listed:
        raise LabelFormatError(f"{path} names the classes of this YOLO folder, and not {first_names(unnamed, 3)}: add "
                               f"{'it' if len(unnamed) == 1 else 'them'} to its names, or export into another folder; nothing was written")
    order = [names[k] for k in range(len(names))]
    own = sorted(labels.categories, key=lambda c: c.id)
    if path == listed:  # the folder's classes, then the labels' others after them (a YAML file's list is the whole list)
        for c in own:
            if class_name_key(c.name) not in number:
                number[class_name_key(c.name)] = len(order)
                order.append(c.name)
    if order == [c.name for c in own]:
        return labels, None
    by_name = {class_name_key(c.name): c for c in own}
    categories = [replace(by_name[class_name_key(name)], id=k, name=name) if class_name_key(name) in by_name else Category(k, name)
                  for k, name in enumerate(order)]
    images = [replace(im, boxes=[replace(b, category_id=number[class_name_key(old[b.category_id])]) for b in im.boxes
                                 if class_name_key(old[b.category_id]) in number]) for im in labels.images]
    return LabelSet(categories, images, labels.extra), path


def _yaml_names(path: Path) -> dict[int, str] | None:
    """The class names of the YAML file ``path`` by class number, read as Ultralytics reads a
    dataset's: ``names`` a list, or numbers (``0`` or ``'0'``) to names, each name as text
    (``no`` reads as ``False``); only ``nc``: ``class_0`` … None when it has neither (another
    YAML file, or none that can be read). Names that cannot be the classes (numbers that are no
    class, as many names as ``nc`` says) are an error."""
    import yaml

    try:  # (bytes that are no UTF-8 ignored, as Ultralytics does)
        data = yaml.safe_load(path.read_bytes().decode("utf-8-sig", errors="ignore"))
    except (OSError, yaml.YAMLError, RecursionError):
        return None
    if not isinstance(data, dict) or ("names" not in data and "nc" not in data):
        return None
    nc = data.get("nc")
    if nc is not None and (isinstance(nc, bool) or not isinstance(nc, int) or nc < 1):
        raise LabelFormatError(f"{path}: nc {nc!r} is no number of classes")
    names = data.get("names")
    if names is None:
        if nc is None:
            return None
        names = [f"class_{k}" for k in range(nc)]
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise LabelFormatError(f"{path}: its names are no list of class names, nor class numbers to names")
    out = {}
    for key, name in names.items():
        number = int(key) if isinstance(key, str) and key.strip().isdigit() else key
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise LabelFormatError(f"{path}: names: {key!r} is no class number (0, 1, …)")
        if isinstance(name, (list, dict)) or not str(name).strip():
            raise LabelFormatError(f"{path}: names: class {key} has no name")
        out[number] = str(name).strip()
    if nc is not None and nc != len(out):
        raise LabelFormatError(f"{path}: nc is {nc}, and names lists {count(len(out), 'class')}: make them agree")
    return out


def _centre_and_side(low: float, high: float, size: int) -> tuple[str, str]:
    """A box's centre and side along one axis, ``low`` to ``high`` pixels of ``size``, as a YOLO
    line writes them: in the fewest digits (6 to 12) that read back (:func:`read_yolo`) as the same
    corners to 1e-6 px. A file read and written again is then written as it was (``0.126915``: 12
    digits of the corners as read gave ``0.126914999271``, and every line of a dataset kept in git
    showed as changed), with no float noise (``0.05999999999999994``)."""
    centre, side = (low + high) / 2 / size, (high - low) / size
    corners = (round(low, 6), round(high, 6))
    for digits in range(6, 13):
        c, s = f"{centre:.{digits}g}", f"{side:.{digits}g}"
        at, across = float(c) * size, float(s) * size
        if (round(at - across / 2, 6), round(at + across / 2, 6)) == corners:
            return c, s
    return f"{centre:.12g}", f"{side:.12g}"


def _class_number(text: str) -> int:
    """A class as a YOLO line gives it: ``3``, or ``3.0`` as numpy's savetxt writes it (refused,
    a whole dataset was); ValueError for anything else."""
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


def _labels_elsewhere(folder: Path, images: Path, rels: list[str]) -> dict[str, Path]:
    """Label files of ``folder`` that lie not where an image's would (``rel`` with ``.txt``), found
    as Ultralytics does (YOLOv5, YOLOv8): the path with its last ``labels`` folder made ``images``
    (``labels/train/a.txt`` for ``images/train/a.jpg``); else when the label file's path in
    ``folder``, less ``.txt``, ends one image's path less its suffix alone. Every box of such a
    folder was a label file without image. Keyed by the image's ``rel``; an image with a label file
    in its own place keeps it."""
    stems: dict[tuple[str, ...], list[str]] = {}  # (a.jpg and a.png: one label file, which is neither's)
    for rel in rels:
        stems.setdefault(PurePosixPath(rel).with_suffix("").parts, []).append(rel)
    endings: dict[tuple[str, ...], list[str]] = {}
    for parts, named in stems.items():
        for k in range(1, len(parts) + 1):
            endings.setdefault(parts[-k:], []).extend(named)
    root = images.resolve()
    found: dict[str, Path] = {}
    for label_file in visible_files(folder, "*.txt"):
        key = PurePosixPath(label_file.relative_to(folder).as_posix()).with_suffix("").parts
        if label_file.name == "classes.txt" or key in stems:
            continue
        parts = label_file.resolve().with_suffix("").parts
        mirrored = None
        if "labels" in parts:
            last = len(parts) - 1 - parts[::-1].index("labels")
            image = Path(*parts[:last], "images", *parts[last + 1:])
            if image.is_relative_to(root):
                mirrored = stems.get(image.relative_to(root).parts)
        candidates = mirrored if mirrored is not None else endings.get(key, [])
        if len(candidates) == 1 and not (folder / PurePosixPath(candidates[0]).with_suffix(".txt")).is_file():
            found[candidates[0]] = label_file
    return found


def _fields(path: Path) -> list[list[str]] | None:
    """The fields of each non-empty line of a text file, read as read_yolo reads it; None when unreadable."""
    try:
        return [line.split() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None


def _lines_of_numbers(path: Path) -> bool:
    """``path`` reads as a label file of some YOLO kind (lines of numbers: boxes, polygons, with
    confidences), not a README.txt beside them; an empty file is one (an image's with no object)."""
    if (lines := _fields(path)) is None:
        return False
    try:
        for line in lines:
            for value in line:
                float(value)
    except ValueError:
        return False
    return True


def holds_yolo_lines(path: Path, classes: float = math.inf) -> bool:
    """``path`` is a YOLO label file: only ``class cx cy w h`` lines of finite numbers with classes
    below ``classes``, or empty (an image holding no object)."""
    try:
        return (lines := _fields(path)) is not None and all(
            len(line) == 5 and 0 <= _class_number(line[0]) < classes and all(math.isfinite(float(v)) for v in line[1:]) for line in lines)
    except ValueError:
        return False


def write_yolo(labels: LabelSet, folder: Path | str, cancel: CancelToken | None = None) -> None:
    """``classes.txt`` in the order of the categories sorted by id, then one file per image with
    boxes, and an empty one per reviewed negative (:func:`core.formats.writes_label_file`).
    Crowd regions have no YOLO form and are left out. Boxes are clipped to their image, and those
    wholly outside it left out: YOLO trainers drop a whole image as corrupt for a value outside 0..1."""
    folder = Path(folder)
    categories = sorted(labels.categories, key=lambda c: c.id)
    index = {c.id: i for i, c in enumerate(categories)}
    # every image's name is checked, written or not: two images of one label file read back as neither's
    targets = label_file_names([im.file_name for im in labels.images], ".txt")
    if "classes.txt" in targets:
        name = labels.images[targets.index("classes.txt")].file_name
        raise LabelFormatError(f"{name}: its labels would be written over classes.txt (the class list): rename the image; "
                               "nothing was written")
    written = [(im, target) for im, target in zip(labels.images, targets) if writes_label_file(im, "yolo")]
    unsized = [im.file_name for im, _ in written if not im.width or not im.height]
    if unsized:
        raise LabelFormatError(f"{unsized[0]}: image size unknown, YOLO needs it to normalise; nothing was written")
    unwritable = [c.name for c in categories if c.name.splitlines() != [c.name] or not c.name.strip()]  # as splitlines() reads it back
    if unwritable:  # classes.txt is a name a line: it would shift every class after it
        raise LabelFormatError(f"category name {unwritable[0]!r} cannot be a line of classes.txt (empty, or several lines); nothing was written")
    write_text(folder / "classes.txt", "".join(f"{c.name}\n" for c in categories))
    for im, target in written:
        if cancel is not None:
            cancel.raise_if_cancelled()  # the files written so far stay, each one whole
        lines = []
        for b in written_boxes(im, "yolo"):
            x1, x2 = min(max(b.x1, 0.0), im.width), min(max(b.x2, 0.0), im.width)
            y1, y2 = min(max(b.y1, 0.0), im.height), min(max(b.y2, 0.0), im.height)
            cx, w = _centre_and_side(x1, x2, im.width)
            cy, h = _centre_and_side(y1, y2, im.height)
            lines.append(f"{index[b.category_id]} {cx} {cy} {w} {h}\n")
        write_text(folder / target, "".join(lines))
