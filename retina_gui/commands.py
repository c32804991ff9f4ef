"""Undo commands: every edit of the annotation store goes through one of these, so the QUndoStack
can take back (and redo) all of them, without limit. Each command stores exactly what its inverse
needs, as returned by the store. ``file_name`` names the image a command touched (None for class
edits) so that undo can bring that image back on screen; the history names it too."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QUndoCommand

from core.annotations import AnnotationStore, MergedCategory, RemovedCategory
from core.labels import Box, Category
from core.text import count


def boxes_text(n: int) -> str:
    """'box' or 'N boxes', for undo texts such as 'Move box' and 'Delete 3 boxes'."""
    return "box" if n == 1 else f"{n} boxes"


def image_text(text: str, file_name: str | None) -> str:
    """An undo text naming the image it touched, by its path in the folder ("Delete box ·
    train/chess_01.jpg"; a name over 40 characters keeps its last 39): the history lists edits of
    many images, and undo brings each one's image back. The history view cuts what does not fit
    in the middle; a name cut in the middle here too read "…e…de_board_photo_1.jpg" there."""
    if file_name is None:
        return text
    name = file_name if len(file_name) <= 40 else f"…{file_name[-39:]}"
    return f"{text} · {name}"


class StoreCommand(QUndoCommand):
    """Subclasses do their edit in :meth:`apply`. An exception raised there is kept in
    ``failure`` for the pusher to raise: through QUndoStack.push it came out reworded by PySide
    ("Error calling Python override of QUndoCommand::redo(): …"), or not at all when a Python
    slot of the stack's signals ran first."""

    def __init__(self, store: AnnotationStore, text: str, file_name: str | None = None) -> None:
        super().__init__(image_text(text, file_name))
        self.store, self.file_name = store, file_name
        self.failure: Exception | None = None

    def redo(self) -> None:
        self.failure = None
        try:
            self.apply()
        except Exception as exc:  # noqa: BLE001 - raised again by Workspace._push (or the window's Redo), as it was
            self.failure = exc

    def apply(self) -> None:
        raise NotImplementedError

    def boxes_left(self, undone: bool) -> list[int]:
        """The boxes of its image this step leaves in place, undone or (re)done: selected then, so
        that boxes an undo brings back stand out among the others."""
        return []


class AddBoxes(StoreCommand):
    def __init__(self, store: AnnotationStore, file_name: str, size: tuple[int, int], boxes: list[Box], text: str) -> None:
        super().__init__(store, text, file_name)
        self.size, self.boxes = size, boxes
        self.items: list[tuple[int, Box]] = []

    @classmethod
    def drawn(cls, store: AnnotationStore, file_name: str, size: tuple[int, int], box: Box) -> AddBoxes:
        return cls(store, file_name, size, [box], f"Draw {store.category(box.category_id).name} box")

    @classmethod
    def pasted(cls, store: AnnotationStore, file_name: str, size: tuple[int, int], boxes: list[Box], source: str = "") -> AddBoxes:
        return cls(store, file_name, size, boxes, f"Paste {boxes_text(len(boxes))}{source}")

    def apply(self) -> None:
        self.items = self.store.append_boxes(self.file_name, self.size, self.boxes)

    def undo(self) -> None:
        self.store.remove_boxes(self.file_name, [i for i, _ in self.items])

    def boxes_left(self, undone: bool) -> list[int]:
        return [] if undone else [i for i, _ in self.items]


class DeleteBoxes(StoreCommand):
    def __init__(self, store: AnnotationStore, file_name: str, indices: list[int]) -> None:
        super().__init__(store, f"Delete {boxes_text(len(indices))}", file_name)
        self.indices = sorted(indices)
        self.removed: list[tuple[int, Box]] = []

    def apply(self) -> None:
        self.removed = self.store.remove_boxes(self.file_name, self.indices)

    def undo(self) -> None:
        self.store.insert_boxes(self.file_name, (0, 0), self.removed)

    def boxes_left(self, undone: bool) -> list[int]:
        return [i for i, _ in self.removed] if undone else []


class ChangeBoxes(StoreCommand):
    """Move, resize, nudge or relabel boxes: new geometry or class for existing indices.
    Consecutive nudges of the same boxes merge into one undo step."""

    NUDGE_ID = 1

    def __init__(self, store: AnnotationStore, file_name: str, items: list[tuple[int, Box]], text: str, *, nudge: bool = False) -> None:
        super().__init__(store, text, file_name)
        self.items = items
        self.previous: list[tuple[int, Box]] | None = None
        self.nudge = nudge

    @classmethod
    def relabelled(cls, store: AnnotationStore, file_name: str, indices: list[int], category_id: int) -> ChangeBoxes:
        boxes = store.boxes(file_name)
        items = [(i, replace(boxes[i], category_id=category_id)) for i in indices]
        return cls(store, file_name, items, f"Relabel {boxes_text(len(indices))} as {store.category(category_id).name}")

    def id(self) -> int:
        return self.NUDGE_ID if self.nudge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, ChangeBoxes) or other.file_name != self.file_name or other.failure is not None:
            return False  # (a failed nudge merged in would carry its items into this one, and be deleted before _push saw it)
        if [i for i, _ in other.items] != [i for i, _ in self.items]:
            return False
        self.items = other.items  # keep our `previous`: one undo takes back the whole run of nudges
        return True

    def apply(self) -> None:
        previous = self.store.replace_boxes(self.file_name, self.items)
        if self.previous is None:
            self.previous = previous

    def undo(self) -> None:
        self.store.replace_boxes(self.file_name, self.previous or [])

    def boxes_left(self, undone: bool) -> list[int]:
        return [i for i, _ in self.items]


class SetReviewed(StoreCommand):
    """Marking an image reviewed also takes it out of the "predictions waiting for review" set: its
    predictions have been looked at (Accept folder labelled an image reviewed as empty)."""

    def __init__(self, store: AnnotationStore, file_name: str, size: tuple[int, int], reviewed: bool) -> None:
        super().__init__(store, "Mark image reviewed" if reviewed else "Mark image not reviewed", file_name)
        self.size, self.reviewed = size, reviewed
        self.previous = self.was_predicted = False

    def apply(self) -> None:
        self.previous = self.store.set_reviewed(self.file_name, self.size, self.reviewed)
        self.was_predicted = self.reviewed and bool(self.store.leave_predicted([self.file_name]))

    def undo(self) -> None:
        self.store.set_reviewed(self.file_name, self.size, self.previous)
        if self.was_predicted:
            self.store.mark_predicted([self.file_name])


class LeavePredicted(StoreCommand):
    """Accepted images leave the "predictions waiting for review" set; undoing the accept puts them
    back (else the list showed them unlabelled, and accepting the folder again skipped them)."""

    def __init__(self, store: AnnotationStore, file_names: list[str]) -> None:
        super().__init__(store, "Reviewed predictions")
        self.file_names = file_names
        self.left: list[str] = []

    def apply(self) -> None:
        self.left = self.store.leave_predicted(self.file_names)

    def undo(self) -> None:
        self.store.mark_predicted(self.left)


class RescaleImage(StoreCommand):
    def __init__(self, store: AnnotationStore, file_name: str, size: tuple[int, int], boxes: list[Box]) -> None:
        super().__init__(store, f"Rescale boxes to {size[0]}×{size[1]}", file_name)
        self.size, self.boxes = size, boxes
        self.previous: tuple[tuple[int, int], list[Box]] | None = None

    def apply(self) -> None:
        self.previous = self.store.set_image_size(self.file_name, self.size, self.boxes)

    def undo(self) -> None:
        self.store.set_image_size(self.file_name, *self.previous)


class AddCategory(StoreCommand):
    def __init__(self, store: AnnotationStore, category: Category) -> None:
        super().__init__(store, f"Add class {category.name}")
        self.category = category
        self.highest_before = store.highest_category_id

    def apply(self) -> None:
        self.store.add_category(self.category)

    def undo(self) -> None:
        self.store.take_back_category(self.category.id, self.highest_before)


class UpdateCategory(StoreCommand):
    def __init__(self, store: AnnotationStore, category: Category) -> None:
        old = store.category(category.id)
        text = f"Rename class {old.name} to {category.name}" if old.name != category.name else f"Recolour class {old.name}"
        super().__init__(store, text)
        self.category, self.old = category, old

    def apply(self) -> None:
        self.store.update_category(self.category)

    def undo(self) -> None:
        self.store.update_category(self.old)


class DeleteCategory(StoreCommand):
    def __init__(self, store: AnnotationStore, category_id: int) -> None:
        category = store.category(category_id)
        count = store.box_counts().get(category_id, 0)
        super().__init__(store, f"Delete class {category.name}" + (f" and its {boxes_text(count)}" if count else ""))
        self.category_id = category_id
        self.removed: RemovedCategory | None = None

    def apply(self) -> None:
        self.removed = self.store.remove_category(self.category_id)

    def undo(self) -> None:
        assert self.removed is not None
        self.store.restore_category(self.removed)


class MergeCategory(StoreCommand):
    def __init__(self, store: AnnotationStore, category_id: int, into: int) -> None:
        n = store.box_counts().get(category_id, 0)
        boxes = f" ({count(n, 'box')})" if n else ""
        super().__init__(store, f"Merge class {store.category(category_id).name} into {store.category(into).name}{boxes}")
        self.category_id, self.into = category_id, into
        self.merged: MergedCategory | None = None

    def apply(self) -> None:
        self.merged = self.store.merge_category(self.category_id, self.into)

    def undo(self) -> None:
        assert self.merged is not None
        self.store.unmerge_category(self.merged)


class RejectPrediction(QUndoCommand):
    """Hide one prediction of an image (kept with its model's cached predictions); undo shows it
    again. ``rejections`` is the window's Predictions and ``model_key`` the prediction-cache key of
    the model that numbered the candidate; with another model loaded the command does nothing (the
    number names another box)."""

    def __init__(self, rejections, model_key: str, file_name: str, candidate: int, label: str) -> None:
        super().__init__(image_text(f"Reject prediction {label}", file_name))
        self.rejections, self.model_key, self.file_name, self.candidate = rejections, model_key, file_name, candidate

    def redo(self) -> None:
        self.rejections.set_rejected(self.model_key, self.file_name, self.candidate, True)

    def undo(self) -> None:
        self.rejections.set_rejected(self.model_key, self.file_name, self.candidate, False)
