"""The canvas: one image and its boxes in a QGraphicsView whose scene coordinates are image pixels
(of the EXIF-oriented image, full resolution even when the pixels shown were decoded reduced).

The canvas only displays and reports intents (``box_drawn``, ``boxes_edited``, ``nudge``); it never
changes labels itself. The workspace turns intents into undo commands, the store changes, and the
canvas is told what to show. Handles, the crosshair and drag previews are painted in view pixels in
``drawForeground`` so that they keep their size at every zoom.
"""

from __future__ import annotations

import enum

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
)

from core.annotations import clamp_shift
from retina_gui.canvas_items import LINE_SCALE, BoxItem, BoxView, LabelItem, OverlayBox, PredictionItem, TagSpace
from retina_gui.convert import corners


def reading_order(rects: list[QRectF]) -> list[int]:
    """Indices of ``rects`` row by row, top to bottom, and left to right in each row (the order of
    the file is the order boxes were drawn in, which jumps about). A row is the height of its first
    box (by centre), at most twice a typical box's (a large box took every box below it into its
    row); a box is in it when at least half of the lower of the two heights overlaps: a short piece
    of a chess board's rank beside a tall one is one row."""
    if not rects:
        return []
    heights = sorted(r.height() for r in rects)
    cap = 2 * heights[len(heights) // 2]
    rows: list[list[int]] = []
    band = (0.0, 0.0)
    for i in sorted(range(len(rects)), key=lambda i: rects[i].center().y()):
        r = rects[i]
        overlap = min(r.bottom(), band[1]) - max(r.top(), band[0])
        if not rows or overlap < 0.5 * min(r.height(), band[1] - band[0]) or overlap <= 0:
            half = min(r.height(), cap) / 2
            rows.append([])
            band = (r.center().y() - half, r.center().y() + half)
        rows[-1].append(i)
    return [i for row in rows for i in sorted(row, key=lambda i: (rects[i].left(), rects[i].top()))]


NOT_DRAWN, NOT_RESIZED = "no box drawn", "box not resized"  # begin the refusals of a drag (gone with the next box drawn or edited)


class Tool(enum.Enum):
    EDIT = "edit"  # drag a box to move it, a handle to resize, empty space to draw
    DRAW = "draw"  # drag anywhere draws, even inside other boxes
    PROBE = "probe"  # a click picks a point (the anchor view shows the anchors there)


_HANDLES = ("tl", "t", "tr", "r", "br", "b", "bl", "l")
HANDLE_PX = 7  # handle size on screen
MAX_HANDLE_BOXES = 100
_GRAB_PX = 7  # how close (screen px) the cursor must be to grab a handle
_MIN_DRAW_PX = 4  # a smaller drag is a click, not a box


def _handle_points(r: QRectF) -> dict[str, QPointF]:
    cx, cy = r.center().x(), r.center().y()
    return {"tl": r.topLeft(), "t": QPointF(cx, r.top()), "tr": r.topRight(), "r": QPointF(r.right(), cy),
            "br": r.bottomRight(), "b": QPointF(cx, r.bottom()), "bl": r.bottomLeft(), "l": QPointF(r.left(), cy)}


class _Drag(enum.Enum):
    DRAW = 1
    MOVE = 2
    RESIZE = 3
    PAN = 4


class Canvas(QGraphicsView):
    box_drawn = Signal(QRectF)  # a new box, image pixels
    boxes_edited = Signal(list, str)  # [(index, QRectF)], "Move" or "Resize"
    nudge = Signal(float, float)  # arrow keys with boxes selected (image pixels)
    selection_changed = Signal(list)
    cursor_moved = Signal(object)  # QPointF in image pixels, or None when the cursor leaves the image
    zoom_changed = Signal(float)
    context_menu = Signal(QPoint)  # global position, over a selection
    prediction_accept = Signal(int)  # a prediction was double-clicked
    box_relabel = Signal(int)  # a box was double-clicked (edit tool): choose its class
    prediction_menu = Signal(list, QPoint)  # right click on predictions: their indices (every one under the point, top first), global position
    point_clicked = Signal(QPointF)  # with the probe tool, in image pixels
    tool_changed = Signal(object)  # Tool
    refused = Signal(str)  # why a drag or key did nothing

    ZOOM_RANGE = (0.01, 64.0)
    MENU_PREDICTIONS = 6  # in a right click's menu: inside a large box at a low threshold dozens lie under the point

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor(48, 48, 48))
        self.setMouseTracking(True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # zoom_by keeps its own anchor
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # scroll bars appearing while zooming must not shift the image
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.horizontalScrollBar().installEventFilter(self)
        self.verticalScrollBar().installEventFilter(self)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._pixmap.setZValue(-1e18)
        self.scene().addItem(self._pixmap)
        self.image_size: tuple[int, int] | None = None
        self._fitted = False  # the zoom is "fit to window" and follows the view's size
        # tags are placed for the part of the image in view: again once a scroll or resize settles (60 ms
        # without another; at 0 ms every step of a drag placed them: 42 ms a step with 20,000 boxes)
        self._tags_timer = QTimer(self, singleShot=True, interval=60)
        self._tags_timer.timeout.connect(self._place_tags)
        self.tool = Tool.EDIT
        self._items: list[BoxItem] = []
        self._predictions: list[PredictionItem] = []
        self.names_shown = self.predictions_shown = True
        self._overlays: dict[str, list[OverlayBox]] = {}  # by owner: "anchors", "highlight" (evaluation), "explanation"
        self._selected: set[int] = set()
        # the last boxes selected on this image, in reading order: Tab goes on from their place once
        # they are gone (Tab, Delete, Tab started again at the first box)
        self._tab_place: list[QRectF] = []
        self.just_drawn = False  # the selection is the box just drawn (see select_drawn)
        self._drag: _Drag | None = None
        self._press_scene = QPointF()
        self._press_view = QPoint()
        self._preview: dict[int, QRectF] = {}  # index -> rect being moved/resized; -1: the box being drawn
        self._waiting: QRectF | None = None  # a box drawn, waiting for its class (see show_waiting)
        self._handle = ""
        self._grabbed = -1  # the box clicked to move the selection
        self._grab = QPointF()  # from the cursor to the grabbed handle, in image pixels
        self._space = False
        self._cursor: QPointF | None = None
        self.message = ""

    # --- content -------------------------------------------------------------------------------
    def show_image(self, image: QImage, width: int, height: int) -> None:
        """Show ``image`` as an image of ``width`` x ``height`` pixels (it may be a reduced decode)."""
        first = self.image_size is None or self.image_size != (width, height)
        self.message = ""
        self._tab_place = []
        self._waiting = None
        self._pixmap.setPixmap(QPixmap.fromImage(image))
        self._pixmap.setScale(width / max(1, image.width()))
        self._pixmap.setVisible(True)
        self.image_size = (width, height)
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        self._set_scroll_range()
        if first or self.zoom() < self._fit_zoom():
            self.fit()
        self._follow_still_mouse()  # the image moved under a still mouse (D / A)
        self.viewport().update()

    def _follow_still_mouse(self) -> None:
        """The cursor's image point anew, the image having moved under a mouse that did not."""
        mouse = self.viewport().mapFromGlobal(QCursor.pos())
        self._update_cursor(self.mapToScene(mouse) if self.viewport().rect().contains(mouse) else QPointF(-1, -1))

    def reduced(self) -> bool:
        """Whether the image shown is a reduced decode, zoomed in past its pixels: one screen pixel
        shows less than one of its pixels (an image over ImageLoader.MAX_SIDE at Actual Size)."""
        image = self._pixmap.pixmap()
        return self.image_size is not None and not image.isNull() and \
            self.zoom() * self.devicePixelRatioF() * self.image_size[0] / image.width() > 1.0 + 1e-9

    def show_detail(self, image: QImage) -> None:
        """Show ``image``, the image shown in full (see :meth:`reduced`), in place of its reduced decode."""
        if self.image_size is None:
            return
        self._pixmap.setPixmap(QPixmap.fromImage(image))
        self._pixmap.setScale(self.image_size[0] / max(1, image.width()))
        self.viewport().update()

    def show_waiting(self, rect: QRectF | None) -> None:
        """Keep ``rect`` (image pixels) drawn as a preview while its class is asked; None: no longer."""
        self._waiting = rect
        self.viewport().update()

    def show_message(self, text: str) -> None:
        """No image (none chosen, or it could not be read): an empty canvas with a message."""
        self.image_size = None
        self._pixmap.setVisible(False)
        self.set_boxes([])
        self.set_predictions([])
        self._overlays.clear()
        self._waiting = None  # (a box waiting for its class, drawn on the image gone: it stood over the next folder's)
        self.message = text
        self._update_cursor(QPointF(-1, -1))  # no pixels: no crosshair, no position (the image before's stayed in the status bar)
        self.viewport().update()

    def set_boxes(self, boxes: list[BoxView], selected: list[int] | None = None) -> None:
        """Show these boxes (reusing items); ``selected`` replaces the selection if given. Else the
        selection stays when the number of boxes does (a move, resize or relabel, and their undo) and
        is cleared when it changed: after a delete or an undone one, the same indices name other boxes."""
        self._cancel_drag()
        self._follow_screen_scale()
        same_boxes = len(boxes) == len(self._items)
        self._splice(boxes)
        wanted = {i for i in selected if 0 <= i < len(boxes)} if selected is not None else (set(self._selected) if same_boxes else set())
        handles_moved = False  # the selection's handles are drawn over the scene, not by the items
        shown = []
        for item, view in zip(self._items, boxes):
            if item.show_box(view, item.index in wanted):
                shown.append(item)
                handles_moved = handles_moved or item.index in wanted
        # (a delete leaves the other items as they were, but their tags may now have room)
        if not self._set_selection(wanted) and (shown or not same_boxes):
            self._place_tags()
        if handles_moved:
            self.viewport().update()

    def _splice(self, boxes: list[BoxView]) -> None:
        """Match the items to ``boxes`` where they differ: the boxes before and after an edit keep
        their items (deleting one of 2,000 boxes moves no other item and redraws nothing else), the
        items in between are reused, added or removed."""
        old = self._items
        n = min(len(old), len(boxes))
        head = 0
        while head < n and old[head].view == boxes[head]:
            head += 1
        tail = 0
        while tail < n - head and old[len(old) - 1 - tail].view == boxes[len(boxes) - 1 - tail]:
            tail += 1
        between, needed = old[head : len(old) - tail], len(boxes) - tail - head
        for item in between[needed:]:
            self._remove(item)
        fresh = between[:needed] + [BoxItem(0) for _ in range(needed - len(between))]
        for item in fresh[len(between):]:
            self._add(item)
        old[head : len(old) - tail] = fresh
        for i in range(head, len(old)):
            old[i].index = i

    def _follow_screen_scale(self) -> None:
        """Outlines as wide in widget pixels as on a screen of scale 1 (see :class:`retina_gui.canvas_items.LineScale`),
        also after the window moves to a screen of another scale."""
        scale = self.devicePixelRatioF()
        if scale == LINE_SCALE.value:
            return
        LINE_SCALE.value = scale
        for item in self._items:
            item.set_selected(item._selected)
        for item in self._predictions:
            if item.view is not None:
                item.restyle()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.DevicePixelRatioChange:  # moved to a screen of another scale
            self._follow_screen_scale()
        return super().event(event)

    def set_predictions(self, boxes: list[BoxView]) -> None:
        self._follow_screen_scale()
        self._resize_pool(self._predictions, len(boxes), PredictionItem)
        for item, view in zip(self._predictions, boxes):
            item.show_box(view)
        self._place_tags()

    def _place_tags(self) -> None:
        """Place every tag at this zoom so that none covers another: labels first (the selected ones
        before the rest), then predictions by falling score. A tag goes on its side of the box, or
        inside it where that side is taken or would stick out of the image, and moves left at the
        right edge; a tag with no free place is hidden (zoom in to see it, or hover its box), as is
        one larger than its box on screen. Overlaps are found through a grid of screen cells, so
        placing 20,000 tags stays linear; only the tags of boxes in view (and a margin) are placed, the
        others hidden until a scroll brings them in (all of them took 220 ms a zoom step at 20,000)."""
        self._tags_timer.stop()
        zoom, tag_height = self.zoom(), LabelItem.height()
        width, height = self.image_size or (0, 0)
        seen = self.mapToScene(self.viewport().rect()).boundingRect()
        margin = 300 / zoom  # image pixels: a tag hanging into view from a box just outside it
        left, top, right, bottom = seen.left() - margin, seen.top() - margin, seen.right() + margin, seen.bottom() + margin
        taken = TagSpace(cell=4 * tag_height)
        labels = sorted(self._items, key=lambda item: item.index not in self._selected)
        predictions = sorted(self._predictions, key=lambda item: item.view.faint)  # new ones first; each part by score
        for item in labels + predictions:
            label, (x, y) = item.label, item.tag_at
            if not (left <= x <= right and top <= y <= bottom):
                if label.isVisible():
                    label.setVisible(False)
                continue
            place = None
            # zoomed out, a box smaller than its tag would be hidden under it (and hide its neighbours): no tag
            if self.names_shown and item.isVisible() and item.box_height * zoom >= tag_height:
                room = height - y if label.below else y  # image pixels between the tag's side and the image edge
                shift = max(0.0, min(label.tag_width - (width - x) * zoom, x * zoom))
                sides = (True,) if room * zoom < tag_height else (False, True)
                place = next(((inside, shift) for inside in sides if taken.claim(label.screen_rect(x * zoom, y * zoom, inside, shift))), None)
            if place is not None:
                label.place(*place)
            if (place is not None) != label.isVisible():
                label.setVisible(place is not None)
            tip = "" if place is not None else label.text  # a hidden tag's text, on hover
            if item.toolTip() != tip:
                item.setToolTip(tip)

    def _resize_pool(self, items: list, size: int, make: type) -> None:
        """Grow or shrink a list of scene items to ``size``; items are reused, not rebuilt."""
        while len(items) > size:
            self._remove(items.pop())
        while len(items) < size:
            items.append(make(len(items)))
            items[-1].setVisible(self.predictions_shown)
            self._add(items[-1])

    def _add(self, item: BoxItem | PredictionItem) -> None:
        self.scene().addItem(item)
        self.scene().addItem(item.label)

    def _remove(self, item: BoxItem | PredictionItem) -> None:
        self.scene().removeItem(item.label)
        self.scene().removeItem(item)

    def set_names_shown(self, shown: bool) -> None:
        """Show or hide the class-name tags (View ▸ Box Names)."""
        self.names_shown = shown
        self._place_tags()

    def set_predictions_shown(self, shown: bool) -> None:
        """Show or hide the model's predictions (View ▸ Predictions), to see the labels alone."""
        self.predictions_shown = shown
        for item in self._predictions:
            item.setVisible(shown)
        self._place_tags()  # their tags go and come with them (tags are not their children)

    def prediction_count(self) -> int:
        return len(self._predictions)

    def set_overlay(self, boxes: list[OverlayBox], layer: str = "anchors") -> None:
        if self._overlays.get(layer, []) == boxes:  # a full repaint costs ~40 ms with 2,000 labels
            return
        self._overlays[layer] = boxes
        self.viewport().update()

    @property
    def overlay(self) -> list[OverlayBox]:
        return [box for boxes in self._overlays.values() for box in boxes]

    def selected(self) -> list[int]:
        return sorted(self._selected)

    def select(self, indices: list[int]) -> None:
        """Select these boxes of the ones shown; indices of boxes not on the canvas (an image still
        loading, or unreadable, shows none) are dropped: a selection of them crashed the repaint."""
        self.just_drawn = False
        wanted = {i for i in indices if 0 <= i < len(self._items)}  # (a set: membership in the list cost 0.28 s for 5,000 boxes)
        for i in self._selected ^ wanted:
            if i < len(self._items):
                self._items[i].set_selected(i in wanted)
        self._set_selection(wanted)

    def select_drawn(self, index: int) -> None:
        """Select the box just drawn: the number keys then choose the next box's class and leave
        it as it is (choosing the next class relabelled it), until it is clicked or another is."""
        self.select([index])
        self.just_drawn = True

    def _set_selection(self, indices: set[int]) -> bool:
        """Returns whether the selection changed; the tags are placed again then (the selected
        boxes' tags come first)."""
        changed = indices != self._selected
        self._selected = indices
        if indices:
            rects = [self._items[i].rect() for i in sorted(indices)]
            self._tab_place = [rects[k] for k in reading_order(rects)]
        if changed:
            self._place_tags()
            self.selection_changed.emit(sorted(indices))
            self.viewport().update()
        return changed

    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self.viewport().setCursor(Qt.CursorShape.ArrowCursor if tool is Tool.EDIT else Qt.CursorShape.CrossCursor)
        self.tool_changed.emit(tool)

    # --- zoom ----------------------------------------------------------------------------------
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def _fit_zoom(self) -> float:
        if not self.image_size:
            return 1.0
        vw, vh = self.viewport().width() - 4, self.viewport().height() - 4
        return max(self.ZOOM_RANGE[0], min(vw / self.image_size[0], vh / self.image_size[1]))

    def set_zoom(self, zoom: float, *, fitted: bool = False) -> None:
        """``fitted``: this zoom fits the image to the view, and follows the view's size from now on."""
        self._fitted = fitted
        zoom = min(max(zoom, self.ZOOM_RANGE[0]), self.ZOOM_RANGE[1])
        self.setTransform(self.transform().fromScale(zoom, zoom))
        self._set_scroll_range()
        self._pixmap.setTransformationMode(
            Qt.TransformationMode.FastTransformation if zoom * self.devicePixelRatioF() >= 2 else Qt.TransformationMode.SmoothTransformation)  # see pixels when zoomed in
        self._place_tags()
        self.zoom_changed.emit(zoom)

    SCROLL_KEEP = 32  # screen pixels of the image that stay in view however far it is scrolled

    def _set_scroll_range(self) -> None:
        """The view can be scrolled past the image's edges until SCROLL_KEEP screen pixels of it are
        left: so zooming at the cursor keeps the point under it in place at any zoom, also near an
        edge (when the range ended at the image, a small image was held centred and an edge stuck to
        the view's side, and the point slid away), and a box at the edge can be drawn mid-screen. A
        fitted image has no range: it is centred, with no scroll bars."""
        if self.image_size is None:
            return
        zoom, (w, h) = self.zoom(), self.image_size
        mx = 0.0 if self._fitted else max(0, self.viewport().width() - self.SCROLL_KEEP) / zoom
        my = 0.0 if self._fitted else max(0, self.viewport().height() - self.SCROLL_KEEP) / zoom
        self.setSceneRect(QRectF(-mx, -my, w + 2 * mx, h + 2 * my))

    def zoom_by(self, factor: float, at: QPoint | None = None) -> None:
        """Zoom keeping the image point under ``at`` (view pixels; default: the centre) in place."""
        at = QPointF(self.viewport().rect().center() if at is None else at)
        anchor = self.viewportTransform().inverted()[0].map(at)  # in floats: mapToScene rounds to whole pixels
        self.set_zoom(self.zoom() * factor)
        shift = self.viewportTransform().map(anchor) - at
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(shift.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(shift.y()))

    def show_rect(self, rect: QRectF, min_screen: float = 60.0) -> None:
        """Centre ``rect`` (image pixels), zooming in first if it would be smaller than ``min_screen``
        screen pixels (a missed pawn at fit zoom is a few pixels), and out if it would not fit."""
        zoom = self.zoom()
        side = max(rect.width(), rect.height(), 1.0)
        view = min(self.viewport().width(), self.viewport().height())
        wanted = min(max(zoom, min_screen / side), 0.8 * view / side)
        # a step of a few per cent only added scroll bars and cut off the image's edge (56 to 59 % for a 57 px box)
        if wanted > 1.25 * zoom or wanted < zoom - 1e-6:
            self.set_zoom(wanted)
        self.centerOn(self._filling_centre(rect.center()))

    def _filling_centre(self, point: QPointF) -> QPointF:
        """``point`` moved as little as needed for the image to fill the view around it (on each
        axis where the image is larger than the view; else the image's middle): showing a box near
        the edge should not scroll half the view off the image."""
        zoom, (w, h) = self.zoom(), self.image_size or (0, 0)
        half_w, half_h = self.viewport().width() / zoom / 2, self.viewport().height() / zoom / 2
        x = min(max(point.x(), half_w), w - half_w) if w > 2 * half_w else w / 2
        y = min(max(point.y(), half_h), h - half_h) if h > 2 * half_h else h / 2
        return QPointF(x, y)

    def fit(self) -> None:
        self.set_zoom(self._fit_zoom(), fitted=True)
        if self.image_size:
            self.centerOn(self.image_size[0] / 2, self.image_size[1] / 2)

    def actual_size(self) -> None:
        """One image pixel to a screen pixel (on a HiDPI screen of scale 2, half a widget pixel:
        at 1.0 each image pixel covered 2x2 of the screen's)."""
        self.set_zoom(1.0 / self.devicePixelRatioF())

    def screen_zoom(self) -> float:
        """Screen pixels per image pixel, as the status bar gives it (100 %: actual size)."""
        return self.zoom() * self.devicePixelRatioF()

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._wheel_zoom(event, event.position().toPoint())
        event.accept()

    def _wheel_zoom(self, event: QWheelEvent, at: QPoint) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.25**steps, at)

    def escape(self) -> None:
        """Esc: a drag in progress is dropped, else the selection is cleared."""
        if self._drag is not None:
            self._cancel_drag()
            self.viewport().update()
        else:
            self.select([])

    def eventFilter(self, watched, event) -> bool:
        """The wheel over a scroll bar zooms too, at the nearest point of the image view: zooming in
        from the fitted view brings the scroll bars up under a cursor at the edge, and the next
        notches scrolled the view away instead."""
        if event.type() == QEvent.Type.Wheel and watched in (self.horizontalScrollBar(), self.verticalScrollBar()):
            at, rect = self.viewport().mapFromGlobal(event.globalPosition().toPoint()), self.viewport().rect()
            self._wheel_zoom(event, QPoint(min(max(at.x(), 0), rect.right()), min(max(at.y(), 0), rect.bottom())))
            return True
        return super().eventFilter(watched, event)

    def viewportEvent(self, event: QEvent) -> bool:
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:  # the window, a dock, or the scroll bars coming or going
            if self.image_size is not None and self._fitted:  # a fitted image refits, centred
                self.fit()
                self._follow_still_mouse()  # (the position shown was of the image before: scroll bars going left it stale)
            else:
                self._set_scroll_range()
            self._tags_timer.start()
        return handled

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self._tags_timer.start()  # other boxes came into view

    # --- hit testing ---------------------------------------------------------------------------
    def _clamp_point(self, p: QPointF) -> QPointF:
        w, h = self.image_size or (0, 0)
        return QPointF(min(max(p.x(), 0.0), w), min(max(p.y(), 0.0), h))

    def handle_at(self, view_pos: QPoint) -> tuple[int, str] | None:
        """The selected box's handle under the point. A box small on screen is grabbed by its handles
        only near them (a quarter of its side): their full reach covered a 14 px box, and a drag
        meant to move it resized it. The box just drawn is grabbed from inside only: a drag begun
        just beside it draws the next box (it resized the one drawn, often to a line, neighbours
        being labelled one after the other)."""
        for index in sorted(self._selected, key=lambda i: self._items[i].zValue(), reverse=True):
            if (name := self._handle_near(index, view_pos, inside_only=self.just_drawn)) is not None:
                return index, name
        return None

    def _handle_near(self, index: int, view_pos: QPoint, *, inside_only: bool) -> str | None:
        on_screen = self.mapFromScene(self._items[index].rect()).boundingRect()
        if inside_only and not on_screen.contains(view_pos):
            return None
        grab = min(_GRAB_PX, max(2.0, min(on_screen.width(), on_screen.height()) / 4))
        for name, point in _handle_points(self._items[index].rect()).items():
            v = self.mapFromScene(point)
            if abs(v.x() - view_pos.x()) <= grab and abs(v.y() - view_pos.y()) <= grab:
                return name
        return None

    def box_at(self, view_pos: QPoint) -> int | None:
        return self._item_at(view_pos, BoxItem)

    def prediction_at(self, view_pos: QPoint) -> int | None:
        return self._item_at(view_pos, PredictionItem)

    def predictions_at(self, view_pos: QPoint) -> list[int]:
        """The predictions under the point, top first (at most :attr:`MENU_PREDICTIONS`): predictions
        of two classes on one object lie on each other, and the one below could not be reached."""
        under = [item.index for item in self.items(view_pos) if isinstance(item, PredictionItem)]
        if under:
            return list(dict.fromkeys(under))[:self.MENU_PREDICTIONS]
        top = self.prediction_at(view_pos)
        return [] if top is None else [top]

    def _item_at(self, view_pos: QPoint, kind: type) -> int | None:
        """The box of ``kind`` under the point; a tag counts for its box only where no box is (a
        tag lying over a neighbour's inside took the click from the box under the cursor), and only
        above or below the box itself: the part of a small box's wide tag beside it is free to
        draw from (a drag begun there moved the box)."""
        under = self.items(view_pos)
        boxes = [item for item in under if isinstance(item, kind)]
        if boxes:
            return boxes[0].index
        x = self.mapToScene(view_pos).x()
        tags = [item.owner for item in under if isinstance(item, LabelItem) and isinstance(item.owner, kind)
                and item.owner.rect().left() <= x <= item.owner.rect().right()]
        return tags[0].index if tags else None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.tool is not Tool.PROBE:
            pos = event.position().toPoint()
            box = self.box_at(pos)
            if box is None:
                hit = self.prediction_at(pos)
                if hit is not None:
                    self._cancel_drag()
                    self.prediction_accept.emit(hit)
                    return
            elif self.tool is Tool.EDIT:  # as in labelme: a double-click on a box asks for its class
                self._cancel_drag()
                self.select([box])
                self.box_relabel.emit(box)
                return
        super().mouseDoubleClickEvent(event)

    # --- mouse ---------------------------------------------------------------------------------
    def _scene_at(self, event: QMouseEvent) -> QPointF:
        """The image point under the pointer, to the screen pixel: on a HiDPI screen (scale 2) the
        position is fractional in widget pixels, and mapping the rounded point moved only every
        second screen pixel, box edges snapping to a coarser grid than the screen shows."""
        return self.viewportTransform().inverted()[0].map(event.position())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        scene = self._scene_at(event)
        self._press_view, self._press_scene = pos, scene
        if event.button() == Qt.MouseButton.MiddleButton or (event.button() == Qt.MouseButton.LeftButton and self._space):
            self._drag = _Drag.PAN
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() == Qt.MouseButton.RightButton:
            hit = self.box_at(pos)
            predictions = self.predictions_at(pos) if hit is None else []
            if predictions:
                self.prediction_menu.emit(predictions, event.globalPosition().toPoint())
                return
            if hit is not None and hit not in self._selected:
                self.select([hit])
            if self._selected:
                self.context_menu.emit(event.globalPosition().toPoint())
            return
        if event.button() != Qt.MouseButton.LeftButton or self.image_size is None:
            return
        if self.tool is Tool.PROBE:
            self.point_clicked.emit(self._clamp_point(scene))
            return
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if self.tool is Tool.EDIT:
            handle = self.handle_at(pos)
            hit = self.box_at(pos)
            if handle is None and hit is not None and hit not in self._selected and not ctrl:
                # an unselected box's corner or edge, pressed from inside: resized, as in LabelImg and labelme (it moved)
                if (name := self._handle_near(hit, pos, inside_only=True)) is not None:
                    self.select([hit])
                    handle = hit, name
            if handle is not None and not ctrl:
                self.just_drawn = False  # picked by its handle: the number keys relabel it now
                self._drag, self._handle = _Drag.RESIZE, handle[1]
                self._preview = {handle[0]: self._items[handle[0]].rect()}
                # grabbed a few pixels off the corner, it keeps that offset (it jumped to the cursor)
                self._grab = _handle_points(self._items[handle[0]].rect())[handle[1]] - scene
                return
            if hit is not None:
                if ctrl:
                    self.select(sorted(self._selected ^ {hit}))
                    return
                if hit not in self._selected:
                    self.select([hit])
                self.just_drawn = False  # picked: the number keys relabel it now
                self._drag, self._grabbed = _Drag.MOVE, hit
                self._preview = {i: self._items[i].rect() for i in self._selected}
                return
        if not ctrl:  # (Ctrl+click beside the boxes picked emptied the selection)
            self.select([])
        self._drag = _Drag.DRAW
        start = self._clamp_point(scene)
        self._press_scene = start
        self._preview = {-1: QRectF(start, start)}

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        scene = self._scene_at(event)
        self._update_cursor(scene)
        if self._drag is _Drag.PAN:
            delta = pos - self._press_view
            self._press_view = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            return
        if self._drag is _Drag.DRAW:
            self._preview = {-1: QRectF(self._press_scene, self._clamp_point(scene)).normalized()}
        elif self._drag is _Drag.MOVE:
            dx, dy = self._move_delta(scene - self._press_scene)
            self._preview = {i: self._items[i].rect().translated(dx, dy) for i in self._preview}
        elif self._drag is _Drag.RESIZE:
            (index,) = self._preview
            self._preview = {index: self._resized(self._items[index].rect(), self._clamp_point(scene + self._grab))}
        elif self.tool is Tool.EDIT and self.image_size is not None:
            self._update_hover_cursor(pos)
        if self._drag is not None:
            self.viewport().update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag, preview = self._drag, self._preview
        self._cancel_drag()
        if drag is _Drag.PAN:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
        elif drag is _Drag.DRAW:
            rect = preview[-1]
            on_screen = self.mapFromScene(rect).boundingRect()
            if rect.width() >= 1 and rect.height() >= 1 and on_screen.width() >= _MIN_DRAW_PX and on_screen.height() >= _MIN_DRAW_PX:
                self.box_drawn.emit(rect)
            elif not self._clicked(event):  # a drag, not a click beside the boxes: said (the box vanished without a word)
                self.refused.emit(f"{NOT_DRAWN}: it was under {_MIN_DRAW_PX} screen pixels wide or high (zoom in for smaller boxes)")
        elif drag is _Drag.MOVE:
            if any(preview[i] != self._items[i].rect() for i in preview):
                self.boxes_edited.emit(sorted(preview.items()), "Move")
            elif len(self._selected) > 1 and self._clicked(event):
                # a click, not a drag (one held at the image's edge moves nothing either), on one of several selected:
                # that one alone (the others stayed selected, and a number key relabelled them all)
                self.select([self._grabbed])
        elif drag is _Drag.RESIZE:
            (index, rect), = preview.items()
            if rect.width() < 1 or rect.height() < 1:  # (a box flattened to a line was kept: unseen, and refused by the COCO export)
                self.refused.emit(f"{NOT_RESIZED}: it would be under 1 pixel wide or high")
            elif rect != self._items[index].rect():
                self.boxes_edited.emit([(index, rect)], "Resize")
        self.viewport().update()

    def _clicked(self, release: QMouseEvent) -> bool:
        """The button went up where it went down, give or take a hand's tremor."""
        return (release.position().toPoint() - self._press_view).manhattanLength() < QApplication.startDragDistance()

    def _cancel_drag(self) -> None:
        self._drag, self._preview = None, {}

    def _move_delta(self, delta: QPointF) -> tuple[float, float]:
        """The drag delta, limited so that every moved box stays inside the image."""
        return clamp_shift([corners(self._items[i].rect()) for i in self._preview], delta.x(), delta.y(), self.image_size or (0, 0))

    def _resized(self, r: QRectF, p: QPointF) -> QRectF:
        x1, y1, x2, y2 = r.left(), r.top(), r.right(), r.bottom()
        if "l" in self._handle:
            x1 = p.x()
        if "r" in self._handle:
            x2 = p.x()
        if self._handle.startswith("t"):
            y1 = p.y()
        if self._handle.startswith("b"):
            y2 = p.y()
        return QRectF(QPointF(x1, y1), QPointF(x2, y2)).normalized()

    def _update_hover_cursor(self, pos: QPoint) -> None:
        handle = self.handle_at(pos)
        if handle is not None:
            shape = {"t": Qt.CursorShape.SizeVerCursor, "b": Qt.CursorShape.SizeVerCursor, "l": Qt.CursorShape.SizeHorCursor,
                     "r": Qt.CursorShape.SizeHorCursor, "tl": Qt.CursorShape.SizeFDiagCursor, "br": Qt.CursorShape.SizeFDiagCursor}
            self.viewport().setCursor(shape.get(handle[1], Qt.CursorShape.SizeBDiagCursor))
        elif self.box_at(pos) is not None:
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
        else:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    def _update_cursor(self, scene: QPointF) -> None:
        inside = self.image_size is not None and 0 <= scene.x() < self.image_size[0] and 0 <= scene.y() < self.image_size[1]
        old = self._cursor
        self._cursor = scene if inside else None
        self.cursor_moved.emit(self._cursor)
        for p in (old, self._cursor):  # repaint only the strips under the old and new crosshair
            if p is not None:
                v = self.mapFromScene(p)
                self.viewport().update(QRect(0, v.y() - 1, self.viewport().width(), 3))
                self.viewport().update(QRect(v.x() - 1, 0, 3, self.viewport().height()))

    def leaveEvent(self, event) -> None:
        self._update_cursor(QPointF(-1, -1))
        super().leaveEvent(event)

    # --- keys ----------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        arrows = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
        if key in arrows and self._selected:
            step = 10 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            self.nudge.emit(arrows[key][0] * step, arrows[key][1] * step)
            return
        if key == Qt.Key.Key_Escape:
            self.escape()
            return
        super().keyPressEvent(event)

    def focusNextPrevChild(self, forward: bool) -> bool:
        """Tab / Shift+Tab step through the boxes in reading order, selecting one at a time and
        scrolling it into view: with the keyboard alone one box of many could not be picked to
        relabel, nudge or delete. On an image without boxes the keys stay here, and it is said (the
        focus moved on to the image search, and the next keys filtered the list: "da1")."""
        if self._drag is not None or self.image_size is None:  # (no image: the panels, as elsewhere)
            return super().focusNextPrevChild(forward)
        if not self._items:
            self.refused.emit("no boxes on this image to step through with Tab (Ctrl+F: the image search)")
            return True
        rects = [item.rect() for item in self._items]
        if self._selected or not self._tab_place:
            order = reading_order(rects)
            place = {index: n for n, index in enumerate(order)}
            if self._selected:
                at = max(place[i] for i in self._selected) + 1 if forward else min(place[i] for i in self._selected) - 1
            else:
                at = 0 if forward else -1
        else:  # none selected now (deleted, or let go with Esc): on from the place of the last selected
            order = reading_order([*rects, self._tab_place[-1] if forward else self._tab_place[0]])
            gone = order.index(len(rects))
            order.pop(gone)
            at = gone if forward else gone - 1
        index = order[at % len(order)]
        self.select([index])
        self.ensureVisible(self._items[index].sceneBoundingRect(), 20, 20)
        return True

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.set_tool(self.tool)
            return
        super().keyReleaseEvent(event)

    # --- painting ------------------------------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if self.message:
            painter.setPen(QColor(220, 220, 220))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        for box in self.overlay:
            if box.rect.isNull():
                self._paint_point(painter, self.mapFromScene(box.rect.topLeft()), box.color)
                continue
            painter.setPen(QPen(box.color, box.width, Qt.PenStyle.DashLine if box.dashed else Qt.PenStyle.SolidLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            r = self.mapFromScene(box.rect).boundingRect()
            painter.drawRect(r)
            if box.text:
                self._paint_badge(painter, r, box.text, box.color)
        for index, r in [*self._preview.items(), *([(-1, self._waiting)] if self._waiting is not None else [])]:
            color = self._items[index].color if index >= 0 else QColor(255, 255, 0)
            pen = QPen(color, 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.mapFromScene(r).boundingRect())
            if self._drag in (_Drag.DRAW, _Drag.RESIZE):  # its size in image pixels as it is drawn (to match it to the anchors' sizes)
                self._paint_badge(painter, self.mapFromScene(r).boundingRect(), f"{r.width():.0f} × {r.height():.0f}", color)
        if self._drag is None and self._selected:
            self._paint_handles(painter, rect)
        if self._cursor is not None and not self._space:
            v = self.mapFromScene(self._cursor)
            painter.setPen(QPen(QColor(255, 255, 255, 150), 1, Qt.PenStyle.DashLine))
            painter.drawLine(0, v.y(), self.viewport().width(), v.y())
            painter.drawLine(v.x(), 0, v.x(), self.viewport().height())
        painter.restore()

    def _paint_point(self, painter: QPainter, at: QPoint, color: QColor) -> None:
        """A cross of ``color`` on a dark outline: seen on light and dark images alike."""
        arm = 7
        for pen in (QPen(QColor(0, 0, 0), 4), QPen(color, 2)):
            painter.setPen(pen)
            painter.drawLine(at.x() - arm, at.y(), at.x() + arm, at.y())
            painter.drawLine(at.x(), at.y() - arm, at.x(), at.y() + arm)

    def _paint_badge(self, painter: QPainter, r: QRect, text: str, color: QColor) -> None:
        """An overlay's text on a patch of its colour, above the box's top-right corner (inside it at
        the top of the view): label tags take the top-left corner and prediction tags the bottom, and
        thin text over a busy image was unreadable."""
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 8, metrics.height() + 2
        top = r.top() - h if r.top() - h >= 0 else r.top() + 1
        left = min(max(r.right() + 1 - w, 0), self.viewport().width() - w)  # in view, also for a box at the view's edge
        badge = QRect(left, top, w, h)
        painter.fillRect(badge, color)
        painter.setPen(QColor(0, 0, 0) if color.lightnessF() > 0.5 else QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_handles(self, painter: QPainter, exposed: QRectF) -> None:
        """Handles of the selected boxes in the exposed area. With more than ``MAX_HANDLE_BOXES``
        of them (select-all on a crowded image) handles would only hide the image: the selection
        fill shows it instead."""
        items = [self._items[i] for i in self._selected if self._items[i].rect().intersects(exposed)]
        if not items or len(items) > MAX_HANDLE_BOXES:
            return
        t = self.viewportTransform()
        half = HANDLE_PX // 2
        painter.setPen(QPen(QColor(0, 0, 0), 1))
        for item in items:
            painter.setBrush(item.color)
            painter.drawRects([QRectF(p.x() * t.m11() + t.dx() - half, p.y() * t.m22() + t.dy() - half, HANDLE_PX, HANDLE_PX)
                               for p in _handle_points(item.rect()).values()])
