"""Layout pieces shared by the panels. Docks are narrow (a quarter of a small screen), so rows of
buttons wrap into a grid, and a panel's scroll area never lets its dock get narrower than the
panel (it scrolls up and down only: anything wider would be cut off at the right)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QScrollArea, QWidget


def button_grid(*widgets: QWidget, columns: int = 2) -> QGridLayout:
    """``widgets`` in rows of ``columns``, each column taking an equal share of the width."""
    grid = QGridLayout()
    grid.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        grid.addWidget(widget, i // columns, i % columns)
    for column in range(columns):
        grid.setColumnStretch(column, 1)
    return grid


def breakable(name: str) -> str:
    """A file name or path that a word-wrapped label may break after ``/``, ``_``, ``-`` and ``.``
    (a long name without spaces would otherwise set the panel's width)."""
    for mark in "/_-.":
        name = name.replace(mark, mark + "\u200b")
    return name


class PanelScroll(QScrollArea):
    """A panel taller than a small window scrolls instead of squeezing its rows together; it is
    never narrower than the panel's own minimum."""

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # sideways scrolling hid the labels and buttons
        self.setFrameShape(QFrame.Shape.NoFrame)
        panel.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the panel's minimum may have changed (a longer path, a new row): the dock follows
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width(), hint.height())
