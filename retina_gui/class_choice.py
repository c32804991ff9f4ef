"""Which class new boxes get, and the selected ones: the number keys, the class picker (L, a
double-click on a box, a box drawn while there is no class), and the word on the number keys that
a class deleted or merged moved."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, QRect, QRectF, QTimer, Signal
from PySide6.QtWidgets import QDialog, QWidget

from core.text import count as count_of
from retina_gui.annotator import Annotator
from retina_gui.canvas import Tool
from retina_gui.class_picker import ClassPicker
from retina_gui.classes_panel import ClassesPanel
from retina_gui.convert import class_added_text, class_keys, rect_from_xyxy
from retina_gui.widgets import MessageBar
from retina_gui.workspace import Workspace

NO_CLASS_TEXT = "Box not added: no class chosen for it (type a new class's name in the picker, or Classes ▸ Add Class…)"


class ClassChoice(QObject):
    message = Signal(str)  # a passing word for the status bar

    def __init__(self, annotator: Annotator, classes: ClassesPanel, status: MessageBar, window: QWidget) -> None:
        """``status``: the window's status bar, whose message a change of the number keys follows;
        ``window``: the picker's parent."""
        super().__init__(window)
        self.annotator, self.canvas, self.classes, self.status, self.window = annotator, annotator.canvas, classes, status, window
        self.stepping = ""  # "undone: …" / "redone: …" while Undo or Redo runs (see _say_moved_keys)
        self._class_order = []  # the folder's classes after the last change
        self._keys_before: tuple | None = None  # the classes before a change whose moved keys are yet to be said

    @property
    def workspace(self) -> Workspace | None:
        return self.annotator.workspace

    def attach(self, workspace: Workspace) -> None:
        self._class_order = list(workspace.store.categories)
        self._keys_before = None  # (a message of the last folder's, dropped with it, left pending)
        workspace.categories_changed.connect(self._say_moved_keys)

    def pick_class(self, number: int) -> None:
        """Number keys: choose the class for drawing, and with the edit tool relabel the selected
        boxes to it. With the draw tool, and on the box just drawn with either, they only choose:
        the box just drawn is selected, and choosing the next box's class relabelled it (pressing 1
        for the next box after a 2-box)."""
        if self.workspace is None:
            return
        keyed = {key: category_id for category_id, key in class_keys(self.workspace.store.categories).items()}
        if number in keyed:
            self.choose_class(keyed[number])
        else:  # (nothing happened, and nothing said why)
            total = len(self.workspace.store.categories)
            keyed_of = f" with a key (of {total}: L reaches every class)" if len(keyed) < total else ""
            self.message.emit(f"no class {number}: the folder has {count_of(len(keyed), 'class')}{keyed_of} (Classes ▸ Add Class… adds one)")

    def _say_moved_keys(self) -> None:
        """A class deleted or merged moves the number keys of the classes after it: said, as a key
        learnt would otherwise label boxes as another class unnoticed. "Box not added" goes once
        there is a class."""
        store = self.workspace.store
        if store.categories:  # (done: it stood for its 10 s over the boxes drawn since)
            self.status.clear_note(NO_CLASS_TEXT)
        # said once the step is done, after what it said of itself (Delete's "deleted class … and its 7 boxes", said
        # after the change; "undone: …", before it): said first, the panel's message went over it. Several changes in
        # one go (a merge, a step of several) are said as one, from the classes as they were before the first.
        if self._keys_before is None:
            self._keys_before = (self._class_order, self.stepping or "", self.status.currentMessage())
            QTimer.singleShot(0, self, self._say_moved_keys_after_step)
        self._class_order = list(store.categories)

    def _say_moved_keys_after_step(self) -> None:
        (before, stepped, said_before), self._keys_before = self._keys_before, None
        if self.workspace is None:
            return
        store = self.workspace.store
        had = {c.id for c in before}
        was, keys = class_keys(before), class_keys(self._class_order)
        # the classes whose key changed (also one moved up into 9 from past it, or back with an undo), said once a class
        # of before moved: a new class's key at the end is no news
        if not any(cid in had and was.get(cid) != key for cid, key in keys.items()):
            return
        changed = sorted((key, cid) for cid, key in keys.items() if was.get(cid) != key)
        text = "class keys now: " + ", ".join(f"{number} {store.category(cid).name}" for number, cid in changed)
        lost = [c.name for c in self._class_order if c.id in was and c.id not in keys]
        text += f"; no key now: {', '.join(lost)} (L reaches it)" if lost else ""
        now = {c.id for c in self._class_order}
        gone = [c.name for c in before if c.id not in now]
        said = self.status.currentMessage()
        step = stepped or (said if said and said != said_before else f"class {', '.join(gone)} removed" if gone else "")
        self.message.emit(f"{text}; {step}" if step else text)  # the keys first: in a narrow status bar the step's end was cut

    def choose_class(self, category_id: int, note: str = "") -> None:
        """As a number key does, for any class: the class of new boxes, and of the boxes selected
        with the edit tool (said, with ``note`` before it)."""
        self.workspace.set_current_category(category_id)
        if self.canvas.tool is Tool.EDIT and not self.canvas.just_drawn and self.canvas.selected():
            self.relabel(category_id, note)
        else:
            self.message.emit(f"{note}new boxes: {self.workspace.store.category(category_id).name}")

    def relabel(self, category_id: int, note: str = "") -> None:
        """The selected boxes relabelled, and said: a number key relabelled 32 boxes without a word."""
        relabelled = self.annotator.relabel_selected(category_id)
        if relabelled is not None:
            name = self.workspace.store.category(category_id).name
            self.message.emit(note + (f"{count_of(relabelled, 'box')} relabelled as {name}" if relabelled else f"already {name}"))

    def ask_class(self) -> None:
        """L: the class picker (type part of a name, Return); then as a number key."""
        if self.workspace is not None and (picked := self._picked_class(self.workspace.current_category))[0] is not None:
            self.choose_class(*picked)

    def ask_box_class(self, index: int) -> None:
        """A double-click on a box: the class picker, on the box's class; the choice relabels that
        box alone (the class for new boxes stays)."""
        if self.workspace is None or self.annotator.current is None:
            return
        boxes = self.workspace.store.boxes(self.annotator.current)
        if index >= len(boxes):
            return
        box = boxes[index]
        chosen, note = self._picked_class(box.category_id, self._on_screen(rect_from_xyxy((box.x1, box.y1, box.x2, box.y2))))
        if chosen is not None and chosen != box.category_id:
            self.canvas.select([index])
            self.relabel(chosen, note)

    def ask_class_for_drawn(self, rect: QRectF) -> None:
        """A box drawn while there is no class: the picker asks for one (a name typed is added as a
        class), as the mouse release is done; the box is added with it, or not at all. (It was
        refused with "Add a class first", and had to be drawn again.)"""
        QTimer.singleShot(0, self, partial(self._class_for_drawn, self.annotator.current, rect))

    def _class_for_drawn(self, name: str, rect: QRectF) -> None:
        chosen, note = self._picked_class(None, self._on_screen(rect))
        self.canvas.show_waiting(None)
        if chosen is None:
            self.message.emit(NO_CLASS_TEXT)
        elif self.annotator.current != name or not self.annotator.can_edit():
            self.message.emit(f"{note}the box was not added: {name} is no longer on screen")
        else:
            self.workspace.set_current_category(chosen)
            self.annotator.draw(rect)
            self.message.emit(f"{note}new boxes: {self.workspace.store.category(chosen).name}")

    def _on_screen(self, rect: QRectF) -> QRect:
        """Where ``rect`` (image pixels) lies on the screen, in global pixels."""
        on_view = self.canvas.mapFromScene(rect).boundingRect()
        return QRect(self.canvas.viewport().mapToGlobal(on_view.topLeft()), on_view.size())

    def _picked_class(self, initial: int | None, beside: QRect | None = None) -> tuple[int | None, str]:
        """The class chosen in the picker (None: none, or cancelled), opened ``beside`` that area
        of the screen where given; a name that matches no class is added as a class, and chosen:
        the note says so ("class zebra added (key 7); "), for the message of what is done with it.
        (The class was added without a word.)"""
        if self.workspace is None:
            return None, ""
        picker = ClassPicker(list(self.workspace.store.categories), initial, self.window)
        if beside is not None:
            picker.place_beside(beside)
        accepted = picker.exec() == QDialog.DialogCode.Accepted
        chosen, new = (picker.chosen(), picker.new_name()) if accepted else (None, "")
        picker.deleteLater()  # (each L left one behind)
        if new:
            chosen = self.classes.add_named(new)
        self.canvas.setFocus()
        known = [c.id for c in self.workspace.store.categories] if self.workspace is not None else []
        if chosen not in known:
            return None, ""
        return chosen, f"{class_added_text(self.workspace.store.categories, chosen)}; " if new else ""
