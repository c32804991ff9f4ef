"""The workspace: one open folder, its annotation store and labels file, the undo stack and autosave.

It turns the canvas's intents (a drawn rect, moved rects, a nudge) into undo commands on the store,
and the store's change events into Qt signals for the views. It is a QObject with no widgets.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shlex
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtGui import QUndoStack

from core.annotations import (
    AnnotationFile,
    AnnotationStore,
    CategoriesChanged,
    ImagesChanged,
    LabelsChangedOnDisk,
    StoreEvent,
    WaitingChanged,
    clamp_shift,
    clean_category_name,
    find_labels_file,
    read_store,
    rescaled_boxes,
    resized_box,
    save_failure,
    unwritable,
)
from core.formats import LabelFormatError
from core.formats.coco import inside_folder
from core.labels import Box, Category, LabelSet, class_name_key
from core.text import count
from retina_gui import commands
from retina_gui.convert import corners, same_place, stored_corners
from retina_gui.workers import LabelSaver


class Workspace(QObject):
    images_changed = Signal(list)  # file names whose boxes or review flag changed
    waiting_changed = Signal(list)  # file names whose predictions began or stopped waiting for review
    categories_changed = Signal()
    saved = Signal(str)  # a human-readable "saved at" message
    save_failed = Signal(str)
    changed_on_disk = Signal(str)  # another program changed the labels file: saving waits for save(overwrite=True)
    current_category_changed = Signal(int)

    AUTOSAVE_MS = 500  # the first unsaved edit is written at most this long after it was made

    def __init__(self, folder: Path, labels_path: Path, labels_file: AnnotationFile | None, store: AnnotationStore, *,
                 read_only_reason: str = "") -> None:
        """``labels_file`` None: read-only, for ``read_only_reason`` (the labels file could not be
        read, or cannot be written); nothing is written then. ``labels_path`` is the file either way."""
        super().__init__()
        self.folder = folder
        self.labels_path = labels_path
        self.labels_file = labels_file
        self.read_only_reason = read_only_reason if labels_file is None else ""
        self.store = store
        self.undo_stack = QUndoStack(self)
        self._step: list[commands.StoreCommand] | None = None  # commands done so far in the open _one_step
        self.current_category: int | None = self._first_used_category()
        self._displaced_category: int | None = None  # the current class until deleting it chose another
        self.clipboard: list[Box] = []
        self._saved_revision = store.revision
        self.changed_elsewhere = False  # the file changed under us; autosave stops until save(overwrite=True)
        self._autosave = QTimer(self, singleShot=True, interval=self.AUTOSAVE_MS)
        self._autosave.timeout.connect(self._save_in_background)
        self._saver: LabelSaver | None = None
        if labels_file is not None:
            self._saver = LabelSaver(labels_file)
            self._saver.saved.connect(self._saved)
            self._saver.failed.connect(self._save_failed)
            self._saver.changed_on_disk.connect(self._changed_on_disk)
            self._saver.start()
        store.subscribe(self._on_store_event)
        # The store's objects (100k boxes in a big folder) live as long as the workspace: moved out
        # of the cyclic collector's reach, a full collection no longer stalls the window for 100 ms
        # while the autosave thread builds its JSON.
        gc.freeze()

    @property
    def read_only(self) -> bool:
        return self.labels_file is None

    @property
    def read_only_text(self) -> str:
        """What an edit refused in a read-only folder says."""
        return f"Editing is off: {self.read_only_reason}"

    @property
    def dirty(self) -> bool:
        return self.store.revision != self._saved_revision

    def _on_store_event(self, event: StoreEvent) -> None:
        if isinstance(event, WaitingChanged):  # a status, not a label: nothing to save, no report made stale
            self.waiting_changed.emit(list(event.file_names))
            return
        if isinstance(event, ImagesChanged):
            self.images_changed.emit(list(event.file_names))
        elif isinstance(event, CategoriesChanged):
            known = {c.id for c in self.store.categories}
            if self.current_category not in known:
                displaced = self.current_category
                self.set_current_category(self._first_used_category())  # (the first class was a keyless group, "pieces")
                self._displaced_category = displaced
            elif self._displaced_category in known:  # the deletion undone: new boxes are of that class again
                self.set_current_category(self._displaced_category)
            self.categories_changed.emit()
        if not self._autosave.isActive():
            self._autosave.start()

    def _save_in_background(self) -> None:
        if self._saver is not None and self.dirty and not self.changed_elsewhere:
            self._saver.submit(self.store.to_labelset(), self.store.revision)

    def _saved(self, revision: int) -> None:
        if self.labels_file is None:  # a late signal of the saver of a closed workspace
            return
        self._saved_revision = max(self._saved_revision, revision)
        self.saved.emit(f"saved {time.strftime('%H:%M:%S')}")

    def _save_failed(self, reason: str) -> None:
        if self.labels_file is None:
            return
        self.save_failed.emit(f"Could not save labels to {self.labels_file.path}: {reason}")

    def _changed_on_disk(self, reason: str) -> None:
        if self.labels_file is not None and not self.changed_elsewhere:  # asked once; Ctrl+S asks again
            self.changed_elsewhere = True
            self.changed_on_disk.emit(reason)

    def save(self, *, report: bool = True, overwrite: bool = False) -> str:
        """Save now, on this thread (Ctrl+S and before closing). Returns why it failed ("" when
        saved or nothing to save); ``report``: also emit ``save_failed``. ``overwrite``: save over a
        labels file another program has changed (the user chose this window's labels)."""
        self._autosave.stop()
        if self.labels_file is None or not (self.dirty or overwrite):
            return ""
        try:
            self._saved(self.labels_file.save(self.store, overwrite=overwrite))
            self.changed_elsewhere = False
        except LabelsChangedOnDisk as exc:
            self.changed_elsewhere = True
            if report:  # Ctrl+S: ask again
                self.changed_on_disk.emit(str(exc))
            return str(exc)
        except Exception as exc:  # whatever stops a save is said (a TypeError went by unseen, and quitting lost the edits)
            reason = save_failure(exc)
            if report:
                self._save_failed(reason)
            return reason
        return ""

    def close(self) -> None:
        """Stop autosave and release the file; the caller has saved (or the user chose to lose the edits)."""
        if self._saver is not None:
            self._saver.stop()
            self._saver = None
        self.save(report=False)
        self.store.unsubscribe(self._on_store_event)
        if self.labels_file is not None:
            self.labels_file.close()
            self.labels_file = None
        gc.unfreeze()  # the frozen store can be collected once the window lets go of it

    def _push(self, command: commands.StoreCommand) -> None:
        if self.read_only:
            raise PermissionError(self.read_only_text)
        self.undo_stack.push(command)
        if command.failure is not None:
            if self._step is None:  # alone, it leaves the history without being undone (it did nothing, or not all of it);
                command.setObsolete(True)  # in a step, _one_step takes the step back
                self.undo_stack.undo()
            raise command.failure
        if self._step is not None:
            self._step.append(command)

    def take_back_failed_redo(self, before: int) -> str | None:
        """Call after the history moved forward from ``before`` (Redo, or a click in the History
        panel). The first step redone whose edit failed (the labels changed under it, by a way the
        history does not know) leaves the history: the steps redone after it are undone, the parts
        of it that worked are taken back, and it is removed without its own undo (it did nothing,
        or not all of it). What to tell the user, or None when every step was redone."""
        stack = self.undo_stack
        for index in range(before, stack.index()):
            step = stack.command(index)
            parts = [step.child(k) for k in range(step.childCount())] or [step]  # a step of several commands: each
            failures = [getattr(part, "failure", None) for part in parts]
            failure = next((f for f in failures if f is not None), None)
            if failure is None:
                continue
            text = step.text()
            stack.setIndex(index + 1)
            if step.childCount():
                for part, failed in reversed(list(zip(parts, failures))):
                    if failed is None:
                        part.undo()
            step.setObsolete(True)
            stack.undo()
            return f"Could not redo {text}: {failure}"
        return None

    # --- classes -------------------------------------------------------------------------------
    def _first_used_category(self) -> int | None:
        """The class new boxes get at first: the first with boxes (a Roboflow export's first class,
        its supercategory "pieces", has none), else the first."""
        counts = self.store.box_counts()
        categories = self.store.categories
        return next((c.id for c in categories if counts.get(c.id)), categories[0].id if categories else None)

    def set_current_category(self, category_id: int | None) -> None:
        self.current_category = category_id
        self._displaced_category = None  # (a class chosen since a deletion stays chosen through its undo)
        self.current_category_changed.emit(-1 if category_id is None else category_id)

    def add_category(self, name: str, color: str = "") -> Category:
        name = clean_category_name(name)
        self.store.check_category_name(name)
        category = Category(self.store.next_category_id(), name, color=color)
        self._push(commands.AddCategory(self.store, category))
        if self.current_category is None:
            self.set_current_category(category.id)
        return category

    def rename_category(self, category_id: int, name: str) -> None:
        old = self.store.category(category_id)
        name = clean_category_name(name)
        if name == old.name:
            return
        self.store.check_category_name(name, renaming=category_id)
        self._push(commands.UpdateCategory(self.store, replace(old, name=name)))

    def recolor_category(self, category_id: int, color: str) -> None:
        self._push(commands.UpdateCategory(self.store, replace(self.store.category(category_id), color=color)))

    def delete_category(self, category_id: int) -> None:
        self._push(commands.DeleteCategory(self.store, category_id))

    def merge_category(self, category_id: int, into: int) -> None:
        """Its boxes become ``into``'s and the class goes, as one undo step."""
        if self.current_category == category_id:  # new boxes were of the class merged away: now of the one it went into
            self.set_current_category(into)
        self._push(commands.MergeCategory(self.store, category_id, into))

    # --- boxes ---------------------------------------------------------------------------------
    def draw_box(self, file_name: str, size: tuple[int, int], rect: QRectF) -> None:
        """A box drawn on the canvas becomes a box of the current class (there is one)."""
        x1, y1, x2, y2 = corners(rect)
        self._push(commands.AddBoxes.drawn(self.store, file_name, size, Box(x1, y1, x2, y2, self.current_category)))

    def edit_boxes(self, file_name: str, rects: list[tuple[int, QRectF]], kind: str) -> None:
        boxes = self.store.boxes(file_name)
        items = [(i, resized_box(boxes[i], *corners(r))) for i, r in rects]
        self._push(commands.ChangeBoxes(self.store, file_name, items, f"{kind} {commands.boxes_text(len(items))}"))

    def nudge_boxes(self, file_name: str, size: tuple[int, int], indices: list[int], dx: float, dy: float) -> bool:
        """Whether the boxes moved: at the image's edge they stay."""
        boxes = self.store.boxes(file_name)
        chosen = [boxes[i] for i in indices]
        dx, dy = clamp_shift([(b.x1, b.y1, b.x2, b.y2) for b in chosen], dx, dy, size)
        if dx == 0 and dy == 0:
            return False
        items = [(i, resized_box(b, b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy)) for i, b in zip(indices, chosen)]
        self._push(commands.ChangeBoxes(self.store, file_name, items, f"Nudge {commands.boxes_text(len(items))}", nudge=True))
        return True

    def relabel_boxes(self, file_name: str, indices: list[int], category_id: int) -> int:
        """How many boxes changed (those of another class)."""
        boxes = self.store.boxes(file_name)
        indices = [i for i in indices if boxes[i].category_id != category_id]
        if indices:
            self._push(commands.ChangeBoxes.relabelled(self.store, file_name, indices, category_id))
        return len(indices)

    def delete_boxes(self, file_name: str, indices: list[int]) -> None:
        if indices:
            self._push(commands.DeleteBoxes(self.store, file_name, indices))

    def copy_boxes(self, file_name: str, indices: list[int]) -> int:
        boxes = self.store.boxes(file_name)
        # a pasted box is a new object: not the source's annotation fields, nor the polygon of an object box
        self.clipboard = [replace(boxes[i], id=None, extra=None, segmentation=boxes[i].segmentation if boxes[i].iscrowd else None)
                          for i in indices]
        return len(self.clipboard)

    PASTE_SHIFT = 10.0  # image pixels (at least), for a paste that would lie exactly on its original
    PASTE_TRIES = 100  # shifts tried each way

    def paste_boxes(self, file_name: str, size: tuple[int, int], boxes: list[Box] | None = None, source: str = "", *,
                    shift: float = PASTE_SHIFT) -> list[int]:
        """Paste the clipboard (or ``boxes``), clipped to this image; returns the new indices. Boxes
        whose class has been deleted since they were copied, or that lie outside the image, are
        left out. The clipboard goes where none of its boxes lies exactly on one of the image's
        (the image it was copied from, or a paste again): ``shift`` image pixels further each time
        (the window gives as many as 12 screen pixels make at its zoom: 10 image pixels of a photo
        fitted to the window were 2 on screen, a copy that looked stacked), down and right, else up,
        left or across where the boxes fit whole (at the bottom-right corner a paste was clipped to
        the same place each time, copies stacked unseen, each one smaller)."""
        placed = self._placed(self.clipboard, size, self.store.boxes(file_name), max(shift, self.PASTE_SHIFT)) if boxes is None else boxes
        fitted = self.fitted(placed, size)
        if not fitted:
            return []
        start = len(self.store.boxes(file_name))
        self._push(commands.AddBoxes.pasted(self.store, file_name, size, fitted, source))
        return list(range(start, start + len(fitted)))

    def fitted(self, boxes: list[Box], size: tuple[int, int]) -> list[Box]:
        """``boxes`` as pasted into an image of ``size``: clipped to it, new objects (no id), and
        without those outside it or of a class deleted since."""
        w, h = size
        classes = {c.id for c in self.store.categories}
        fitted = []
        for b in boxes:
            x1, y1, x2, y2 = max(0.0, b.x1), max(0.0, b.y1), min(float(w), b.x2), min(float(h), b.y2)
            if x2 - x1 >= 1 and y2 - y1 >= 1 and b.category_id in classes:
                fitted.append(replace(resized_box(b, x1, y1, x2, y2), id=None))
        return fitted

    def _placed(self, boxes: list[Box], size: tuple[int, int], present: list[Box], shift: float) -> list[Box]:
        """``boxes`` moved by the nearest multiple of ``shift`` at which none lies, as pasted
        (clipped), on a box of ``present``: first keeping the group whole inside the image, else
        (it touches every edge, or is larger than the image) letting the image clip it."""
        if not boxes:
            return []
        there = {same_place(b) for b in present}
        w, h = size
        # how far the group may move each way and stay whole inside the image (none: it is larger)
        left, right = -min(b.x1 for b in boxes), w - max(b.x2 for b in boxes)
        up, down = -min(b.y1 for b in boxes), h - max(b.y2 for b in boxes)
        tried = set()
        # where it was, then further down and right each time (copies cascade, as in other editors),
        # then up and left, then across
        ways = [(0, 0, 0)] + [(sx, sy, step) for sx, sy in ((1, 1), (-1, -1), (1, -1), (-1, 1)) for step in range(1, self.PASTE_TRIES)]
        for whole in (True, False):
            for sx, sy, step in ways:
                dx, dy = sx * step * shift, sy * step * shift
                if whole:
                    dx = min(max(dx, left), right) if left <= right else 0.0
                    dy = min(max(dy, up), down) if up <= down else 0.0
                if (dx, dy) in tried:  # (a group that cannot move gave the same place 4,000 times: 3 s for 334 boxes)
                    continue
                if whole and step and max(abs(dx), abs(dy)) < shift / 2:  # held back by the edge: 1 px looked stacked
                    continue
                tried.add((dx, dy))
                moved = self.fitted([replace(b, x1=b.x1 + dx, y1=b.y1 + dy, x2=b.x2 + dx, y2=b.y2 + dy) for b in boxes], size)
                if moved and not any(same_place(b) in there for b in moved):
                    return moved
        return boxes

    def import_labels(self, labels: LabelSet, present: set[str], source: str) -> tuple[int, list[str], int, int]:
        """Add the boxes of ``labels`` to this folder's images, and their "reviewed" marks (a
        negative of a VOC or YOLO folder, a reviewed image of a COCO file written here), as one undo
        step. Images are matched by ``file_name`` to the folder's images ``present`` (the reader has
        matched other paths by file name: core.labels.matched_by_file_name). Classes are matched by
        name (new names become new classes). Returns the number of
        boxes added, the names of labelled images that are not in the folder (skipped), how many
        boxes were left out because the image already has them (an import done twice), and how
        many images were marked reviewed."""
        from core.review import already_labelled

        ids, new_categories = self._classes_for(labels.categories)
        names = {c.id: c.name for c in labels.categories}
        skipped, added, repeated, reviewed = [], [], 0, []
        for entry in labels.images:
            if not entry.boxes and not entry.reviewed:
                continue
            if (name := entry.file_name) not in present:
                skipped.append(entry.file_name)
                continue
            existing = self.store.entry(name)
            if entry.reviewed and not (existing is not None and existing.reviewed):
                reviewed.append((name, self._known_size(entry, name)))
            if not entry.boxes:
                continue
            boxes = [replace(b, category_id=ids[names[b.category_id]], id=None) for b in entry.boxes]
            have = self.store.boxes(name)
            repeat = already_labelled(np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes]), np.array([b.category_id for b in boxes]),
                                      np.array([[b.x1, b.y1, b.x2, b.y2] for b in have]).reshape(-1, 4),
                                      np.array([b.category_id for b in have]))
            repeated += int(repeat.sum())
            boxes = [b for b, r in zip(boxes, repeat) if not r]
            if boxes:
                added.append((name, self._known_size(entry, name), boxes))
        n_boxes = sum(len(boxes) for _, _, boxes in added)
        chosen_before = self.current_category  # (a class the user chose stays theirs)
        if n_boxes or new_categories or reviewed:
            with self._one_step(f"Import {count(n_boxes, 'box')} from {source}" if n_boxes or not reviewed else
                                f"Import {count(len(reviewed), 'reviewed image')} from {source}"):
                for category in new_categories:
                    self._push(commands.AddCategory(self.store, category))
                for file_name, size, boxes in added:
                    self._push(commands.AddBoxes(self.store, file_name, size, boxes, f"Import {count(len(boxes), 'box')}"))
                for file_name, size in reviewed:
                    self._push(commands.SetReviewed(self.store, file_name, size, True))
            if chosen_before is None and n_boxes:  # the first classes here: new boxes of one they use (not Roboflow's empty "pieces")
                self.set_current_category(self._first_used_category())
        return n_boxes, skipped, repeated, len(reviewed)

    def accept_predictions(self, entries: list[tuple[str, tuple[int, int], list[tuple[float, float, float, float, str]]]], text: str,
                           colors: dict[str, str] | None = None, reviewed: list[str] = ()) -> int:
        """Add predictions (x1, y1, x2, y2, class name) as labels, as one undo step; a class name the
        labels do not have yet becomes a new class, in its colour from ``colors`` (the colour its
        predictions were shown in) if given. The ``reviewed`` images (those whose shown predictions
        were all accepted or labelled already) are no longer "predicted". Returns the number of
        boxes added."""
        count = sum(len(predictions) for _, _, predictions in entries)
        if not count:
            self.store.leave_predicted(reviewed)  # nothing to undo: their labels were there
            return 0
        names = list(dict.fromkeys(p[4] for _, _, predictions in entries for p in predictions))
        ids, new_categories = self._classes_for([Category(0, name, color=(colors or {}).get(name, "")) for name in names], keep_ids=False)
        with self._one_step(commands.image_text(text, entries[0][0]) if len(entries) == 1 else text):
            for category in new_categories:
                self._push(commands.AddCategory(self.store, category))
            for file_name, size, predictions in entries:
                boxes = [Box(*stored_corners(x1, y1, x2, y2), ids[name]) for x1, y1, x2, y2, name in predictions]
                self._push(commands.AddBoxes(self.store, file_name, size, boxes, text))
            if reviewed:
                self._push(commands.LeavePredicted(self.store, list(dict.fromkeys(reviewed))))
        return count

    def _known_size(self, entry, name: str) -> tuple[int, int]:
        """An imported image's size (the image ``name`` of this folder): as the source says (or
        the import read from the image's header, off this thread), else as the labels have it."""
        if entry.width > 0 and entry.height > 0:
            return entry.width, entry.height
        have = self.store.entry(name)
        return (have.width, have.height) if have is not None else (entry.width, entry.height)

    def _classes_for(self, categories: list[Category], *, keep_ids: bool = True) -> tuple[dict[str, int], list[Category]]:
        """The store's class id for each name of ``categories``, matched as class names are
        compared ("White-King" is the class "white-king"), and the new classes that names the store
        lacks need (checked here, before anything changes). With ``keep_ids`` (classes of a file) a
        new class keeps its id from the file when the store has no class of that id (renumbered, an
        exported folder imported into a copy of its images came back with other ids, and so other
        colours); else (a model's classes) it takes the next id no class of the store has had (an
        accepted prediction's class took id 0, a placeholder, wherever 0 was free)."""
        ids = {class_name_key(c.name): c.id for c in self.store.categories}
        taken = set(ids.values())
        # a class whose id is taken gets one neither side uses (none of the others moves)
        wanted = taken | ({c.id for c in categories} if keep_ids else set())
        out: dict[str, int] = {}
        new: list[Category] = []
        for category in categories:
            key = class_name_key(category.name)  # trimmed as a stored name is
            if key not in ids:
                name = clean_category_name(category.name)
                self.store.check_category_name(name)
                # (past the highest id the store has had: a deleted class's id is not given to another)
                cid = category.id if keep_ids and category.id not in taken else max(max(wanted, default=0) + 1, self.store.next_category_id())
                taken.add(cid)
                wanted.add(cid)
                ids[key] = cid
                new.append(Category(cid, name, category.supercategory, category.color))
            out[category.name] = ids[key]
        return out, new

    @contextlib.contextmanager
    def _one_step(self, text: str) -> Iterator[None]:
        """Commands pushed inside form one undo step; if one fails, the ones before it are undone
        (the history never keeps a half-made step, nor an open one that would swallow later edits)."""
        self.undo_stack.beginMacro(text)
        self._step = []
        try:
            yield
        except BaseException:
            # The command that failed is in the macro already, half done: its undo cannot be trusted.
            # Undo the ones that worked, then drop the macro without undoing it again (obsolete).
            for command in reversed(self._step):
                command.undo()
            self.undo_stack.endMacro()
            self.undo_stack.command(self.undo_stack.index() - 1).setObsolete(True)
            self.undo_stack.undo()
            raise
        finally:
            self._step = None
        self.undo_stack.endMacro()

    def set_reviewed(self, file_name: str, size: tuple[int, int], reviewed: bool) -> None:
        self._push(commands.SetReviewed(self.store, file_name, size, reviewed))

    def rescale_to(self, file_name: str, size: tuple[int, int]) -> bool:
        """The image file was resized since it was labelled: scale its boxes to ``size`` and store
        that size (one undo step). False when the sizes already agree."""
        entry = self.store.entry(file_name)
        if entry is None or (entry.width, entry.height) == size:
            return False
        self._push(commands.RescaleImage(self.store, file_name, size, rescaled_boxes(entry.boxes, (entry.width, entry.height), size)))
        return True


def open_workspace(folder: Path, labels_path: Path | None = None) -> tuple[Workspace, str]:
    """Lock and read the folder's labels file. Returns the workspace and a problem to show ("" if
    none): a malformed file, or one that cannot be written (read-only file or folder), gives a
    read-only workspace and leaves the file untouched. Raises
    :class:`~core.annotations.AnnotationFileLocked` when another window or process has it open."""
    path = labels_path or find_labels_file(folder)
    problem = unwritable(path)
    if problem:
        try:
            store = read_store(path)
        except LabelFormatError as exc:
            store, problem = AnnotationStore(), f"{problem}, and it could not be read ({exc})"
        if path.exists() and os.access(path.resolve().parent, os.W_OK):  # then the file itself is read-only
            # (a copy of a read-only dataset keeps its file's mode: "a folder you can write to" sent the user looking at the folder)
            way = (f"The folder can be written: to label these images, make the file writable (chmod u+w {shlex.quote(str(path))}, or "
                   "its Properties) and open the folder again, or choose another labels file with File ▸ Open Labels File…")
        else:
            way = "To label these images, choose a labels file in a folder you can write to with File ▸ Open Labels File…"
        return Workspace(folder, path, None, store, read_only_reason=problem), (
            f"{problem[0].upper()}{problem[1:]}, so the labels are shown read-only and nothing is written.\n\n{way}")
    labels_file = AnnotationFile(path)
    try:
        store = labels_file.load()
    except LabelFormatError as exc:
        labels_file.close()
        return Workspace(folder, path, None, AnnotationStore(), read_only_reason="the labels file could not be read (it is left untouched)"), (
            f"The labels file could not be read, so editing is off and the file will not be touched:\n\n{exc}\n\n"
            "Fix or move the file, or choose another with File ▸ Open Labels File…")
    outside = [name for name in store.file_names() if not inside_folder(name)]
    if outside:  # every save would fail on them: say so now, before any edit is made
        labels_file.close()
        reason = f"{len(outside)} images of the labels file are named by paths outside the image folder (e.g. {outside[0]!r})"
        return Workspace(folder, path, None, store, read_only_reason=reason), (
            f"{reason}, so the labels are shown read-only and nothing is written.\n\nCOCO file names are paths relative to "
            f"the image folder: fix those names in {path}, or open the folder they are relative to.")
    return Workspace(folder, path, labels_file, store), ""
