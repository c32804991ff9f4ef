"""The label data model shared by the GUI, the formats and training: plain dataclasses, no I/O.

Boxes are xyxy floats in the pixels of the EXIF-oriented image. Ids are kept as they came from the
source (0-based Roboflow ids, COCO's 1..90 category ids, 64-bit annotation ids); writers renumber
where a format requires it.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    supercategory: str = ""
    color: str = ""  # "#rrggbb" chosen in the GUI; empty: a colour derived from the id


@dataclass(frozen=True)
class Box:
    x1: float
    y1: float
    x2: float
    y2: float
    category_id: int
    iscrowd: bool = False
    id: int | None = None
    # As read from the source annotation, never drawn or trained on, and written back while the
    # box keeps its corners (resized_box drops what would no longer fit): polygons / RLE, and
    # fields retina-gui does not use ("area", "attributes", …).
    segmentation: Any = None
    extra: dict[str, Any] | None = None

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1


@dataclass
class ImageEntry:
    id: int
    file_name: str  # POSIX path relative to the image root
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    reviewed: bool = False  # a person confirmed the boxes (an image reviewed with none is a negative)
    extra: dict[str, Any] = field(default_factory=dict)  # fields of the source retina-gui does not use ("license", …), written back
    # the id as the source file spelled it, when that was text ("12"): results scored against that
    # file must name the image so (pycocotools refused results whose image_id was the number 12)
    id_as_written: str | None = None


@dataclass
class LabelSet:
    categories: list[Category]
    images: list[ImageEntry]
    extra: dict[str, Any] = field(default_factory=dict)  # top-level fields of the source ("info", "licenses", …), kept on export

    def category_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.categories}

    def box_counts(self) -> dict[int, int]:
        """Number of non-crowd boxes per category id (0 for unused categories)."""
        counts = {c.id: 0 for c in self.categories}
        for image in self.images:
            for box in image.boxes:
                if not box.iscrowd:
                    counts[box.category_id] = counts.get(box.category_id, 0) + 1
        return counts

    def subset(self, image_ids: set[int]) -> LabelSet:
        return LabelSet(self.categories, [im for im in self.images if im.id in image_ids], self.extra)

    def with_files(self, file_names: Iterable[str]) -> LabelSet:
        """The same labels for the images among ``file_names`` only (those still in the folder, say)."""
        keep = set(file_names)
        return LabelSet(self.categories, [im for im in self.images if im.file_name in keep], self.extra)

    def without_empty_classes(self) -> LabelSet:
        """The same labels without the categories that have no (non-crowd) box."""
        counts = self.box_counts()
        return LabelSet([c for c in self.categories if counts.get(c.id)], self.images, self.extra)

    def split(self, fraction: float, seed: int) -> tuple[LabelSet, LabelSet]:
        """(train, held out): a seeded shuffle of the image ids; with 2+ images the training side is
        never empty. A held-out image that has the only boxes of a class goes back to training (a
        class no training image shows would be left out of the model), so the held-out side can
        be smaller than ``fraction``, or empty."""
        import random

        ids = sorted(im.id for im in self.images)
        random.Random(seed).shuffle(ids)
        n_val = min(max(1, round(len(ids) * fraction)), max(len(ids) - 1, 1))
        train, held = set(ids[n_val:]), ids[:n_val]
        by_id = {im.id: im for im in self.images}
        taught = {b.category_id for i in train for b in by_id[i].boxes if not b.iscrowd}
        for i in held:
            missing = {b.category_id for b in by_id[i].boxes if not b.iscrowd} - taught
            if missing:
                train.add(i)
                taught |= missing
        return self.subset(train), self.subset({i for i in held if i not in train})


# the names of a torchvision COCO head's rows that are no category (row 0, and the 11 ids COCO left
# unused): they are kept, so that row k stays category k, but no list, note or filter shows them
PLACEHOLDER_CLASSES = frozenset({"__background__", "N/A"})


def placeholder_rows(class_names: Sequence[str]) -> set[int]:
    """The rows of a model's classes that are no classes: those of a COCO head (row 0 named
    "__background__") named as placeholders. A class of the user's own named "N/A" is a class."""
    if not class_names or class_names[0] != "__background__":
        return set()
    return {k for k, name in enumerate(class_names) if name in PLACEHOLDER_CLASSES}


def class_name_key(name: str) -> str:
    """What two class names must differ in to be two classes: case, Unicode spelling and spaces
    around the name do not count. Everything that matches classes by name (import, accepting
    predictions, fine-tuning's kept head rows, evaluation) compares these keys."""
    return unicodedata.normalize("NFC", name.strip()).casefold()


def kept_class_rows(head: Sequence[Any], classes: Sequence[Any]) -> dict[int, int]:
    """{index in ``classes``: index in ``head``} of the classes whose trained class-head rows a
    fine-tune keeps (both sides' items have ``id`` and ``name``: a checkpoint's ClassInfo, the labels'
    Category): the same name, as :func:`class_name_key` compares them; else the same id, for a class
    renamed in the window (which keeps its id: renamed, it was learnt from scratch) — where the ids are
    evidently of the same labels (every class matched by name has its id on both sides), and the
    head's class of that id has a name no class has now. A COCO head's placeholder rows keep none."""
    by_key = {class_name_key(c.name): i for i, c in enumerate(head)}
    keep = {j: by_key[key] for j, c in enumerate(classes) if (key := class_name_key(c.name)) in by_key}
    if keep and all(head[i].id == classes[j].id for j, i in keep.items()):
        names_now = {class_name_key(c.name) for c in classes}
        by_id = {c.id: i for i, c in enumerate(head)}
        used = set(keep.values()) | placeholder_rows([c.name for c in head])
        for j, c in enumerate(classes):
            i = by_id.get(c.id)
            if j not in keep and i is not None and i not in used and class_name_key(head[i].name) not in names_now:
                keep[j] = i
                used.add(i)
    return keep


@dataclass(frozen=True)
class FileNameMatch:
    """How :func:`matched_by_file_name` placed a labels file's names that are no image here."""

    renamed: dict[str, str]  # the name in the labels file -> the image here it is
    ambiguous: dict[str, list[str]]  # a name that ends as several images here do -> those images
    contested: dict[str, str]  # a name whose one image here another name of the file takes too -> that image


def matched_by_file_name(file_names: Iterable[str], present: set[str], folder: Path) -> FileNameMatch:
    """For the ``file_names`` of a labels file that are not among the folder's images ``present``
    (paths under ``folder``), the image whose path ends as the name does in the most parts that
    one image alone ends with: ``/mnt/old/set/sub/a.jpg`` is ``sub/a.jpg`` also beside
    ``sub2/a.jpg`` (the file name alone matched none of them, nor did the folder prefix of a COCO
    file written elsewhere, ``train/a.jpg`` for ``a.jpg``). A name two images end as equally is
    ambiguous; two names taking one image take none, nor does a name whose image the file names as
    it is (two entries' boxes went onto one image). Windows separators count as separators. A
    name that is a file under the folder, only not listed (a subfolder's, with subfolders left
    out), is that file: not another."""
    endings: dict[tuple[str, ...], list[str]] = {}
    for name in present:
        parts = PurePosixPath(name).parts
        for k in range(1, len(parts) + 1):
            endings.setdefault(parts[-k:], []).append(name)
    found: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    taken: Counter[str] = Counter()
    for name in file_names:
        if name in present:
            taken[name] += 1
            continue
        parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", ".."))
        candidates = next((endings[parts[-k:]] for k in range(len(parts), 0, -1) if parts[-k:] in endings), [])
        if not candidates or unlisted_image(name, folder):  # (looked for on disk only when an image could take it)
            continue
        if len(candidates) == 1:
            found[name] = candidates[0]
        else:
            ambiguous[name] = sorted(candidates)
    taken.update(found.values())
    return FileNameMatch({n: image for n, image in found.items() if taken[image] == 1}, ambiguous,
                         {n: image for n, image in found.items() if taken[image] > 1})


def unlisted_image(file_name: str, folder: Path) -> bool:
    """Whether ``file_name`` (as a labels file gives it) is a file under ``folder``."""
    path = PurePosixPath(file_name)
    return not path.is_absolute() and ".." not in path.parts and (folder / path).is_file()


def same_named_pair(categories: Iterable[Category]) -> tuple[Category, Category] | None:
    """The first two categories whose names are one as class names are compared ("a" and "A "), or None."""
    seen: dict[str, Category] = {}
    for category in categories:
        other = seen.setdefault(class_name_key(category.name), category)
        if other is not category:
            return other, category
    return None


def same_named_categories(categories: Iterable[Category]) -> str | None:
    """Why these categories cannot be trained or scored as they are ("a" and "A ": one class to a
    model matching by name, two to the labels), or None when every name is its own class."""
    if (pair := same_named_pair(categories)) is None:
        return None
    first, second = pair
    return (f"categories {first.id} ({first.name!r}) and {second.id} ({second.name!r}) have the same name (as class "
            "names are compared): merge or rename one")


def group_categories(categories: Iterable[Category]) -> set[int]:
    """Ids of the categories that name a group of others: another category has it as its
    supercategory (Roboflow exports their project's name so, as class 0, with no boxes of its own)."""
    categories = list(categories)
    under: dict[str, set[int]] = {}  # supercategory -> the ids of the categories it groups
    for c in categories:
        if c.supercategory:
            under.setdefault(class_name_key(c.supercategory), set()).add(c.id)
    return {c.id for c in categories if under.get(class_name_key(c.name), set()) - {c.id}}


def integer_id(value: Any, what: str) -> int:
    """An id as a JSON file gives it: an integer (100.0 is 100); 100.5 or true are no ids (int()
    made them 100 and 1)."""
    if type(value) is int:  # (the usual case, first: a labels file has one per box)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{what} {value!r} is not an integer id")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an integer id") from None


def category_name(entry: dict[str, Any], kind: str = "category") -> str:
    """A class name as a JSON file gives it: text that is not blank (null became a class "None",
    and "" a class of no name)."""
    name = entry["name"]
    if not isinstance(name, (str, int, float)) or isinstance(name, bool) or not str(name).strip():
        raise ValueError(f"{kind} id {entry['id']} has name {name!r}, not a class name")
    return str(name)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): what a number field of a JSON file must hold. An int past
    a float's range is none (a 400-digit "area" raised OverflowError in training's validation)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def category_of_class(class_names: list[str], categories: Iterable[Category]) -> dict[int, int]:
    """{model class index: label category id}, one to one, for the classes both sides have: the
    same name, else the same :func:`class_name_key` where that key names one class on each side
    (a file may hold both "Car" and "car"; neither is then guessed). Ids of the same classes differ
    between exports (a VOC → COCO round trip renumbers them): names are what match."""
    categories = list(categories)
    by_name = {c.name: c.id for c in categories}
    out = {k: by_name[n] for k, n in enumerate(class_names) if n in by_name}
    taken = set(out.values())
    keys = Counter(class_name_key(n) for n in class_names)
    category_keys = Counter(class_name_key(c.name) for c in categories)
    by_key = {class_name_key(c.name): c.id for c in categories if c.id not in taken}
    for k, n in enumerate(class_names):
        key = class_name_key(n)
        if k not in out and keys[key] == 1 and category_keys[key] == 1 and key in by_key:
            out[k] = by_key[key]
    return out
