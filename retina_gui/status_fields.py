"""The status bar's standing fields: the image on screen (its place in the list, name and size),
the pointer's position in image pixels, the zoom, the tool, and the labels file's state."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel

from retina_gui.annotator import Annotator
from retina_gui.canvas import Tool
from retina_gui.file_list import FileListPanel
from retina_gui.widgets import ElidedLabel, MessageBar

# what D, A and Shift+D say at an end of the list: gone as another image comes
END_OF_LIST = ("no later image in the list", "no earlier image in the list", "no image listed")
TOOL_NAMES = {Tool.EDIT: "edit tool", Tool.DRAW: "draw tool", Tool.PROBE: "anchor probe"}


class StatusFields(QObject):
    message = Signal(str)  # a passing word for the status bar

    def __init__(self, status: MessageBar, annotator: Annotator, files: FileListPanel) -> None:
        super().__init__(status)
        self.status, self.annotator, self.canvas, self.files = status, annotator, annotator.canvas, files
        # the image on screen and what the status bar says beside its name: its size, "unreadable" or "loading…"
        self._shown_image: tuple[str, str] | None = None
        self.position_label, self.zoom_label, self.image_label, self.save_label = QLabel(), QLabel(), QLabel(), ElidedLabel()
        self.tool_label = QLabel("edit tool")
        metrics = self.position_label.fontMetrics()
        for label, widest in ((self.position_label, "x  8888.8  y  8888.8"), (self.zoom_label, "8888 %"), (self.tool_label, "anchor probe")):
            label.setMinimumWidth(10 + metrics.horizontalAdvance(widest))  # (they kept resizing the fields beside them)
        for label in (self.image_label, self.position_label, self.zoom_label, self.tool_label, self.save_label):
            label.setContentsMargins(10, 0, 0, 0)  # a gap after a message cut short by a narrow window
            self.status.addPermanentWidget(label)
        for changed in (files.filter.rowsInserted, files.filter.rowsRemoved, files.filter.modelReset, files.filter.layoutChanged):
            changed.connect(self._show_image_position)
        annotator.image_shown.connect(self._image_shown)
        annotator.image_failed.connect(self._image_failed)
        annotator.image_loading.connect(self._image_loading)
        self.canvas.cursor_moved.connect(self._cursor_moved)
        self.canvas.zoom_changed.connect(self._zoom_changed)
        self.canvas.tool_changed.connect(self._tool_changed)

    def _tool_changed(self, tool: Tool) -> None:
        self.tool_label.setText(TOOL_NAMES[tool])

    def fit(self) -> None:
        """Passing messages keep a quarter of the status bar, at least 150 px: the image and labels
        file fields give way, their names cut short (at 1024 px the fixed fields took all of it, and
        "pasted 1 box", "undone: …" never showed)."""
        bar = self.status.width()
        self.tool_label.setVisible(bar >= 800)  # below, the image's name and size had no room left (the View menu says the tool)
        fixed = sum(label.minimumWidth() + 6 for label in (self.position_label, self.zoom_label, self.tool_label)
                    if label.isVisibleTo(self.status))
        room = max(100, bar - fixed - max(bar // 4, 150))
        self.image_label.setMaximumWidth(max(60, room * 3 // 4))
        self.save_label.setMaximumWidth(max(40, room // 4))
        self._show_image_position()

    def _image_shown(self, name: str, width: int, height: int) -> None:
        self._leave_note_of_image_before(name)
        self._shown_image = (name, f"{width}×{height}")
        self._show_image_position()

    def _leave_note_of_image_before(self, name: str) -> None:
        """The status bar's notes on the image before go as ``name`` comes: that it cannot be read (it
        stood under the next images for 10 s: "… it has nothing to edit" too), and that no image
        comes after it (D's and Shift+D's note stood over the image gone to)."""
        before = self._shown_image[0] if self._shown_image is not None else None
        if before not in (None, name):
            self.status.clear_note((f"{before} cannot be read", *END_OF_LIST))

    def _image_loading(self, name: str) -> None:
        """The image asked for is being decoded: its name and place now (the image before's stood there meanwhile)."""
        self._leave_note_of_image_before(name)
        self._shown_image = (name, "loading…")
        self._show_image_position()

    def _show_image_position(self, *_args) -> None:
        """"3/53  name  W×H": the place in the list as filtered, also when images are listed after it
        (F5 left "41/53" with 54 listed) or the filter changes ("6/8" with 1 image listed)."""
        if self._shown_image is not None and self.annotator.current == self._shown_image[0]:
            name, detail = self._shown_image
            position = self._list_place(name)
            gap = ": " if detail == "unreadable" else "  "
            self.image_label.setText(f"{position}  {self._short_name(name, f'{position}  {gap}{detail}')}{gap}{detail}")
            self.image_label.setToolTip(name)

    def _list_place(self, name: str) -> str:
        row, shown = self.files.model.row(name), self.files.filter
        place = shown.mapFromSource(self.files.model.index(row)).row() if row is not None else -1
        return f"{place + 1}/{shown.rowCount()}" if place >= 0 else f"–/{shown.rowCount()}"

    def _short_name(self, name: str, beside: str) -> str:
        """The image's name, cut in the middle to what its field has room for beside ``beside``: a
        long path pushed the messages out of the status bar ("accepted 37 p"), then lost its own end
        and the image size."""
        metrics = self.image_label.fontMetrics()
        room = min(320, self.image_label.maximumWidth() - 12 - metrics.horizontalAdvance(beside))
        return metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, max(room, 40))

    def _image_failed(self, name: str, reason: str) -> None:
        self._shown_image = (name, "unreadable")  # its place in the list stays said ("3/4  text.png: unreadable")
        self._show_image_position()
        self.zoom_label.setText("")  # (the zoom of the image before stood there: "2884 %")
        self.message.emit(f"{name} cannot be read: {reason}")

    def _cursor_moved(self, point: QPointF | None) -> None:
        self.position_label.setText("" if point is None else f"x {point.x():7.1f}  y {point.y():7.1f}")

    def _zoom_changed(self, _zoom: float) -> None:
        self.zoom_label.setText(f"{self.canvas.screen_zoom() * 100:.0f} %")  # of screen pixels: 100 % is actual size on any screen
