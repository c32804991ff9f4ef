"""Undo and redo, from Edit ▸ Undo and Redo and from clicks in the History panel: the image of the
step comes on screen, the boxes it brought back are selected, and the step is said."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from core.text import count
from retina_gui.annotator import Annotator
from retina_gui.class_choice import ClassChoice
from retina_gui.commands import StoreCommand
from retina_gui.file_list import FileListPanel
from retina_gui.shortcuts_dialog import PLAIN_NAME
from retina_gui.widgets import HistoryView
from retina_gui.workspace import Workspace


class UndoSteps(QObject):
    message = Signal(str)  # a passing word for the status bar
    problem = Signal(str, str)  # (title, text): a redo that failed

    def __init__(self, annotator: Annotator, files: FileListPanel, class_choice: ClassChoice, window: QWidget) -> None:
        """``window``: the History panel's and the actions' parent (the window places them)."""
        super().__init__(window)
        self.annotator, self.canvas, self.files, self.class_choice = annotator, annotator.canvas, files, class_choice
        self.workspace: Workspace | None = None
        self.history = HistoryView(window)
        self.history.setEmptyLabel("Opened")
        self.history.moved.connect(self._history_moved)
        self.history.setTextElideMode(Qt.TextElideMode.ElideRight)  # what was done first; a long image name is cut (the action was)
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.undo_action, self.redo_action = QAction("&Undo", window), QAction("&Redo", window)
        for action, slot, keys in ((self.undo_action, self.undo, [QKeySequence(QKeySequence.StandardKey.Undo)]),
                                   (self.redo_action, self.redo, [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])):
            action.setProperty(PLAIN_NAME, action.text())
            action.setShortcuts(keys)
            action.triggered.connect(slot)

    def attach(self, workspace: Workspace) -> None:
        self.workspace = workspace
        workspace.undo_stack.indexChanged.connect(self._name_actions)
        self.history.setStack(workspace.undo_stack)
        self.history.setEmptyLabel(f"Opened {workspace.folder.name}")
        self._name_actions()

    def detach(self) -> None:
        self.workspace = None
        self.history.setStack(None)
        self._name_actions()

    def undo(self) -> None:
        if not self.can_undo():  # (Ctrl+Z at the start of the history said nothing)
            self.message.emit("nothing to undo")
            return
        stack = self.workspace.undo_stack
        command = stack.command(stack.index() - 1)
        self._show_image_of(command)
        self.class_choice.stepping = f"undone: {stack.undoText()}"  # (said with the keys a class step moves)
        self.message.emit(self.class_choice.stepping)  # not the message of the edit, left standing
        stack.undo()
        self.class_choice.stepping = ""
        self._select_left(command, undone=True)

    def redo(self) -> None:
        if not self.can_redo():  # (Ctrl+Y at the end of the history said nothing)
            self.message.emit("nothing to redo")
            return
        stack = self.workspace.undo_stack
        before = stack.index()
        command = stack.command(before)
        self._show_image_of(command)
        self.class_choice.stepping = f"redone: {stack.redoText()}"  # (said with the keys a class step moves)
        self.message.emit(self.class_choice.stepping)
        stack.redo()
        self.class_choice.stepping = ""
        if problem := self.workspace.take_back_failed_redo(before):
            self.problem.emit("Redo", problem)
        else:
            self._select_left(command, undone=False)

    def _history_moved(self, before: int, after: int) -> None:
        """A click in History undid or redid edits, maybe of another image: show the image of the
        last one, as Ctrl+Z does; a redo that failed is reported, as Ctrl+Y's is."""
        if self.workspace is not None:
            # the edit nearest the point reached that has an image (a class rename there has none: the image stayed)
            stack = self.workspace.undo_stack
            steps = range(after, before) if after < before else range(after - 1, before - 1, -1)
            with_image = (stack.command(i) for i in steps if self._image_names(stack.command(i)))
            self._show_image_of(next(with_image, None))
            if after > before and (problem := self.workspace.take_back_failed_redo(before)):
                self.problem.emit("Redo", problem)
            elif after < before:  # (the message of the last edit stood, of an edit just undone)
                later = f" and the {count(before - after - 1, 'step')} after it" if before - after > 1 else ""
                self.message.emit(f"undone: {stack.text(after)}{later}")
            elif after > before:
                earlier = f" and the {count(after - before - 1, 'step')} before it" if after - before > 1 else ""
                self.message.emit(f"redone: {stack.text(after - 1)}{earlier}")

    def _name_actions(self, *_args) -> None:
        """Edit ▸ Undo and Redo name the step they take (greyed in the menu when there is none, see
        the window's menus: turned off, Ctrl+Z and Ctrl+Y said nothing at the ends of the history)."""
        stack = self.workspace.undo_stack if self.workspace is not None else None
        for action, verb, able, text in ((self.undo_action, "&Undo", self.can_undo(), stack and stack.undoText()),
                                         (self.redo_action, "&Redo", self.can_redo(), stack and stack.redoText())):
            action.setText(f"{verb} {text}" if able and text else verb)

    def can_undo(self) -> bool:
        return self.workspace is not None and self.workspace.undo_stack.canUndo()

    def can_redo(self) -> bool:
        return self.workspace is not None and self.workspace.undo_stack.canRedo()

    def _show_image_of(self, command) -> None:
        """Undo and redo of an edit made on another image first bring that image on screen (a step of
        several commands, such as accepting the folder's predictions, by the image of its first,
        unless the image on screen is one of them)."""
        names = self._image_names(command)
        if names and self.annotator.current not in names:
            self.files.set_current(names[0])

    def _select_left(self, command, undone: bool) -> None:
        """The boxes an undo or redo brought back (or moved) are selected, on the image on screen: a
        deleted box put back among many others was hard to find."""
        if isinstance(command, StoreCommand) and command.file_name == self.annotator.current and self.annotator.size is not None:
            if left := command.boxes_left(undone):
                self.canvas.select(left)

    @staticmethod
    def _image_names(command) -> list[str]:
        """The images an undo step edited (none for a class edit)."""
        steps = [command.child(i) for i in range(command.childCount())] if command is not None and command.childCount() else [command]
        return [n for step in steps if (n := getattr(step, "file_name", None))]
