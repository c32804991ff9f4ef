"""labelme JSON (also X-AnyLabeling's, which writes the same files): one file per image, beside it
or in a folder of its own, each shape a list of points in the image's pixels. labelme shows a photo
turned as its EXIF says, X-AnyLabeling as stored: its points are turned here as the photo is shown.
Written as labelme 5 writes them: a rectangle a box (a polygon where the box has one), on the photo
as shown, which both tools open."""

from __future__ import annotations

import math
import os
import posixpath
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.atomic import json_text, parse_json, write_text
from core.cancel import CancelToken
from core.formats import LabelFormatError, label_file_names, pixel_values_ok, visible_files, writes_label_file, written_boxes
from core.formats.coco import check_file_name
from core.images import IMAGE_SUFFIXES, ImageReadError, image_header, stored_to_shown
from core.labels import Box, Category, ImageEntry, LabelSet
from core.text import count, first_names

# shapes with an area (their bounding box is the label), and the least points of each
_BOXED = {"rectangle": 2, "polygon": 3, "rotation": 4, "oriented_rectangle": 4, "circle": 2, "mask": 2}
_POLYGONS = ("polygon", "rotation", "oriented_rectangle")  # kept as the box's polygon (written back into COCO)
_X_ANYLABELING_KEYS = ("difficult", "kie_linking", "attributes")  # shape fields labelme does not write
# labelme warns that a file may not suit it when the major version differs from its own
WRITTEN_VERSION = "5.5.0"


def is_labelme(data: object) -> bool:
    """Whether parsed JSON is a labelme file (a COCO file given as one, or one given as COCO, is named so)."""
    return isinstance(data, dict) and isinstance(data.get("shapes"), list) and "imagePath" in data


def read_labelme(folder: Path | str, cancel: CancelToken | None = None, images: Path | str | None = None) -> tuple[LabelSet, list[str]]:
    """Every labelme ``*.json`` under ``folder`` (other JSON files, a COCO file beside them, are
    passed over and named): rectangles (2 points or 4), polygons, rotated and oriented rectangles,
    circles and masks as boxes of their bounds, a polygon kept as the box's; the shapes of one
    ``group_id`` and label (an object seen in parts) as one box; points and lines, which bound no
    object, and shapes that cannot be read, left out and counted. A shape marked ``difficult``
    (X-AnyLabeling) is a crowd region, as VOC's are. ``imagePath`` is relative to the JSON file;
    one that leaves ``folder`` (``../images/a.jpg``) or is a full path is the image of that name
    beside the JSON file, to be matched by name on import; none, the image of the file's name there.
    A file saved with no shape and no image flag set is a negative (reviewed, no boxes). With
    ``images`` (the folder the file names are in), X-AnyLabeling's boxes on an EXIF-turned photo
    are turned as it is shown. Categories get ids 1..N in name order. Returns the labels and lines
    on what was left out or turned."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LabelFormatError(f"{folder}: {'no such folder' if not folder.exists() else 'a file, not a folder of labelme .json files'}")
    entries: list[tuple[str, int, int, list[tuple[str, tuple, bool, list | None]], bool]] = []
    others, not_utf8, unread = [], [], []
    unboxed: Counter[str] = Counter()
    turned: list[str] = []
    labelled_by: dict[str, Path] = {}
    for path in sorted(visible_files(folder, "*.json")):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rel_json = path.relative_to(folder).as_posix()
        try:
            data = parse_json(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:  # (labelme writes UTF-8: another script's file, said so, not "not labelme's")
            not_utf8.append(rel_json)
            continue
        except (OSError, ValueError):
            others.append(rel_json)  # (a JSON file of another kind, or none: not ours to refuse)
            continue
        if not is_labelme(data):
            if not (isinstance(data, dict) and isinstance(data.get("images"), list)):  # (a COCO file beside them, the folder's own labels: no news)
                others.append(rel_json)
            continue
        try:
            file_name = _image_name(data.get("imagePath"), PurePosixPath(rel_json), path)
        except LabelFormatError as exc:
            raise LabelFormatError(f"{path}: {exc}") from None
        width, height = _side(data.get("imageWidth")), _side(data.get("imageHeight"))
        objects = _objects(data["shapes"], unboxed, unread, rel_json)
        shapes = [(o.label, o.corners, o.difficult, o.polygons) for o in objects]
        if _stored_pixels(data) and shapes and images is not None:
            shapes, width, height, was_turned = _shown(shapes, Path(images) / file_name, width, height)
            if was_turned:
                turned.append(file_name)
        if file_name in labelled_by:  # which file's shapes are the image's is unknowable
            raise LabelFormatError(f"{labelled_by[file_name]} and {path} both label {file_name}: keep one of them")
        labelled_by[file_name] = path
        entries.append((file_name, width, height, shapes, not data["shapes"] and not _flagged(data)))
    if not entries:
        found = [f"{count(len(others), 'other JSON file')}"] if others else []
        found += [f"{count(len(not_utf8), 'JSON file')} not UTF-8"] if not_utf8 else []
        raise LabelFormatError(f"{folder}: no labelme .json files" + (f" ({', '.join(found)})" if found else ""))
    ids = {name: i + 1 for i, name in enumerate(sorted({label for *_, shapes, _ in entries for label, *_ in shapes}))}
    labels = []
    for index, (file_name, width, height, shapes, negative) in enumerate(entries, start=1):
        boxes = [Box(*corners, ids[label], iscrowd=difficult, segmentation=None if difficult else polygons)
                 for label, corners, difficult, polygons in shapes]
        # a file saved with no shape says "nothing here": a negative, reviewed as holding no object (one whose shapes
        # were all left out, or that flags the image's class, says nothing of the sort)
        labels.append(ImageEntry(index, file_name, width, height, boxes, reviewed=negative))
    problems = []
    if unboxed:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(unboxed.items()))
        problems.append(f"{count(sum(unboxed.values()), 'shape')} that bound no object left out ({kinds})")
    if unread:
        problems.append(f"{count(len(unread), 'shape')} that could not be read left out (the first: {unread[0]})")
    if others:
        problems.append(f"{count(len(others), 'JSON file')} that {'is' if len(others) == 1 else 'are'} not labelme's passed over "
                        f"({first_names(others, 3)})")
    if not_utf8:
        problems.append(f"{count(len(not_utf8), 'JSON file')} not UTF-8 (labelme writes UTF-8) passed over ({first_names(not_utf8, 3)})")
    if turned:
        problems.append(f"{count(len(turned), 'image')} labelled in X-AnyLabeling on the stored pixels of an EXIF-turned photo (the first: "
                        f"{turned[0]}): {'its' if len(turned) == 1 else 'their'} boxes turned as the photo is shown")
    return LabelSet([Category(i, n) for n, i in ids.items()], labels), problems


def _image_name(image_path: object, rel_json: PurePosixPath, path: Path) -> str:
    """The image's path under the folder read: ``imagePath`` from the JSON file's folder; a full
    path, or one leaving the folder, is the image of that name beside the JSON file; none (a file
    holding its image in ``imageData``), an image of the JSON file's name beside it."""
    if not isinstance(image_path, str) or not image_path.strip():  # (a glob of the name took img1.jpg for img[1].json, a.b.jpg for a.json)
        beside = sorted((p.suffix.lower() != ".jpg", p.name) for p in path.parent.iterdir()
                        if p.stem == path.stem and p.suffix.lower() in IMAGE_SUFFIXES)
        return check_file_name((rel_json.parent / (beside[0][1] if beside else f"{path.stem}.jpg")).as_posix())
    text = image_path.strip().replace("\\", "/")
    windows = PureWindowsPath(image_path.strip())
    if windows.is_absolute() or text.startswith("/") or windows.drive:
        return check_file_name((rel_json.parent / windows.name).as_posix())
    joined = posixpath.normpath((rel_json.parent / text).as_posix())
    if joined == ".." or joined.startswith("../"):
        return check_file_name((rel_json.parent / PurePosixPath(text).name).as_posix())
    return check_file_name(joined)


@dataclass
class _Object:
    """A boxed shape of a labelme file, or the shapes of one ``group_id`` and label: the box around
    them, and the shapes as the file has them."""

    label: str
    corners: tuple[float, float, float, float]
    difficult: bool
    polygons: list | None
    shapes: list[dict]


def _objects(shapes: list, unboxed: Counter[str], unread: list[str], rel_json: str) -> list[_Object]:
    """The objects of a file's ``shapes``; shape kinds that bound no object are counted in
    ``unboxed``, shapes that cannot be read described in ``unread``."""
    objects: list[_Object] = []
    groups: dict[tuple[str, object], _Object] = {}
    for n, shape in enumerate(shapes, start=1):
        kind = (shape.get("shape_type") or "polygon") if isinstance(shape, dict) else None  # (labelme 3: polygons, no type)
        if isinstance(kind, str) and kind not in _BOXED:
            unboxed[kind] += 1
            continue
        try:
            label, corners, polygon = _read_shape(shape, kind, n)
            group = shape.get("group_id")
            if group is not None and (isinstance(group, bool) or not isinstance(group, (int, str))):
                raise LabelFormatError(f"shape {n} has a group_id that is no number or name: {group!r}")
        except LabelFormatError as exc:  # one shape past reading: it goes, the file's others stay
            unread.append(f"{rel_json}: {exc}")
            continue
        difficult = shape.get("difficult") is True  # (X-AnyLabeling's mark, VOC's "difficult")
        if group is not None and (label, group) in groups:  # one object in parts: one box around them
            o = groups[label, group]
            (a1, b1, a2, b2), (x1, y1, x2, y2) = o.corners, corners
            o.corners = (min(a1, x1), min(b1, y1), max(a2, x2), max(b2, y2))
            o.polygons = o.polygons + polygon if o.polygons is not None and polygon is not None else None
            # (difficult only when every part is: one part marked so made the whole object an ignored crowd region)
            o.difficult = o.difficult and difficult
            o.shapes.append(shape)
            continue
        objects.append(_Object(label, corners, difficult, polygon, [shape]))
        if group is not None:
            groups[label, group] = objects[-1]
    return objects


def _stored_pixels(data: dict) -> bool:
    """Whether a file is X-AnyLabeling's, whose shapes lie on an image's stored pixels (it ignores
    EXIF): told by the shape fields labelme does not write."""
    return any(isinstance(s, dict) and any(key in s for key in _X_ANYLABELING_KEYS) for s in data["shapes"])


def _side(value: object) -> int:
    """An image side as labelme writes it; 0 (read from the image) when missing or not a size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return 0
    return int(value)


def _read_shape(shape: object, kind: str | None, n: int) -> tuple[str, tuple[float, float, float, float], list | None]:
    """A shape's label, bounding box (x1, y1, x2, y2) and polygon as COCO writes one (polygons,
    rotated and oriented rectangles; None for the others)."""
    if kind is None:
        raise LabelFormatError(f"shape {n} is not an object")
    if not isinstance(kind, str):
        raise LabelFormatError(f"shape {n} has a shape_type that is no name: {kind!r}")
    label = shape.get("label")
    if not isinstance(label, str) or not label.strip():
        raise LabelFormatError(f"shape {n} has no label")
    points = shape.get("points")
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        raise LabelFormatError(f"shape {n} ({kind}) has no list of [x, y] points")
    try:
        xy = [(float(x), float(y)) for x, y in points]
    except (TypeError, ValueError):
        raise LabelFormatError(f"shape {n} ({kind}) has a point that is not two numbers") from None
    if len(xy) < _BOXED[kind]:
        raise LabelFormatError(f"shape {n} ({kind}) has {count(len(xy), 'point')}, fewer than {_BOXED[kind]}")
    xs, ys = [x for x, _ in xy], [y for _, y in xy]
    if kind == "circle":  # the centre, then a point on the circle
        (cx, cy), (px, py) = xy[0], xy[1]
        r = math.hypot(px - cx, py - cy)
        corners = (cx - r, cy - r, cx + r, cy + r)
    elif kind == "mask":  # its pixels' first and last column and row (its PNG lies over them): the box ends past the last
        corners = (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
    else:
        corners = (min(xs), min(ys), max(xs), max(ys))
    if not pixel_values_ok(*corners):
        raise LabelFormatError(f"shape {n} ({kind}) has a point that is not a finite number of pixels")
    if corners[2] <= corners[0] or corners[3] <= corners[1]:  # (the COCO file's self-check then refused the whole folder)
        raise LabelFormatError(f"shape {n} ({kind}) has no width or height")
    polygon = [[v for point in xy for v in point]] if kind in _POLYGONS else None
    return label.strip(), tuple(round(v, 6) for v in corners), polygon


def _shown(shapes: list, image: Path, width: int, height: int) -> tuple[list, int, int, bool]:
    """X-AnyLabeling's shapes, made on the stored pixels of ``image``, on the image as shown (EXIF
    orientation applied); the image's size as shown; whether anything was turned. An image that
    cannot be read keeps them as they are."""
    turning = _turning(image, width, height)
    if turning is None:
        return shapes, width, height, False
    point, box, (shown_w, shown_h) = turning
    turned = []
    for label, corners, difficult, polygons in shapes:
        if polygons is not None:
            polygons = [[v for k in range(0, len(p), 2) for v in point(p[k], p[k + 1])] for p in polygons]
        turned.append((label, tuple(round(v, 6) for v in box(*corners)), difficult, polygons))
    return turned, shown_w, shown_h, True


def _turning(image: Path, width: int, height: int):
    """For a file of X-AnyLabeling's giving ``image`` the size ``width`` x ``height``: how its
    points and boxes on the stored pixels move onto the image as shown, and the size shown
    (``(point, box, (w, h))``); None when they stay (no EXIF turn, made on the photo as shown,
    an image that cannot be read)."""
    try:
        shown_w, shown_h, orientation = image_header(image)
    except ImageReadError:
        return None
    if orientation == 1:
        return None
    stored_w, stored_h = (shown_h, shown_w) if orientation in (5, 6, 7, 8) else (shown_w, shown_h)
    if (width, height) == (shown_w, shown_h) != (stored_w, stored_h):  # made on the photo as shown (a file saved from labelme)
        return None

    def point(x: float, y: float) -> tuple[float, float]:
        return stored_to_shown(x, y, x, y, stored_w, stored_h, orientation)[:2]

    def box(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
        return stored_to_shown(x1, y1, x2, y2, stored_w, stored_h, orientation)

    return point, box, (shown_w, shown_h)


def write_labelme(labels: LabelSet, folder: Path | str, cancel: CancelToken | None = None, *,
                  images: Path | str, target: Path | str | None = None) -> None:
    """One labelme file per image with boxes or reviewed as a negative (:func:`core.formats.writes_label_file`)
    at ``folder/<file_name without suffix>.json``, each written atomically, for the files to lie at
    the same place under ``target`` (default ``folder``): ``imagePath`` leads from there to the image
    under ``images``, whose size as shown the points are in (labelme's way; X-AnyLabeling shows a
    photo as stored). A box is a rectangle clipped to its image, one wholly outside left out; a box
    inside its image with polygons that bound it exactly (an import's) is written as them, several
    as one ``group_id``. Crowd regions are left out: labelme has no form for them (a rectangle read
    back was an object to train on).

    A labelme file of the image already at ``target`` keeps what this writer would not write as it
    was: its shapes that bound no object (points, lines) or could not be read, its image flags and
    other fields, and the shapes of each box that has not changed (a circle stays a circle, a
    shape's description and flags stay, an X-AnyLabeling box marked "difficult" stays so); its
    points and lines are scaled with the boxes when it was made at another size, and an
    X-AnyLabeling file on the stored pixels of an EXIF-turned photo has them turned as the photo
    is shown. A file there that is not a labelme file of that image is refused
    (:class:`~core.formats.LabelFormatError`), as nothing is written over it."""
    folder, images = Path(folder), Path(images)
    target = Path(target) if target is not None else folder
    names = labels.category_names()
    for im, rel in zip(labels.images, label_file_names([im.file_name for im in labels.images], ".json")):
        if not writes_label_file(im, "labelme") and not keeps_crowd(target / rel, im, names, images):
            continue
        if cancel is not None:
            cancel.raise_if_cancelled()  # the files written so far stay, each one whole
        before = _labelme_file_there(target / rel, im, images)
        next_group = before.next_group
        shapes = []
        written = {id(box) for box in written_boxes(im, "labelme")}
        for box in im.boxes:  # (in the labels' order: a file exported unchanged is written as it was)
            if box.iscrowd:  # a crowd region the file marks "difficult", unchanged: kept so
                shapes += before.unchanged(names[box.category_id], box) or []
                continue
            if id(box) not in written:
                continue
            unchanged = before.unchanged(names[box.category_id], box)
            if unchanged is not None:
                shapes += unchanged
                continue
            polygons = _bounding_polygons(box, im.width, im.height)
            if polygons is None:
                x1, y1, x2, y2 = box.x1, box.y1, box.x2, box.y2
                if im.width > 0 and im.height > 0:
                    x1, x2 = max(0.0, x1), min(float(im.width), x2)
                    y1, y2 = max(0.0, y1), min(float(im.height), y2)
                shapes.append(_shape(names[box.category_id], [[x1, y1], [x2, y2]], "rectangle", None))
                continue
            group = None
            if len(polygons) > 1:
                group, next_group = next_group, next_group + 1
            shapes += [_shape(names[box.category_id], [[p[k], p[k + 1]] for k in range(0, len(p), 2)], "polygon", group) for p in polygons]
        write_text(folder / rel, json_text({
            **before.fields, "version": WRITTEN_VERSION, "flags": before.flags, "shapes": shapes + before.kept,
            "imagePath": _image_path(images / im.file_name, (target / rel).parent), "imageData": None,
            "imageHeight": im.height, "imageWidth": im.width}))


def images_led_to(folder: Path) -> Path | None:
    """The image folder the ``imagePath`` of the first labelme file under ``folder`` leads to, when
    it leads out of ``folder`` to an image that is there (a labelme export elsewhere): the folder to
    give as the images' (it is read as the image of that name beside the file); None otherwise."""
    first = next(((path, data) for path in sorted(visible_files(folder, "*.json")) if (data := parsed_labelme(path)) is not None), None)
    if first is None:
        return None
    path, data = first
    image_path = data.get("imagePath")
    if not isinstance(image_path, str) or not image_path.strip():
        return None
    image = (path.parent / image_path.strip().replace("\\", "/")).resolve()
    if not image.is_file() or image.is_relative_to(folder.resolve()):
        return None
    root = image.parent
    for part in reversed(path.parent.relative_to(folder).parts):  # (a file in sub/ leads to images/sub/a.jpg: the images' folder is images/)
        if root.name != part:
            return None
        root = root.parent
    return root


def keeps_crowd(path: Path, image: ImageEntry, names: dict[int, str], images: Path) -> bool:
    """Whether the labelme file at ``path`` marks "difficult" (X-AnyLabeling's) a crowd region of
    ``image`` as it is now: written over, it keeps it (labelme has no other form for one)."""
    crowd = [box for box in image.boxes if box.iscrowd]
    if not crowd or not path.exists():
        return False
    try:
        before = _labelme_file_there(path, image, images)
    except LabelFormatError:
        return False
    return any(before.holds(names[box.category_id], box) for box in crowd)


def remove_boxes(path: Path) -> None:
    """Take the boxes out of the labelme file at ``path`` (an image that has none now): it keeps its
    points, lines, shapes it could not read, flags and other fields, and goes when nothing else is
    left in it. One that is no labelme file now (changed since it was asked about) is left as it is."""
    if (data := parsed_labelme(path)) is None:
        return
    kept = _others(data["shapes"], _objects(data["shapes"], Counter(), [], path.name))
    if kept or _flagged(data):
        write_text(path, json_text({**data, "shapes": kept}))
    else:
        path.unlink(missing_ok=True)


def _flagged(data: dict) -> bool:
    """Whether a labelme file sets a flag of the whole image (a class of it; labelme's ``__ignore__`` is none)."""
    flags = data.get("flags") if isinstance(data.get("flags"), dict) else {}
    return any(value is True for key, value in flags.items() if key != "__ignore__")


def holds_boxes(path: Path, image_name: str) -> bool:
    """Whether ``path`` is a labelme file of the image named ``image_name`` that says anything of
    its boxes: a box's shape, or none at all (a negative)."""
    data = parsed_labelme(path)
    if data is None or not names_image(data, path, image_name):
        return False
    return not data["shapes"] or bool(_objects(data["shapes"], Counter(), [], path.name))


def _others(shapes: list, objects: list[_Object]) -> list:
    """The shapes of a file that are no part of its ``objects``: points and lines, which bound no
    object, and shapes that cannot be read (not this writer's to drop)."""
    in_objects = {id(shape) for o in objects for shape in o.shapes}
    return [shape for shape in shapes if id(shape) not in in_objects]


def parsed_labelme(path: Path) -> dict | None:
    """The labelme file at ``path``, parsed; None when it is none (or cannot be read)."""
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if is_labelme(data) else None


@dataclass
class _Before:
    """What a labelme file being written over keeps: its shapes that are no object of it, its image
    flags and other fields, and the shapes of its objects, to be written again where a box has not
    changed (by class and corners); the first ``group_id`` none of its shapes has."""

    kept: list
    flags: dict
    fields: dict
    objects: list[_Object]
    next_group: int

    def unchanged(self, label: str, box: Box) -> list[dict] | None:
        """The shapes of an object of the file that ``box`` (of class ``label``) is, unchanged (a
        crowd region a "difficult" one), taken from those left; None when there is none."""
        k = self._find(label, box)
        return None if k is None else self.objects.pop(k).shapes

    def holds(self, label: str, box: Box) -> bool:
        """Whether an object of the file is ``box`` (of class ``label``), unchanged."""
        return self._find(label, box) is not None

    def _find(self, label: str, box: Box) -> int | None:
        corners = tuple(round(v, 6) for v in (box.x1, box.y1, box.x2, box.y2))
        return next((k for k, o in enumerate(self.objects) if o.label == label and o.difficult == box.iscrowd and o.corners == corners),
                    None)


_WRITTEN_FIELDS = ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth")


def _labelme_file_there(path: Path, image: ImageEntry, images: Path) -> _Before:
    """What the labelme file at ``path`` keeps when the labels of ``image`` are written over it;
    nothing when there is no file there. Raises LabelFormatError when the file there is another."""
    if not path.exists():
        return _Before([], {}, {}, [], 1)
    data = parsed_labelme(path)
    if data is None:
        raise LabelFormatError(f"{path} is not a labelme file: it would be written over (the labelme file of {image.file_name}); "
                               "nothing was written")
    if not names_image(data, path, PurePosixPath(image.file_name).name):
        raise LabelFormatError(f"{path} is the labelme file of another image ({data.get('imagePath')}): it would be written over "
                               f"(the labelme file of {image.file_name}); nothing was written")
    shapes = data["shapes"]
    groups = [s.get("group_id") for s in shapes if isinstance(s, dict) and isinstance(s.get("group_id"), int)
              and not isinstance(s.get("group_id"), bool)]
    objects = _objects(shapes, Counter(), [], path.name)
    kept = _others(shapes, objects)
    width, height = _side(data.get("imageWidth")), _side(data.get("imageHeight"))
    turning = _turning(images / image.file_name, width, height) if _stored_pixels(data) else None
    move, dropped = None, ()
    if turning is not None:  # X-AnyLabeling's, on the stored pixels: written on the photo as shown, all of it, as labelme's
        move, objects, dropped = turning[0], [], _X_ANYLABELING_KEYS
    elif width and height and image.width and image.height and (width, height) != (image.width, image.height):
        sx, sy = image.width / width, image.height / height  # (made at another size: its boxes were scaled as they came in)
        move, objects = (lambda x, y: (x * sx, y * sy)), []
    if move is not None:  # (X-AnyLabeling's fields go from every shape: one left on a shape past reading turned the file again)
        kept = [shape if not isinstance(shape, dict) else
                {**{k: v for k, v in shape.items() if k not in dropped},
                 **({"points": [list(move(*xy)) for xy in shape["points"]]} if _point_list(shape.get("points")) else {})}
                for shape in kept]
    fields = {k: v for k, v in data.items() if k not in _WRITTEN_FIELDS}
    return _Before(kept, data["flags"] if isinstance(data.get("flags"), dict) else {}, fields, objects, max(groups, default=0) + 1)


def _point_list(points: object) -> bool:
    return isinstance(points, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p) for p in points)


def _image_path(image: Path, folder: Path) -> str:
    """``imagePath``: the way from ``folder`` to ``image``, with forward slashes (labelme on
    Windows reads them); the full path where none leads there (another drive)."""
    try:
        return os.path.relpath(os.path.abspath(image), os.path.abspath(folder)).replace(os.sep, "/")
    except ValueError:
        return os.path.abspath(image)


def _shape(label: str, points: list, kind: str, group: int | None) -> dict:
    return {"label": label, "points": points, "group_id": group, "description": "", "shape_type": kind, "flags": {}, "mask": None}


def _bounding_polygons(box: Box, width: int, height: int) -> list[list[float]] | None:
    """The box's polygons (COCO's form: flat lists of x, y) when they bound it exactly and it lies
    in its image, else None (a mask, none, polygons a COCO file's box differs from by a hundredth
    of a pixel: read back, they would be another box)."""
    polygons = box.segmentation
    if not (isinstance(polygons, list) and polygons and all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in polygons)):
        return None
    try:
        xs = [float(v) for p in polygons for v in p[0::2]]
        ys = [float(v) for p in polygons for v in p[1::2]]
    except (TypeError, ValueError):
        return None
    bounds = tuple(round(v, 6) for v in (min(xs), min(ys), max(xs), max(ys)))
    if bounds != tuple(round(v, 6) for v in (box.x1, box.y1, box.x2, box.y2)):
        return None
    if width > 0 and height > 0 and (bounds[0] < 0 or bounds[1] < 0 or bounds[2] > width or bounds[3] > height):
        return None  # (clipped, it is a rectangle)
    return [[float(v) for v in p] for p in polygons]


def names_image(data: dict, path: Path, image_name: str) -> bool:
    """Whether the labelme file ``data`` (read from ``path``) labels the image named ``image_name``:
    its ``imagePath`` ends in that name, or it has none and is named after it."""
    image_path = data.get("imagePath")
    if not isinstance(image_path, str) or not image_path.strip():
        return PurePosixPath(image_name).stem == path.stem
    return PureWindowsPath(image_path.strip()).name == image_name
