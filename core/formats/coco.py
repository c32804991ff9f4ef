"""COCO detection JSON: reading (tolerant) and writing (strict, free of the usual export traps)."""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.atomic import atomic_path, parse_json
from core.cancel import Cancelled, CancelToken
from core.formats import MAX_PIXELS, LabelFormatError, side_in_pixels
from core.labels import Box, Category, ImageEntry, LabelSet, category_name, integer_id, is_number
from core.text import count


def read_coco(path: Path | str) -> LabelSet:
    """Read a COCO detection file. Keeps ids as they are (0-based, non-contiguous, 64-bit), crowd
    regions as ``iscrowd`` boxes, every box's polygon / RLE, and the fields it does not use (top
    level, images, annotations), so that writing the file back loses nothing another tool put there."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.json"))
        hint = f" (it has {', '.join(found[:3])})" if found else ""
        raise LabelFormatError(f"{path} is a folder: give the COCO JSON file{hint}")
    if path.exists() and not path.is_file():  # a named pipe: reading it waited forever
        raise LabelFormatError(f"{path} is not a regular file (a pipe or a device): give the COCO JSON file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # (a byte-order mark, as Windows tools write, is no error)
        data = parse_json(text)
    except FileNotFoundError:
        raise LabelFormatError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelFormatError(f"{path}: not valid JSON ({exc})") from None
    except ValueError as exc:  # (nested too deeply)
        raise LabelFormatError(f"{path}: not a COCO detection file ({exc})") from None
    # json.dumps of a name os.listdir decoded from another encoding ("caf\udce9.jpg"): read, no UTF-8
    # file could be written back from it, and every save of the labels failed. The text is searched
    # first (fast); the strings read are the judge ("C:\\udf12" is a backslash and text).
    if "\\u" in text and _LONE_SURROGATE.search(text) and (bad := _unencodable(data)) is not None:
        raise LabelFormatError(f"{path}: holds text that is not valid Unicode ({bad!r}, as a script writes a file name in "
                               "another encoding): rename that image to a UTF-8 name and fix the file")
    if not isinstance(data, dict):
        raise LabelFormatError(f"{path}: not a COCO detection file (the top level is a {type(data).__name__}, not an object with \"images\")")
    try:
        return _parse(data)
    except ValueError as exc:  # (ours, each naming what is wrong)
        raise LabelFormatError(f"{path}: not a COCO detection file ({exc})") from None
    except (KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise LabelFormatError(f"{path}: not a COCO detection file ({type(exc).__name__}: {exc})") from None


# a UTF-16 surrogate escape without its other half; a pair (an emoji, as ASCII-only writers put it) is text
_LONE_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                             r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _unencodable(value: Any) -> str | None:
    """The first string in ``value`` (a JSON document read) that UTF-8 cannot encode, if any."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _flag(value: Any, what: str) -> bool:
    """A 0/1 flag as files write it: 0, 1, true, false, "0", "1" ("0" is a string, so truthy: it made every box a crowd)."""
    if value in (0, 1) or value in ("0", "1"):
        return bool(int(value))
    raise ValueError(f"has {what} {value!r}, not 0 or 1")


def _listed(data: dict[str, Any], key: str) -> list[Any]:
    """The list a COCO file holds under ``key`` ("images" must be there; the others may be left out)."""
    if key not in data:
        if key == "images":
            from core.formats.labelme import is_labelme

            if is_labelme(data):  # (said "no images list": a labelme user did not know what else to give)
                raise ValueError("it is a labelme file, one image's: import its folder as labelme (retina convert --from labelme)")
            raise ValueError('it has no "images" list')
        return []
    if not isinstance(data[key], list):  # (a dict's keys were read as its entries: "string indices must be integers")
        raise ValueError(f'its "{key}" is {_kind(data[key])}, not a list')
    return data[key]


def _objects(data: dict[str, Any], key: str, what: str, needed: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """The entries of ``data[key]``, each an object with the ``needed`` fields ("KeyError: 'file_name'" named no entry)."""
    for entry in _listed(data, key):
        if not isinstance(entry, dict):
            raise ValueError(f'{what} in "{key}" is {_kind(entry)}, not an object')
        if missing := [field for field in needed if field not in entry]:
            raise ValueError(f'{what} in "{key}" has no "{missing[0]}": {json.dumps(entry)[:80]}')
        yield entry


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true or false", type(None): "null"}.get(type(value), "a number")


def _parse(data: dict[str, Any]) -> LabelSet:
    categories = [Category(integer_id(c["id"], "category id"), category_name(c), str(c.get("supercategory", "")), _color(c.get("color")))
                  for c in _objects(data, "categories", "a category", ("id", "name"))]
    known = {c.id for c in categories}
    if len(known) != len(categories):
        twice = min(i for i, n in Counter(c.id for c in categories).items() if n > 1)
        raise ValueError(f"category id {twice} appears twice")
    images: dict[int, ImageEntry] = {}
    by_name: dict[str, int] = {}
    for im in _objects(data, "images", "an image", ("id", "file_name")):
        # Windows tools write "sub\\a.jpg"; file names are POSIX paths everywhere else
        if not isinstance(im["file_name"], str) or not im["file_name"].strip():  # null became an image "None"
            raise ValueError(f"image id {im['id']} has file_name {im['file_name']!r}, not a file name")
        entry = ImageEntry(integer_id(im["id"], "image id"), _file_name(im["file_name"]),
                           side_in_pixels(im.get("width") or 0, f"image id {im['id']} has width"),
                           side_in_pixels(im.get("height") or 0, f"image id {im['id']} has height"),
                           reviewed=im.get("reviewed") is True, extra={k: v for k, v in im.items() if k not in _IMAGE_KEYS},
                           id_as_written=im["id"] if isinstance(im["id"], str) else None)
        if entry.id in images:
            raise ValueError(f"image id {entry.id} appears twice")
        if entry.file_name in by_name:
            raise ValueError(f"file_name {entry.file_name!r} appears twice (image ids {by_name[entry.file_name]} and {entry.id}): "
                             "merge those entries or point them at different files")
        images[entry.id] = entry
        by_name[entry.file_name] = entry.id
    problems: list[str] = []
    for ann in _listed(data, "annotations"):
        if not isinstance(ann, dict):
            problems.append(f"an annotation is {ann!r}, not an object")
            continue
        try:  # each problem names its annotation ("'NoneType' object is not iterable" named none)
            image = images.get(integer_id(ann["image_id"], "image_id"))
            if image is None:
                raise ValueError(f"refers to missing image {ann['image_id']}")
            category_id = integer_id(ann["category_id"], "category_id")
            if category_id not in known:
                raise ValueError(f"refers to missing category {ann['category_id']}")
            bbox = ann["bbox"]
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                raise ValueError(f"has bbox {bbox!r}, not [x, y, width, height]")
            x, y, w, h = map(float, bbox)
            x2, y2 = x + w, y + h
            # (pixel_values_ok, inline: a file has one per box; NaN and infinity fail the comparisons)
            if not (-MAX_PIXELS <= x <= MAX_PIXELS and -MAX_PIXELS <= y <= MAX_PIXELS and -MAX_PIXELS <= x2 <= MAX_PIXELS
                    and -MAX_PIXELS <= y2 <= MAX_PIXELS) or w < 0 or h < 0:
                raise ValueError(f"has bbox {bbox}: not finite, beyond {MAX_PIXELS:.0e} pixels, or a negative width or height")
            crowd = _flag(ann.get("iscrowd", 0), "iscrowd")
        except KeyError as exc:
            problems.append(f"annotation {ann.get('id')} has no {exc.args[0]!r}")
            continue
        except (TypeError, ValueError, OverflowError) as exc:
            problems.append(f"annotation {ann.get('id')} {exc}")
            continue
        extra = {k: v for k, v in ann.items() if k not in _ANNOTATION_KEYS}
        ann_id = ann.get("id")
        if isinstance(ann_id, float) and ann_id.is_integer():  # 5.0 is the id 5, kept when written, not renumbered
            ann_id = int(ann_id)
        if not isinstance(ann_id, int) or isinstance(ann_id, bool):  # a list or "a1": renumbered when written (a list stopped every save)
            ann_id = None
        image.boxes.append(Box(x, y, x2, y2, category_id, crowd, ann_id, ann.get("segmentation") or None, extra or None))
    if problems:
        raise ValueError(f"{len(problems)} broken annotations, first: {problems[0]}")
    extra = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    return LabelSet(categories, list(images.values()), extra)


# What the reader turns into fields of its own; everything else of an image or annotation is kept
# as it is and written back (another tool's "license", "attributes", a polygon's "area").
_IMAGE_KEYS = frozenset(("id", "file_name", "width", "height", "reviewed"))
_ANNOTATION_KEYS = frozenset(("id", "image_id", "category_id", "bbox", "iscrowd", "segmentation"))


def _file_name(name: Any) -> str:
    """A stored file name as the folder scan spells it: POSIX separators ("sub\\a.jpg" from
    Windows tools), no "./" or "a/../" detours (else the labels would not attach to the image)."""
    name = str(name).replace("\\", "/")
    norm = posixpath.normpath(name)
    return name if norm == "." else norm


def _color(value: Any) -> str:
    return value if isinstance(value, str) and len(value) == 7 and value.startswith("#") else ""


def inside_folder(name: str) -> bool:
    """Whether a ``file_name`` is a relative path inside the image root (else writing fails)."""
    try:
        check_file_name(name)
    except LabelFormatError:
        return False
    return True


def check_file_name(name: str) -> str:
    """A COCO ``file_name`` must be a relative POSIX path inside the image root."""
    norm = posixpath.normpath(name.replace("\\", "/"))
    drive = len(norm) >= 2 and norm[1] == ":" and norm[0].isascii() and norm[0].isalpha()  # C:..., not "12:00:00.png"
    if norm.startswith("/") or norm == ".." or norm.startswith("../") or drive:
        raise LabelFormatError(f"file_name {name!r} is not a relative path inside the image folder")
    return norm


def _clean(value: float) -> float:
    """``value`` without float noise: a width from corners stored to 1/100 px came out as
    110.21000000000004. Rounded to 1e-6 px only where that moves it by noise alone (under 1e-10
    px): a file's own precise numbers (139.60175054704595) are written back, to the float noise of
    a width recomputed from corners (…598, 4e-11 px off)."""
    rounded = round(value, 6)
    return rounded if abs(rounded - value) <= 1e-10 else value


def to_coco_dict(labels: LabelSet) -> dict[str, Any]:
    """COCO dict with image ids as they are (results files and ``--coco`` runs refer to them) and
    stable annotation ids: a box keeps its id when it is >= 1 and unique; new boxes, and an id 0
    (pycocotools reads a matched id 0 as "unmatched": Roboflow's trap), take the next ids after the
    largest. xywh float boxes, ``area`` and ``iscrowd`` always written, every category kept with its
    id. A category's ``color`` and an image's ``reviewed`` flag (retina-gui's own fields; COCO
    readers ignore unknown keys) are written only when set. Fields read from the source and
    segmentations are written back (an edited box has dropped its polygon and area)."""
    images, annotations = [], []
    kept = {box.id for im in labels.images for box in im.boxes if isinstance(box.id, int) and box.id >= 1}
    next_id = max(kept, default=0)
    used: set[int] = set()
    for im in labels.images:
        image = {**im.extra, "id": im.id, "file_name": check_file_name(im.file_name), "width": im.width, "height": im.height}
        if im.reviewed:
            image["reviewed"] = True
        images.append(image)
        for box in im.boxes:
            if box.id in kept and box.id not in used:
                ann_id = box.id
            else:
                next_id += 1
                ann_id = next_id
            used.add(ann_id)
            w, h = _clean(box.width), _clean(box.height)
            ann = {**(box.extra or {}), "id": ann_id, "image_id": im.id, "category_id": box.category_id,
                   "bbox": [_clean(box.x1), _clean(box.y1), w, h], "iscrowd": int(box.iscrowd), "segmentation": box.segmentation or []}
            # a polygon's or mask's area is kept; a plain box's is its own ("area": 0 from another tool put it
            # in no size range of COCOeval's, and "big" failed pycocotools)
            if not (box.segmentation and is_number(ann.get("area")) and ann["area"] >= 0):
                ann["area"] = _clean(w * h)
            annotations.append(ann)
    categories = [{"id": c.id, "name": c.name, "supercategory": c.supercategory, **({"color": c.color} if c.color else {})}
                  for c in labels.categories]
    return {**labels.extra, "images": images, "annotations": annotations, "categories": categories}


def write_coco(labels: LabelSet, path: Path | str) -> None:
    """Write ``labels`` as compact COCO JSON, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for piece in _encode(to_coco_dict(labels)):
            f.write(piece)


_CHUNK = 2000  # list items per encoder call


def _encode(data: dict[str, Any]) -> Iterator[str]:
    """Compact JSON in pieces. json's C encoder (4-5x faster than indented output) holds the GIL
    for a whole call, so long lists are encoded in chunks: a background autosave of 100k boxes then
    never stalls the GUI thread for more than a few milliseconds at a time."""
    options = {"ensure_ascii": False, "separators": (",", ":")}
    yield "{"
    for k, (key, value) in enumerate(data.items()):
        yield ("," if k else "") + json.dumps(key) + ":"
        if isinstance(value, list) and len(value) > _CHUNK:
            yield "["
            for start in range(0, len(value), _CHUNK):
                yield ("," if start else "") + json.dumps(value[start : start + _CHUNK], **options)[1:-1]
            yield "]"
        else:
            yield json.dumps(value, **options)
    yield "}\n"


def verify_coco_file(path: Path | str, name: Path | str | None = None) -> None:
    """Load a written file with pycocotools and evaluate its boxes against themselves (score 1):
    AP must be exactly 1.0, else the file has one of the classic export bugs. Raises
    :class:`LabelFormatError` if not."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        anns = [a for a in gt.dataset["annotations"] if not a.get("iscrowd")]
        if not anns:
            return
        dt = gt.loadRes([{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0} for a in anns])
        ev = COCOeval(gt, dt, "bbox")
        most = max(len(gt.getAnnIds(imgIds=[i])) for i in gt.getImgIds())
        ev.params.maxDets = [1, 10, max(100, most)]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, -1]
    valid = precision[precision > -1]
    if not (valid > 1.0 - 1e-9).all():  # COCOeval's precision is tp / (tp + fp + eps)
        files = {im["id"]: im.get("file_name") for im in gt.dataset["images"]}
        flat = [a for a in anns if not (a["bbox"][2] > 0 and a["bbox"][3] > 0)]
        cause = ""
        if flat:
            a = flat[0]
            cause = (f"; {count(len(flat), 'box')} without width or height (they cannot match anything), the first in "
                     f"{files.get(a['image_id'])!r}: bbox {a['bbox']}")
        raise LabelFormatError(f"{name or path}: self-check failed: its boxes evaluated against themselves give AP {valid.mean():.6f}, not 1.0{cause}")


_CHECK_FAILED = 3  # the exit status of a child whose file failed verify_coco_file


def verify_coco_file_apart(path: Path | str, name: Path | str | None = None, cancel: CancelToken | None = None) -> None:
    """:func:`verify_coco_file` in a child process. pycocotools' JSON parse and evaluation hold the
    GIL for up to 0.4 s at a time on 100,000 boxes: in a thread of the window, they stalled it as
    long. Costs about 0.15 s to start. Raises :class:`LabelFormatError` as it does, also when the
    check cannot run; :class:`core.cancel.Cancelled` (the child stopped) when ``cancel`` is set."""
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])  # (the folder holding core/: the child imports it from there)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    child = subprocess.Popen([sys.executable, "-m", "core.formats.coco", str(path), str(name or path)], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            try:
                _, said = child.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled from None
    finally:
        if child.poll() is None:  # (cancelled, or interrupted: Ctrl+C)
            child.kill()
            child.wait()
    if child.returncode == _CHECK_FAILED:
        raise LabelFormatError(said.strip())
    if child.returncode:
        last = said.strip().splitlines()[-1] if said.strip() else f"exit status {child.returncode}"
        raise LabelFormatError(f"{name or path}: the self-check with pycocotools could not run ({last})")


if __name__ == "__main__":  # verify_coco_file_apart's child: python -m core.formats.coco FILE NAME
    import sys

    try:
        verify_coco_file(sys.argv[1], name=sys.argv[2])
    except LabelFormatError as exc:
        print(exc, file=sys.stderr)
        sys.exit(_CHECK_FAILED)
