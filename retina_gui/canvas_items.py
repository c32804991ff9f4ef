"""What the canvas draws: the views of boxes it is given (plain values), and the scene items that
draw them (label and prediction outlines with a dark edge, class tags of one screen size at every
zoom)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem


@dataclass(frozen=True)
class BoxView:
    """What the canvas shows for one box: its rect in image pixels, label text and colour."""

    rect: QRectF
    label: str
    color: QColor
    score: float = 1.0  # a prediction's: higher scores are drawn on top
    faint: bool = False  # a prediction a label already covers: drawn faintly, the new ones stand out


@dataclass(frozen=True)
class OverlayBox:
    """A box drawn over everything (anchors, assignment): not a label, not clickable. One of no
    size is a point, drawn as a cross a few screen pixels wide (the anchor view's probed point)."""

    rect: QRectF
    color: QColor
    width: int = 1
    dashed: bool = True
    text: str = ""


@functools.cache
def tag_font() -> tuple[QFont, QFontMetricsF]:
    """The tags' font, the application's at 8.5 pt, and its metrics. Made at first use: a QFont made
    as this module is imported, before the application exists, has no family yet, and its metrics
    were another font's than the one the tags are painted in (tags too tall, names cut short)."""
    font = QFont()
    font.setPointSizeF(8.5)
    return font, QFontMetricsF(font)


class LabelItem(QGraphicsItem):
    """Class name on a coloured tag above its position (``below``: under it); constant size at every
    zoom, so the tag's extent is in screen pixels and is placed by this flag, never by an offset in
    image pixels. Not a child of its box (``owner``): a child is stacked with its parent, so the
    outlines of smaller boxes, drawn over larger ones, crossed their tags; tags lie over every box."""

    Z = 1e12  # over every box (their z is minus their area); predictions' tags just under the labels'


    def __init__(self, owner: QGraphicsItem, *, below: bool = False) -> None:
        super().__init__()
        self.owner = owner
        self.setZValue(self.Z - below)
        self.below = below
        self.inside = False  # flipped into the box: there is no room outside it within the image
        self.shift = 0.0  # screen pixels to the left: the tag would run past the image's right edge
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # text is drawn once, then blitted
        self.text, self.color, self.tag_width = "", QColor(), 0.0
        self._rect = QRectF()

    def set_label(self, text: str, color: QColor) -> None:
        self.prepareGeometryChange()
        self.text, self.color = text, color
        self.tag_width = tag_font()[1].horizontalAdvance(text) + 6  # screen pixels
        self._layout()
        self.update()

    def place(self, inside: bool, shift: float) -> None:
        """Keep the tag on the image (a fitted image fills the view, leaving no room past its edges):
        ``inside`` flips it to the other side of its position, into the box; ``shift`` moves it
        left by that many screen pixels."""
        if inside != self.inside or shift != self.shift:
            self.prepareGeometryChange()
            self.inside, self.shift = inside, shift
            self._layout()

    @staticmethod
    def height() -> float:
        """The tag's height in screen pixels."""
        return tag_font()[1].height() + 2

    def screen_rect(self, x: float, y: float, inside: bool, shift: float) -> tuple[float, float, float, float]:
        """Where the tag would lie if hung from screen point (x, y) and placed so: x1, y1, x2, y2."""
        h = self.height()
        top = y if self.below != inside else y - h
        return x - shift, top, x - shift + self.tag_width, top + h

    def _layout(self) -> None:
        h = self.height()
        self._rect = QRectF(-self.shift, 0 if self.below != self.inside else -h, self.tag_width, h)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.fillRect(self._rect, self.color)
        dark = self.color.lightnessF() > 0.6
        painter.setFont(tag_font()[0])
        place, align = self._rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        if self.color.alpha() < 255:  # a prediction's see-through tag: the photo under it shows, so the text gets a halo
            painter.setPen(QColor(255, 255, 255, 170) if dark else QColor(0, 0, 0, 170))  # (white text on tan over light squares)
            for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                painter.drawText(place.translated(dx, dy), align, self.text)
        painter.setPen(Qt.GlobalColor.black if dark else Qt.GlobalColor.white)
        painter.drawText(place, align, self.text)


class TagSpace:
    """The screen rectangles taken by tags so far, filed by the square cells of side ``cell``
    they touch, so a new tag is checked against its neighbours only."""

    def __init__(self, cell: float) -> None:
        self.cell = cell
        self.cells: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}

    def claim(self, rect: tuple[float, float, float, float]) -> bool:
        """Take ``rect`` if it overlaps no rectangle taken before (touching is not overlapping)."""
        x1, y1, x2, y2 = rect
        keys = [(i, j) for i in range(int(x1 // self.cell), int(x2 // self.cell) + 1)
                for j in range(int(y1 // self.cell), int(y2 // self.cell) + 1)]
        for key in keys:
            for a1, b1, a2, b2 in self.cells.get(key, ()):
                if x1 < a2 - 0.5 and a1 < x2 - 0.5 and y1 < b2 - 0.5 and b1 < y2 - 0.5:
                    return False
        for key in keys:
            self.cells.setdefault(key, []).append(rect)
        return True


class LineScale:
    """Outline widths are in widget pixels: cosmetic pens are drawn in device pixels, so on a HiDPI
    screen (scale 2) a 2 px outline was 1 widget pixel thin next to tags and handles twice as
    large, and a faint prediction's all but vanished. The canvas sets ``value`` to its screen's
    device pixel ratio."""

    value = 1.0


LINE_SCALE = LineScale()


def edge_pen(line: QPen, alpha: int) -> QPen:
    """A dark pen 2 px wider than ``line``, drawn under it: a pale class colour (cream, lavender,
    pink) all but vanished on a light photo. Dashes are kept in step with the line's (Qt measures
    a dash in pen widths)."""
    edge = QPen(QColor(0, 0, 0, alpha), line.widthF() + 2 * LINE_SCALE.value)
    edge.setCosmetic(True)
    if line.style() == Qt.PenStyle.DashLine:  # (the line's pen is flat-capped too: a square cap, half the width longer
        shrink = line.widthF() / edge.widthF()  # at each end, closed the wider edge's gaps, and the edge was drawn solid)
        edge.setDashPattern([4 * shrink, 2 * shrink])  # Qt's DashLine: 4 on, 2 off
        edge.setCapStyle(Qt.PenCapStyle.FlatCap)
    return edge


class EdgedRectItem(QGraphicsRectItem):
    """A rectangle whose outline has ``edge`` (see :func:`edge_pen`) drawn under it; None: none."""

    def __init__(self) -> None:
        super().__init__()
        self.edge: QPen | None = None

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.edge is not None:
            painter.setPen(self.edge)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.rect())
        super().paint(painter, option, widget)


class BoxItem(EdgedRectItem):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.label = LabelItem(self)
        self._selected = False
        self.color = QColor()
        self.view: BoxView | None = None
        self.tag_at = 0.0, 0.0
        self.box_height = 0.0

    def show_box(self, view: BoxView, selected: bool) -> bool:
        """Returns whether anything changed (an edit changes one box: the others are not redrawn)."""
        if view == self.view and selected == self._selected:
            return False
        self.view = view
        self.setRect(view.rect)
        self.setZValue(-view.rect.width() * view.rect.height())  # smaller boxes on top: nested ones stay clickable
        self.label.set_label(view.label, view.color)
        self.label.setPos(view.rect.topLeft())
        self.tag_at = view.rect.left(), view.rect.top()  # image point the tag hangs from (read at every zoom step: plain floats)
        self.box_height = view.rect.height()
        self.color = view.color
        self.set_selected(selected)
        return True

    def set_selected(self, selected: bool) -> None:
        self._selected = selected
        pen = QPen(self.color, (3 if selected else 2) * LINE_SCALE.value)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.edge = edge_pen(pen, 130)
        fill = QColor(self.color)
        fill.setAlpha(60 if selected else 0)
        self.setBrush(QBrush(fill) if selected else Qt.BrushStyle.NoBrush)


class PredictionItem(EdgedRectItem):
    """A model prediction: dashed, with class and score; below the labels so they stay clickable."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.label = LabelItem(self, below=True)  # under the box: the label's own tag is above it
        self.view: BoxView | None = None
        self.tag_at = 0.0, 0.0
        self.box_height = 0.0

    def show_box(self, view: BoxView) -> None:
        if view == self.view:  # moving the score slider keeps a prefix of the list unchanged
            return
        self.view = view
        self.setRect(view.rect)
        # below every label (their z is minus their area, > -1e17) and above the image (-1e18);
        # higher scores on top, so a confident prediction's tag is not hidden by a doubtful one's
        self.setZValue(-1e17 * (2 - view.score))
        self.restyle()
        tag = QColor(view.color)
        tag.setAlpha(70 if view.faint else 170)
        self.label.set_label(view.label, tag)
        self.label.setPos(view.rect.bottomLeft())
        self.tag_at = view.rect.left(), view.rect.bottom()
        self.box_height = view.rect.height()


    def restyle(self) -> None:
        """The outline, in the screen's scale."""
        line = QColor(self.view.color)
        line.setAlpha(90 if self.view.faint else 255)
        pen = QPen(line, (1 if self.view.faint else 2) * LINE_SCALE.value, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # dashes as long as the edge's under them (see edge_pen)
        self.setPen(pen)
        self.edge = None if self.view.faint else edge_pen(pen, 110)  # (a faint prediction is meant to recede)
