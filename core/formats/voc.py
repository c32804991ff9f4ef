"""Pascal VOC XML: one file per image, 1-based pixel corners (the VOC devkit convention)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.atomic import write_text
from core.cancel import CancelToken
from core.formats import (
    MAX_PIXELS,
    LabelFormatError,
    label_file_names,
    pixel_values_ok,
    side_in_pixels,
    visible_files,
    writes_label_file,
    written_boxes,
)
from core.formats.coco import check_file_name
from core.labels import Box, Category, ImageEntry, LabelSet
from core.text import count


def read_voc(folder: Path | str, others: list[str] | None = None) -> LabelSet:
    """Every ``*.xml`` under ``folder`` that is a VOC annotation; the other XML files (a camera's
    settings beside the labels: the whole folder was refused) are passed over, and their paths put
    in ``others``. Categories get ids 1..N in name order; an annotation without objects makes its
    image a negative (reviewed, no boxes); one without ``<size>`` has the size 0 × 0, read from the
    image where it is known."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LabelFormatError(f"{folder}: {'no such folder' if not folder.exists() else 'a file, not a folder of VOC .xml files'}")
    files = sorted(visible_files(folder, "*.xml"))
    if not files:
        raise LabelFormatError(f"{folder}: no VOC .xml files")
    parsed = []
    names: set[str] = set()
    labelled_by: dict[str, Path] = {}
    for path in files:
        try:
            root = ET.parse(path).getroot()
            if root.tag != "annotation":
                if others is not None:
                    others.append(path.relative_to(folder).as_posix())
                continue
            filename = (root.findtext("filename") or "").strip() or path.with_suffix(".jpg").name
            if PureWindowsPath(filename).is_absolute() or filename.startswith(("/", "\\")):
                filename = PureWindowsPath(filename).name  # a tool's full path (/data/a.jpg, C:\\data\\a.jpg): the image beside the file
            rel = PurePosixPath(path.relative_to(folder).as_posix()).parent / filename
            if str(rel) in labelled_by:  # which file's boxes are the image's is unknowable: the COCO file written could not be read
                raise LabelFormatError(f"{labelled_by[str(rel)]} and {path} both label {rel}: keep one of them")
            labelled_by[str(rel)] = path
            if root.find("size") is None:  # (refused: its size is the image's, read where the image is known)
                width = height = 0
            elif root.findtext("size/width") is None or root.findtext("size/height") is None:
                raise LabelFormatError(f"{path}: not a Pascal VOC annotation (a <size> without <width> and <height>)")
            else:
                width, height = (side_in_pixels(root.findtext(f"size/{side}"), f"<{side}>") for side in ("width", "height"))
            objects = []
            for n, obj in enumerate(root.iter("object"), start=1):
                b = obj.find("bndbox")
                if b is None or obj.findtext("name") is None:
                    raise LabelFormatError(f"{path}: object {n} has no {'bndbox' if b is None else 'name'}")
                if lacking := [k for k in ("xmin", "ymin", "xmax", "ymax") if not (b.findtext(k) or "").strip()]:
                    raise LabelFormatError(f"{path}: object {n} has no <{lacking[0]}>")  # (float() of None said what, not where)
                try:
                    x1, y1, x2, y2 = (float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
                except ValueError:
                    raise LabelFormatError(f"{path}: object {n} has a corner that is not a number") from None
                if not pixel_values_ok(x1, y1, x2, y2):  # float() takes "nan" and "inf"
                    raise LabelFormatError(f"{path}: object {n} has a coordinate that is not a finite number of pixels "
                                           f"(up to {MAX_PIXELS:.0e})")
                if x1 > x2 or y1 > y2:
                    swapped = f"xmin {x1:g} > xmax {x2:g}" if x1 > x2 else f"ymin {y1:g} > ymax {y2:g}"
                    raise LabelFormatError(f"{path}: object {n} has {swapped}")
                name = obj.findtext("name").strip()
                if not name:
                    raise LabelFormatError(f"{path}: object {n} has an empty <name>")
                names.add(name)
                # kept for a VOC file written from these labels (and as fields of a COCO annotation)
                extra = {key: value for key, value in (("truncated", _one(obj.findtext("truncated"))), ("pose", obj.findtext("pose", "").strip()))
                         if value and value != "Unspecified"}
                # 1-based corners, whose least is 1: a 0 (as 0-based writers put it) is the image's edge, not -1
                objects.append((name, max(x1 - 1, 0.0), max(y1 - 1, 0.0), x2, y2, bool(_one(obj.findtext("difficult"))), extra or None))
        except LabelFormatError:
            raise
        except (ET.ParseError, AttributeError, TypeError, ValueError) as exc:
            raise LabelFormatError(f"{path}: not a Pascal VOC annotation ({exc})") from None
        parsed.append((str(rel), width, height, objects, path))
    if not parsed:
        raise LabelFormatError(f"{folder}: no VOC annotations ({count(len(files), 'other .xml file')})")
    ids = {name: i + 1 for i, name in enumerate(sorted(names))}
    images = []
    for index, (rel, width, height, objects, path) in enumerate(parsed, start=1):
        boxes = [Box(x1, y1, x2, y2, ids[name], iscrowd=difficult, extra=extra) for name, x1, y1, x2, y2, difficult, extra in objects]
        # an annotation without objects says "nothing here": a negative, reviewed as holding no object
        try:
            file_name = check_file_name(rel)
        except LabelFormatError as exc:  # (an absolute <filename> was refused naming no file)
            raise LabelFormatError(f"{path}: {exc}") from None
        images.append(ImageEntry(index, file_name, width, height, boxes, reviewed=not boxes))
    return LabelSet([Category(i, n) for n, i in ids.items()], images)


def _one(text: str | None) -> int:
    return 1 if (text or "").strip() == "1" else 0


def _pixels(low: float, high: float, size: int) -> tuple[int, int]:
    """A box side in whole pixels: [low, high) rounded half up, at least one pixel, inside 0..size when size is known."""
    first, last = math.floor(low + 0.5), math.floor(high + 0.5)
    if size > 0:
        first = min(max(first, 0), size - 1)
        last = min(last, size)
    return first, max(last, first + 1)


def write_voc(labels: LabelSet, folder: Path | str, cancel: CancelToken | None = None) -> None:
    """One XML per image with boxes or reviewed as a negative (:func:`core.formats.writes_label_file`)
    at ``folder/<file_name without suffix>.xml``, written atomically.
    Crowd regions are written as ``difficult`` objects, which VOC evaluation also ignores. Boxes
    are clipped to their image (where its size is known), and those wholly outside it left out."""
    folder = Path(folder)
    names = labels.category_names()
    unwritable = [name for name in names.values() if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in name)]
    if unwritable:  # XML 1.0 has no form for them: the file written would not parse
        raise LabelFormatError(f"category name {unwritable[0]!r} holds a control character XML cannot hold; nothing was written")
    # every image's name is checked, written or not: two images of one label file read back as neither's
    targets = label_file_names([im.file_name for im in labels.images], ".xml")
    for im, target in zip(labels.images, targets):
        if not writes_label_file(im, "voc"):
            continue
        if cancel is not None:
            cancel.raise_if_cancelled()  # the files written so far stay, each one whole
        rel = PurePosixPath(check_file_name(im.file_name))
        root = ET.Element("annotation")
        ET.SubElement(root, "folder").text = str(rel.parent) if str(rel.parent) != "." else ""
        ET.SubElement(root, "filename").text = rel.name
        size = ET.SubElement(root, "size")
        for key, value in (("width", im.width), ("height", im.height), ("depth", 3)):
            ET.SubElement(size, key).text = str(value)
        for box in written_boxes(im, "voc"):
            obj = ET.SubElement(root, "object")
            ET.SubElement(obj, "name").text = names[box.category_id]
            extra = box.extra or {}
            ET.SubElement(obj, "pose").text = str(extra.get("pose") or "Unspecified")
            ET.SubElement(obj, "truncated").text = "1" if extra.get("truncated") in (1, True, "1") else "0"
            ET.SubElement(obj, "difficult").text = "1" if box.iscrowd else "0"
            bnd = ET.SubElement(obj, "bndbox")
            # whole pixels, as VOC tools read them (int() of "843.55" failed in many): the devkit's 1-based
            # corners, halves rounded up, at least a pixel wide (a box under a pixel rounded to xmin > xmax),
            # within the image where its size is known
            (x1, x2), (y1, y2) = (_pixels(box.x1, box.x2, im.width), _pixels(box.y1, box.y2, im.height))
            for key, value in (("xmin", x1 + 1), ("ymin", y1 + 1), ("xmax", x2), ("ymax", y2)):
                ET.SubElement(bnd, key).text = str(value)
        ET.indent(root)
        write_text(folder / target, ET.tostring(root, encoding="unicode") + "\n")
