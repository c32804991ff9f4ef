"""The annotation store: one folder's labels, the single source of truth that the canvas, the file
list, export and training read. Plain Python (no Qt, no torch); views subscribe to its change events.

Images are keyed by ``file_name`` (POSIX path relative to the image folder). An image gets an entry
the first time it is labelled or reviewed; entries read from a file stay even when their image is
missing from the folder, so nothing is dropped silently (see :meth:`AnnotationStore.missing`); an
image whose boxes the user deleted is written only if marked reviewed (see :meth:`to_labelset`).

The store is mutated only through the methods below, which the GUI's undo commands call; each
mutation returns what its inverse needs, so undo is exact.
"""

from __future__ import annotations

import enum
import os
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from core.formats import LabelFormatError
from core.formats.coco import read_coco, write_coco
from core.labels import Box, Category, ImageEntry, LabelSet, class_name_key

DEFAULT_FILE_NAME = "annotations.coco.json"
_KNOWN_FILE_NAMES = (DEFAULT_FILE_NAME, "_annotations.coco.json")  # ours, Roboflow's COCO export


def find_labels_file(folder: Path | str) -> Path:
    """The labels file of an image folder: an existing ``annotations.coco.json`` or Roboflow's
    ``_annotations.coco.json``, else where a new ``annotations.coco.json`` will be written."""
    folder = Path(folder)
    for name in _KNOWN_FILE_NAMES:
        if (folder / name).is_file():
            return folder / name
    return folder / DEFAULT_FILE_NAME


class ImageStatus(enum.Enum):
    UNLABELLED = "unlabelled"
    LABELLED = "labelled"
    PREDICTED = "predicted"
    REVIEWED = "reviewed"


@dataclass(frozen=True)
class ImagesChanged:
    """Boxes or the review flag of these images changed."""

    file_names: tuple[str, ...]


@dataclass(frozen=True)
class WaitingChanged:
    """These images' predictions began or stopped waiting for review (:attr:`AnnotationStore.predicted`):
    their status changed, no label did (nothing to save)."""

    file_names: tuple[str, ...]


@dataclass(frozen=True)
class CategoriesChanged:
    """The class list changed (added, removed, renamed, recoloured). Boxes that go or come back
    with a class are announced after it by an :class:`ImagesChanged` of their images."""


StoreEvent = ImagesChanged | CategoriesChanged | WaitingChanged


@dataclass(frozen=True)
class RemovedCategory:
    """What :meth:`AnnotationStore.remove_category` took away, for :meth:`~AnnotationStore.restore_category`."""

    index: int
    category: Category
    boxes: dict[str, list[tuple[int, Box]]]


@dataclass(frozen=True)
class MergedCategory:
    """What :meth:`AnnotationStore.merge_category` changed, for :meth:`~AnnotationStore.unmerge_category`."""

    index: int
    category: Category
    into: int
    boxes: dict[str, list[int]]  # per image, the boxes relabelled


class AnnotationStore:
    def __init__(self, labels: LabelSet | None = None) -> None:
        labels = labels or LabelSet([], [])
        self._categories: list[Category] = list(labels.categories)
        # the highest class id this store has held: a new class never takes a deleted one's id (copied boxes of the
        # class deleted were pasted as the new class, and exports before and after gave one id two meanings)
        self._highest_category_id = max((c.id for c in self._categories), default=0)
        self._images = {entry.file_name: _copy(entry) for entry in labels.images}
        self._last_image_id = max((e.id for e in self._images.values()), default=0)  # new images take the next (a max per new image made imports quadratic)
        # the source's entries without boxes (negatives, or a list of images to label): written as listed, whatever is
        # undone or redone on them; an entry the source gave boxes is written while it has boxes (or is reviewed)
        self._listed_empty = {name for name, e in self._images.items() if not e.boxes}
        self._extra = dict(labels.extra)
        self._listeners: list[Callable[[StoreEvent], None]] = []
        self.revision = 0  # bumped by every change; autosave compares it with the last saved one
        self.predicted: set[str] = set()  # images that have model predictions waiting for review (changed by the methods below)

    # --- reading -------------------------------------------------------------------------------
    @property
    def categories(self) -> tuple[Category, ...]:
        return tuple(self._categories)

    def category(self, category_id: int) -> Category:
        for c in self._categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def boxes(self, file_name: str) -> tuple[Box, ...]:
        entry = self._images.get(file_name)
        return tuple(entry.boxes) if entry else ()

    def entry(self, file_name: str) -> ImageEntry | None:
        return self._images.get(file_name)

    def file_names(self) -> list[str]:
        return list(self._images)

    def status(self, file_name: str) -> ImageStatus:
        entry = self._images.get(file_name)
        if entry is not None and entry.reviewed:
            return ImageStatus.REVIEWED
        if entry is not None and entry.boxes:
            return ImageStatus.LABELLED  # predictions over labels leave it labelled: amber marks images with no labels yet
        if file_name in self.predicted:
            return ImageStatus.PREDICTED
        return ImageStatus.UNLABELLED

    def missing(self, present: Iterable[str]) -> list[str]:
        """Labelled images whose file is not among ``present`` (kept in the store and on save)."""
        present = set(present)
        return sorted(name for name in self._images if name not in present)

    def size_mismatch(self, file_name: str, width: int, height: int) -> tuple[int, int] | None:
        """The stored (width, height) when it differs from the image's actual size, else None."""
        entry = self._images.get(file_name)
        if entry is None or (entry.width, entry.height) == (width, height):
            return None
        return entry.width, entry.height

    def box_counts(self) -> dict[int, int]:
        """Boxes per class id (crowd regions not counted)."""
        return LabelSet(self._categories, list(self._images.values())).box_counts()

    def next_category_id(self) -> int:
        """An id no class of this store has had (but one whose adding was undone)."""
        return self._highest_category_id + 1

    @property
    def highest_category_id(self) -> int:
        return self._highest_category_id

    def to_labelset(self) -> LabelSet:
        """A snapshot (boxes are immutable, lists are copied) for export, saving and training. An
        image that lost all its boxes here (also one the source gave boxes), or was marked reviewed
        and then not, is left out: written, it would be a negative example the user never made (an
        image emptied after a reopen was exported as "nothing here"). The source's own entries
        without boxes are written as they were listed."""
        entries = [_copy(e) for e in self._images.values() if self._written(e)]
        return LabelSet(list(self._categories), entries, dict(self._extra))

    def listed_without_boxes(self) -> list[str]:
        """The images the source listed without boxes that have none yet and are not reviewed:
        unlabelled here, though pycocotools (``retina eval``) scores them as negatives."""
        return sorted(n for n in self._listed_empty if (e := self._images.get(n)) is not None and not e.boxes and not e.reviewed)

    def _written(self, entry: ImageEntry) -> bool:
        return bool(entry.boxes or entry.reviewed or entry.file_name in self._listed_empty)

    def has_labels(self) -> bool:
        """Whether :meth:`to_labelset` holds anything: a class, or an image it writes."""
        return bool(self._categories) or any(self._written(e) for e in self._images.values())

    # --- events --------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[StoreEvent], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[StoreEvent], None]) -> None:
        self._listeners.remove(listener)

    def _changed(self, event: StoreEvent) -> None:
        self.revision += 1
        self._notify(event)

    def _notify(self, event: StoreEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # --- predictions waiting for review ---------------------------------------------------------
    def mark_predicted(self, file_names: Iterable[str]) -> list[str]:
        """These images' predictions wait for review; returns those that did not already."""
        added = [n for n in dict.fromkeys(file_names) if n not in self.predicted]
        if added:
            self.predicted.update(added)
            self._notify(WaitingChanged(tuple(added)))
        return added

    def leave_predicted(self, file_names: Iterable[str]) -> list[str]:
        """These images' predictions no longer wait for review; returns those that did."""
        left = [n for n in dict.fromkeys(file_names) if n in self.predicted]
        if left:
            self.predicted.difference_update(left)
            self._notify(WaitingChanged(tuple(left)))
        return left

    # --- boxes ---------------------------------------------------------------------------------
    def _entry_for_edit(self, file_name: str, size: tuple[int, int]) -> ImageEntry:
        entry = self._images.get(file_name)
        if entry is None:
            self._last_image_id = max(self._last_image_id + 1, 1)
            entry = self._images[file_name] = ImageEntry(self._last_image_id, file_name, size[0], size[1])
        return entry

    def insert_boxes(self, file_name: str, size: tuple[int, int], items: Iterable[tuple[int, Box]]) -> None:
        """Insert (index, box) pairs, in ascending index order; ``size`` is the oriented (width,
        height) of the image, used when this is its first label."""
        self._check_categories(box for _, box in items)
        entry = self._entry_for_edit(file_name, size)
        for index, box in sorted(items, key=lambda item: item[0]):
            entry.boxes.insert(index, box)
        self._changed(ImagesChanged((file_name,)))

    def append_boxes(self, file_name: str, size: tuple[int, int], boxes: Iterable[Box]) -> list[tuple[int, Box]]:
        """Append boxes; returns the (index, box) pairs for :meth:`remove_boxes` / :meth:`insert_boxes`."""
        boxes = list(boxes)
        start = len(self.boxes(file_name))
        items = [(start + i, box) for i, box in enumerate(boxes)]
        self.insert_boxes(file_name, size, items)
        return items

    def remove_boxes(self, file_name: str, indices: Iterable[int]) -> list[tuple[int, Box]]:
        """Remove boxes by index; returns the removed (index, box) pairs in ascending order."""
        entry = self._images[file_name]
        indices = sorted(set(indices))
        removed = [(i, entry.boxes[i]) for i in indices]
        for i in reversed(indices):
            del entry.boxes[i]
        self._changed(ImagesChanged((file_name,)))
        return removed

    def replace_boxes(self, file_name: str, items: Iterable[tuple[int, Box]]) -> list[tuple[int, Box]]:
        """Set boxes at the given indices; returns the previous (index, box) pairs."""
        items = list(items)
        self._check_categories(box for _, box in items)
        entry = self._images[file_name]
        previous = [(i, entry.boxes[i]) for i, _ in items]
        for i, box in items:
            entry.boxes[i] = box
        self._changed(ImagesChanged((file_name,)))
        return previous

    def set_reviewed(self, file_name: str, size: tuple[int, int], reviewed: bool) -> bool:
        """Set the review flag; returns the previous one."""
        entry = self._entry_for_edit(file_name, size)
        previous, entry.reviewed = entry.reviewed, reviewed
        self._changed(ImagesChanged((file_name,)))
        return previous

    def set_image_size(self, file_name: str, size: tuple[int, int], boxes: list[Box]) -> tuple[tuple[int, int], list[Box]]:
        """Give a labelled image a new (width, height) and boxes (its file was resized); returns
        the old ones."""
        entry = self._images[file_name]
        old = (entry.width, entry.height), list(entry.boxes)
        entry.width, entry.height = size
        entry.boxes[:] = boxes
        self._changed(ImagesChanged((file_name,)))
        return old

    def _check_categories(self, boxes: Iterable[Box]) -> None:
        known = {c.id for c in self._categories}
        for box in boxes:
            if box.category_id not in known:
                raise KeyError(f"no class with id {box.category_id}")

    # --- categories ----------------------------------------------------------------------------
    def add_category(self, category: Category, index: int | None = None) -> None:
        if any(c.id == category.id for c in self._categories):
            raise ValueError(f"class id {category.id} is taken")
        self.check_category_name(category.name)
        self._categories.insert(len(self._categories) if index is None else index, category)
        self._highest_category_id = max(self._highest_category_id, category.id)
        self._changed(CategoriesChanged())

    def update_category(self, category: Category) -> Category:
        """Replace the category with the same id (rename, recolour); returns the old one."""
        index = self._categories.index(self.category(category.id))
        old = self._categories[index]
        if category.name != old.name:
            self.check_category_name(category.name, renaming=category.id)
        self._categories[index] = category
        self._changed(CategoriesChanged())
        return old

    def remove_category(self, category_id: int) -> RemovedCategory:
        """Remove a class and every box of it."""
        category = self.category(category_id)
        index = self._categories.index(category)
        taken: dict[str, list[tuple[int, Box]]] = {}
        for name, entry in self._images.items():
            hits = [(i, b) for i, b in enumerate(entry.boxes) if b.category_id == category_id]
            if hits:
                taken[name] = hits
                entry.boxes[:] = [b for b in entry.boxes if b.category_id != category_id]
        del self._categories[index]
        self._changed(CategoriesChanged())
        if taken:
            self._changed(ImagesChanged(tuple(taken)))
        return RemovedCategory(index, category, taken)

    def take_back_category(self, category_id: int, highest_before: int) -> None:
        """Undo the adding of a class: its id may be given again, being nothing else's (a first class
        added, undone and added again was id 2)."""
        self.remove_category(category_id)
        self._highest_category_id = highest_before

    def restore_category(self, removed: RemovedCategory) -> None:
        self._categories.insert(removed.index, removed.category)
        for name, items in removed.boxes.items():
            for i, box in items:
                self._images[name].boxes.insert(i, box)
        self._changed(CategoriesChanged())
        if removed.boxes:
            self._changed(ImagesChanged(tuple(removed.boxes)))

    def merge_category(self, category_id: int, into: int) -> MergedCategory:
        """Relabel every box of one class as ``into``, and remove the class (a stray class of an
        export, two spellings of one class)."""
        if category_id == into:
            raise ValueError("a class cannot be merged into itself")
        category, _ = self.category(category_id), self.category(into)
        index = self._categories.index(category)
        moved: dict[str, list[int]] = {}
        for name, entry in self._images.items():
            hits = [i for i, b in enumerate(entry.boxes) if b.category_id == category_id]
            if hits:
                moved[name] = hits
                for i in hits:
                    entry.boxes[i] = replace(entry.boxes[i], category_id=into)
        del self._categories[index]
        self._changed(CategoriesChanged())
        if moved:
            self._changed(ImagesChanged(tuple(moved)))
        return MergedCategory(index, category, into, moved)

    def unmerge_category(self, merged: MergedCategory) -> None:
        self._categories.insert(merged.index, merged.category)
        for name, hits in merged.boxes.items():
            boxes = self._images[name].boxes
            for i in hits:
                boxes[i] = replace(boxes[i], category_id=merged.category.id)
        self._changed(CategoriesChanged())
        if merged.boxes:
            self._changed(ImagesChanged(tuple(merged.boxes)))

    def category_named(self, name: str) -> Category | None:
        """The class whose name is ``name`` as two class names compare (:func:`class_name_key`)."""
        key = class_name_key(name)
        return next((c for c in self._categories if class_name_key(c.name) == key), None)

    def check_category_name(self, name: str, renaming: int | None = None) -> None:
        """A new name must be visible, on one line, and differ from every other class's name by
        more than case or Unicode spelling ("Car" / "car", a composed / decomposed "é" look alike
        and would split one class in two). ``renaming``: the id of the class taking the name."""
        if not name.strip():
            raise ValueError("a class needs a name")
        if len(name) > MAX_CLASS_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
            raise ValueError(f"a class name is one line of at most {MAX_CLASS_NAME} characters")
        key = class_name_key(name)
        for c in self._categories:
            if c.id != renaming and class_name_key(c.name) == key:
                raise ValueError(f"there is already a class called “{c.name}”")


MAX_CLASS_NAME = 100


def clean_category_name(name: str) -> str:
    """A typed class name as stored: trimmed, Unicode in its composed form."""
    return unicodedata.normalize("NFC", name.strip())


def _copy(entry: ImageEntry) -> ImageEntry:
    """An entry with its own box list (boxes themselves are immutable)."""
    return replace(entry, boxes=list(entry.boxes))


def clamp_shift(corners: list[tuple[float, float, float, float]], dx: float, dy: float, size: tuple[int, int]) -> tuple[float, float]:
    """The shift (dx, dy) of a group of boxes (x1, y1, x2, y2), limited so that all stay inside
    an image of ``size`` (width, height)."""
    w, h = size
    dx = min(max(dx, -min(c[0] for c in corners)), w - max(c[2] for c in corners))
    dy = min(max(dy, -min(c[1] for c in corners)), h - max(c[3] for c in corners))
    return dx, dy


def resized_box(box: Box, x1: float, y1: float, x2: float, y2: float) -> Box:
    """``box`` with new corners, normalised so that x1 <= x2 and y1 <= y2. What was read with it
    and no longer fits new corners is dropped: an object's polygon and its "area" (a crowd region
    keeps its mask, which is what makes it a region)."""
    x1, y1, x2, y2 = min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
    if (x1, y1, x2, y2) == (box.x1, box.y1, box.x2, box.y2):
        return box
    extra = {k: v for k, v in box.extra.items() if k != "area"} if box.extra else None
    return replace(box, x1=x1, y1=y1, x2=x2, y2=y2, segmentation=box.segmentation if box.iscrowd else None, extra=extra or None)


def unwritable(path: Path | str) -> str:
    """Why the labels file ``path`` cannot be written ("" if it can): the file is read-only (no
    write permission for anyone says "do not change", even to root), or its folder is."""
    path = Path(path)
    if path.exists():
        if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
            return f"{path} is read-only"
    folder = path.resolve().parent
    if not folder.is_dir():  # (a dangling link's, or a typo's: "read-only" sent the user looking at permissions)
        return f"the folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is read-only"
    return ""


def read_store(path: Path | str) -> AnnotationStore:
    """The labels of a COCO file, or an empty store if it does not exist yet. Raises
    :class:`LabelFormatError` for a malformed file (which is then left untouched)."""
    path = Path(path)
    if not path.exists():
        return AnnotationStore()
    try:
        return AnnotationStore(read_coco(path))
    except OSError as exc:
        raise LabelFormatError(f"{path}: cannot read ({exc})") from None


def rescaled_boxes(boxes: Iterable[Box], old: tuple[int, int], new: tuple[int, int]) -> list[Box]:
    """Boxes made on an image of size ``old`` (width, height), on the same image resized to ``new``
    (an unknown old size, 0, leaves them as they are)."""
    if 0 in old:
        return list(boxes)
    sx, sy = new[0] / old[0], new[1] / old[1]
    return [resized_box(b, b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy) for b in boxes]


class AnnotationFileLocked(RuntimeError):
    """The labels file is open in another window or process."""


def save_failure(exc: BaseException) -> str:
    """Why a save failed, for the user: an OSError's or ValueError's own words (disk full, a name
    UTF-8 cannot hold), any other error with its kind (a program error is still said, not lost)."""
    if isinstance(exc, (OSError, ValueError)):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class LabelsChangedOnDisk(OSError):
    """Another program changed (or removed) the labels file since it was read or last written here."""


class AnnotationFile:
    """The COCO file that holds a folder's labels, held with a lock while open so that a second
    window or process cannot edit it at the same time. Saves are atomic (temp file + rename), and
    a save refuses to replace a file another program has changed since (the lock only keeps out
    retina-gui and retina; an editor or a script ignores it)."""

    def __init__(self, path: Path | str) -> None:
        from filelock import FileLock, Timeout

        self.path = Path(path)
        real = self.path.resolve()  # one lock per file, whatever link or relative path names it
        self.lock_path = real.with_name(f".{real.name}.lock")
        self._lock = FileLock(self.lock_path, timeout=0)
        self._write_lock = threading.Lock()
        self.written_revision = -1
        try:
            self._lock.acquire()
        except Timeout:
            raise AnnotationFileLocked(
                f"{self.path} is already open in another retina-gui window or process. "
                f"Close it there first (lock file: {self.lock_path})."
            ) from None
        except OSError as exc:
            raise AnnotationFileLocked(f"cannot lock {self.path}: {exc}") from None
        self._stamp = self._on_disk()

    def _on_disk(self) -> tuple[int, ...] | None:
        """What changes when the file is written, None while there is none."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino  # ctime: a rewrite that restored the mtime

    def load(self) -> AnnotationStore:
        return read_store(self.path)

    def save(self, store: AnnotationStore, *, overwrite: bool = False) -> int:
        """Write the store atomically; returns the revision that was saved."""
        revision = store.revision
        self.write(store.to_labelset(), revision, overwrite=overwrite)
        return revision

    def write(self, labels: LabelSet, revision: int, *, overwrite: bool = False) -> bool:
        """Write a snapshot taken at ``revision`` (from any thread). A snapshot older than the one
        already written is skipped, so that a slow background save can never overwrite a newer
        file. Returns whether it was written. Raises :class:`LabelsChangedOnDisk` when another
        program has changed the file since, unless ``overwrite``."""
        with self._write_lock:
            if revision <= self.written_revision:
                return False
            if not overwrite and self._on_disk() != self._stamp:
                raise LabelsChangedOnDisk(f"{self.path} was changed or removed by another program after retina-gui read it")
            write_coco(labels, self.path)
            self._stamp = self._on_disk()
            self.written_revision = revision
            return True

    def close(self) -> None:
        self._lock.release()

    def __enter__(self) -> AnnotationFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
