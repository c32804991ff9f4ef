"""The annotator: shows the current image and its boxes on the canvas and routes the canvas's
intents to the workspace. It keeps a small cache of decoded images and prefetches the neighbours
in the file list, so that stepping through a folder does not wait for the decoder."""

from __future__ import annotations

import math
from collections import OrderedDict

from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QImage

from core.text import count, short_name
from retina_gui.canvas import Canvas
from retina_gui.canvas_items import BoxView
from retina_gui.convert import category_color, rect_from_box, same_place
from retina_gui.file_list import FileListPanel
from retina_gui.workers import ImageLoader
from retina_gui.workspace import Workspace

PASTE_SCREEN_PX = 12  # how far a paste that would lie on its original moves, on screen (10 image px at least)


class Annotator(QObject):
    image_shown = Signal(str, int, int)  # name, width, height
    image_failed = Signal(str, str)  # name, reason
    image_loading = Signal(str)  # name: asked for, not decoded yet
    message = Signal(str)  # a short note for the status bar
    class_needed = Signal(QRectF)  # a box drawn (image pixels) while there is no class to give it
    current_edited = Signal()  # the labels of the image on screen changed, and the canvas shows them now

    CACHE_SIZE = 8
    PREFETCH = 2  # images decoded ahead on each side

    def __init__(self, canvas: Canvas, files: FileListPanel) -> None:
        super().__init__()
        self.canvas = canvas
        self.files = files
        self.workspace: Workspace | None = None
        self.loader: ImageLoader | None = None
        self.current: str | None = None
        self.size: tuple[int, int] | None = None  # oriented (width, height) of the image on screen
        self._cache: OrderedDict[str, tuple[QImage, int, int]] = OrderedDict()
        self.size_warned: set[str] = set()  # images said to differ from their labels' size (said once)
        files.current_changed.connect(self.show)
        self._detail_asked: str | None = None  # the image whose full decode was asked for, while it is shown
        canvas.zoom_changed.connect(self._zoomed)
        canvas.box_drawn.connect(self._drawn)
        canvas.boxes_edited.connect(self._edited)
        canvas.nudge.connect(self._nudged)

    def attach(self, workspace: Workspace, loader: ImageLoader) -> None:
        self.detach()
        self.workspace, self.loader = workspace, loader
        workspace.images_changed.connect(self._images_changed)
        workspace.categories_changed.connect(self.refresh_boxes)
        loader.loaded.connect(self._loaded)
        loader.failed.connect(self._failed)
        loader.detailed.connect(self._detailed)
        self.canvas.show_message("")

    def detach(self) -> None:
        self.current, self.size = None, None
        self._cache.clear()
        self.size_warned.clear()
        self.workspace = self.loader = None
        self.canvas.show_message("")

    # --- showing images ------------------------------------------------------------------------
    def show(self, name: str) -> None:
        if self.loader is None or name == self.current:
            return
        self.current, self.size = name, None
        # asked first: shown from the cache, a zoomed-in image asks for its full decode, which a request after it dropped
        wanted = [n for n in [name, *self.files.neighbours(name, self.PREFETCH)]
                  if n not in self._cache and n not in self.files.model.unreadable]
        self.loader.request(wanted)
        cached = self._cache.get(name)
        if cached is not None:
            self._cache.move_to_end(name)
            self._display(name, *cached)
        elif name in self.files.model.unreadable:
            self.canvas.show_message(f"{name}\ncannot be read: {self.files.model.unreadable[name]}")
            self.image_failed.emit(name, self.files.model.unreadable[name])  # the status bar and panels follow
        else:
            self.canvas.show_message(f"Loading {name} …")
            self.image_loading.emit(name)

    def _loaded(self, name: str, image: QImage, width: int, height: int) -> None:
        self._cache[name] = (image, width, height)
        while len(self._cache) > self.CACHE_SIZE:
            self._cache.popitem(last=False)
        if self.workspace is not None:
            stored = self.workspace.store.size_mismatch(name, width, height)
            if stored is not None and name not in self.size_warned:
                self.size_warned.add(name)
                self.message.emit(f"{name}: the labels were made on a {stored[0]}×{stored[1]} image, the file is now "
                                  f"{width}×{height}; the boxes are kept as they are: check them, or Edit ▸ Rescale Boxes "
                                  "to the Image Size")
        if name == self.current and self.size is None:
            self._display(name, image, width, height)

    def _failed(self, name: str, reason: str) -> None:
        self.files.model.mark_unreadable(name, reason)
        if name == self.current:
            self.canvas.show_message(f"{name}\ncannot be read: {reason}")
            self.image_failed.emit(name, reason)

    def _display(self, name: str, image: QImage, width: int, height: int) -> None:
        self.size = (width, height)
        self._detail_asked = None
        self.canvas.show_image(image, width, height)
        self.refresh_boxes(selected=[])
        self.image_shown.emit(name, width, height)
        self._zoomed()

    def _zoomed(self, _zoom: float = 0.0) -> None:
        """Zoomed in past the pixels of a reduced decode (a 6000 px photo at Actual Size showed its
        4096 px decode enlarged and smoothed): the image is decoded in full, once while it is shown."""
        if self.loader is not None and self.current is not None and self._detail_asked != self.current and self.canvas.reduced():
            self._detail_asked = self.current
            self.loader.request_detail(self.current)

    def _detailed(self, name: str, image: QImage) -> None:
        if name == self.current and self.size is not None:
            self.canvas.show_detail(image)

    def refresh_boxes(self, selected: list[int] | None = None) -> None:
        if self.workspace is None or self.current is None or self.size is None:
            return
        store = self.workspace.store
        classes = {c.id: (c.name, category_color(c)) for c in store.categories}
        views = []
        for box in store.boxes(self.current):
            name, color = classes[box.category_id]
            views.append(BoxView(rect_from_box(box), name + (" (crowd)" if box.iscrowd else ""), color))
        self.canvas.set_boxes(views, selected)

    def _images_changed(self, names: list) -> None:
        if self.current in names:
            self.refresh_boxes()
            self.current_edited.emit()

    # --- canvas intents ------------------------------------------------------------------------
    def _editable(self) -> bool:
        if self.workspace is not None and self.current in self.files.model.unreadable:
            self.message.emit(f"{self.current} cannot be read: it has nothing to edit")
            return False
        if self.workspace is None or self.current is None or self.size is None:
            return False
        if self.workspace.read_only:
            self.message.emit(self.workspace.read_only_text)
            return False
        if not (self.workspace.folder / self.current).exists():  # renamed or deleted while shown (from the cache)
            self.message.emit(f"{self.current} is no longer in the folder (renamed or deleted?): its labels are kept under "
                              "that name, and the folder lists it as missing when it is opened again")
        return True

    def _drawn(self, rect: QRectF) -> None:
        if not self._editable():
            return
        if self.workspace.current_category is None:
            self.canvas.show_waiting(rect)
            self.class_needed.emit(rect)
            return
        self.draw(rect)

    def draw(self, rect: QRectF) -> None:
        """Add a box of the current class on the image on screen (a class is chosen)."""
        self.workspace.draw_box(self.current, self.size, rect)
        self.canvas.select_drawn(len(self.workspace.store.boxes(self.current)) - 1)

    def _edited(self, rects: list, kind: str) -> None:
        if self._editable():
            self.workspace.edit_boxes(self.current, rects, kind)

    def _nudged(self, dx: float, dy: float) -> None:
        selected = self.canvas.selected()
        if self._editable() and selected and not self.workspace.nudge_boxes(self.current, self.size, selected, dx, dy):
            # (the arrow key did nothing, silently)
            self.message.emit(f"the {'box is' if len(selected) == 1 else 'boxes are'} at the image's edge: nothing moves that way")

    # --- what the actions could do now (menus grey the others) ----------------------------------
    def can_edit(self) -> bool:
        """An image is on screen and its labels may be edited (what :meth:`_editable` says, silently)."""
        return (self.workspace is not None and self.current is not None and self.size is not None and not self.workspace.read_only
                and self.current not in self.files.model.unreadable)

    def can_paste(self) -> bool:
        return self.can_edit() and bool(self.workspace.clipboard)

    def can_paste_previous(self) -> bool:
        return self.can_edit() and self._previous_with_boxes() is not None

    def has_boxes(self) -> bool:
        return self.workspace is not None and self.current is not None and bool(self.workspace.store.boxes(self.current))

    def needs_rescale(self) -> bool:
        """The image on screen has another size than the one its boxes were drawn on."""
        entry = self.workspace.store.entry(self.current) if self.can_edit() else None
        return entry is not None and (entry.width, entry.height) != self.size

    def _previous_with_boxes(self) -> str | None:
        """The nearest image before this one, in the list's order, that has boxes."""
        names, store = self.files.model.names, self.workspace.store
        row = self.files.model.row(self.current)
        return next((n for n in reversed(names[:row]) if store.boxes(n)), None) if row is not None else None

    # --- actions (menu items and shortcuts call these) -----------------------------------------
    def delete_selected(self) -> None:
        if not self._editable():
            return
        selected = self.canvas.selected()
        if not selected:  # (nothing happened, and nothing said why)
            self.message.emit("no box selected to delete: click one, or Tab to it")
            return
        self.workspace.delete_boxes(self.current, selected)
        self.message.emit(f"deleted {count(len(selected), 'box')} (Edit ▸ Undo brings {'it' if len(selected) == 1 else 'them'} back)")

    def relabel_selected(self, category_id: int) -> int | None:
        """How many of the selected boxes changed class; None: none selected, or not editable (said)."""
        if self._editable() and self.canvas.selected():
            return self.workspace.relabel_boxes(self.current, self.canvas.selected(), category_id)
        return None

    def copy_selected(self) -> None:
        if self.workspace is not None and self.current is not None and self.canvas.selected():
            n = self.workspace.copy_boxes(self.current, self.canvas.selected())
            self.message.emit(f"copied {n} box{'es' if n != 1 else ''}")
        else:
            self.message.emit("no box selected to copy: click one, or Ctrl+A for all")

    def paste(self) -> None:
        if self._editable():
            clipboard, classes = self.workspace.clipboard, {c.id for c in self.workspace.store.categories}
            pasted = self.workspace.paste_boxes(self.current, self.size, shift=math.ceil(PASTE_SCREEN_PX / self.canvas.zoom()))  # (whole pixels: boxes drawn to the pixel stay so)
            self._pasted(pasted, len(clipboard), "", of_deleted_class=sum(b.category_id not in classes for b in clipboard))

    def _pasted(self, indices: list[int], offered: int, source: str, already_here: int = 0, of_deleted_class: int = 0) -> None:
        """Selects what was pasted and says so (a paste again looked like nothing happened), and
        why any was not (it said "their class was deleted, or they lie outside this image")."""
        if indices or not offered:  # (nothing pasted: the boxes the user had selected stay so)
            self.canvas.select(indices)
        if not offered:
            self.message.emit("nothing to paste: copy boxes first (Ctrl+C)")
            return
        said = [f"pasted {count(len(indices), 'box')}{source}"] if indices else []
        if already_here:
            said.append(f"{count(already_here, 'box')} already on this image")
        if missing := offered - len(indices) - already_here:
            why = [f"{of_deleted_class} of a class deleted since they were copied" if of_deleted_class else "",
                   f"{missing - of_deleted_class} outside this image" if missing > of_deleted_class else ""]
            said.append(f"{missing} of {offered} boxes not pasted: {', '.join(w for w in why if w)}")
        self.message.emit("; ".join(said))

    def paste_previous(self) -> None:
        """Paste the boxes of the nearest image before this one in the folder's order that has
        boxes: in a sequence of frames that is the last labelled frame, also when some in between
        were skipped or the list is filtered. Those already on this image (pasted before) are
        left out: a second Ctrl+Shift+V stacked exact copies."""
        if not self._editable():
            return
        store = self.workspace.store
        source = self._previous_with_boxes()
        if source is None:
            self.message.emit("no image before this one has boxes")
            return
        boxes = list(store.boxes(source))
        here = {same_place(b) for b in store.boxes(self.current)}
        fitted = self.workspace.fitted(boxes, self.size)
        fresh = [b for b in fitted if same_place(b) not in here]
        source_name = short_name(source.rsplit("/", 1)[-1])  # (a Roboflow name of 70 characters made the Edit menu as wide)
        pasted = self.workspace.paste_boxes(self.current, self.size, fresh, f" from {source_name}") if fresh else []
        self._pasted(pasted, len(boxes), f" from {short_name(source, 48)}", already_here=len(fitted) - len(fresh))

    def select_all(self) -> None:
        if self.workspace is not None and self.current is not None and self.size is not None:  # the image is on screen
            self.canvas.select(list(range(len(self.workspace.store.boxes(self.current)))))

    def rescale_to_image(self) -> None:
        """Edit ▸ Rescale Boxes to the Image Size: the image file was resized since it was labelled."""
        if self._editable() and not self.workspace.rescale_to(self.current, self.size):
            self.message.emit("the boxes of this image already fit its size")

    def toggle_reviewed(self) -> None:
        if self._editable():
            entry = self.workspace.store.entry(self.current)
            reviewed = not (entry is not None and entry.reviewed)
            self.workspace.set_reviewed(self.current, self.size, reviewed)
            # what was done first: a long file name first cut the message before it ("05ad7223…jpg.rf.5fb70e6e…")
            negative = "" if self.workspace.store.boxes(self.current) else " (no boxes: a negative example)"
            self.message.emit(f"marked reviewed{negative}: {self.current}" if reviewed else f"no longer marked reviewed: {self.current}")
