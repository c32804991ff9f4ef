"""The only place where Qt objects and core's plain data meet: images, boxes and colours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from core.labels import Box, Category, group_categories

# Distinct, readable on photos; a class without a chosen colour gets one by its id.
PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
            "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000")


def qimage_from_rgb(pixels: np.ndarray) -> QImage:
    """RGB uint8 [H, W, 3] -> a QImage that owns its pixels (safe to pass between threads)."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    return QImage(pixels.data, w, h, pixels.strides[0], QImage.Format.Format_RGB888).copy()


def rect_from_box(box: Box) -> QRectF:
    return rect_from_xyxy((box.x1, box.y1, box.x2, box.y2))


def rect_from_xyxy(xyxy) -> QRectF:
    """A box as core gives it, (x1, y1, x2, y2) in image pixels (a tuple or a numpy row)."""
    x1, y1, x2, y2 = map(float, xyxy[:4])
    return QRectF(x1, y1, x2 - x1, y2 - y1)


def corners(rect: QRectF) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) of a possibly un-normalised rect, as boxes are stored (:func:`stored_corners`)."""
    r = rect.normalized()
    return stored_corners(r.left(), r.top(), r.right(), r.bottom())


def stored_corners(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
    """Box corners as the window stores them, in image pixels to 1/100: a mouse position at some
    zoom is 210.6197564276049, a float32 prediction 525.388916015625, digits nobody placed."""
    return round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)


def same_place(box: Box) -> tuple:
    """A box's class and corners as stored: two boxes alike in these lie on each other."""
    return box.category_id, *stored_corners(box.x1, box.y1, box.x2, box.y2)


def palette_color(index: int) -> QColor:
    """The palette's colours for the first 16 class ids, then :data:`MORE_COLORS` (the palette
    repeated: with 25 classes, 9 pairs shared a colour)."""
    if 0 <= index < len(PALETTE):
        return QColor(PALETTE[index])
    return QColor(MORE_COLORS[(abs(index) - len(PALETTE)) % len(MORE_COLORS)])


def _more_colors(n: int) -> tuple[str, ...]:
    """``n`` colours, each in turn the one of a grid of hues, saturations and brightnesses farthest
    from the palette and those taken before it ("redmean" distance, near enough to what the eye
    tells apart)."""
    hue, sat, val = np.meshgrid(np.arange(36) / 36, (0.45, 0.7, 1.0), (0.55, 0.78, 1.0), indexing="ij")
    grid = np.array([QColor.fromHsvF(h, s, v).getRgb()[:3] for h, s, v in zip(hue.ravel(), sat.ravel(), val.ravel())], dtype=float)

    def distance(colors: np.ndarray, color: np.ndarray) -> np.ndarray:
        r = (colors[:, 0] + color[0]) / 2
        d = colors - color
        return np.sqrt((2 + r / 256) * d[:, 0] ** 2 + 4 * d[:, 1] ** 2 + (2 + (255 - r) / 256) * d[:, 2] ** 2)

    nearest = np.full(len(grid), np.inf)
    for color in PALETTE:
        nearest = np.minimum(nearest, distance(grid, np.array(QColor(color).getRgb()[:3], dtype=float)))
    chosen = []
    for _ in range(n):
        k = int(np.argmax(nearest))
        chosen.append(QColor(*grid[k].astype(int)).name())
        nearest = np.minimum(nearest, distance(grid, grid[k]))
    return tuple(chosen)


MORE_COLORS = _more_colors(84)  # 100 distinct colours in all: COCO's 80 classes and more


def category_color(category: Category) -> QColor:
    return QColor(category.color) if category.color else palette_color(category.id)


def category_icon(category: Category) -> QIcon:
    """A swatch of the class's colour, for lists and menus of classes."""
    return color_icon(category_color(category))


def color_icon(color: QColor) -> QIcon:
    """A swatch of ``color`` with a grey edge (a pale colour, #fffac8, vanished on a white list);
    drawn for screens of 1, 1.5, 2 and 3 device pixels a pixel (a 14 px swatch enlarged on a HiDPI
    screen was soft at the edges)."""
    icon = QIcon()
    for ratio in (1, 1.5, 2, 3):
        side = round(14 * ratio)
        pixmap = QPixmap(side, side)
        pixmap.fill(color)
        painter = QPainter(pixmap)
        painter.setPen(QColor("#808080"))
        painter.drawRect(0, 0, side - 1, side - 1)  # (a one-device-pixel edge)
        painter.end()
        pixmap.setDevicePixelRatio(ratio)
        icon.addPixmap(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # the chosen class's swatch keeps its colour (the selection tinted it)
    return icon


def class_keys(categories: Sequence[Category]) -> dict[int, int]:
    """The number key (1 … 9) of each class that has one: the classes in order, a group of classes
    (the supercategory of others) left out: a Roboflow export's class 0, the project's name, took
    key 1 (the picker, L, reaches a group)."""
    groups = group_categories(categories)
    keyed = [c.id for c in categories if c.id not in groups]
    return {category_id: number for number, category_id in enumerate(keyed[:9], start=1)}


def class_added_text(categories: Sequence[Category], category_id: int) -> str:
    """"class zebra added (key 7)": a class just added, said with its key where it has one."""
    key = class_keys(categories).get(category_id)
    name = next(c.name for c in categories if c.id == category_id)
    return f"class {name} added{f' (key {key})' if key else ''}"


def class_key_text(number: int | None) -> str:
    """The key of a class (None: it has none) as a prefix for its name."""
    return f"{number}  " if number is not None else "   "
