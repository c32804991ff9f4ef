"""The main window: composes the canvas, the panels, menus and the status bar. No business logic:
actions call the annotator and the workspace; what the window shows comes from their signals."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QEventLoop, QPoint, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QSlider,
    QStyle,
    QTabBar,
    QWidget,
)

from core.annotations import AnnotationFileLocked
from core.images import IMAGE_SUFFIXES, would_list
from retina_gui.accepting import PredictionAccepting
from retina_gui.anchor_panel import AnchorPanel
from retina_gui.annotator import Annotator
from retina_gui.canvas import NOT_DRAWN, NOT_RESIZED, Canvas, Tool
from retina_gui.class_choice import ClassChoice
from retina_gui.classes_panel import ClassesPanel
from retina_gui.convert import category_icon, class_key_text, class_keys
from retina_gui.evaluation_panel import EvaluationPanel
from retina_gui.file_list import NOTHING_FOUND, FileListModel, FileListPanel, without_labels
from retina_gui.folder_listing import FolderListing
from retina_gui.label_files import LabelFileDialogs
from retina_gui.label_transfer import LabelTransfer
from retina_gui.menus import Menus
from retina_gui.model_panel import WEIGHT_SUFFIXES, ModelPanel
from retina_gui.predictions import Predictions
from retina_gui.shortcuts_dialog import ShortcutsDialog
from retina_gui.status_fields import END_OF_LIST, StatusFields
from retina_gui.training_panel import TrainingPanel
from retina_gui.undo_steps import UndoSteps
from retina_gui.widgets import (
    MessageBar,
    PanelScroll,
    PinnedPanel,
    SliderPageKeys,
    TypeAhead,
    WheelOnlyWhenFocused,
    scroll_into_view,
)
from retina_gui.workers import ImageLoader, drop_queued_results
from retina_gui.workspace import Workspace, open_workspace

RECENT_KEY = "recent_folders"
GEOMETRY_KEY, LAYOUT_KEY = "window/geometry", "window/panels"
ONE_COLUMN_KEY = "window/one_column_by_width"  # the panels were put in one column for a narrow window (see _fit_columns)
LAYOUT_VERSION = 1  # raise when the set of panels changes: an older saved layout is then ignored
RECENT_COUNT = 10


NARROW_WINDOW = 900  # px: below it the panels share one column (see _fit_columns)
# what the empty window says (it was a blank grey canvas, nothing saying what to do first)
NO_FOLDER_TEXT = ("Open a folder of images: File ▸ Open Folder… (Ctrl+O), or drop the folder here.\n\n"
                  "Then draw boxes (W), see a model's predictions (Model ▸ Load Model…) and train it on your labels (Training panel).\n"
                  "Help ▸ Keyboard and Mouse (F1) lists every key.")


class MainWindow(QMainWindow):
    def __init__(self, *, folder: Path | None = None, model: Path | None = None, labels: Path | None = None,
                 recursive: bool = True, settings: QSettings | None = None, confirm: Callable[..., bool] | None = None) -> None:
        """``confirm(title, question, undoable=False)``: asks the user before something that cannot
        be taken back, or that does much at once (a Yes/No dialog by default, whose Enter is No unless
        Edit ▸ Undo takes the step back; tests answer it themselves)."""
        super().__init__()
        self.setStatusBar(MessageBar())
        self.settings = settings or QSettings()
        self.confirm = confirm or self._ask
        # first start: most of the screen it opens on, centred (a fixed 1400x900 at the corner left a
        # quarter of a 1920x1080 screen unused); later starts restore the last size and place
        screen = self.screen().availableGeometry()
        self.setGeometry(QStyle.alignedRect(Qt.LayoutDirection.LeftToRight, Qt.AlignmentFlag.AlignCenter,
                                            QSize(int(screen.width() * 0.9), int(screen.height() * 0.9)), screen))
        self.workspace: Workspace | None = None
        self._waited_for_screen = 0  # (open_folder_once_shown) 20 ms waits for the window to be on screen
        self.loader: ImageLoader | None = None
        self.labels_not_saved = False  # the last save of the open labels file failed (shown in the title)
        self.reports: list[str] = []  # every problem shown to the user this session (tests read it)
        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.files = FileListPanel(FileListModel(), self)
        self.listing = FolderListing(self.files, self.settings, self)
        self.listing.message.connect(self.say)
        self.listing.problem.connect(self._listing_problem)
        self.listing.listed.connect(self._listed)
        self.listing.relisted.connect(self._relisted)
        self.classes = ClassesPanel(self, confirm=self._confirm)
        self.classes.message.connect(self.say)
        self.transfer = LabelTransfer()
        self.transfer.message.connect(self.say)
        self.transfer.problem.connect(self.report)
        self.annotator = Annotator(self.canvas, self.files)
        self.class_choice = ClassChoice(self.annotator, self.classes, self.statusBar(), self)
        self.class_choice.message.connect(self.say)
        self.label_files = LabelFileDialogs(self.transfer, self.annotator, self.files, confirm=self._confirm, window=self)
        self.label_files.message.connect(self.say)
        self.label_files.problem.connect(self.report)
        self.predictions = Predictions(self.annotator)
        self.accepting = PredictionAccepting(self.canvas, self.predictions, confirm=self._confirm, parent=self)
        self.accepting.message.connect(self.say)
        self.model_panel = ModelPanel(self.predictions, self)
        self.anchor_panel = AnchorPanel(self.annotator, self)
        self.evaluation_panel = EvaluationPanel(self.predictions, self)
        self.training_panel = TrainingPanel(self.predictions, self, confirm=self._confirm, settings=self.settings)
        self.undo_steps = UndoSteps(self.annotator, self.files, self.class_choice, self)
        self.undo_steps.message.connect(self.say)
        self.undo_steps.problem.connect(self.report)
        self.history = self.undo_steps.history
        self.docks = {title: self._dock(title, widget) for title, widget in (
            ("Images", self.files), ("Classes", self.classes), ("History", self.history), ("Model", self.model_panel),
            ("Anchors", self.anchor_panel), ("Evaluation", self.evaluation_panel), ("Training", self.training_panel))}
        QApplication.instance().focusChanged.connect(self._focus_moved)
        self.docks["Training"].visibilityChanged.connect(self.training_panel.set_on_screen)
        self.docks["Anchors"].visibilityChanged.connect(self.anchor_panel.set_on_screen)
        self.docks["Model"].visibilityChanged.connect(self.model_panel.set_on_screen)
        self.docks["Evaluation"].visibilityChanged.connect(self.evaluation_panel.set_on_screen)
        self.evaluation_panel.score_chosen.connect(self.model_panel.set_score)
        self.training_panel.run_ended.connect(self._run_ended)
        self.predictions.load_failed.connect(self._model_failed)
        self.predictions.prediction_failed.connect(self._model_failed)
        self._arrange_panels()
        self._default_layout = self.saveState(LAYOUT_VERSION)
        self._shown = False  # the first show checks that restored panels leave room for the image
        self._one_column_by_width = False
        geometry, layout = self.settings.value(GEOMETRY_KEY), self.settings.value(LAYOUT_KEY)
        if isinstance(geometry, QByteArray):  # the size, place and panels the window had when it was last closed (a hand-edited
            self.restoreGeometry(geometry)  # text there stopped the window from starting)
            if isinstance(layout, QByteArray):
                self.restoreState(layout, LAYOUT_VERSION)
            self._one_column_by_width = self.settings.value(ONE_COLUMN_KEY, False, type=bool)
        self._narrow: bool | None = None  # the window's width class when the columns were last fitted
        self._columns_timer = QTimer(self, singleShot=True, interval=150)  # once a resize by dragging ends
        self._columns_timer.timeout.connect(self._fit_columns)
        self.status_fields = StatusFields(self.statusBar(), self.annotator, self.files)
        self.status_fields.message.connect(self.say)
        self.menus = Menus(self, recursive=recursive)
        self.canvas.tool_changed.connect(self._tool_changed)
        self.wheel_guard = WheelOnlyWhenFocused(self)
        self.type_ahead = TypeAhead(self)
        self.slider_keys = SliderPageKeys(self)
        panels = (self.files, self.classes, self.model_panel, self.anchor_panel, self.evaluation_panel, self.training_panel)
        for panel in panels:
            self.wheel_guard.guard(panel)
            for box in panel.findChildren(QComboBox):
                box.installEventFilter(self.type_ahead)
            for slider in panel.findChildren(QSlider):
                slider.installEventFilter(self.slider_keys)
        for panel in (*panels, self.training_panel.pinned):
            for button in panel.findChildren(QAbstractButton):
                # a click leaves the keys where they were (on the image): Space, the pan key, pressed the button clicked last
                # again (Accept shown accepted the next image's predictions), as Tab still reaches it; those Tab passes over
                # (a search box's clear button) stay so
                if button.focusPolicy() in (Qt.FocusPolicy.StrongFocus, Qt.FocusPolicy.ClickFocus, Qt.FocusPolicy.WheelFocus):
                    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.annotator.message.connect(self.say)
        self.annotator.class_needed.connect(self.class_choice.ask_class_for_drawn)
        self.annotator.image_shown.connect(self._remember_image)
        self.canvas.context_menu.connect(self._context_menu)
        self.canvas.refused.connect(self.say)
        self.canvas.box_drawn.connect(self._drag_refusal_gone)
        self.canvas.boxes_edited.connect(self._drag_refusal_gone)
        self.canvas.prediction_accept.connect(self._accept_prediction)
        self.canvas.box_relabel.connect(self.class_choice.ask_box_class)
        self.canvas.prediction_menu.connect(self._prediction_menu)
        self.canvas.selection_changed.connect(self._explain_selection)
        self.predictions.changed.connect(self._show_predictions)
        self.predictions.changed.connect(self._explain_selection)
        self.annotator.current_edited.connect(self._current_edited)
        self.files.search_done.connect(self.canvas.setFocus)
        self.files.message.connect(self.say)
        self.files.search.textChanged.connect(self._search_edited)
        self.predictions.message.connect(self.say)
        self.predictions.folder_gathered.connect(self.accepting.accept_gathered)
        self.predictions.model_changed.connect(self.anchor_panel.set_model)
        self.predictions.model_changed.connect(self._remember_model)
        self.training_panel.failed.connect(self._training_failed)
        self.model_panel.accept_folder_button.clicked.connect(self.accepting.accept_folder)
        self.model_panel.accept_image_button.clicked.connect(self.accepting.accept_image)
        if model is not None:
            if model.is_file():
                self.predictions.load_model(model.resolve())
            else:
                self.report("Model", f"model file not found: {model}")
        self._update_title()
        self.setAcceptDrops(True)  # a folder dropped anywhere opens (Qt gives a drop to the nearest parent that takes drops)
        self.canvas.viewport().setAcceptDrops(False)  # (a graphics view takes them for its scene, which has no use for them)
        self.canvas.show_message(NO_FOLDER_TEXT)
        if folder is not None:
            self.open_folder(folder, labels)

    # --- construction --------------------------------------------------------------------------
    def _arrange_panels(self) -> None:
        """The default layout: images on the left; classes and history, then the model's panels as
        tabs, on the right."""
        d = self.docks
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["Images"])
        for title in ("Classes", "History", "Model", "Anchors", "Evaluation"):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d[title])
        self.tabifyDockWidget(d["Model"], d["Anchors"])
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d["Training"])
        for first, other in (("Anchors", "Evaluation"), ("Evaluation", "Training"), ("Classes", "History")):
            self.tabifyDockWidget(d[first], d[other])
        d["Classes"].raise_()
        d["Model"].raise_()
        # tighter tabs than the style's: the four of the model's group fit a 1024 px window's panel
        self.setStyleSheet("QMainWindow > QTabBar::tab { padding: 3px 7px; }")
        self.fit_panels()

    def bring_forward(self, title: str) -> None:
        """Show a panel, in front of its tab group (behind another tab, what it says went unseen)."""
        self.docks[title].show()
        self.docks[title].raise_()

    def toggle_anchor_probe(self) -> None:
        """P: the Anchors panel comes forward with the probe (behind another tab, its anchors are not
        drawn: clicks on the image showed nothing, and the probe ends as its panel goes)."""
        if not self.anchor_panel.probe.isChecked():
            self.bring_forward("Anchors")
        self.anchor_panel.toggle_probe()

    def search_images(self) -> None:
        """Ctrl+F: the keys go to the image search (the keyboard had no way there: Tab cycles the image's boxes)."""
        self.bring_forward("Images")
        self.files.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.files.search.selectAll()

    def step_image(self, direction: int) -> None:
        """D / A; at an end of the list, or with no listed image past the one on screen, the status
        bar says so, and which filter shortens the list (D did nothing, silently)."""
        if self.workspace is None:
            return
        if self.files.step(direction):
            return
        filters = self.files.filters()
        where = END_OF_LIST[2] if not self.files.filter.rowCount() else END_OF_LIST[0 if direction > 0 else 1]
        self.say(f"{where} ({filters}: Esc in the search box, or All images, lists them all)" if filters else where)

    def step_error(self, direction: int) -> None:
        """The evaluation's next or previous error, its panel brought forward (its highlight is
        drawn while the panel is in front); without errors listed, the status bar says so."""
        if self.evaluation_panel.errors.count():
            self.bring_forward("Evaluation")
            self.evaluation_panel.step(direction)
        else:  # (the panel in front of the one the user was in, for nothing)
            self.say("no errors listed: Evaluate in the Evaluation panel first" if self.evaluation_panel.report is None
                     else "no errors listed")

    def escape(self) -> None:
        """Esc, from anywhere in the window: the selection cleared (see its action), and the keys back
        to the image (after Tab into the panels, nothing but a click on the image did that); the
        anchor probe (P) ends, as a tool picked for one job does."""
        if self.canvas.tool is Tool.PROBE:
            self.anchor_panel.probe.setChecked(False)
        self.canvas.escape()
        self.canvas.setFocus()

    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        """Tab reaching a panel behind another tab brings it forward: the keys went in unseen (Home
        in the hidden History undid every edit)."""
        while new is not None and not isinstance(new, QDockWidget):
            new = new.parentWidget()
        if new is not None and new.isVisible() and new.visibleRegion().isEmpty() and new in self.docks.values():
            new.raise_()

    def panel_toggled(self, dock: QDockWidget) -> None:
        if dock.isVisible():
            dock.raise_()  # ... in front of its tab group, not as a hidden tab

    def reset_panels(self) -> None:
        """View ▸ Reset Panels: every panel back where it was at first."""
        self.restoreState(self._default_layout, LAYOUT_VERSION)
        self._one_column_by_width, self._narrow = False, None
        self.fit_panels()
        self._fit_columns()
        QTimer.singleShot(0, self._hide_stale_tab_bars)  # once the layout has placed them

    def fit_panels(self) -> None:
        """Panel sizes that follow the window's, so a small screen keeps most of its width for the
        image (the runs and AP tables want ~380 px, the file list ~240), while the right-hand
        panels stay wide enough for their tabs' names ("M…", "Anc…" were all a 1024 px window showed).
        The model's group gets three fifths of the height: the Training panel is the tallest (at
        1366x768 it took three and a half panel heights of scrolling, in half the height), and
        the class list keeps room for about ten classes there (it is what labelling uses most)."""
        width, height = self.width(), self.height()
        tabs = max((bar.sizeHint().width() + 4 for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)), default=0)
        right = min(max(min(380, width // 4), tabs), width // 3)
        if self.dockWidgetArea(self.docks["Images"]) == self.dockWidgetArea(self.docks["Model"]):  # one column (a narrow window)
            self.resizeDocks([self.docks["Model"]], [right], Qt.Orientation.Horizontal)
        else:
            self.resizeDocks([self.docks["Images"], self.docks["Model"]], [min(240, width // 6), right], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["Classes"], self.docks["Model"]], [2 * height // 5, 3 * height // 5], Qt.Orientation.Vertical)

    def _dock(self, title: str, widget) -> QDockWidget:
        """A panel in a dock, scrolling when taller than it; its ``pinned`` rows, where it has them, stay in view."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        pinned = getattr(widget, "pinned", None)
        dock.setWidget(PinnedPanel(pinned, widget) if pinned is not None else PanelScroll(widget))
        return dock

    def _search_edited(self, _text: str) -> None:
        """The notes on a search that found nothing, or on the end of the list it made, go with that
        search (they stood after Esc cleared it)."""
        self.statusBar().clear_note((NOTHING_FOUND, *END_OF_LIST))

    def _drag_refusal_gone(self, *_edit) -> None:
        """A box drawn or edited: why the drag before it did nothing no longer stands (it stood beside the new box)."""
        self.statusBar().clear_note((NOT_DRAWN, NOT_RESIZED))

    def say(self, text: str) -> None:
        """A passing message in the status bar: gone after 10 s ("copied 1 box" stayed until replaced)."""
        self.statusBar().showMessage(text, 10_000)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.status_fields.fit()
        if self._shown:
            self._columns_timer.start()

    # --- folders -------------------------------------------------------------------------------
    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open image folder", str(self._last_folder() or Path.home()))
        if folder:
            self.open_folder(Path(folder))

    def ask_labels_file(self) -> None:
        if self.workspace is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Labels file (COCO JSON, created if new)", str(self.workspace.folder),
                                              "COCO JSON (*.json)", options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.open_folder(self.workspace.folder, Path(path))

    def open_folder_once_shown(self, folder: Path, labels: Path | None = None) -> None:
        """At start: the window on screen first, saying what it opens, then the folder (a labels file
        of 100,000 boxes takes 1.4 s to read, and the window appeared only after it)."""
        self.canvas.show_message(f"opening {folder.name} …")
        self._waited_for_screen = 0
        QTimer.singleShot(0, partial(self._open_when_exposed, folder, labels))

    def _open_when_exposed(self, folder: Path, labels: Path | None) -> None:
        handle = self.windowHandle()
        if handle is not None and not handle.isExposed() and self._waited_for_screen < 50:  # (at most a second: a hidden window opens it anyway)
            self._waited_for_screen += 1
            QTimer.singleShot(20, partial(self._open_when_exposed, folder, labels))
            return
        if folder.is_file() and folder.suffix.lower() in IMAGE_SUFFIXES:  # retina-gui photo.jpg ("… is not a folder" before)
            self.open_image(folder, labels)
        else:
            self.open_folder(folder, labels)

    def open_image(self, image: Path, labels: Path | None = None) -> bool:
        """The image on screen, in the folder open if it lies under it, else in its own folder,
        opened (a file given to retina-gui, or dropped on the window, as a file manager gives it)."""
        image = image.resolve()
        if self.workspace is not None and image.is_relative_to(self.workspace.folder) and labels is None:
            name = image.relative_to(self.workspace.folder).as_posix()
            if self.files.set_current(name):
                return True
            if not would_list(name, recursive=True):  # (dropped while the folder was listed, it waited for the listing in vain)
                self.say(f"{name} is not listed: names starting with “.” are left out")
                return False
            if would_list(name, recursive=self.menus.recursive_action.isChecked()):
                # shown when the listing reaches it: this one, or F5's for one added since (the folder was opened again,
                # losing its labels file if it had another, and its history)
                self.listing.show_when_listed(name)
                return True
            # in a subfolder, with Include Subfolders off: its own folder, as for any other
        if not self.open_folder(image.parent, labels):
            return False
        self.listing.show_when_listed(image.name)  # (one it leaves out, a hidden file, is not)
        return True

    def open_folder(self, folder: Path, labels: Path | None = None) -> bool:
        folder = folder.resolve()
        if not folder.is_dir():
            self.report("Open folder", f"{folder} does not exist." if not folder.exists() else f"{folder} is not a folder.")
            return False
        if not self._may_stop_work("open another folder") or not self._may_lose_unsaved("open another labels file or folder"):
            return False
        previous = (self.workspace.folder, self.workspace.labels_path) if self.workspace is not None else None
        self.close_folder()  # first: reopening the same labels file must not find it locked by this window
        # a labels file of 100,000 boxes takes a second or two to read: the window says so meanwhile
        self.canvas.show_message(f"reading the labels of {folder.name} …")
        self.canvas.viewport().repaint()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            workspace, problem = open_workspace(folder, labels)
        except (AnnotationFileLocked, OSError) as exc:
            QApplication.restoreOverrideCursor()  # (before the message box)
            self.report("Labels file in use" if isinstance(exc, AnnotationFileLocked) else "Cannot open the folder", str(exc))
            if previous is not None and previous != (folder, labels):  # back to where the window was, not an empty one
                self.open_folder(*previous)
            if self.workspace is None:  # nothing to go back to: the empty window says why
                self.canvas.show_message(f"{folder}\ncould not be opened: {exc}\n\nFile ▸ Open Folder… opens another.")
            return False
        except BaseException:
            QApplication.restoreOverrideCursor()
            raise
        QApplication.restoreOverrideCursor()
        self.workspace = workspace
        if problem:
            self.report("Labels read-only", problem)
        workspace.images_changed.connect(self.files.model.refresh)
        workspace.waiting_changed.connect(self.files.model.refresh)
        workspace.images_changed.connect(self.evaluation_panel.labels_changed)
        workspace.images_changed.connect(self.anchor_panel.labels_changed)
        workspace.images_changed.connect(self.training_panel.labels_changed)
        workspace.categories_changed.connect(self._show_predictions)  # class colours
        workspace.categories_changed.connect(self.anchor_panel.refresh)  # class names in its assignment view
        workspace.categories_changed.connect(self.training_panel.labels_changed)  # the plan line counts the classes
        workspace.categories_changed.connect(self.evaluation_panel.classes_changed)  # the classes it scores, by name
        self.class_choice.attach(workspace)
        workspace.saved.connect(self._saved)
        workspace.save_failed.connect(self._save_failed)
        workspace.changed_on_disk.connect(self._labels_changed_on_disk)
        workspace.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_steps.attach(workspace)
        self.classes.set_workspace(workspace)
        self.loader = ImageLoader(folder)
        self.annotator.attach(workspace, self.loader)
        self.loader.start()
        self.predictions.attach(folder, workspace.labels_path.parent)
        self._use_folders_model(folder)
        self.listing.start(workspace, recursive=self.menus.recursive_action.isChecked(),
                           restore=self.settings.value(f"last_image/{workspace.folder}", "", type=str) or None)
        self._remember(folder)
        self.training_panel.attach()
        self.labels_not_saved = False
        self.status_fields.save_label.setText("read only" if workspace.read_only else f"labels: {workspace.labels_file.path.name}")
        self.model_panel.refresh_accepting()
        self._update_title()
        return True

    def _use_folders_model(self, folder: Path) -> None:
        """Without a model chosen (no --model, none loaded), the one last used with this folder (a
        reopened folder showed "no model", and its fine-tuned model had to be found again)."""
        if self.predictions.model is not None:
            self._remember_model(self.predictions.model)
        elif self.predictions.model_path is None:
            # (type=str: a hand-edited "a, b" reads as a list, which as a model path left the opened folder unlisted)
            last = self.settings.value(f"model/{folder}", "", type=str)
            if last and Path(last).is_file():
                self.predictions.load_model(Path(last))

    def _remember_model(self, info) -> None:
        if info is not None and self.workspace is not None:
            self.settings.setValue(f"model/{self.workspace.folder}", str(info.path))

    def reopen(self, _checked: bool) -> None:
        if self.workspace is not None:
            self.open_folder(self.workspace.folder, self.workspace.labels_path)

    @staticmethod
    def _dropped(event) -> tuple[str, Path] | None:
        """What a drag brings: ("folder", a folder), ("image", an image: its folder opened on it) or
        ("model", a weights file); None for anything else (a labels file dropped opened its folder as images)."""
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        path = Path(urls[0].toLocalFile()) if urls and urls[0].isLocalFile() else None
        if path is None or not path.exists():
            return None
        if path.is_dir():
            return "folder", path
        suffix = path.suffix.lower()
        return ("image", path) if suffix in IMAGE_SUFFIXES else ("model", path) if suffix in WEIGHT_SUFFIXES else None

    def dragEnterEvent(self, event) -> None:
        if self._dropped(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        dropped = self._dropped(event)
        if dropped is None:
            return
        event.acceptProposedAction()
        kind, path = dropped
        if kind == "model":
            self.model_panel.load(path)
        elif kind == "image":  # after the drop has returned, as a folder is opened
            QTimer.singleShot(0, partial(self.open_image, path))
        elif self.workspace is not None and path.resolve() == self.workspace.folder:  # (opened again, it lost a --labels file)
            self.say(f"{path.name} is open already (File ▸ Look for New Images, F5, lists images added to it)")
        else:
            # after the drop has returned: the file manager's drag waited on the questions and the labels' reading
            QTimer.singleShot(0, partial(self.open_folder, path))

    def close_folder(self) -> None:
        closing = str(self.workspace.folder) if self.workspace is not None else None
        self.listing.stop()
        if self.loader is not None:
            self.loader.stop()
        self.loader = None
        self.anchor_panel.stop()
        self.evaluation_panel.stop()
        self.training_panel.detach()
        self.transfer.stop()
        self.annotator.detach()
        self.predictions.detach()  # last: its "no model" would have the panels redo their work for the folder closing
        drop_queued_results(self, self.listing, self.annotator, self.predictions, self.anchor_panel, self.evaluation_panel, self.training_panel,
                            self.transfer)
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None
        self.undo_steps.detach()
        self.classes.set_workspace(None)
        self.files.set_model(FileListModel())
        for box in self.findChildren(QMessageBox):  # the problems of the folder closed (they stood over the next one's), not others'
            if closing is not None and box.isVisible() and box.property("folder") == closing:
                box.close()

    def _listed(self, total: int) -> None:
        self._relisted()
        if total == 0:
            self.canvas.show_message(f"No images in {self.workspace.folder}\n(File ▸ Open Folder… to choose another)")
        else:
            self.label_files.offer_labelme()

    def _relisted(self) -> None:
        self.training_panel.set_folder_images(self.files.model.names)

    def _listing_problem(self, title: str, text: str, keep_earlier: bool) -> None:
        self.report(title, text, keep_earlier=keep_earlier)

    def _remember(self, folder: Path) -> None:
        recent = [f for f in self.recent_folders() if f != str(folder)]
        self.settings.setValue(RECENT_KEY, [str(folder), *recent][:RECENT_COUNT])

    def recent_folders(self) -> list[str]:
        return self.settings.value(RECENT_KEY, [], type=list)

    def _last_folder(self) -> Path | None:
        recent = self.recent_folders()
        return Path(recent[0]) if recent else None

    # --- actions -------------------------------------------------------------------------------
    def show_keys(self) -> None:
        """Help ▸ Keyboard and Mouse (F1): the keys were in the README alone."""
        self.menus.name_class_actions()  # the number keys' classes, as they are now
        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.exec()
        dialog.deleteLater()

    def delete_key(self) -> None:
        """Delete: the class chosen when the Classes list has the focus (it deleted the boxes selected
        on the image, which the user was not looking at), else the selected boxes."""
        if self.classes.list.hasFocus():
            self.classes.ask_delete(by_key=True)
        else:
            self.annotator.delete_selected()

    def _current_edited(self) -> None:
        """After the canvas has the edit (before, a selected box that an undo removed was still
        selected there, and "Why missed?" looked it up among the image's labels)."""
        self._show_predictions()  # predictions a label covers now are drawn faintly
        self._explain_selection()  # an edit keeps the selection: "Why missed?" follows the label moved or relabelled

    def _show_predictions(self) -> None:
        self.canvas.set_predictions(self.predictions.box_views())

    def _accept_prediction(self, index: int) -> None:
        self.predictions.accept([index])

    def _run_ended(self, summary: str) -> None:
        """A run finished: the Training panel comes forward with its scores, the start weights'
        beside them, and "Previous model" or "Use its model" (behind the Model tab, a worse model
        took over with no sign of it)."""
        self.bring_forward("Training")
        self.say(f"training {summary}")

    def predict_folder(self) -> None:
        """Ctrl+Shift+P: the Model panel comes forward, with the run's progress and Cancel (behind
        another tab, the status bar's "progress and Cancel in the Model panel" was all there was)."""
        self.bring_forward("Model")
        self.predictions.predict_folder()
        scroll_into_view(self.model_panel.progress, self.model_panel.eta_label)  # at 1366x768 it sat below the fold; its time left too

    def _model_failed(self, *_why: str) -> None:
        """A model failed to load, or to predict: the Model panel says why (and which model is still
        in use); bring it forward (behind another tab, the status bar's cut-off line was all there was to see)."""
        self.bring_forward("Model")

    def _training_failed(self, message: str) -> None:
        self.report("Training", message)

    def _prediction_menu(self, indices: list, position: QPoint) -> None:
        """Accept or reject each prediction under the click, by name and score (two classes' predictions
        of one object lie on each other: the one below is chosen here)."""
        menu = QMenu(self)
        for k, index in enumerate(indices):
            if k:
                menu.addSeparator()
            text = self.predictions.prediction_text(index)
            menu.addAction(f"Accept {text}", partial(self.predictions.accept, [index]))
            menu.addAction(f"Reject {text}", partial(self.predictions.reject, index))
        menu.popup(position)

    def _explain_selection(self, *_args) -> None:
        selected = self.canvas.selected()
        if len(selected) != 1 or self.predictions.model is None or self.annotator.size is None:
            self.model_panel.show_explanation("Select one label to see whether and why the model misses it.")
            return
        result = self.predictions.explain_label(selected[0], self.anchor_panel.model_best_anchor_iou(selected[0]))
        self.model_panel.show_explanation(result)

    def save(self) -> None:
        if self.workspace is None:
            self.say("no folder open: nothing to save")
            return
        if self.workspace.read_only:  # nothing is written: "labels saved" said otherwise
            self.say(f"nothing saved: {self.workspace.read_only_reason}")
        elif not self.workspace.save():
            self.statusBar().showMessage("labels saved", 3000)

    REPORTS_KEPT = 3  # the problems one box says at most (the latest)

    def report(self, title: str, text: str, *, keep_earlier: bool = False) -> None:
        """Tell the user about a problem without blocking the window (and keep it for tests). One box
        a title: the same problem again raises it (Train pressed three times stacked three alike
        boxes); another replaces what it said (a refusal of Train's since fixed is no problem), or,
        ``keep_earlier``, is added under it (a folder's scan failure and its skipped entries)."""
        self.reports.append(f"{title}: {text}")
        folder = str(self.workspace.folder) if self.workspace is not None else ""  # (its boxes go as it closes)
        box = next((b for b in self.findChildren(QMessageBox) if b.isVisible() and b.windowTitle() == title
                    and b.windowModality() == Qt.WindowModality.NonModal), None)  # (not a question of the same title)
        if box is None:
            box = QMessageBox(QMessageBox.Icon.Warning, title, "", QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.setWindowModality(Qt.WindowModality.NonModal)
            texts = [text]
        else:
            said = list(box.property("texts") or [])
            texts = said if text in said else ([*said, text][-self.REPORTS_KEPT:] if keep_earlier else [text])
        box.setProperty("texts", texts)
        box.setProperty("folder", folder)
        box.setText("\n\n".join(texts))
        box.show()
        box.raise_()

    # --- status --------------------------------------------------------------------------------
    def _context_menu(self, position: QPoint) -> None:
        if self.workspace is None:
            return
        menu = QMenu(self)
        relabel = menu.addMenu("Relabel as")
        store = self.workspace.store
        boxes = store.boxes(self.annotator.current) if self.annotator.current else ()
        current = {boxes[i].category_id for i in self.canvas.selected() if i < len(boxes)}
        keys = class_keys(store.categories)
        for category in store.categories:  # as the Classes panel lists them: swatch, key, name
            action = relabel.addAction(category_icon(category), f"{class_key_text(keys.get(category.id))}{category.name}",
                                       partial(self.class_choice.relabel, category.id))
            action.setCheckable(True)
            action.setChecked(current == {category.id})  # the selection's class now
        menu.addAction("Copy", self.annotator.copy_selected)
        menu.addAction("Delete", self.annotator.delete_selected)
        menu.popup(position)

    def _tool_changed(self, tool: Tool) -> None:
        if tool is Tool.PROBE:  # what the probe shows is there: the panel comes forward
            self.bring_forward("Anchors")

    def _remember_image(self, name: str) -> None:
        """The image on screen is the one shown when the folder opens next."""
        if self.workspace is not None:
            self.settings.setValue(f"last_image/{self.workspace.folder}", name)

    def _save_failed(self, message: str, report: bool = True) -> None:
        """The first failure after a save is reported in a box; the next ones (each edit retries)
        only keep the title and status bar saying so (a full disk left a box per edit)."""
        first = not self.labels_not_saved
        self.status_fields.save_label.setText("NOT SAVED")
        self.labels_not_saved = True
        self._update_title()
        if report and first:
            self.report("Labels not saved", message)

    def _labels_changed_on_disk(self, reason: str) -> None:
        self._save_failed(reason, report=False)
        if self.workspace is not None and self.confirm(
                "Labels file changed", f"{reason}.\n\nReplace it with the labels in this window? (No: nothing is written, and "
                                       "saving waits; reopen the folder to see the other program's version, which drops this "
                                       "window's edits since its last save.)"):
            self.workspace.save(overwrite=True)

    def _saved(self, message: str) -> None:
        self.status_fields.save_label.setText(message)
        self.labels_not_saved = False
        self._update_title()

    def _update_title(self, *_) -> None:
        name = "retina-gui"
        if self.workspace is not None:
            name += f" — {self.workspace.folder}"
            if self.workspace.read_only:
                name += " (read only)"
            elif self.labels_not_saved:
                name += " — LABELS NOT SAVED"
        self.setWindowTitle(name)

    def _confirm(self, title: str, question: str, undoable: bool = False) -> bool:
        """The window's question, as ``confirm`` asks it when asked (tests answer it by setting ``confirm``)."""
        return self.confirm(title, question, undoable=undoable)

    def _ask(self, title: str, question: str, undoable: bool = False) -> bool:
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        default = QMessageBox.StandardButton.Yes if undoable else QMessageBox.StandardButton.No
        answer = QMessageBox.question(self, title, question, buttons, default)
        return answer == QMessageBox.StandardButton.Yes

    def _may_lose_unsaved(self, doing: str) -> bool:
        """Saves the labels; False when that fails and the user would rather keep the window open
        (to free space or fix permissions, then save again) than lose the edits since the last save."""
        if self.workspace is None or self.workspace.read_only:
            return True
        reason = self.workspace.save(report=False)
        if not reason:
            return True
        path = self.workspace.labels_path
        self._save_failed(f"Could not save labels to {path}: {reason}", report=False)
        return self.confirm("Labels not saved", f"The labels could not be saved to {path}:\n{reason}\n\n"
                                                f"{doing[0].upper()}{doing[1:]} anyway and lose every edit since the last save? "
                                                "(No: keep the window open, deal with the cause (disk space, permissions, or "
                                                "another program's change to the file), then File ▸ Save Now, Ctrl+S.)")

    def _may_stop_work(self, doing: str) -> bool:
        """False when a run is training, or labels are being imported or exported, and the user
        would rather let it finish (an export was cut short without a word)."""
        if self.transfer.busy and not self.confirm("Import or export running", f"{self.transfer.what_stopping_loses()} Stop it to {doing}?"):
            return False
        if self.training_panel.worker is None:
            return True
        return self.confirm("Training is running", f"Stop the training to {doing}? The last checkpoint is kept, and Resume "
                                                   "continues the run later.")

    def copy(self) -> None:
        """Ctrl+C: the text selected in a text field or report when one has the focus, else the boxes."""
        focus = QApplication.focusWidget()
        if isinstance(focus, QLineEdit) and focus.hasSelectedText() or (
                isinstance(focus, QPlainTextEdit) and focus.textCursor().hasSelection()):
            focus.copy()
        else:
            self.annotator.copy_selected()

    def next_unlabelled(self) -> None:
        """Shift+D; back at the list's start is said (it wrapped to image 5 of 12 without a word)."""
        before = self.files.model.row(self.files.current() or "")
        if not self.files.next_unlabelled():
            alone = self.annotator.current is not None and without_labels(self.files.model.status(self.annotator.current))
            self.statusBar().showMessage("no other image in the list is without labels" if alone else
                                         "every image in the list has labels", 5000)
        elif before is not None and self.files.model.row(self.files.current()) < before:
            self.say("next image without labels: none after this one, so from the start of the list")

    def toggle_reviewed(self) -> None:
        """R; marking an image without labels reviewed makes it a negative example ("nothing here"):
        asked first when the model shows predictions on it, which may be objects not yet labelled."""
        a, ws = self.annotator, self.workspace
        shown = len(self.predictions.visible) if self.predictions.visible is not None and self.canvas.predictions_shown else 0
        entry = ws.store.entry(a.current) if ws is not None and a.current else None
        marking = not (entry is not None and entry.reviewed)
        if marking and shown and ws is not None and not ws.store.boxes(a.current) and not self.confirm(
                "Mark reviewed", f"{a.current} has no labels but {shown} prediction{'s' if shown > 1 else ''} shown. Mark it reviewed as a "
                                 "negative example, an image with nothing to find (training learns that)?"):
            return
        a.toggle_reviewed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            QTimer.singleShot(0, self._keep_room_for_the_image)

    def _keep_room_for_the_image(self) -> None:
        """Panels restored from a larger screen can leave the image a sliver: give them the widths of
        this window instead."""
        if self.canvas.width() < self.width() // 2:
            self.fit_panels()
        self._fit_columns()
        self._hide_stale_tab_bars()

    def _fit_columns(self) -> None:
        """Under NARROW_WINDOW the image list joins Classes and History as a tab, the panels in one
        column (with the list on the left too, a half screen, 683 px, left the image 192 px); the
        window grown wide again puts it back on the left, unless the user had put it there. Only
        when the window crosses that width: a panel the user moves stays where it was put."""
        narrow = self.width() < NARROW_WINDOW
        if narrow == self._narrow:
            return
        self._narrow = narrow
        images, classes = self.docks["Images"], self.docks["Classes"]
        one_column = self.dockWidgetArea(images) == self.dockWidgetArea(classes) and not images.isFloating()
        if narrow and not one_column and not images.isFloating() and images.isVisible():
            self.tabifyDockWidget(classes, images)
            classes.raise_()
            self._one_column_by_width = True
        elif not narrow and one_column and self._one_column_by_width:
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, images)
            self._one_column_by_width = False
        else:
            return
        self.fit_panels()

    def _hide_stale_tab_bars(self) -> None:
        """Qt 6.11 leaves the tab bar of a tab group that grew (Model + Anchors, before Evaluation and
        Training joined) on screen, over a panel. A live tab bar sits right under the panel of its
        group; hide the others."""
        docked = [d.geometry() for d in self.docks.values() if d.isVisible() and not d.isFloating()]
        for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            g = bar.geometry()
            if bar.isVisible() and not any(abs(g.y() - (r.y() + r.height())) <= 2 and abs(g.x() - r.x()) <= 2 for r in docked):
                bar.hide()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._may_stop_work("quit") or not self._may_lose_unsaved("quit"):
            event.ignore()
            return
        self.model_panel.stop()
        self.close_folder()
        if self.training_panel.ending:  # the run was cancelled: its step ends, and its checkpoint is kept, before the process may go
            self.say("finishing the training step before quitting (its checkpoint is kept) …")
            while self.training_panel.ending:
                QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)  # the window repaints meanwhile
                self.training_panel.wait_ending(50)
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(LAYOUT_KEY, self.saveState(LAYOUT_VERSION))
        self.settings.setValue(ONE_COLUMN_KEY, self._one_column_by_width)
        super().closeEvent(event)
