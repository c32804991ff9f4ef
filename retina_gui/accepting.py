"""Accepting the model's shown predictions as labels, for the image on screen or the whole folder:
what is added is said, and asked first where it adds classes or joins a person's labels."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from core.review import ACCEPT_SKIP_IOU
from core.text import count as count_of
from retina_gui.annotator import Annotator
from retina_gui.canvas import Canvas
from retina_gui.predictions import AcceptPlan, Predictions


class PredictionAccepting(QObject):
    message = Signal(str)  # a passing word for the status bar

    def __init__(self, canvas: Canvas, predictions: Predictions, *, confirm: Callable[..., bool], parent: QObject | None = None) -> None:
        """``confirm(title, question, undoable=False)``: the window's question."""
        super().__init__(parent)
        self.canvas, self.predictions, self.confirm = canvas, predictions, confirm
        self.annotator: Annotator = predictions.annotator

    def acceptable_here(self) -> bool:
        """Predictions shown on this image, and a folder that takes labels."""
        workspace = self.annotator.workspace
        return (self.canvas.predictions_shown and self.predictions.visible is not None and len(self.predictions.visible) > 0
                and workspace is not None and not workspace.read_only)

    def accept_image(self) -> int:
        """The shown predictions of this image as labels; asks first when that adds classes, or
        joins the image's own labels (Enter says No there, as for the folder: predictions joining a
        person's labels are mostly duplicates and background, and were added with a word in the
        status bar alone)."""
        if not self._may_accept():
            return 0
        gathered = self.predictions.plan_accept(self.predictions.image_entries())
        new = self.predictions.classes_to_add(gathered.fresh)
        count = gathered.adds
        labelled = len(self.annotator.workspace.store.boxes(self.annotator.current)) if count and self.annotator.current else 0
        if new or labelled:
            adds = f" That adds {count_of(len(new), 'class')} your labels do not have: {', '.join(new)}." if new else ""
            onto = f" They join the {count_of(labelled, 'label')} of this image." if labelled else ""
            question = f"Accept {count_of(count, 'prediction')}?{onto}{adds}{_left_out(gathered)} Edit ▸ Undo takes it back."
            if not self.confirm("Accept predictions", question, undoable=not labelled):
                self.message.emit("nothing accepted")
                return 0
        return self.predictions.accept_entries(gathered, "Accept {count} prediction{s}")

    def accept_folder(self) -> None:
        """Every shown prediction of every predicted image as labels, after the user agrees (one
        undo step): gathered in the background first, then :meth:`accept_gathered` asks."""
        if self._may_accept():
            self.predictions.gather_folder()

    def accept_gathered(self, gathered: AcceptPlan) -> int:
        """Ask about the folder's gathered shown predictions, and accept them if the user agrees."""
        if not self._may_accept():
            return 0
        fresh = gathered.fresh  # the question gives what would be added, not what is shown
        shown, count, images = gathered.shown, gathered.adds, len(fresh)
        if not count:
            self.message.emit("no shown predictions to accept in this folder" if not shown else
                              f"the {shown} shown predictions in this folder are all labelled already")
            return 0
        new = self.predictions.classes_to_add(fresh)
        adds = f" That adds {count_of(len(new), 'class')}: {', '.join(new)}." if new else ""
        labelled_already = gathered.labelled_already
        skipped = f" ({count_of(labelled_already, 'other')} shown {'is' if labelled_already == 1 else 'are'} labelled already.)" \
            if labelled_already else ""
        store = self.annotator.workspace.store
        labelled = sum(1 for name, _, _ in fresh if store.boxes(name))
        onto = (f" {labelled} of those images {'has' if labelled == 1 else 'have'} labels already: the predictions join them."
                if labelled else "")
        question = (f"Add {count_of(count, 'shown prediction')} on {count_of(images, 'image')} as labels?"
                    f"{skipped}{onto}{_left_out(gathered)}{adds} It is one step: Edit ▸ Undo takes it back.")
        # onto labelled images, Enter says No: predictions joining a person's labels are mostly duplicates and background
        if not self.confirm("Accept predictions", question, undoable=not labelled):
            self.message.emit("nothing accepted")
            return 0
        return self.predictions.accept_entries(gathered, "Accept predictions in the folder")

    def _may_accept(self) -> bool:
        """Whether accepting can add labels here, said when not (a read-only folder's question was
        asked in full, then its Yes refused). Accepting takes what is shown: nothing while the
        predictions are hidden (View ▸ Predictions)."""
        workspace = self.annotator.workspace
        if not self.canvas.predictions_shown:
            self.message.emit("predictions are hidden (View ▸ Predictions, H): show them to accept them")
        elif workspace is None:
            self.message.emit("open a folder first: accepted predictions become its labels")
        elif workspace.read_only:
            self.message.emit(workspace.read_only_text)
        else:
            return True
        return False


def _left_out(gathered: AcceptPlan) -> str:
    """The accept questions' word on the predictions left out for repeating a likelier one of their
    class (a loose NMS threshold lets both through), or for lying on a label or a likelier
    prediction of another class (one object the model is unsure of)."""
    repeats, other = gathered.repeating, gathered.on_another_class
    said = (f" {count_of(repeats, 'other')} repeat{'s' if repeats == 1 else ''} a likelier prediction of the same class (IoU "
            f"{ACCEPT_SKIP_IOU:g} or more) and {'is' if repeats == 1 else 'are'} left out." if repeats else "")
    return said + (f" {count_of(other, 'other')} lie{'s' if other == 1 else ''} on a label or likelier prediction of another class (one "
                   f"object the model is unsure of) and {'is' if other == 1 else 'are'} left out: right-click one to accept it instead."
                   if other else "")
