"""labelme JSON (also X-AnyLabeling's, which writes the same files): one file per image, beside it
or in a folder of its own, each shape a list of points in the image's pixels (EXIF orientation
applied, as labelme shows the image). Read only: a box is what retina-gui labels."""

from __future__ import annotations

import math
import posixpath
from collections import Counter
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.atomic import parse_json
from core.cancel import CancelToken
from core.formats import LabelFormatError, pixel_values_ok, visible_files
from core.formats.coco import check_file_name
from core.labels import Box, Category, ImageEntry, LabelSet
from core.text import count, first_names

_BOXED = ("rectangle", "polygon", "rotation", "circle")  # shapes with an area: their bounding box is the label
_POLYGONS = ("polygon", "rotation")  # kept as the box's polygon (written back into COCO)


def is_labelme(data: object) -> bool:
    """Whether parsed JSON is a labelme file (a COCO file given as one, or one given as COCO, is named so)."""
    return isinstance(data, dict) and isinstance(data.get("shapes"), list) and "imagePath" in data


def read_labelme(folder: Path | str, cancel: CancelToken | None = None) -> tuple[LabelSet, list[str]]:
    """Every labelme ``*.json`` under ``folder`` (other JSON files, a COCO file beside them, are
    passed over and named): rectangles, polygons, rotated boxes and circles as boxes of their
    bounds, a polygon kept as the box's; points, lines and masks, which bound no object, left out
    and counted. A shape marked ``difficult`` (X-AnyLabeling) is a crowd region, as VOC's are.
    ``imagePath`` is relative to the JSON file; one that leaves ``folder`` (``../images/a.jpg``)
    or is a full path is the image of that name beside the JSON file, to be matched by name on
    import. Categories get ids 1..N in name order; a file without shapes makes its image a
    negative (reviewed, no boxes). Returns the labels and lines on what was left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LabelFormatError(f"{folder}: {'no such folder' if not folder.exists() else 'a file, not a folder of labelme .json files'}")
    parsed: list[tuple[str, int, int, list[tuple[str, Box, list | None]]]] = []
    others: list[str] = []
    unboxed: Counter[str] = Counter()
    labelled_by: dict[str, Path] = {}
    for path in sorted(visible_files(folder, "*.json")):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rel_json = path.relative_to(folder).as_posix()
        try:
            data = parse_json(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError):
            others.append(rel_json)  # (a JSON file of another kind, or none: not ours to refuse)
            continue
        if not is_labelme(data):
            others.append(rel_json)
            continue
        try:
            file_name = _image_name(data.get("imagePath"), PurePosixPath(rel_json))
            width, height = _side(data.get("imageWidth")), _side(data.get("imageHeight"))
            shapes = []
            for n, shape in enumerate(data["shapes"], start=1):
                if not isinstance(shape, dict):
                    raise LabelFormatError(f"shape {n} is not an object")
                kind = shape.get("shape_type") or "polygon"  # (labelme 3 wrote no type: its shapes were polygons)
                if kind not in _BOXED:
                    unboxed[str(kind)] += 1
                    continue
                label = shape.get("label")
                if not isinstance(label, str) or not label.strip():
                    raise LabelFormatError(f"shape {n} has no label")
                corners, polygon = _bounds(kind, shape.get("points"), n)
                difficult = shape.get("difficult") is True  # (X-AnyLabeling's mark, VOC's "difficult")
                shapes.append((label.strip(), corners, difficult, None if difficult else polygon))
        except LabelFormatError as exc:
            raise LabelFormatError(f"{path}: {exc}") from None
        if file_name in labelled_by:  # which file's shapes are the image's is unknowable
            raise LabelFormatError(f"{labelled_by[file_name]} and {path} both label {file_name}: keep one of them")
        labelled_by[file_name] = path
        parsed.append((file_name, width, height, shapes))
    if not parsed:
        raise LabelFormatError(f"{folder}: no labelme .json files" + (f" ({count(len(others), 'other JSON file')})" if others else ""))
    ids = {name: i + 1 for i, name in enumerate(sorted({label for *_, shapes in parsed for label, *_ in shapes}))}
    images = []
    for index, (file_name, width, height, shapes) in enumerate(parsed, start=1):
        boxes = [Box(*corners, ids[label], iscrowd=difficult, segmentation=polygon) for label, corners, difficult, polygon in shapes]
        # a file saved with no shape says "nothing here": a negative, reviewed as holding no object
        images.append(ImageEntry(index, file_name, width, height, boxes, reviewed=not boxes))
    problems = []
    if unboxed:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(unboxed.items()))
        problems.append(f"{count(sum(unboxed.values()), 'shape')} that bound no object left out ({kinds})")
    if others:
        problems.append(f"{count(len(others), 'JSON file')} that {'is' if len(others) == 1 else 'are'} not labelme's passed over "
                        f"({first_names(others, 3)})")
    return LabelSet([Category(i, n) for n, i in ids.items()], images), problems


def _image_name(image_path: object, rel_json: PurePosixPath) -> str:
    """The image's path under the folder read: ``imagePath`` from the JSON file's folder; a full
    path, or one leaving the folder, is the image of that name beside the JSON file."""
    if not isinstance(image_path, str) or not image_path.strip():  # (labelme names the image after the file)
        return check_file_name(rel_json.with_suffix(".jpg").as_posix())
    text = image_path.strip().replace("\\", "/")
    windows = PureWindowsPath(image_path.strip())
    if windows.is_absolute() or text.startswith("/") or windows.drive:
        return check_file_name((rel_json.parent / windows.name).as_posix())
    joined = posixpath.normpath((rel_json.parent / text).as_posix())
    if joined == ".." or joined.startswith("../"):
        return check_file_name((rel_json.parent / PurePosixPath(text).name).as_posix())
    return check_file_name(joined)


def _side(value: object) -> int:
    """An image side as labelme writes it; 0 (read from the image) when missing or not a size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return 0
    return int(value)


def _bounds(kind: str, points: object, n: int) -> tuple[tuple[float, float, float, float], list | None]:
    """A shape's bounding box (x1, y1, x2, y2), and its polygon as COCO writes one (polygons and
    rotated boxes; None for the others)."""
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        raise LabelFormatError(f"shape {n} ({kind}) has no list of [x, y] points")
    try:
        xy = [(float(x), float(y)) for x, y in points]
    except (TypeError, ValueError):
        raise LabelFormatError(f"shape {n} ({kind}) has a point that is not two numbers") from None
    needed = 2 if kind in ("rectangle", "circle") else 3
    if len(xy) < needed:
        raise LabelFormatError(f"shape {n} ({kind}) has {count(len(xy), 'point')}, fewer than {needed}")
    if kind == "circle":  # the centre, then a point on the circle
        (cx, cy), (px, py) = xy[0], xy[1]
        r = math.hypot(px - cx, py - cy)
        corners = (cx - r, cy - r, cx + r, cy + r)
    else:
        xs, ys = [x for x, _ in xy], [y for _, y in xy]
        corners = (min(xs), min(ys), max(xs), max(ys))
    if not pixel_values_ok(*corners):
        raise LabelFormatError(f"shape {n} ({kind}) has a point that is not a finite number of pixels")
    polygon = [[v for point in xy for v in point]] if kind in _POLYGONS else None
    return tuple(round(v, 6) for v in corners), polygon
