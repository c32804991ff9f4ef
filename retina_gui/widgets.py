"""Widgets and layout pieces shared by the window and its panels. Docks are narrow (a quarter of a
small screen), so rows of buttons wrap into a grid, and a panel's scroll area never lets its dock
get narrower than the panel (it scrolls up and down only: anything wider would be cut off)."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QValidator
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QScrollBar,
    QSizePolicy,
    QStatusBar,
    QStyle,
    QStyleOption,
    QTextEdit,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

JsonKind = TypeVar("JsonKind", dict, list)


def json_setting(settings: QSettings, key: str, kind: type[JsonKind]) -> JsonKind:
    """A setting kept as JSON text of a ``kind`` (dict or list): an empty one when it is missing,
    or when a settings file edited by hand holds anything else there."""
    from core.atomic import parse_json

    try:
        value = parse_json(settings.value(key, "", type=str) or "null")
    except ValueError:
        return kind()
    return value if isinstance(value, kind) else kind()


def button_grid(*widgets: QWidget, columns: int = 2) -> QGridLayout:
    """``widgets`` in rows of ``columns``, each column taking an equal share of the width."""
    grid = QGridLayout()
    grid.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        grid.addWidget(widget, i // columns, i % columns)
    for column in range(columns):
        grid.setColumnStretch(column, 1)
    return grid


def model_name(path: Path) -> str:
    """A weights file as the window names it: with its folder, which tells runs apart (every run's
    model is a best.safetensors)."""
    return f"{path.parent.name}/{path.name}"


def breakable(name: str) -> str:
    """A file name or path that a word-wrapped label may break after ``/``, ``_``, ``-`` and ``.``
    (a long name without spaces would otherwise set the panel's width)."""
    for mark in "/_-.":
        name = name.replace(mark, mark + "\u200b")
    return name


def rows_high(view: QFrame, rows: int) -> int:
    """The height of ``rows`` lines of text in ``view``, its frame included: a list's least height."""
    return rows * (view.fontMetrics().lineSpacing() + 4) + 2 * view.frameWidth()


class _FittedHeight(QWidget):
    """Holds a panel in its scroll area. A scroll area gives a widget whose layout has word-wrapped
    labels its preferred height for the width: panels scrolled with room to spare, their lists at
    full height and what came after them (the evaluation's error detail and "Add as label") below
    the fold at 1600x900. So it asks for the panel's least height: where that fits the area, lists
    take what is left; where it does not, the panel scrolls by what it lacks (at its preferred height
    the By score chart was 600 px high, Add as label out of reach at 1280x800); the lists' least
    heights show rows enough (:func:`rows_high`)."""

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(panel)

    def heightForWidth(self, width: int) -> int:
        return self.layout().minimumHeightForWidth(width)


class PanelScroll(QScrollArea):
    """A panel taller than a small window scrolls instead of squeezing its rows together; it is
    never narrower than the panel's own minimum."""

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self._panel_width = 0  # the panel's minimum width, as last told to the dock
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # sideways scrolling hid the labels and buttons
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a Tab stop of its own showed no focus: the panel's fields take it
        self.setWidget(_FittedHeight(panel))
        self.widget().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            width = self.widget().minimumSizeHint().width()
            if width != self._panel_width:  # a longer path, a new row: the dock follows (other relayouts stay inside the panel)
                self._panel_width = width
                self.updateGeometry()
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width(), hint.height())


class PinnedPanel(QWidget):
    """A panel in its :class:`PanelScroll` under ``pinned``, rows that stay in view while the panel
    scrolls (Training's buttons, progress and status: at 1024x700, with the recipe open, Train and
    Cancel scrolled away)."""

    def __init__(self, pinned: QWidget, panel: QWidget) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(pinned)
        layout.addWidget(PanelScroll(panel), 1)


class HistoryView(QUndoView):
    """The undo history; ``moved(before, after)`` when a click, a drag or a key (arrows, Home, End,
    Page Up/Down) in it took the stack from one index to another (the window then shows the image of
    the edits undone or redone). Ctrl+Z and Ctrl+Y are not this view's: they show it themselves."""

    moved = Signal(int, int)

    def _tracked(self, handle, event) -> None:
        stack = self.stack()
        before = stack.index() if stack is not None else 0
        handle(event)
        if stack is not None and stack.index() != before:
            self.moved.emit(before, stack.index())

    def mousePressEvent(self, event) -> None:
        self._tracked(super().mousePressEvent, event)

    def mouseMoveEvent(self, event) -> None:
        self._tracked(super().mouseMoveEvent, event)

    def keyPressEvent(self, event) -> None:
        self._tracked(super().keyPressEvent, event)


class TypeAhead(QObject):
    """Installed on drop-downs: one reached with the keyboard (Tab) takes the plain letter keys, to
    jump to its entries, before the window's one-key shortcuts (A in the image filter went to the
    previous image). One chosen with the mouse leaves the keys to the window: D, A and the number
    keys went on working after a click on the filter."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn:
            watched.setProperty("typing", event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason))
        elif event.type() == QEvent.Type.ShortcutOverride and watched.property("typing") and event.text().isalpha() \
                and not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                             | Qt.KeyboardModifier.MetaModifier):
            event.accept()
            return True
        return False


class ElidedLabel(QLabel):
    """A one-line label cut with "…" to the width it is given (its maximum width, set by its owner),
    the whole text in its tooltip: a status bar's fixed fields left passing messages no room."""

    def __init__(self, text: str = "", elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> None:
        super().__init__(text)
        self._elide = elide

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), self.maximumWidth()), hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(super().minimumSizeHint().width(), 40), super().minimumSizeHint().height())

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        painter.drawText(rect, int(self.alignment()), self.fontMetrics().elidedText(self.text(), self._elide, rect.width()))


class WarningLabel(QLabel):
    """A wrapping label in red, a red that reads on the window's background: the light theme's
    #c03030 was 2.2:1 against a dark one (a dark desktop's palette), dim and hard to read."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self._set_color()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._set_color()

    def _set_color(self) -> None:
        dark = self.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5
        color = QColor("#ff8080" if dark else "#c03030")
        if self.palette().color(QPalette.ColorRole.WindowText) != color:  # (setPalette sends a PaletteChange of its own)
            palette = self.palette()
            palette.setColor(QPalette.ColorRole.WindowText, color)
            self.setPalette(palette)


class MessageBar(QStatusBar):
    """A status bar whose passing message, when longer than its room, ends in "…" with the whole
    of it in the tooltip: it was cut mid-word ("left out: 4 on a label or likelier prediction o"),
    and the part cut off was often what mattered."""

    def __init__(self) -> None:
        super().__init__()
        self._fields: list[QWidget] = []

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        super().addPermanentWidget(widget, stretch)
        self._fields.append(widget)

    def clear_note(self, start: str | tuple[str, ...]) -> None:
        """Clears the passing message if it starts with ``start``: a note whose subject has gone."""
        if self.currentMessage().startswith(start):
            self.clearMessage()

    def _message_rect(self) -> QRect:
        """Beside the fields: left of them, or right of them in a right-to-left layout."""
        shown = [w.geometry() for w in self._fields if w.isVisible()]
        if self.layoutDirection() == Qt.LayoutDirection.RightToLeft:
            left = max((g.right() for g in shown), default=0) + 1
            return QRect(left + 6, 0, max(0, self.width() - left - 12), self.height())
        right = min((g.left() for g in shown), default=self.width())
        return QRect(6, 0, max(0, right - 12), self.height())

    def _shown_text(self) -> str:
        return self.fontMetrics().elidedText(self.currentMessage(), Qt.TextElideMode.ElideRight, self._message_rect().width())

    def paintEvent(self, _event) -> None:
        """As QStatusBar paints itself, with the message cut to its room."""
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
        for widget in self._fields:
            if widget.isVisible():
                option.rect = widget.geometry().adjusted(-1, -1, 1, 1)
                self.style().drawPrimitive(QStyle.PrimitiveElement.PE_FrameStatusBarItem, option, painter, widget)
        message, shown = self.currentMessage(), self._shown_text()
        # (here, as the fields beside the message grow and shrink with the image shown, not only the bar)
        self.setToolTip(message if message and shown != message else "")
        if message:
            painter.setPen(self.palette().windowText().color())
            painter.drawText(self._message_rect(), int(Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter
                                                       | Qt.TextFlag.TextSingleLine), shown)


class TaskProgress(QProgressBar):
    """A progress bar that stays out of sight until its task first reports (an empty bar looked
    like a broken box in every panel); afterwards it keeps showing how the last task ended."""

    def __init__(self, text_format: str = "%p %") -> None:
        super().__init__()
        self.setFormat(text_format)
        self.hide()

    def setValue(self, value: int) -> None:
        super().setValue(value)
        self.show()


class BoundedNote(QTextEdit):
    """A wrapped note that takes no room while it has nothing to say (empty, it left a gap between
    the Training panel's buttons and what Train would use), and at most ``lines`` of it: a longer
    one scrolls inside it (pinned above a scrolling panel, a long run result took 288 of the
    dock's 372 px at 1024x700)."""

    def __init__(self, lines: int) -> None:
        super().__init__(readOnly=True)
        self._lines = lines
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # read as a label: no Tab stop, no selection Ctrl+C would not copy
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.viewport().setAutoFillBackground(False)  # read as a label, not as a field to type in
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(0)  # (its text in line with the labels under it)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.hide()

    def setText(self, text: str) -> None:
        self.setPlainText(text)
        self.setToolTip(text)  # the whole of a long one at a glance (its end, under a thin scroll bar, went unread)
        self.setVisible(bool(text))

    def text(self) -> str:
        return self.toPlainText()

    def _fit(self, size) -> None:
        self.setFixedHeight(math.ceil(min(size.height(), self._lines * self.fontMetrics().lineSpacing())))


def enclosing_scroll_area(widget: QWidget) -> QScrollArea | None:
    """The scroll area a widget sits in (a side panel's PanelScroll), if any."""
    area = widget.parentWidget()
    while area is not None and not isinstance(area, QScrollArea):
        area = area.parentWidget()
    return area


def scroll_into_view(*widgets: QWidget) -> None:
    """Scroll the panel holding these widgets so that they are in view, once the layout has settled
    (a row that just appeared or folded away moves them); the first ones given yield to the last."""

    def scroll() -> None:
        if (area := enclosing_scroll_area(widgets[0])) is not None:
            # the layouts still pending first (a panel shown just before: the widget lay lower than scrolled to)
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            bar, room = area.verticalScrollBar(), area.viewport().height()
            for widget in widgets:
                # the whole widget, not QScrollArea.ensureWidgetVisible's idea of it (a chart's or a text's cursor
                # rectangle: a run's chart was scrolled to with its top at the panel's foot)
                top = widget.mapTo(area.widget(), QPoint(0, 0)).y()
                if top < bar.value():
                    bar.setValue(top)
                elif top + widget.height() > bar.value() + room:
                    bar.setValue(min(top, top + widget.height() - room))

    QTimer.singleShot(0, scroll)


class WheelOnlyWhenFocused(QObject):
    """Sliders, spin boxes and drop-downs in the scrolling side panels take the mouse wheel only
    once clicked into, and not while the panel is being scrolled; otherwise the wheel scrolls the
    panel. (Scrolling a panel past the score slider lowered the threshold, and past Epochs changed
    the recipe, unnoticed; a field focused with Tab took over the wheel mid-scroll when it passed
    under the pointer, and the learning rate tripled.)"""

    SCROLLING_S = 0.5  # wheel events closer together than this are one scroll of the panel

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._panel_scrolled = -math.inf  # when the wheel last scrolled a panel (time.monotonic)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel:
            return False
        now = time.monotonic()
        if isinstance(watched.parent(), QAbstractScrollArea):  # a panel's viewport: the panel scrolls
            self._panel_scrolled = now
            return False
        if watched.hasFocus() and now - self._panel_scrolled > self.SCROLLING_S:
            return False
        if (area := enclosing_scroll_area(watched)) is not None:
            self._panel_scrolled = now
            QApplication.sendEvent(area.verticalScrollBar(), event)
        return True

    def guard(self, panel: QWidget) -> None:
        for kind in (QAbstractSpinBox, QAbstractSlider, QComboBox):
            for widget in panel.findChildren(kind):
                if not isinstance(widget, QScrollBar):
                    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                    widget.installEventFilter(self)
        if (area := enclosing_scroll_area(panel)) is not None:
            area.viewport().installEventFilter(self)


class SliderPageKeys(QObject):
    """PageUp and PageDown move a focused slider by a page, as they do any slider (the window's Next
    and Previous Image took them: five PageDowns on the score slider went five images on)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride and event.key() in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)
                and event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.NoModifier):  # (the keypad's too)
            event.accept()  # the key goes to the slider, not to a shortcut
        return False


class RateSpinBox(QDoubleSpinBox):
    """A learning rate, typed as 0.0003 or as 3e-4 (a spin box read "1e-3" as 1, then took the
    maximum, 1.0, without a word) and shown as short as it reads: 0.0003, 1e-05."""

    def validate(self, text: str, pos: int):
        try:
            value = float(text.strip().replace(",", "."))  # (a decimal comma was dropped as typed: "0,001" became 1.0)
        except ValueError:  # on the way to a number ("1e", "1e-"): typing goes on
            typing = re.fullmatch(r"[0-9]*[.,]?[0-9]*([eE][-+]?[0-9]*)?", text.strip()) is not None
            return QValidator.State.Intermediate if typing else QValidator.State.Invalid, text, pos
        inside = self.minimum() <= value <= self.maximum()
        return QValidator.State.Acceptable if inside else QValidator.State.Intermediate, text, pos

    def valueFromText(self, text: str) -> float:
        return float(text.strip().replace(",", "."))

    def fixup(self, text: str) -> str:
        return text  # (the spin box's own took group separators out of the number)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"
