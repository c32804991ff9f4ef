"""The file list: a lazy Qt model over the folder's image names (filled in batches by the scanner),
each with its status from the annotation store, plus search and a status filter."""

from __future__ import annotations

import unicodedata
from collections import Counter

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QBoxLayout, QComboBox, QLabel, QLineEdit, QListView, QVBoxLayout, QWidget

from core.annotations import AnnotationStore, ImageStatus
from core.text import count

UNREADABLE = "unreadable"
_STATUS_COLORS = {ImageStatus.UNLABELLED.value: "#808080", ImageStatus.LABELLED.value: "#3c8dd8",
                  ImageStatus.PREDICTED.value: "#e0a020", ImageStatus.REVIEWED.value: "#3cb44b", UNREADABLE: "#e6194b"}
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1


def _dot(color: str) -> QIcon:
    """A status dot with a white rim (the square of before vanished into the blue of the selected
    row, a labelled image's), 16 px as the list shows its icons, drawn for screens of 1, 1.5, 2
    and 3 device pixels a pixel (one 12 px drawing was stretched to 16, soft at every scale)."""
    icon = QIcon()
    for ratio in (1, 1.5, 2, 3):
        pixmap = QPixmap(round(16 * ratio), round(16 * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(QColor(color))
        painter.drawEllipse(QRectF(2, 2, 12, 12))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


class FileListModel(QAbstractListModel):
    marked_unreadable = Signal(str, str)  # name, why: an image found unreadable (decoded or predicted)

    def __init__(self, store: AnnotationStore | None = None) -> None:
        super().__init__()
        self.store = store
        self.names: list[str] = []
        self._rows: dict[str, int] = {}
        self.search_keys: list[str] = []  # each name's, made once: folding at each key took 101 ms for 100,000 names
        self.unreadable: dict[str, str] = {}  # name -> reason
        self._icons: dict[str, QIcon] = {}

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.names)

    def append(self, names: list[str]) -> None:
        start = len(self.names)
        self.beginInsertRows(QModelIndex(), start, start + len(names) - 1)
        self.names.extend(names)
        self._rows.update((n, start + i) for i, n in enumerate(names))
        self.search_keys.extend(map(search_key, names))
        self.endInsertRows()

    def row(self, name: str) -> int | None:
        return self._rows.get(name)

    def has_boxes(self, name: str) -> bool:
        return self.store is not None and bool(self.store.boxes(name))

    def status(self, name: str) -> str:
        if name in self.unreadable:
            return UNREADABLE
        return self.store.status(name).value if self.store else ImageStatus.UNLABELLED.value

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        name = self.names[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == STATUS_ROLE:
            return self.status(name)
        if role == Qt.ItemDataRole.DecorationRole:
            status = self.status(name)
            if status not in self._icons:
                self._icons[status] = _dot(_STATUS_COLORS[status])
            return self._icons[status]
        if role == Qt.ItemDataRole.ToolTipRole:
            if name in self.unreadable:
                return f"{name}\ncannot be read: {self.unreadable[name]}"
            n = len(self.store.boxes(name)) if self.store else 0
            return f"{name}\n{self.status(name)}, {n} box{'es' if n != 1 else ''}"
        return None

    def refresh(self, names: list[str]) -> None:
        """Statuses of these images changed ([] = possibly all)."""
        rows = [self._rows[n] for n in names if n in self._rows] if names else [0, len(self.names) - 1]
        if rows and self.names:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [Qt.ItemDataRole.DecorationRole, STATUS_ROLE])

    def mark_unreadable(self, name: str, reason: str) -> None:
        self.unreadable[name] = reason
        self.refresh([name])
        self.marked_unreadable.emit(name, reason)

    def mark_known_unreadable(self, reasons: dict[str, str]) -> None:
        """Images found unreadable at an earlier opening, marked at once (no news to tell again)."""
        self.unreadable.update(reasons)
        if reasons:
            self.refresh(list(reasons))


NOTHING_FOUND = "no image path has "  # starts the note on a search that finds nothing


def search_key(text: str) -> str:
    """What the search compares: case and accents do not count ("deja" finds "déjà vu/1.jpg");
    an ASCII text, most names, is only lower-cased."""
    if text.isascii():
        return text.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


class FileFilter(QSortFilterProxyModel):
    """Search (a substring, case and accents aside) and a status filter; keeps the model's (sorted) order."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.status = ""
        # The image on screen stays listed when its status changes: labelling it under "Unlabelled"
        # must not take it away mid-edit (the list moved on to the next image). It goes once another
        # is shown; choosing a filter applies to it at once.
        self.kept: str | None = None

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = search_key(text)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str) -> None:
        self.beginFilterChange()
        self.status = status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def keep(self, name: str) -> None:
        """``name`` listed whatever the filters, until another image is shown."""
        self.beginFilterChange()
        self.kept = name
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        model: FileListModel = self.sourceModel()
        name = model.names[row]
        if name == self.kept:
            return True
        if self.text and self.text not in model.search_keys[row]:
            return False
        return not self.status or status_matches(model, name, self.status)


def status_matches(model: FileListModel, name: str, wanted: str) -> bool:
    """Whether the status filter ``wanted`` lists image ``name``."""
    return _lists(wanted, *_kind(model, name))


def _kind(model: FileListModel, name: str) -> tuple[str, bool]:
    """An image's status, and whether it is a reviewed one with boxes."""
    status = model.status(name)
    return status, status == ImageStatus.REVIEWED.value and model.has_boxes(name)


def _lists(wanted: str, status: str, reviewed_with_boxes: bool) -> bool:
    if wanted == ImageStatus.LABELLED.value and status == ImageStatus.REVIEWED.value:
        return reviewed_with_boxes  # (a reviewed image with boxes is labelled too: the filter left it out)
    return status == wanted or (wanted == ImageStatus.UNLABELLED.value and without_labels(status))


class StatusBox(QComboBox):
    """The status filter; its list says how many images each entry lists, counted as it opens
    (not after every edit: 0.1 s at 100,000 images)."""

    def __init__(self, model_of) -> None:
        super().__init__()
        self._model_of = model_of  # () -> the FileListModel listed now

    def showPopup(self) -> None:
        model = self._model_of()
        kinds = Counter(_kind(model, name) for name in model.names)  # one pass (one per entry took 0.5 s at 100,000 images)
        for k in range(1, self.count()):
            wanted = self.itemData(k)
            n = sum(c for kind, c in kinds.items() if _lists(wanted, *kind))
            self.setItemText(k, f"{wanted.capitalize()} ({n})")
        super().showPopup()

    def hidePopup(self) -> None:
        super().hidePopup()
        for k in range(1, self.count()):  # closed, no count: it would go stale with the next edit
            self.setItemText(k, self.itemData(k).capitalize())


def without_labels(status: str) -> bool:
    """Predictions alone are no labels: "Unlabelled" lists predicted images too, and Shift+D goes to them."""
    return status in (ImageStatus.UNLABELLED.value, ImageStatus.PREDICTED.value)


class FileListPanel(QWidget):
    """Search box, status filter, the list and a count. ``current_changed`` gives the chosen name."""

    current_changed = Signal(str)
    message = Signal(str)  # a short note for the status bar
    search_done = Signal()  # Return or Esc in the search box: the keys go back to the image (D and A typed into the box)

    def __init__(self, model: FileListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.filter = FileFilter()
        self.filter.setSourceModel(model)
        self.search = QLineEdit(placeholderText="Search…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search_changed)
        self.search.returnPressed.connect(self._search_entered)
        self.search.installEventFilter(self)  # Esc
        self.shown: str | None = None  # the image on screen: it stays there while a filter hides it
        self.status_box = StatusBox(lambda: self.model)
        self.status_box.addItem("All images", "")
        for status in (*ImageStatus, None):
            value = status.value if status else UNREADABLE
            self.status_box.addItem(value.capitalize(), value)
        self.status_box.currentIndexChanged.connect(self._status_chosen)
        self.view = QListView()
        self.view.setModel(self.filter)
        self.view.setUniformItemSizes(True)  # constant-time layout for 100k rows
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # names of a series differ at the end
        # (and only without a sideways scroll bar: with one, every long name showed its same first 26 characters)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.count = QLabel()
        model.rowsInserted.connect(self._update_count)
        self.filter.rowsInserted.connect(self._update_count)
        self.filter.rowsRemoved.connect(self._update_count)
        self.filter.modelReset.connect(self._update_count)
        self.top = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.top.addWidget(self.search, 1)
        self.top.addWidget(self.status_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(self.top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)

    ONE_ROW_WIDTH = 260  # px: narrower, the search box goes above the status filter (beside it, it was 45 px: "Sear…")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        wide = self.width() >= self.ONE_ROW_WIDTH
        self.top.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)

    def set_model(self, model: FileListModel) -> None:
        """A new folder's list. The old model goes with its store (the proxy's hold on it kept every
        closed folder's labels in memory)."""
        old, self.model, self.shown, self.filter.kept = self.model, model, None, None
        self.filter.setSourceModel(model)
        if old is not model:
            old.store = None
            old.deleteLater()
        model.rowsInserted.connect(self._update_count)
        self._update_count()

    def _status_chosen(self, _: int) -> None:
        self._refilter(lambda: self.filter.set_status(self.status_box.currentData()))

    def _search_changed(self, text: str) -> None:
        self._refilter(lambda: self.filter.set_text(text))

    def _refilter(self, change) -> None:
        """Apply a filter change without changing the image on screen: it stays current when it is
        still listed, and D / A go on from where it would be when it is not."""
        selection = self.view.selectionModel()
        selection.blockSignals(True)
        try:
            self.filter.kept = None  # a filter the user chooses applies to the image on screen too
            change()
            row = self.model.row(self.shown) if self.shown is not None else None
            index = self.filter.mapFromSource(self.model.index(row)) if row is not None else QModelIndex()
            self.filter.kept = self.shown if index.isValid() else None
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        finally:
            selection.blockSignals(False)
        self.view.viewport().update()
        if index.isValid():
            self.view.scrollTo(index)

    def _update_count(self, *_) -> None:
        shown, total = self.filter.rowCount(), self.model.rowCount()
        self.count.setText(count(total, "image") if shown == total else f"{shown} of {count(total, 'image')}")

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            left, self.shown = self.shown, current.data()
            self.filter.kept = self.shown
            if left is not None and left != self.shown:
                self.model.refresh([left])  # filtered again: it goes if its status no longer matches
            self.current_changed.emit(self.shown)

    def current(self) -> str | None:
        index = self.view.currentIndex()
        return index.data() if index.isValid() else None

    def _search_entered(self) -> None:
        """Return: the first image found is shown, unless the one on screen is among those found;
        none found is said (Return did nothing, silently)."""
        if not self.view.currentIndex().isValid() and self.filter.rowCount():
            self.view.setCurrentIndex(self.filter.index(0, 0))
        if not self.filter.rowCount() and self.search.text().strip():
            among = f" among the {self.filter.status} images" if self.filter.status else ""
            self.message.emit(f"{NOTHING_FOUND}“{self.search.text().strip()}”{among}")
        self.search_done.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self.search or event.type() not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                or event.key() != Qt.Key.Key_Escape:
            return False
        if event.type() == QEvent.Type.ShortcutOverride:  # the box takes Esc, not Edit ▸ Clear Selection
            event.accept()
        else:
            self.search.clear()
            self.search_done.emit()
        return True

    def set_current(self, name: str) -> bool:
        row = self.model.row(name)
        if row is None:
            return False
        index = self.filter.mapFromSource(self.model.index(row))
        if not index.isValid():  # hidden by the filters: listed while it is shown (the filters were cleared: an undo there lost them)
            self.filter.keep(name)
            index = self.filter.mapFromSource(self.model.index(row))
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    def filters(self) -> str:
        """The search and status filter in use, in words ("" for none): what a short list is short of."""
        parts = ([f"search “{self.search.text()}”"] if self.search.text() else []) + (
            [f"{self.status_box.currentData().capitalize()} only"] if self.status_box.currentIndex() > 0 else [])
        return ", ".join(parts)

    def step(self, delta: int) -> bool:
        """Go to the next (+1) or previous (-1) image in the visible list."""
        n = self.filter.rowCount()
        if n == 0:
            return False
        row = self.view.currentIndex().row()
        if row < 0:  # the image on screen is filtered out: the next listed one after (or before) it
            target = self._beside_shown(delta)
            if target is None:
                return False
        else:
            target = min(max(row + delta, 0), n - 1)
        if target == row:
            return False
        self.view.setCurrentIndex(self.filter.index(target, 0))
        return True

    def _beside_shown(self, delta: int) -> int | None:
        """The visible row after (delta > 0) or before the hidden image on screen (the first row
        when nothing is shown)."""
        shown = self.model.row(self.shown) if self.shown is not None else None
        if shown is None:
            return 0
        rows = [r for r in range(self.filter.rowCount()) if (self.filter.mapToSource(self.filter.index(r, 0)).row() > shown) == (delta > 0)]
        return (rows[0] if delta > 0 else rows[-1]) if rows else None

    def neighbours(self, name: str, radius: int = 1) -> list[str]:
        """Names before and after ``name`` in the visible list (for prefetching)."""
        row = self.model.row(name)
        if row is None:
            return []
        visible = self.filter.mapFromSource(self.model.index(row)).row()
        out = []
        for offset in [d for r in range(1, radius + 1) for d in (r, -r)]:
            index = self.filter.index(visible + offset, 0)
            if index.isValid():
                out.append(index.data())
        return out

    def next_unlabelled(self) -> bool:
        """Go to the next image without labels after the current one (wrapping around); one with
        predictions but no labels counts: its predictions still wait for a person."""
        names = self.model.names
        if not names:
            return False
        current = self.model.row(self.current() or "")
        start = -1 if current is None else current
        for k in range(1, len(names) + (current is None)):  # not the image on screen (it said nothing, and stayed)
            name = names[(start + k) % len(names)]
            if without_labels(self.model.status(name)):
                return self.set_current(name)
        return False
