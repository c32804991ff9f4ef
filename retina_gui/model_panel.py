"""The model panel: which model and device, predicting (image, folder with progress and cancel),
the live score / NMS sliders with counts, per-class visibility, accepting, and why a selected label
was missed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.config import PRECISIONS
from core.text import count, duration
from retina_gui.canvas_items import OverlayBox
from retina_gui.convert import rect_from_xyxy
from retina_gui.predictions import Predictions
from retina_gui.widgets import TaskProgress, WarningLabel, breakable, button_grid, model_name, scroll_into_view
from retina_gui.workers import DownloadWorker, ModelInfo

ACCEPT_IMAGE_TIP = "Add the shown predictions of this image as labels, except those already labelled (Ctrl+Return)"
ACCEPT_FOLDER_TIP = "The same for every predicted image of the folder, as one undo step"
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")  # what Load model… offers; a file of one dropped on the window loads


class ModelPanel(QWidget):
    def __init__(self, predictions: Predictions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predictions = predictions
        self.path_label = QLabel("no model")
        self.path_label.setWordWrap(True)
        self.info_label = QLabel()
        # the download's progress and outcome under its button (in the Predict group, at the panel's foot, an
        # offline download said so far from the button clicked)
        self.download_label = QLabel()
        self.download_label.setWordWrap(True)  # an offline download's message names a folder: on one line it widened the window
        self.download_label.hide()
        self.error_label = WarningLabel()  # a model that failed to load or predict: stays until a model loads (the status bar's note went after 10 s)
        self.error_label.hide()
        predictions.load_failed.connect(self._load_failed)
        predictions.prediction_failed.connect(self._prediction_failed)
        self.info_label.setWordWrap(True)
        load = QPushButton("Load model…")
        load.setToolTip("retina-gui .safetensors, a torchvision RetinaNet state dict or a yhenon checkpoint")
        load.clicked.connect(self.ask_model)
        self.coco_button = QPushButton("Get COCO RetinaNet (146 MB)")
        self.coco_button.setToolTip("torchvision's retinanet_resnet50_fpn_v2, COCO box AP 41.5, through torchvision's weights API")
        self.coco_button.clicked.connect(self.get_coco_model)
        self.coco_url: str | None = None  # None: torchvision's own address for the file
        self._download: DownloadWorker | None = None
        self.device_box = QComboBox()
        self.device_box.addItem("auto")
        self.device_box.activated.connect(self._device_chosen)
        self.preset_box = QComboBox()
        self.preset_box.addItem("from the weights", None)
        for name in ("retinanet", "yhenon", "torchvision_v1", "torchvision_v2"):
            self.preset_box.addItem(name, name)
        self.preset_box.setToolTip("Inference behaviour (anchors, box coding, thresholds, input size); the weights' own by default")
        self.preset_box.activated.connect(self._device_chosen)
        self.precision_box = QComboBox()
        self.precision_box.addItems(offered_precisions(()))  # (a model says which devices there are)
        self.precision_box.setToolTip("auto: bf16 where the CPU or GPU runs it fast (AVX512-BF16, Ampere and later; ≥ 98 % of fp32's "
                                      "detections), else fp32. fp32: exact figures, slower; fp16: GPU only")
        self.precision_box.activated.connect(self._precision_chosen)
        self.auto_box = QCheckBox("Predict each image when shown")
        self.auto_box.setChecked(predictions.auto)
        self.auto_box.toggled.connect(self._auto_toggled)
        self.predict_button = QPushButton("Predict image")
        self.predict_button.clicked.connect(self.predict_now)
        self.folder_button = QPushButton("Predict folder")
        self.folder_button.clicked.connect(self.error_label.hide)  # a new try: the last failure's note goes
        self.folder_button.clicked.connect(predictions.predict_folder)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(predictions.cancel_folder)
        self.cancel_button.setEnabled(False)
        self.progress = TaskProgress("%v / %m")
        self.eta_label = QLabel()
        self.eta_label.setWordWrap(True)  # a folder run's outcome names what was unreadable: on one line it widened the window
        self.score_slider = QSlider(Qt.Orientation.Horizontal, minimum=5, maximum=99)
        self.nms_slider = QSlider(Qt.Orientation.Horizontal, minimum=5, maximum=95)
        # (the two sliders and the settings' toggle had no word of what they do)
        self.score_slider.setToolTip("Show the predictions scoring above this; the model is not run again (once clicked, PageUp and "
                                     "PageDown move it by a tenth)")
        self.nms_slider.setToolTip("Of two predictions of one class overlapping by more than this IoU, only the likelier is shown "
                                   "(higher: more overlapping boxes kept)")
        self.score_label, self.nms_label, self.count_label = QLabel("Score > –"), QLabel("NMS IoU –"), QLabel()  # (no model yet)
        self.score_slider.valueChanged.connect(self._sliders_moved)
        self.nms_slider.valueChanged.connect(self._sliders_moved)
        self.classes = QListWidget()
        self.classes.itemChanged.connect(self._class_toggled)
        self.classes.setToolTip("The classes whose predictions are shown (untick one to hide it)")
        # four rows, scrolled: at its default height it pushed Accept and "Why missed?" below the fold even at 1600x900
        self.classes.setMaximumHeight(self.classes.fontMetrics().height() * 4 + 16)
        self.accept_image_button = QPushButton("Accept shown (image)")  # the window asks first when classes would be added
        self.accept_image_button.setToolTip(ACCEPT_IMAGE_TIP)
        self.accept_folder_button = QPushButton("Accept shown (folder)")  # the window asks first, then accepts
        self.accept_folder_button.setToolTip(ACCEPT_FOLDER_TIP)
        self.explanation = QLabel("Select a label to see whether and why the model misses it.")
        self._explained: object = ""  # what show_explanation was given last
        self._on_screen = True  # see set_on_screen
        self.explanation.setWordWrap(True)

        model_box = QGroupBox("Weights")
        form = QFormLayout(model_box)
        form.addRow(self.path_label)
        form.addRow(self.error_label)
        form.addRow(load)
        form.addRow(self.coco_button)
        form.addRow(self.download_label)
        # folded: set once, if ever (the info line says what is in use), they pushed the sliders and Accept
        # below the fold at 1280x800
        self.settings_button = QToolButton(text="Device, precision, preset", checkable=True, autoRaise=True)
        self.settings_button.setToolTip("Where the model runs (CPU or GPU), at which precision, and its inference preset")
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings_button.setArrowType(Qt.ArrowType.RightArrow)
        self.settings_button.toggled.connect(self._settings_toggled)
        self.settings = QWidget()
        settings = QFormLayout(self.settings)
        settings.setContentsMargins(0, 0, 0, 0)
        settings.addRow("Device", self.device_box)
        settings.addRow("Precision", self.precision_box)
        settings.addRow("Preset", self.preset_box)
        self.settings.hide()
        form.addRow(self.info_label)
        form.addRow(self.settings_button)
        form.addRow(self.settings)
        run_box = QGroupBox("Predict")
        run = QVBoxLayout(run_box)
        run.addWidget(self.auto_box)
        run.addLayout(button_grid(self.predict_button, self.folder_button, self.cancel_button))
        run.addWidget(self.progress)
        run.addWidget(self.eta_label)
        filter_box = QGroupBox("Show predictions (dashed)")  # (the demo opened with solid and dashed boxes, and no word of which is which)
        show = QFormLayout(filter_box)
        show.addRow(self.score_label, self.score_slider)
        show.addRow(self.nms_label, self.nms_slider)
        self.count_label.setWordWrap(True)  # "300 shown (the most it keeps) of 2000 candidates" widened the dock for good
        show.addRow(self.count_label)
        # Accept above the class ticks: used on every image, it was below the fold at 1280x800, under a list set once
        show.addRow(button_grid(self.accept_image_button, self.accept_folder_button, columns=1))
        show.addRow(self.classes)
        why_box = QGroupBox("Why missed?")
        QVBoxLayout(why_box).addWidget(self.explanation)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        # the sliders, used all the time, in view on a small screen; "Why missed?", which follows every label
        # clicked, next to them
        for w in (model_box, filter_box, why_box, run_box):
            layout.addWidget(w)
        layout.addStretch(1)

        predictions.model_changed.connect(self._model_changed)
        predictions.changed.connect(self._update_counts)
        predictions.batch_progress.connect(self._batch_progress)
        predictions.batch_finished.connect(self._batch_finished)
        self._model_changed(None)

    # --- model ---------------------------------------------------------------------------------
    def ask_model(self) -> None:
        p = self.predictions
        start = p.model.path.parent if p.model else p.annotator.workspace.folder if p.annotator.workspace else Path.home()
        patterns = " ".join(f"*{suffix}" for suffix in WEIGHT_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Load model", str(start), f"Weights ({patterns});;All files (*)")
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> None:
        """Load a weights file (chosen, or dropped on the window) with the device and preset chosen here."""
        self.predictions.load_model(path, self.device_box.currentText(), self.preset_box.currentData())

    def get_coco_model(self) -> None:
        """Download (or find in torch's cache) torchvision's COCO RetinaNet v2 (from ``coco_url`` when
        set) and load it."""
        if self._download is not None:
            return
        from core.backbones import hub_checkpoints

        hub = Path(hub_checkpoints())
        self._download = DownloadWorker(self.coco_url, hub)
        self._download.progress.connect(self._download_progress)
        self._download.done.connect(self._downloaded)
        self._download.failed.connect(self._download_failed)
        self.coco_button.setEnabled(False)
        self._say_download("downloading …")
        self._download.start()

    def _say_download(self, text: str) -> None:
        self.download_label.setText(breakable(text))
        self.download_label.setVisible(bool(text))

    def _download_progress(self, received: int, total: int) -> None:
        self._say_download(f"downloading: {received / 1e6:.0f} of {total / 1e6:.0f} MB")

    def _finish_download(self) -> None:
        if self._download is not None:
            self._download.stop()
            self._download = None
        self.coco_button.setEnabled(True)

    def _downloaded(self, path: Path) -> None:
        self._finish_download()
        self._say_download(f"downloaded {path.name}")
        self.predictions.load_model(path, self.device_box.currentText(), self.preset_box.currentData())

    def _download_failed(self, reason: str) -> None:
        self._finish_download()
        self._say_download(reason)
        self.predictions.message.emit(reason)

    def stop(self) -> None:
        if self._download is not None:
            self._download.cancel.cancel()
            self._finish_download()

    def _device_chosen(self, _index: int) -> None:
        """A new device or preset: load the model again with it."""
        if self.predictions.model_path is not None:
            self.predictions.load_model(self.predictions.model_path, self.device_box.currentText(), self.preset_box.currentData())

    def _precision_chosen(self, _index: int) -> None:
        self.predictions.precision = self.precision_box.currentText()
        self._device_chosen(_index)

    def _load_failed(self, reason: str) -> None:
        kept = self.predictions.model
        self.error_label.setText(breakable(f"Could not load it: {reason}" + (f". Still using {kept.path.name}." if kept else "")))
        self.error_label.show()
        scroll_into_view(self.error_label)  # (the panel scrolled down to Accept or Predict kept it out of sight)
        self.device_box.setCurrentText(self.predictions.device)  # the choices of the model in use, not of the one that failed
        self.preset_box.setCurrentIndex(max(0, self.preset_box.findData(self.predictions.preset)))
        self.precision_box.setCurrentText(self.predictions.precision)

    def _prediction_failed(self, name: str, reason: str) -> None:
        self.error_label.setText(breakable(f"Could not predict {name}: {reason}"))
        self.error_label.show()
        scroll_into_view(self.error_label)

    def refresh_accepting(self) -> None:
        """The Accept buttons: greyed without a model, and in a folder whose labels cannot be edited,
        with the reason (they asked their question, then refused its Yes)."""
        workspace = self.predictions.annotator.workspace
        why = workspace.read_only_text if workspace is not None and workspace.read_only else None
        for button, tip in ((self.accept_image_button, ACCEPT_IMAGE_TIP), (self.accept_folder_button, ACCEPT_FOLDER_TIP)):
            button.setEnabled(self.predictions.model is not None and why is None)
            button.setToolTip(tip if why is None else why)

    def _model_changed(self, info: ModelInfo | None) -> None:
        ready = info is not None
        if info is not None:
            self.error_label.hide()
        for w in (self.predict_button, self.folder_button, self.score_slider, self.nms_slider):
            w.setEnabled(ready)
        self.refresh_accepting()
        self.classes.blockSignals(True)
        self.classes.clear()
        if info is None:  # no model (another folder opened, say): no folder run either, whatever one had reported
            self.cancel_button.setEnabled(False)
            self.progress.hide()
            self.eta_label.setText("")
            path = self.predictions.model_path
            waiting = "loading…" if self.predictions.worker is not None else "loads when a folder is opened"
            self.path_label.setText(f"{breakable(path.name)} ({waiting})" if path else "no model: Load model… or start with --model")
            self.path_label.setToolTip(str(path) if path else "")
            self.info_label.setText("")
        else:
            if self._download is None:  # the last model's folder run, or the download that brought this one, is over
                self.progress.hide()
                self.eta_label.setText("")
                self._say_download("")
            self.path_label.setText(breakable(model_name(info.path)))
            self.path_label.setToolTip(str(info.path))
            self.info_label.setText(f"{info.preset} preset, {count(info.class_count, 'class')}, running on {info.device} ({info.precision})")
            current = self.device_box.currentText()
            self.device_box.clear()
            self.device_box.addItems(list(info.devices))
            self.device_box.setCurrentText(current)
            self.precision_box.clear()
            self.precision_box.addItems(offered_precisions(info.devices))
            self.precision_box.setCurrentText(self.predictions.precision)
            for slider, value in ((self.score_slider, self.predictions.score), (self.nms_slider, self.predictions.nms)):
                slider.blockSignals(True)
                if slider is self.score_slider:
                    slider.setMinimum(max(1, round(info.score_floor * 100)))
                slider.setValue(round(value * 100))
                slider.blockSignals(False)
            self._sliders_moved(0)
            none = info.placeholders
            for k, name in enumerate(info.class_names):  # a row each (row k is class k), a COCO head's placeholders hidden, and off
                item = QListWidgetItem(name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                placeholder = k in none
                item.setCheckState(Qt.CheckState.Unchecked if placeholder else Qt.CheckState.Checked)
                self.classes.addItem(item)
                item.setHidden(placeholder)
        self.classes.blockSignals(False)
        self._update_counts()

    # --- predicting ----------------------------------------------------------------------------
    def _auto_toggled(self, on: bool) -> None:
        self.predictions.auto = on
        if on:
            self.predict_now()

    def predict_now(self) -> None:
        if self.predictions.model is None:
            self.predictions.message.emit("no model loaded: Model ▸ Load Model… first")
        elif self.predictions.annotator.current is not None:
            name = self.predictions.annotator.current
            cached = name in self.predictions.candidates
            self.predictions.request(name)
            self.predictions.message.emit(f"{name}: its predictions are shown" if cached else f"predicting {name} …")

    def _batch_progress(self, done: int, total: int, seconds_left: float) -> None:
        self.cancel_button.setEnabled(done < total)
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self.eta_label.setText(f"{duration(seconds_left)} left" if done < total else "")

    def _batch_finished(self, done: int, bad: int, cancelled: bool) -> None:
        self.cancel_button.setEnabled(False)
        unreadable = f", {bad} unreadable (red in the list)" if bad else ""
        predicted = count(done - bad, "image")
        self.eta_label.setText(f"cancelled after {predicted}{unreadable}" if cancelled else f"predicted {predicted}{unreadable}")
        self.predictions.message.emit(self.eta_label.text())  # the panel may be behind another tab

    # --- thresholds and classes ----------------------------------------------------------------
    def set_score(self, score: float) -> None:
        """Move the score slider (the evaluation's best F1 threshold, say)."""
        self.score_slider.setValue(round(score * 100))

    def _sliders_moved(self, _value: int) -> None:
        score, nms = self.score_slider.value() / 100, self.nms_slider.value() / 100
        self.score_label.setText(f"Score > {score:.2f}")  # strictly above, as the reference models filter
        self.nms_label.setText(f"NMS IoU {nms:.2f}")
        if self.predictions.model is not None and (score, nms) != (self.predictions.score, self.predictions.nms):
            self.predictions.set_thresholds(score, nms)

    def _class_toggled(self, item: QListWidgetItem) -> None:
        self.predictions.set_class_visible(self.classes.row(item), item.checkState() == Qt.CheckState.Checked)

    def _update_counts(self) -> None:
        p = self.predictions
        candidates = p.current_candidates()
        if p.visible is None or candidates is None:
            self.count_label.setText("no predictions for this image" if p.model else "")
            return
        cap = p.model.max_detections
        at_cap = " (the most it keeps)" if cap and p.all is not None and len(p.all) >= cap else ""
        if p.annotator.canvas.predictions_shown:
            self.count_label.setText(f"{len(p.visible)} shown{at_cap} of {len(candidates)} candidates")
        else:  # (it said "20 shown" of none on the image, the sliders moving nothing to be seen)
            self.count_label.setText(f"{len(p.visible)} to show{at_cap} of {len(candidates)} candidates: hidden (View ▸ Predictions, H)")
        self.count_label.setToolTip(f"Candidates: the detections above the score floor ({p.model.score_floor:g}) kept per image, the "
                                    "best of each feature level, before NMS; the sliders filter them without running the model again"
                                    + (f". At most {cap} are shown (the preset's detection cap)" if cap else ""))

    def show_explanation(self, result) -> None:
        """A miss explanation (core.review.Explanation) or a note; a label removed by NMS gets the
        detection that removed it marked on the image."""
        self.explanation.setText(result if isinstance(result, str) else result.message)
        self._explained = result
        self.mark_suppressor()

    def _settings_toggled(self, shown: bool) -> None:
        self.settings_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.settings.setVisible(shown)

    def set_on_screen(self, on_screen: bool) -> None:
        self._on_screen = on_screen
        self.mark_suppressor()

    def predictions_toggled(self, *_) -> None:
        """View ▸ Predictions (H): the counts and the suppressor's mark follow."""
        self._update_counts()
        self.mark_suppressor()

    def mark_suppressor(self, *_) -> None:
        """The detection that removed the selected label by NMS, marked on the image while this panel
        is in front and predictions are shown (a white "suppressed it" box over a label, with
        predictions hidden or behind the Training tab, said nothing of what it was)."""
        result, canvas, marks = self._explained, self.predictions.annotator.canvas, []
        if (self._on_screen and canvas.predictions_shown and not isinstance(result, str) and result.suppressed_by is not None
                and self.predictions.all is not None):
            box = self.predictions.all.boxes[result.suppressed_by]
            # white, solid: no class colour (the palette's magenta was black-queen's), and predictions are dashed
            marks.append(OverlayBox(rect_from_xyxy(box), QColor(255, 255, 255), 3, False, "suppressed it"))
        canvas.set_overlay(marks, "explanation")


def offered_precisions(devices) -> list[str]:
    """fp16 where a GPU is: on a CPU it only runs slower than fp32."""
    return [p for p in PRECISIONS if p != "fp16" or any(d.startswith("cuda") for d in devices)]
