"""Choose a class by typing part of its name: the keyboard's way to the classes past the ninth
(the number keys reach 1 to 9), and to any class of a long list."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from core.labels import Category, class_name_key
from retina_gui.convert import category_icon, class_keys


def in_order(typed: str, name: str) -> bool:
    """Whether the letters of ``typed`` come in ``name`` in that order ("wkn": white-knight)."""
    rest = iter(name)
    return all(letter in rest for letter in typed)


class ClassPicker(QDialog):
    """The classes whose name contains what is typed (as class names compare: case and Unicode
    spelling do not count), then those with its letters in that order ("wkn": white-knight), the
    current one first in view; Up/Down move in the list while typing, Return takes the highlighted
    one, or, when no class matches, the name typed as a new class (:meth:`new_name`)."""

    def __init__(self, categories: list[Category], current: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose class")
        self.filter = QLineEdit(placeholderText="Type part of a class name" if categories else "No classes yet: type a new class's name")
        self.filter.setClearButtonEnabled(True)
        self.list = QListWidget()
        keys = class_keys(categories)
        for category in categories:
            key = keys.get(category.id)
            item = QListWidgetItem(category_icon(category), f"{category.name}  (key {key})" if key else category.name)
            item.setData(Qt.ItemDataRole.UserRole, category.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, class_name_key(category.name))
            self.list.addItem(item)
            if category.id == current:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        if self.list.count():  # every class in view, up to 15 (the default height cut the 12th of the chess classes in half,
            # and left 4 classes in a list 200 px taller than them)
            self.list.setFixedHeight(self.list.sizeHintForRow(0) * min(self.list.count(), 15) + 2 * self.list.frameWidth())
        self.list.setVisible(bool(categories))  # (an empty box stood under the name of the first class)
        self.nothing = QLabel("")  # what is typed matches no class: said (the list just emptied)
        self.nothing.setWordWrap(True)
        self.nothing.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(self.accept)
        self.filter.textChanged.connect(self._filtered)
        self.filter.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        layout.addWidget(self.nothing)
        layout.addWidget(buttons)
        self.filter.setFocus()

    def _filtered(self, text: str) -> None:
        key = class_name_key(text)
        items = [self.list.item(row) for row in range(self.list.count())]
        names = [item.data(Qt.ItemDataRole.UserRole + 1) for item in items]
        shown = [key in name for name in names]
        if not any(shown):
            shown = [in_order(key, name) for name in names]
        for item, visible in zip(items, shown):
            item.setHidden(not visible)
        current = self.list.currentItem()
        if current is None or current.isHidden():
            self.list.setCurrentItem(next((item for item, visible in zip(items, shown) if visible), None))
        typed = text.strip()
        self.nothing.setText("" if any(shown) else f"Return adds “{typed}” as the first class" if not items
                             else f"No class name has “{typed}”: Return adds it as a new class")
        self.nothing.setVisible(not any(shown))

    def place_beside(self, area: QRect) -> None:
        """Open beside ``area`` (global pixels), not over it: centred on the window, the picker hid
        the box it relabels."""
        self.adjustSize()
        screen = (self.screen() or QApplication.primaryScreen()).availableGeometry()
        size = self.size()
        x = area.right() + 12 if area.right() + 12 + size.width() <= screen.right() else area.left() - 12 - size.width()
        x = min(max(x, screen.left()), screen.right() - size.width())
        y = min(max(area.top(), screen.top()), screen.bottom() - size.height())
        self.move(x, y)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up, Down, Page Up/Down typed in the filter move in the list (the hands stay on the keys)."""
        keys = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)
        if watched is self.filter and event.type() == QEvent.Type.KeyPress and event.key() in keys:
            self.list.keyPressEvent(event)
            return True
        return super().eventFilter(watched, event)

    def new_name(self) -> str:
        """The name typed when it matches no class ("" otherwise): a class to add (the picker said
        to use Classes ▸ Add Class…, and Return closed it with nothing done)."""
        return self.filter.text().strip() if self.chosen() is None else ""

    def chosen(self) -> int | None:
        """The class id taken (None: none shown, or none highlighted)."""
        item = self.list.currentItem()
        return None if item is None or item.isHidden() else item.data(Qt.ItemDataRole.UserRole)
