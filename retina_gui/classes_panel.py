"""The classes panel: the class list with colours, box counts and number-key hints; add, rename
(to another class's name: merge into it), recolour and delete (each an undoable command through
the workspace)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QColorDialog,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.text import count
from retina_gui.convert import category_color, category_icon, class_added_text, class_key_text, class_keys
from retina_gui.widgets import button_grid
from retina_gui.workspace import Workspace


class ClassList(QListWidget):
    """The class list; empty, it says how classes come (a white box said nothing)."""

    EMPTY_TEXT = "No classes yet: Add one (Ctrl+N), or File ▸ Import Labels"

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8), Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                             self.EMPTY_TEXT)
            painter.end()


class ClassesPanel(QWidget):
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, confirm: Callable[..., bool]) -> None:
        """``confirm(title, question, undoable=...)``: the window's way to ask before deleting boxes."""
        super().__init__(parent)
        self.confirm = confirm
        self.workspace: Workspace | None = None
        self.list = ClassList()
        # a long name is cut in its middle, its box count kept in view (it scrolled sideways, the count out of sight)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(self._chosen)
        self.list.itemDoubleClicked.connect(self._double_clicked)
        # a click only chooses (for new boxes, and for Rename, Colour, Delete): it must not relabel the
        # selected boxes on the way to renaming a class; the number keys and the right-click menu do that
        self.list.setToolTip("The class for new boxes. To relabel the selected boxes: its number key, or right-click them")
        self.buttons: list[QPushButton] = []
        for text, slot, tip in (("Add", self.ask_add, "Add a class"), ("Rename", self.ask_rename, "Rename the chosen class"),
                                ("Colour", self.ask_color, "Change the chosen class's colour"),
                                ("Delete", self.ask_delete, "Delete the chosen class and its boxes (undoable)")):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            self.buttons.append(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list, 1)
        layout.addLayout(button_grid(*self.buttons))
        self._counts_timer = QTimer(self, singleShot=True, interval=200)  # counting is O(boxes): not on every keystroke
        self._counts_timer.timeout.connect(self.refresh)

    def _double_clicked(self, _item: QListWidgetItem) -> None:
        self.ask_rename()

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        editable = workspace is not None and not workspace.read_only
        for button in self.buttons:  # read-only labels: nothing to add or change (Add asked for a name again and again)
            button.setEnabled(editable)
        if workspace is not None:
            workspace.categories_changed.connect(self.refresh)
            workspace.images_changed.connect(self._images_changed)
            workspace.current_category_changed.connect(self._current_changed)
        self.refresh()

    def _images_changed(self, _names: list) -> None:
        self._counts_timer.start()

    def refresh(self) -> None:
        scrolled = self.list.verticalScrollBar().value()  # kept: back at the top, the next click after a delete hit another class
        self.list.blockSignals(True)
        self.list.clear()
        if self.workspace is not None:
            counts = self.workspace.store.box_counts()
            keys = class_keys(self.workspace.store.categories)
            for category in self.workspace.store.categories:
                item = QListWidgetItem(f"{class_key_text(keys.get(category.id))}{category.name}  ({counts.get(category.id, 0)})")
                item.setIcon(category_icon(category))
                item.setData(Qt.ItemDataRole.UserRole, category.id)
                item.setToolTip(f"{category.name}: {count(counts.get(category.id, 0), 'box')}")
                self.list.addItem(item)
                if category.id == self.workspace.current_category:
                    self.list.setCurrentItem(item)
        self.list.doItemsLayout()  # (the scroll bar's range comes with the layout: set before it, the place was lost)
        self.list.verticalScrollBar().setValue(scrolled)
        self.list.blockSignals(False)

    def _current_changed(self, category_id: int) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == category_id:
                self.list.blockSignals(True)
                self.list.setCurrentRow(row)
                self.list.blockSignals(False)

    def _chosen(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None and self.workspace is not None:
            self.workspace.set_current_category(item.data(Qt.ItemDataRole.UserRole))

    def chosen_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _try(self, action) -> bool:
        """Run a class edit; a refusal (a name taken or blank) is shown. Returns whether it went
        through (an action returning False did not: the user said no)."""
        try:
            return action() is not False
        except (ValueError, KeyError) as exc:
            QMessageBox.warning(self, "Classes", str(exc.args[0]) if exc.args else type(exc).__name__)
            return False

    def _editable(self) -> bool:
        """The Classes menu reaches here with the buttons off: say why (in the status bar, as for box edits)."""
        if self.workspace is None:  # (Add with no folder open did nothing, and said nothing)
            self.message.emit("open a folder first: its classes are kept with its labels")
        elif self.workspace.read_only:
            self.message.emit(self.workspace.read_only_text)
        return self.workspace is not None and not self.workspace.read_only

    def _chosen_to_edit(self) -> int | None:
        """The class the Classes menu's Rename, Colour and Delete act on; None, said why, when there is none."""
        if not self._editable():
            return None
        category_id = self.chosen_id()
        if category_id is None:  # (F2 with no class chosen did nothing, and said nothing)
            self.message.emit("no class chosen: click one in the Classes panel first")
        return category_id

    def ask_add(self) -> None:
        """A class the user adds is the one new boxes get (the next box was drawn as the old one)."""
        if self._editable():
            self._ask_name("Add class", "Class name:", "", self._add_and_choose)  # an empty name gets a message too

    def add_named(self, name: str) -> int | None:
        """Add a class of this name (typed in the class picker); its id, or None when refused (said)."""
        if not self._editable():
            return None
        added: list[int] = []
        self._try(lambda: added.append(self.workspace.add_category(name).id))
        return added[0] if added else None

    def _add_and_choose(self, name: str) -> None:
        category = self.workspace.add_category(name)
        self.workspace.set_current_category(category.id)
        # (as the picker, L, says it: Ctrl+N said nothing)
        self.message.emit(f"{class_added_text(self.workspace.store.categories, category.id)}; new boxes: {category.name}")

    def ask_rename(self) -> None:
        if (category_id := self._chosen_to_edit()) is None:
            return
        old = self.workspace.store.category(category_id).name
        self._ask_name("Rename class", "New name:", old, lambda name: self._rename_or_merge(category_id, name))

    def _rename_or_merge(self, category_id: int, name: str) -> bool:
        """A name another class has merges this one into it, after asking (a stray class of an export,
        two spellings of one class: it was refused, and the boxes had to be relabelled one by one).
        False: not merged, the name to be asked again."""
        store = self.workspace.store
        other = store.category_named(name) if name.strip() else None
        if other is None or other.id == category_id:
            old = store.category(category_id).name
            self.workspace.rename_category(category_id, name)
            if (new := store.category(category_id).name) != old:  # (said nothing)
                self.message.emit(f"renamed class {old} to {new}")
            return True
        old, count = store.category(category_id).name, store.box_counts().get(category_id, 0)
        boxes = f"Its {count} boxes become {other.name} boxes, and " if count != 1 else f"Its box becomes a {other.name} box, and "
        if not self.confirm("Merge classes", f"There is already a class called “{other.name}”. Merge {old} into it? "
                            f"{boxes if count else ''}{'the' if count else 'The'} class {old} goes. (Edit ▸ Undo brings it back.)",
                            undoable=True):
            return False
        self.workspace.merge_category(category_id, other.id)
        return True

    def _ask_name(self, title: str, label: str, text: str, apply) -> None:
        """Ask for a class name until ``apply(name)`` takes it or the user cancels: a refused name
        (taken, blank) comes back in the field to be corrected, not lost."""
        while True:
            text, ok = QInputDialog.getText(self, title, label, text=text)
            if not ok or self._try(lambda: apply(text)):
                return

    def ask_color(self) -> None:
        if (category_id := self._chosen_to_edit()) is None:
            return
        category = self.workspace.store.category(category_id)
        color = QColorDialog.getColor(category_color(category), self, f"Colour of {category.name}")
        if color.isValid():
            self._try(lambda: self.workspace.recolor_category(category_id, QColor(color).name()))

    def ask_delete(self, by_key: bool = False) -> None:
        """Delete the chosen class, after asking when it has boxes; ``by_key`` (Delete in the list),
        No is the answer Enter gives, and the question says what the key did (meant for a box
        selected on the image, Enter deleted a class of 5 boxes)."""
        if (category_id := self._chosen_to_edit()) is None:
            return
        category = self.workspace.store.category(category_id)
        count = self.workspace.store.box_counts().get(category_id, 0)
        boxes = "its box" if count == 1 else f"its {count} boxes"
        key = (" (Delete in the Classes list deletes its class; for boxes selected on the image, click the image, then press "
               "Delete.)") if by_key else ""
        if count and not self.confirm("Delete class", f"Delete {category.name} and {boxes}? (Edit ▸ Undo brings them back.){key}",
                                      undoable=not by_key):
            return
        if self._try(lambda: self.workspace.delete_category(category_id)):
            self.message.emit(f"deleted class {category.name}{f' and {boxes}' if count else ''} (Edit ▸ Undo brings {'them' if count else 'it'} back)")
