"""The training panel: one-click fine-tuning of the current model on the folder's labels in the
background, with progress, a live loss / mAP chart, a log, cancel and resume, clear failure
messages, and a runs list to compare runs and switch the model between them."""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, fields, replace
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.config import PRECISIONS
from core.finetune import (
    DEFAULT_LR,
    RUNS_FOLDER,
    FineTuneError,
    Recipe,
    RunInfo,
    RunSpeed,
    check_labels,
    default_recipe,
    describe_plan,
    describe_recipe,
    empty_classes,
    estimate_duration,
    list_runs,
    load_recipe,
    new_run_dir,
    runs_folder_problem,
    write_run_note,
)
from core.history import append_log, read_history
from core.labels import LabelSet, class_name_key
from core.text import duration, first_names
from retina_gui.loss_chart import LossChart
from retina_gui.predictions import Predictions
from retina_gui.widgets import BoundedNote, TaskProgress, button_grid, json_setting, model_name, rows_high, scroll_into_view
from retina_gui.workers import TrainingWorker

_JSON_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "None": (type(None),)}  # a Recipe field's, in JSON


def _when(run_name: str, seconds: bool = False) -> str:
    """A run folder's name (its start, 20261127-101447, "-2" after it for a second run that
    second) as a short date on two lines, "11-27\n10:14" ("11-27\n10:14-2"): on one line, a narrow
    panel elided it to "…:14". With ``seconds`` (another run started in the same minute), "10:14:47"."""
    try:
        return datetime.strptime(run_name[:15], "%Y%m%d-%H%M%S").strftime("%m-%d\n%H:%M" + (":%S" if seconds else "")) + run_name[15:]
    except ValueError:  # a folder the user named
        return run_name


class TrainingPanel(QWidget):
    failed = Signal(str)  # a failure message for the window to show
    run_ended = Signal(str)  # a run finished: what it scored, and whether its model is now in use, for the window to show

    def __init__(self, predictions: Predictions, parent: QWidget | None, *, confirm: Callable[..., bool], settings: QSettings) -> None:
        super().__init__(parent)
        self.predictions = predictions
        self.confirm = confirm
        self.settings = settings  # each folder's Advanced edits (see _remember_advanced)
        self.annotator = predictions.annotator
        self.worker: TrainingWorker | None = None
        self.run_dir: Path | None = None
        self._shown_run: Path | None = None  # the run whose log and chart the panel shows
        self._left_out: list[str] = []  # the classes without boxes the run going on leaves out
        self._unlogged: str | None = None  # a line of the run's log said before its folder was made, for its train.log
        self._ending: list[TrainingWorker] = []  # runs let go of (another folder opened): cancelled, ending their step
        # the models used before the current one (path, preset), the most recent last: "Previous model"
        # goes back through them one by one, whatever replaced them (a run, the runs list, Load Model…),
        # also after a restart (it was greyed then, the fine-tuned model's start weights out of reach)
        self._models_before: list[tuple[Path, str | None]] = self._saved_models_before()
        self._in_use: tuple[Path, str | None] | None = None
        self._going_back_to: Path | None = None
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Fine-tune the current model on the labelled images of this folder, in the background")
        self.train_button.clicked.connect(self.train)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Go on with a stopped run: the one selected in the runs list, else the newest")
        self.resume_button.clicked.connect(self.resume)
        self.progress = TaskProgress("%p %")
        self.status = BoundedNote(lines=5)  # (at 3 a run's result was cut before whether its model took over)
        # a finished run's model not taken over unasked (worse than its start, a new model, or another chosen meanwhile):
        # offered under its result (a modal question came up in the middle of labelling, and Enter answered it)
        self.use_run_button = QPushButton("Use its model")
        self.use_run_button.setToolTip("Switch to the model this run trained (“Previous model” switches back)")
        self.use_run_button.clicked.connect(self._use_offered)
        self.use_run_button.hide()
        self._offered: tuple[Path, str] | None = None  # its checkpoint, and the status once taken over
        self._refusal: str | None = None  # why Train could not start, while the status line says it
        self._status_model: Path | None = None  # the model the status line says is in use ("now using …", "back to …")
        self.plan = QLabel("")  # what Train would do with the labels as they are now
        self._plan_stale = False  # the labels changed while the panel was hidden
        self._on_screen = True  # see set_on_screen
        self._folder_images: list[str] | None = None  # the open folder's images, once listed (before: every labelled one counts)
        self.plan.setWordWrap(True)
        self._plan_timer = QTimer(self, singleShot=True, interval=300)  # after a burst of edits, once
        self._plan_timer.timeout.connect(self.describe)
        self._runs: list[RunInfo] = []
        self.chart = LossChart()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.log.setMinimumHeight(rows_high(self.log, 4))
        self.runs = QTableWidget(0, 4)
        # mAP over the start's on two lines, as the date is: on one, the widest column left the date "…07:27" beside "…7:17"
        self.runs.setHorizontalHeaderLabels(["run", "epochs", "mAP\n(start)", "state"])
        self.runs.horizontalHeaderItem(2).setToolTip("The run's best validation mAP (that of the weights it started from)")
        self.runs.verticalHeader().setVisible(False)
        self.runs.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # the two-line dates
        self.runs.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.runs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.runs.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the date gives way (elided) in a narrow panel
        self.runs.setTextElideMode(Qt.TextElideMode.ElideLeft)  # ... from its start: "…10:14" tells runs of a day apart, "Nov …" did not
        self.runs.setItemDelegate(_RunCellDelegate(self.runs))
        self.runs.horizontalHeader().setMinimumSectionSize(40)
        self.runs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.runs.setWordWrap(False)  # a bold row stays one line
        self.runs.setMinimumHeight(rows_high(self.runs, 7))  # (its header and three runs, a date on two lines each)
        self.runs.itemSelectionChanged.connect(self._run_selected)
        self.runs.cellClicked.connect(self._run_clicked)
        self.use_button = QPushButton("Use this run's model")
        self.use_button.clicked.connect(self.use_selected_run)
        self.use_button.setEnabled(False)  # a run must be chosen in the list
        self.note_button = QPushButton("Note…")
        self.note_button.setToolTip("Write a note on the selected run (what it tried), shown under its date in the list")
        self.note_button.clicked.connect(self.ask_run_note)
        self.note_button.setEnabled(False)
        self.delete_button = QPushButton("Delete run…")
        self.delete_button.setToolTip("Delete the selected run's folder (its checkpoints, metrics and log), after asking")
        self.delete_button.clicked.connect(self.delete_selected_run)
        self.delete_button.setEnabled(False)
        self.back_button = QPushButton("Previous model")
        self.back_button.setToolTip("Back to the model used before this one")
        self.back_button.clicked.connect(self.use_previous_model)
        self._show_previous_model()

        self.advanced = QCheckBox("Advanced")  # opens the recipe below it (a closed group box left an empty frame)
        self.advanced.toggled.connect(self._advanced_toggled)
        self.recipe_box = QGroupBox()
        self.start_box = QComboBox()
        self.start_box.addItem("the current model", "current")
        self.start_box.addItem("a new model (ImageNet backbone when cached)", "new")
        self.backbone_box = QComboBox()
        self.backbone_box.addItems(["mobilenet_v2", "mobilenet_v3_large", "resnet18", "resnet34", "resnet50", "resnet101"])
        self.start_box.currentIndexChanged.connect(self._start_chosen)
        for box in (self.start_box, self.backbone_box):  # the plan's estimate of the time is of this backbone's speed
            box.currentIndexChanged.connect(self.labels_changed)
        self._start_chosen()
        self.size_spin = QSpinBox(minimum=128, maximum=1600, singleStep=32)
        self.epochs_spin = QSpinBox(minimum=1, maximum=500)
        self.lr_spin = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-4)
        self.optimizer_box = QComboBox()
        self.optimizer_box.addItem("AdamW", "adamw")
        self.optimizer_box.addItem("SGD (momentum 0.9)", "sgd")
        self.optimizer_box.setToolTip("AdamW suits fine-tuning at its default rate; SGD is the RetinaNet paper's (rate 0.01)")
        self.optimizer_box.currentIndexChanged.connect(self._optimizer_chosen)
        self._optimizer = "adamw"  # the one the learning rate was last set for
        self.batch_spin = QSpinBox(minimum=1, maximum=64)
        self.val_spin = QSpinBox(minimum=0, maximum=50, suffix=" %")
        self.precision_box = QComboBox()
        self.precision_box.addItems(list(PRECISIONS))  # fp16 also without a GPU now: a remembered choice is kept until the model loads
        self.precision_box.setToolTip("auto: bf16 where the CPU or GPU runs it fast (AVX512-BF16, Ampere and later), else fp32. "
                                      "fp16 (GPU only) with loss scaling, for GPUs without fast bf16")
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.patience_spin = QSpinBox(minimum=0, maximum=100, suffix=" epochs without gain")
        self.patience_spin.setSpecialValueText("never")
        self.val_spin.valueChanged.connect(self._validation_chosen)
        self.flip_box, self.jitter_box, self.photo_box = QCheckBox("flip"), QCheckBox("scale jitter"), QCheckBox("photometric")
        self.frozen_spin = QSpinBox(minimum=-1, maximum=4)
        self.frozen_spin.setSpecialValueText("auto")
        # the boxes take no value outside their range (a key that would leave it is ignored): their tips say what it is
        for spin, tip in ((self.size_spin, "The shorter image side in training and prediction, 128–1600 px (the longer one at most "
                                           "1.5 times it); larger finds smaller objects, and is slower"),
                          (self.epochs_spin, "Passes over the training images, 1–500"),
                          (self.lr_spin, "The learning rate, 0.000001–1 (warmed up over the first steps, then lowered on a cosine)"),
                          (self.batch_spin, "Images per step, 1–64: more takes more memory"),
                          (self.val_spin, "Labelled images held out to score the model after each epoch, 0–50 % (0: no validation "
                                          "mAP, and the last epoch's weights are the run's model)"),
                          (self.seed_spin, "The seed of the validation split, the augmentations and the new layers' weights: the "
                                           "same seed and labels train the same run again"),
                          (self.frozen_spin, "Backbone stages that do not learn, 0–4; auto: 1 when fine-tuning trained weights, "
                                             "else 0"),
                          (self.patience_spin, "Stop once validation mAP has not risen for this many epochs, 1–100: the best "
                                               "epoch's weights are the run's model; never: train every epoch (needs validation)")):
            spin.setToolTip(tip)
            spin.valueChanged.connect(self.labels_changed)  # the plan's estimate of the time
        self._recipe_shown = False  # the Advanced fields hold the defaults once it is first opened
        self._filling = False  # the fields are being filled in: no edit of the user's to remember
        form = QFormLayout(self.recipe_box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Start from", self.start_box)
        form.addRow("Backbone (new model)", self.backbone_box)
        form.addRow("Image size", self.size_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Optimizer", self.optimizer_box)
        form.addRow("Batch size", self.batch_spin)
        augment = QVBoxLayout()  # stacked: side by side they made the panel wider than its dock
        for box in (self.flip_box, self.jitter_box, self.photo_box):
            augment.addWidget(box)
        for box in (self.start_box, self.backbone_box, self.optimizer_box):  # long entries no longer set the panel's width
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        form.addRow("Augment", augment)
        form.addRow("Frozen stages", self.frozen_spin)
        form.addRow("Validation", self.val_spin)
        form.addRow("Stop early", self.patience_spin)
        form.addRow("Precision", self.precision_box)
        form.addRow("Seed", self.seed_spin)
        self._advanced_toggled(False)

        # the buttons, and a run's progress and status under them, stay in view as the rest scrolls (the
        # window docks ``pinned`` above the panel): below the recipe, or scrolled past, Cancel and Resume were out of sight
        self.pinned = QWidget()
        top = QVBoxLayout(self.pinned)
        top.setContentsMargins(2, 2, 2, 2)
        top.addLayout(button_grid(self.train_button, self.cancel_button, self.resume_button, self.back_button))
        progress_row = QHBoxLayout()  # (the offer beside the finished run's bar: a row of its own pushed the chart out of view)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.use_run_button)
        top.addLayout(progress_row)
        top.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.plan)
        layout.addWidget(self.advanced)
        layout.addWidget(self.recipe_box)
        layout.addWidget(self.chart, 2)
        layout.addWidget(self.log, 1)
        layout.addWidget(QLabel("Runs"))
        layout.addWidget(self.runs, 1)
        layout.addLayout(button_grid(self.use_button, self.delete_button, self.note_button))  # (three in a row widened the panel)
        for spin in (self.size_spin, self.epochs_spin, self.lr_spin, self.batch_spin, self.frozen_spin, self.val_spin, self.seed_spin,
                     self.patience_spin):
            spin.valueChanged.connect(self._remember_advanced)
        for box in (self.start_box, self.backbone_box, self.optimizer_box, self.precision_box):
            box.currentIndexChanged.connect(self._remember_advanced)
        for check in (self.flip_box, self.jitter_box, self.photo_box):
            check.toggled.connect(self._remember_advanced)
        predictions.model_changed.connect(self._model_changed)
        predictions.load_failed.connect(self._load_failed)
        self._set_running(False)

    # --- recipe --------------------------------------------------------------------------------
    def _start_chosen(self, *_) -> None:
        """The backbone is chosen for a new model only: a fine-tune keeps its start model's, and the
        field shows it (it kept showing the new model's choice, and recipe.json recorded that)."""
        new = self.start_box.currentData() == "new"
        self.backbone_box.setEnabled(new)
        if not new and self.predictions.model is not None:
            self.backbone_box.setCurrentText(self.predictions.model.backbone)

    def _optimizer_chosen(self, *_) -> None:
        """A learning rate left at one optimizer's default becomes the other's (AdamW's 0.0003 is
        far too low for SGD, SGD's 0.01 makes AdamW diverge); one the user set stays."""
        chosen = self.optimizer_box.currentData()
        if math.isclose(self.lr_spin.value(), DEFAULT_LR[self._optimizer]):
            self.lr_spin.setValue(DEFAULT_LR[chosen])
        self._optimizer = chosen

    def _advanced_toggled(self, on: bool) -> None:
        self.recipe_box.setVisible(on)
        if on and not self._recipe_shown:  # first opening: the folder's last Advanced settings, else the defaults; later the user's edits stay
            self._recipe_shown = True
            self._refill()
        if not on:
            self._remember_advanced()  # closed: forgotten (opened, nothing is kept until a field changes)
        self._plan_timer.start()  # its estimate of the time is of the recipe Train would use now

    def _refill(self) -> None:
        """The Advanced fields: the user's remembered edits over the defaults of the labels and the
        model as they are now."""
        remembered = self._remembered_recipe()
        if remembered is not None:
            start, recipe = remembered
            self.start_box.setCurrentIndex(self.start_box.findData(start))
            self.backbone_box.setCurrentText(recipe.backbone)
            self._start_chosen()  # (a fine-tune's backbone is its model's)
        self._filling = True
        self._fill_recipe(self.default_recipe() if remembered is None else recipe)
        self._filling = False

    def _model_changed(self, info) -> None:
        if self.worker is None and self._status_model is not None and (info is None or info.path != self._status_model):
            self.status.setText("")  # "now using …" of a model no longer in use (another run's chosen since)
            self._status_model = None
        if self._offered is not None and info is not None and Path(info.path).resolve() == self._offered[0].resolve():
            # taken (Use its model, the runs list): the status says it is in use (it went on offering it)
            self.status.setText(self._offered[1])
            self._status_model = info.path
            self._withdraw_offer()
        if info is not None:
            self._note_model(info)
            self._start_chosen()  # a fine-tune's backbone field shows this model's
        if self._recipe_shown and self.annotator.workspace is not None and self.worker is None:
            # the defaults follow the model (its input size, the GPU's batch): filled in before it had loaded, a
            # reopened folder's Advanced showed 672 px for a 512-px model, and kept it as the user's choice
            self._refill()
        self.refresh_runs()
        # the list follows the model to its run, with the run's log and chart (after Previous model, the run
        # clicked before stayed chosen and shown, the bold row alone telling which was in use)
        in_use = info.path.resolve().parent if info is not None else None
        row = next((k for k, run in enumerate(self._runs) if run.checkpoint.resolve().parent == in_use), None)
        if row is not None and row != self.runs.currentRow():
            self.runs.selectRow(row)
            if self._shown_run is None or self._shown_run.resolve() != in_use:  # (the run just finished keeps its chart of every step:
                self._run_clicked(row, 0)  # read back, it has a point an epoch)
        self._set_running(self.worker is not None)
        self._plan_timer.start()

    def labels_changed(self, *_args) -> None:
        if self.worker is None and self.status.text() == self._refusal:  # it was about the labels as they were
            self.status.setText("")
        self._plan_timer.start()

    def describe(self) -> None:
        """Says what Train would use (core's plan of the labels as they are now). Only while the
        panel is on screen: at 100,000 boxes it costs ~100 ms after every burst of edits; a panel
        behind another tab says it when it comes forward."""
        ws, model = self.annotator.workspace, self.predictions.model
        self._plan_stale = ws is not None and not self._on_screen
        if ws is None:
            self.plan.setText("")
        elif not self._plan_stale:
            labels = ws.store.to_labelset()
            recipe = self.recipe(labels)  # the validation share and seed of Advanced, when it is open
            plan = describe_plan(labels, model.classes if model else None, self._folder_images, recipe)
            if model is None and self.start_box.currentData() == "current":  # (Train said so only once pressed)
                plan = f"{plan}\nFirst load a model (Model ▸ Load Model…), or start from a new one in Advanced."
            elif gone := self._start_gone(recipe):
                plan = f"{plan}\n{gone}"
            if problem := runs_folder_problem(self._root()):  # (said only once Train was pressed, in a box over the folder's own)
                plan = f"{plan}\n{problem}: Train cannot start."
            busy = self._busy_runs()  # a run still training: its speed so far is no guide
            runs = [run for run in self._runs if run.speed is not None and run.path.resolve() not in busy] or self._remembered_runs()
            if runs:
                plan = f"{plan}\n{estimate_duration(labels, recipe, runs, self._device_kind(recipe), self._folder_images)}".rstrip()
            self.plan.setText(plan)

    def set_folder_images(self, names: list[str]) -> None:
        """The folder's images, once listed: labelled images gone from it are not counted."""
        self._folder_images = names
        self._plan_timer.start()

    def set_on_screen(self, on_screen: bool) -> None:
        """The panel's dock came forward in its tab group, or went behind another (a tab behind
        another is still "visible" to Qt: its dock says which)."""
        self._on_screen = on_screen
        if on_screen and self._plan_stale:
            self.describe()

    def _cuda_here(self) -> bool:
        info = self.predictions.model
        return bool(info and any(d.startswith("cuda") for d in info.devices))

    def _device_kind(self, recipe: Recipe) -> str:
        """Where a run of ``recipe`` would train: "cuda" or "cpu"."""
        return ("cuda" if self._cuda_here() else "cpu") if recipe.device == "auto" else recipe.device.split(":")[0]

    def default_recipe(self, labels: LabelSet | None = None) -> Recipe:
        info = self.predictions.model
        if labels is None:  # (Advanced opened before any folder: the defaults of no labels)
            ws = self.annotator.workspace
            labels = ws.store.to_labelset() if ws is not None else LabelSet([], [])
        return default_recipe(labels, info.path if info else None, cuda=self._cuda_here(),
                              start_input_size=info.preprocess.min_size if info else None, start_backbone=info.backbone if info else None)

    def recipe(self, labels: LabelSet | None = None) -> Recipe:
        """The defaults, or what the Advanced section says when it is open (``labels``: the
        workspace's, when the caller has them already)."""
        base = self.default_recipe(labels)
        if not self.advanced.isChecked() or not self._recipe_shown:
            return base
        start = base.start if self.start_box.currentData() == "current" else None
        backbone = self.backbone_box.currentText() if start is None else base.backbone  # a fine-tune keeps its model's
        return Recipe(start=start, backbone=backbone, image_size=self.size_spin.value(), epochs=self.epochs_spin.value(),
                      lr=self.lr_spin.value(), optimizer=self.optimizer_box.currentData(), batch_size=self.batch_spin.value(),
                      hflip=self.flip_box.isChecked(), scale_jitter=self.jitter_box.isChecked(), photometric=self.photo_box.isChecked(),
                      frozen_stages=None if self.frozen_spin.value() < 0 else self.frozen_spin.value(),
                      val_fraction=self.val_spin.value() / 100, device=self.predictions.device,
                      precision=self.precision_box.currentText(), seed=self.seed_spin.value(),
                      patience=self.patience_spin.value() if self.val_spin.value() and self.patience_spin.value() else None)

    def _fill_recipe(self, recipe: Recipe) -> None:
        self.size_spin.setValue(recipe.image_size)
        self.epochs_spin.setValue(recipe.epochs)
        self._optimizer = recipe.optimizer  # (before its box: the learning rate below is the recipe's, not a default swapped in)
        self.optimizer_box.setCurrentIndex(self.optimizer_box.findData(recipe.optimizer))
        self.lr_spin.setValue(recipe.lr)
        self.batch_spin.setValue(recipe.batch_size)
        self.flip_box.setChecked(recipe.hflip)
        self.jitter_box.setChecked(recipe.scale_jitter)
        self.photo_box.setChecked(recipe.photometric)
        self.frozen_spin.setValue(-1 if recipe.frozen_stages is None else recipe.frozen_stages)
        self.val_spin.setValue(round(recipe.val_fraction * 100))
        self.precision_box.setCurrentText(recipe.precision)
        self.seed_spin.setValue(recipe.seed)
        self.patience_spin.setValue(recipe.patience or 0)

    def _validation_chosen(self, share: int) -> None:
        """Without validation there is no mAP to stop on: the field says so, greyed."""
        self.patience_spin.setEnabled(share > 0)

    def _advanced_key(self) -> str:
        return f"training_advanced/{self.annotator.workspace.folder}"

    def _remember_advanced(self, *_) -> None:
        """The user's Advanced edits, kept for the folder as they are made: the fields that differ from
        the defaults (which follow the labels: a share of 0 % under 7 images, seen only, was kept as a
        choice). The folder opens with them next time (it reopened with the defaults, and fields typed
        in were lost unless a run started); Advanced closed forgets them (Train uses the defaults)."""
        if self.annotator.workspace is None or not self._recipe_shown or self._filling:
            return
        if self.advanced.isChecked():
            labels = self.annotator.workspace.store.to_labelset()  # (one copy of the labels per edit, not one per recipe)
            recipe, default = self.recipe(labels).to_json(), self.default_recipe(labels).to_json()
            saved = {k: v for k, v in recipe.items() if v != default[k] and k not in ("start", "device")}  # (the model's device)
            saved["start"] = "current" if self.start_box.currentData() == "current" else "new"
            self.settings.setValue(self._advanced_key(), json.dumps(saved))
        else:
            # (not remove(): the key is a path, and removing it removed those of every folder inside this one)
            self.settings.setValue(self._advanced_key(), "")

    def _remembered_recipe(self) -> tuple[str, Recipe] | None:
        """This folder's remembered Advanced settings over its defaults, with where it starts from
        ("current" or "new"); None: none, or unreadable (another version's, edited by hand)."""
        if self.annotator.workspace is None or not (saved := json_setting(self.settings, self._advanced_key(), dict)):
            return None
        base = self.default_recipe()
        try:
            start = saved.pop("start")
            kinds = {f.name: f.type for f in fields(Recipe)}  # "int", "int | None", ... (annotations as text)
            for name, value in saved.items():
                allowed = tuple(t for part in kinds[name].split("|") for t in _JSON_TYPES.get(part.strip(), ()))
                if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                    return None
            return (start, replace(base, **saved)) if start in ("current", "new") else None
        except (ValueError, TypeError, KeyError):
            return None

    def attach(self) -> None:
        """A folder opened: its runs, its plan, and Advanced open with the user's edits when it was
        left open with them."""
        self.refresh_runs()
        if json_setting(self.settings, self._advanced_key(), dict):  # (read, over the defaults, as Advanced opens)
            self.advanced.setChecked(True)
        # (deferred, as the other causes are: an open said it three times, 0.2 s at 100,000 boxes before the window showed)
        self._plan_timer.start()

    # --- running -------------------------------------------------------------------------------
    def _root(self) -> Path:
        ws = self.annotator.workspace
        return ws.labels_path.parent

    def train(self, *, resume_dir: Path | None = None) -> bool:
        ws = self.annotator.workspace
        if ws is None or self.worker is not None:
            return False
        if problem := runs_folder_problem(self._root()):  # said now, not as a raw error from the worker
            written = "" if (self._root() / RUNS_FOLDER).is_file() else (
                " Or File ▸ Open Labels File… keeps the labels, and the runs beside them, in a folder that can be written.")
            self._refuse(f"{problem}.{written}")
            return False
        labels = ws.store.to_labelset()  # a snapshot: labelling goes on while the model trains
        if self._folder_images is not None:  # as the plan line counted them: labelled images gone from the folder are not split
            labels = labels.with_files(self._folder_images)
        problems = check_labels(labels, resuming=resume_dir is not None)
        # classes without boxes alone in the way: the run may leave them out, after asking (a Roboflow export's rare class
        # stopped every fine-tune on a part of it until the class was deleted from the labels)
        empty = empty_classes(labels) if problems and resume_dir is None and not check_labels(labels.without_empty_classes()) else []
        if problems and not empty:
            self._refuse(problems[0])
            return False
        if resume_dir is not None:
            try:
                recipe = load_recipe(resume_dir)
            except FineTuneError as exc:
                self._refuse(str(exc))
                return False
        else:
            recipe = self.recipe()
            if recipe.start is None and self.start_box.currentData() == "current" and self.predictions.model is None:
                self._refuse("Load a model first, or choose to start from a new model (Advanced).")
                return False
            if (gone := self._start_gone(recipe)) is not None:
                self._refuse(gone)
                return False
            if recipe.precision == "fp16" and self._device_kind(recipe) == "cpu":  # (no loss scaling there, and slow)
                self._refuse("fp16 trains on a GPU only: choose auto, fp32 or bf16 in Advanced ▸ Precision.")
                return False
        if empty:
            if not self._leaving_out_accepted(empty):
                self._refuse(problems[0])
                return False
            labels = labels.without_empty_classes()
        if resume_dir is None and recipe.start is None and not self._random_start_accepted(recipe.backbone):
            return False
        self._left_out = empty
        self.run_dir = self._shown_run = resume_dir or new_run_dir(self._root())
        self.chart.clear()
        self.log.clear()
        self._unlogged = f"left out of this run, having no boxes: {', '.join(empty)}" if empty else None
        if self._unlogged:
            self.log.appendPlainText(self._unlogged)
        if resume_dir is not None:
            self._show_history(resume_dir)
            if self.advanced.isChecked() and self._recipe_shown:  # edits there went unused without a word
                shown = self.recipe()
                fields = ("image_size", "epochs", "lr", "optimizer", "batch_size", "hflip", "scale_jitter", "photometric", "frozen_stages",
                          "val_fraction", "precision", "seed")
                changed = [f"{name} {getattr(recipe, name)}" for name in fields if getattr(shown, name) != getattr(recipe, name)]
                if changed:
                    self.log.appendPlainText(f"resumed with the run's own recipe ({', '.join(changed)}), not Advanced's: those "
                                             "settings are for a new run")
        self._withdraw_offer()
        self.status.setText("starting …")
        self.progress.setRange(0, 0)  # busy until the first step says how many (the last run's "100 %" stood there, or nothing)
        self.progress.show()
        self._status_model = None
        # the model in use as it starts: another one in use at its end was chosen meanwhile (a resumed run's
        # recipe names the weights it first started from, maybe days ago)
        self.worker = TrainingWorker(labels, ws.folder, self.run_dir, recipe, resume=resume_dir is not None,
                                     model_at_start=self.predictions.model.path if self.predictions.model is not None else None)
        self.worker.event.connect(self._event)
        self.worker.run_finished.connect(self._finished)
        self.worker.failed.connect(self._fail)
        self._set_running(True)
        self.worker.start()
        self.refresh_runs()  # a resumed run's row says it trains
        return True

    def _leaving_out_accepted(self, empty: list[str]) -> bool:
        them, many = ("them", True) if len(empty) > 1 else ("it", False)
        return self.confirm("Classes without boxes", f"{first_names(empty)} {'have' if many else 'has'} no boxes yet. Train without "
                                                     f"{them}? This run learns the other classes, and its model does not detect {them}; "
                                                     f"the class{'es stay' if many else ' stays'} in your labels. (No: nothing starts; "
                                                     f"label some boxes of {them} first, or delete {them}.)")

    @staticmethod
    def _start_gone(recipe: Recipe) -> str | None:
        """Why a fine-tune cannot start from the model in use: its file went after it was loaded
        (the worker said "…: no such file", and left an empty runs folder)."""
        if recipe.start is None or Path(recipe.start).is_file():
            return None
        return (f"The model in use, {recipe.start}, is no longer on disk (deleted or moved since it was loaded): load it again "
                "(Model ▸ Load Model…), or start from a new model in Advanced.")

    def _random_start_accepted(self, backbone: str) -> bool:
        """A new model without ImageNet weights on this computer starts from random weights (no
        download behind the user's back): asked first, with where the weights go (it started so
        unsaid, and a new user's first run learnt next to nothing)."""
        from core.backbones import imagenet_files, pretrained_cached

        if pretrained_cached(backbone):
            return True
        files, folder = imagenet_files(backbone)
        return self.confirm("Train from random weights?",
                            f"ImageNet weights for {backbone} are not on this computer, so the new model would start from random "
                            "weights: it needs far more labelled images and epochs than a fine-tune, and detects little for a long "
                            f"while. To start from ImageNet instead, copy {' or '.join(files)} into {folder}/ and press Train again.\n\n"
                            "Train from random weights anyway?")

    def cancel(self) -> None:
        if self.worker is not None:
            self.status.setText("cancelling … (the last checkpoint is kept)")
            self.worker.cancel.cancel()

    def resume(self) -> None:
        if self.resumable is not None:
            self.train(resume_dir=self.resumable)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
            self._set_running(False)

    def _let_go(self) -> None:
        """Cancel the run and stop listening to it, without waiting: its step ends (seconds, on a CPU:
        the window froze that long), it keeps its checkpoint in its own run folder, and ends."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        for signal in (worker.event, worker.run_finished, worker.failed):
            signal.disconnect()
        worker.finished.connect(self._run_ended)  # (before the cancel: it may end at once)
        self._ending.append(worker)
        worker.cancel.cancel()
        self._set_running(False)

    def _run_ended(self) -> None:
        """Forget the let-go runs that have ended (also called where its queued call may have been
        dropped with a closed folder's)."""
        ended = [w for w in self._ending if w.isFinished()]
        for worker in ended:
            worker.wait()
            self._ending.remove(worker)

    @property
    def ending(self) -> bool:
        """Whether a run let go of is still ending its step (quitting waits for it)."""
        self._run_ended()
        return bool(self._ending)

    def _busy_runs(self) -> set[Path]:
        """The run folders a run is writing in: the one training, and those let go of that are ending."""
        self._run_ended()
        busy = [w.run_dir for w in self._ending] + ([self.run_dir] if self.worker is not None else [])
        return {path.resolve() for path in busy}

    def wait_ending(self, ms: int) -> None:
        for worker in self._ending:
            worker.wait(ms)

    def detach(self) -> None:
        """The folder closes: its run is cancelled (and let go of), and nothing of it (Resume, the
        chart, the log, the Advanced settings, which were chosen for its data) carries over to the
        next folder."""
        self._let_go()
        self._folder_images = None
        self.advanced.blockSignals(True)  # (closed for the next folder: this one's remembered settings stay)
        self.advanced.setChecked(False)
        self.advanced.blockSignals(False)
        self.recipe_box.setVisible(False)
        self._recipe_shown = False  # the next folder's Advanced section opens with its own defaults
        self.run_dir = self._shown_run = None
        self.runs.setRowCount(0)
        self.chart.clear()
        self.log.clear()
        self.status.setText("")
        self._withdraw_offer()
        self.progress.hide()

    def _set_running(self, running: bool) -> None:
        ready = self.annotator.workspace is not None
        self.train_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running)
        resumable = self.resumable if ready and not running else None
        self.resume_button.setEnabled(resumable is not None)
        self.resume_button.setToolTip(f"Go on with the stopped run {resumable.name}" if resumable is not None else
                                      "Go on with a stopped run: the one selected in the runs list, else the newest")
        self.advanced.setEnabled(not running)
        if not running and self.progress.maximum() == 0:  # ended before its first step: no busy bar left going
            self.progress.setRange(0, 1)
            self.progress.hide()
        # folded away while a run goes (it cannot be changed then): the progress, chart and log take its
        # place, in view (with it open they were below the fold even at 1920x1080); back after the run
        self.recipe_box.setVisible(self.advanced.isChecked() and not running)

    def _event(self, event) -> None:
        if self._unlogged and self.run_dir is not None and self.run_dir.is_dir():  # the run's folder is made: its log says it too
            with contextlib.suppress(OSError):
                append_log(self.run_dir, self._unlogged)
            self._unlogged = None
        if event.kind == "step":
            self.progress.setMaximum(event.total_steps)
            self.progress.setValue(event.step)
            self.chart.add_step(event.step, event.total_steps, event.cls_loss, event.box_loss)
            epochs = f"/{self.worker.recipe.epochs}" if self.worker is not None else ""
            self.status.setText(f"epoch {event.epoch + 1}{epochs}, step {event.step}/{event.total_steps}, {event.images_per_s:.1f} images/s, "
                                f"{duration(event.eta_s)} left; class loss {event.cls_loss:.3f}, box loss {event.box_loss:.3f}")
        elif event.kind == "epoch" and event.metrics and event.metrics.get("mAP") is not None:
            self.chart.add_map(event.step, event.metrics["mAP"])  # core's "log" event already puts it in the log
        elif event.kind in ("log", "nan") and event.message:
            self.log.appendPlainText(event.message)
        elif event.kind == "checkpoint":
            self.refresh_runs()  # the run is listed, as training, with the epochs it has done

    def _finished(self, result) -> None:
        QApplication.alert(self.window())  # the taskbar entry asks for attention when the window is in the background (no-op in front)
        trained = [c.name for c in self.worker.labels.categories] if self.worker is not None else []
        # a new model (not a fine-tune of the one in use) was never scored against it: it takes over only if the user says so
        in_use = self.predictions.model
        new_model = self.worker is not None and self.worker.recipe.start is None and in_use is not None
        # another model chosen while it trained (Previous model, a run's): it was the user's pick, taken away unasked
        start = self.worker.model_at_start if self.worker is not None else None
        switched = start is not None and in_use is not None and Path(in_use.path).resolve() != Path(start).resolve()
        resumed = self.worker is not None and self.worker.resume
        planned = self.worker.recipe.epochs if self.worker is not None else None
        self.stop()
        if result.cancelled and result.steps == 0 and not resumed:  # (fine_tune removed it)
            self.status.setText("cancelled before its first step: nothing was learnt, and the run is not kept")
        elif result.cancelled:
            # (the log says where, and Resume goes on from there: the panel said "after 2 epochs" of a run stopped validating the 3rd)
            where = (f"while validating epoch {result.epochs_done + 1} (its steps done)" if result.validation_pending
                     else f"in epoch {result.epochs_done + 1}" + (f", after {_epochs(result.epochs_done)}" if result.epochs_done else ""))
            self.status.setText(f"cancelled {where}; the last checkpoint is kept and the run can be resumed")
        else:
            self.progress.setValue(self.progress.maximum())  # (steps skipped as non-finite sent no event: it stood at 33 %)
            checkpoint = result.best_checkpoint or result.last_checkpoint
            # (no images held out: too few labelled images, or each would take the only boxes of a class; the plan said which)
            best = ", not validated (no images were held out)" if result.best_map is None else f", best validation mAP {result.best_map:.3f}"
            if result.start_map is not None:
                best += f" (start weights {result.start_map:.3f})"
            early = f" of {planned} (stopped early: validation mAP had stopped rising)" if result.stopped_early and planned else ""
            done = f"done: {_epochs(result.epochs_done)}{early}{best}"
            worse = result.start_map is not None and result.best_map is not None and result.best_map < result.start_map
            # a run that scores below the weights it started from does not take over unasked: the
            # predictions on screen got visibly worse, and the better model was one click from lost
            sizes = ""
            if result.start_input_size and result.input_size and result.start_input_size != result.input_size:
                sizes = (f" (the start weights were scored at their input size, {result.start_input_size} px, the new model at "
                         f"{result.input_size} px)")
            taken = f"{done}; now using {model_name(checkpoint)}"
            if worse:
                taken += ". It scores below the weights it started from on the same images: “Previous model” switches back"
            elif result.best_map is None or new_model or switched:  # nothing says whether it is better than the model it replaces
                taken += ". Nothing compared it with the model it replaced: “Previous model” switches back"
            if worse:
                why = f"it scores below the weights it started from on the same validation images{sizes}"
            elif new_model:  # (a new model scoring 0.000 replaced a working one unasked)
                why = f"it trained a new model, and the model in use ({model_name(in_use.path)}) was not scored on the same images"
            elif switched:
                why = f"{model_name(in_use.path)} was chosen while it trained (it started with {model_name(start)})"
            notes = ""
            if result.classes_gone:  # (a log line alone said it: the model kept a class trained on negatives only)
                notes = (f". Resumed, it kept its own classes: {', '.join(result.classes_gone)} "
                         f"{'have' if len(result.classes_gone) > 1 else 'has'} no boxes now (merged, deleted or emptied since it "
                         "started), and learnt from none: a new run leaves them out, or asks to")
            if self._left_out:
                notes += (f". {first_names(self._left_out)} {'were' if len(self._left_out) > 1 else 'was'} left out (no boxes): "
                          f"its model does not detect {'them' if len(self._left_out) > 1 else 'it'}")
            notes += self._classes_changed_since(trained + self._left_out)
            if worse or new_model or switched:  # the decision first: five lines show, and it came last (cut at 1024x700)
                self.status.setText(f"The current model stays, and “Use its model” switches to this run's: {why}. "
                                    f"{done[0].upper()}{done[1:]}{notes}")
                self._offered = (checkpoint, taken + notes)
                self.use_run_button.show()
                self.run_ended.emit(f"{done}; the current model stays (its model is offered in the Training panel)")
            else:
                self.status.setText(taken + notes)
                self.predictions.load_model(checkpoint, self.predictions.device)
                self._status_model = checkpoint
                self.run_ended.emit(f"{done}; now using {checkpoint.parent.name}")
            self.log.appendPlainText(self.status.text())  # the outcome kept in full under the run's log ...
            # ... and in its file, which the log is read back from (the line was gone once the run's model took over); on
            # a full disk the line on screen is all there is, as of the log's other lines
            with contextlib.suppress(OSError):
                append_log(result.run_dir, self.status.text())
        self._set_running(False)
        self.refresh_runs(select=result.run_dir if result.cancelled else None)  # the stopped run, selected, is the one Resume goes on with
        scroll_into_view(self.chart)  # (Advanced, open again as the user left it, pushed the run's chart below the fold)

    def _use_offered(self) -> None:
        """“Use its model”: the finished run's model, offered rather than taken over, is loaded; the
        offer goes once it is in use (see _model_changed), and stays if it cannot be loaded."""
        if self._offered is not None:
            self.predictions.load_model(self._offered[0], self.predictions.device)

    def _withdraw_offer(self) -> None:
        """Another run starts, the folder closes, the run's model is chosen otherwise or its run deleted."""
        self._offered = None
        self.use_run_button.hide()

    def _classes_changed_since(self, trained: list[str]) -> str:
        """A note when the classes were edited while the run trained on its snapshot of the labels."""
        ws = self.annotator.workspace
        if ws is None:
            return ""
        now = [c.name for c in ws.store.categories]
        now_keys, trained_keys = {class_name_key(n) for n in now}, {class_name_key(n) for n in trained}  # as the model's classes are matched
        gone, new = [n for n in trained if class_name_key(n) not in now_keys], [n for n in now if class_name_key(n) not in trained_keys]
        if not gone and not new:
            return ""
        parts = ([f"new since: {', '.join(new)}"] if new else []) + ([f"renamed or deleted since: {', '.join(gone)}"] if gone else [])
        return f". The classes changed while it trained ({'; '.join(parts)}): train again to bring the model up to date."

    def _refuse(self, message: str) -> None:
        """Train was pressed and cannot start: why, in a box and in the status until the labels
        change; not in the log, which is the run's (it was said three times). An offered model
        stays offered, and said so (its reason went from the status)."""
        offered = " (The last run's model is still offered: “Use its model”.)" if self._offered is not None else ""
        self.status.setText(message + offered)
        self._refusal = self.status.text()
        self.progress.hide()  # (the last run's "100 %" stood there)
        self.failed.emit(message)

    def _fail(self, message: str, smaller_batch: int) -> None:
        QApplication.alert(self.window())
        self.stop()
        if smaller_batch:
            self.advanced.setChecked(True)
            self.batch_spin.setValue(smaller_batch)
            message += " The batch size in Advanced is set to that: press Train again."
        self.status.setText(message)
        self.log.appendPlainText(message)
        self.failed.emit(message)
        self._set_running(False)
        self.refresh_runs(select=self.run_dir)  # its last checkpoint, if it got to one, can be resumed

    def _show_history(self, run_dir: Path) -> None:
        """A resumed run's log, and its chart so far: validation points and each epoch's mean losses
        (the per-step losses are not kept)."""
        try:
            logged = (run_dir / "train.log").read_text(encoding="utf-8", errors="replace") if (run_dir / "train.log").exists() else ""
        except OSError:
            logged = ""
        self.log.setPlainText(re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", logged))  # as the live lines read: no timestamps
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())  # newest lines in view, as they come
        try:
            history = read_history(run_dir)
        except ValueError:  # a damaged metrics.json: the log alone (Resume then says what is wrong)
            history = []
        for entry in history:
            if all(key in entry for key in ("step", "cls_loss", "box_loss")):
                self.chart.add_step(entry["step"], entry["step"], entry["cls_loss"], entry["box_loss"])
            if "mAP" in entry:
                self.chart.add_map(entry.get("step", 0), entry["mAP"])

    def use_previous_model(self) -> None:
        if self._models_before:
            path, preset = self._models_before[-1]  # taken off the list when it has loaded (a failed load keeps it there)
            self._going_back_to = path
            self.predictions.load_model(path, self.predictions.device, preset)
            self.status.setText(f"back to {model_name(path)}")
            self._status_model = path

    def _note_model(self, info) -> None:
        """A model was loaded: the one it replaced is the one "Previous model" goes back to; going
        back goes on to the one before."""
        if self._going_back_to == info.path and self._models_before and self._models_before[-1][0] == info.path:
            self._models_before.pop()
        elif self._in_use is not None and self._in_use[0] != info.path:
            self._models_before.append(self._in_use)
        self._going_back_to = None
        self._in_use = (info.path, self.predictions.preset)
        while self._models_before and self._models_before[-1][0] == info.path:  # (the model a restart loaded again)
            self._models_before.pop()
        self._show_previous_model()

    def _load_failed(self, _reason: str) -> None:
        self._going_back_to = None

    MODELS_KEY = "training/models_before"  # the models "Previous model" goes back to, kept for the next start
    MODELS_KEPT = 20

    def _saved_models_before(self) -> list[tuple[Path, str | None]]:
        """The models used before, as the last start left them: those whose file is still there."""
        entries = [e for e in json_setting(self.settings, self.MODELS_KEY, list)
                   if isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], (str, type(None)))]
        return [(Path(path), preset) for path, preset in entries if Path(path).is_file()]

    def _show_previous_model(self) -> None:
        """Previous model's button and tooltip, and the list it goes back through kept for the next start."""
        kept = json.dumps([[str(path), preset] for path, preset in self._models_before[-self.MODELS_KEPT:]])
        if self.settings.value(self.MODELS_KEY, "") != kept:  # (written only for news: every window started wrote it)
            self.settings.setValue(self.MODELS_KEY, kept)
        self.back_button.setEnabled(bool(self._models_before))
        path = self._models_before[-1][0] if self._models_before else None
        self.back_button.setToolTip(f"Back to {model_name(path)}, the model used before this one" if path else
                                    "Back to the model used before this one")

    # --- runs ----------------------------------------------------------------------------------
    SPEEDS_KEY = "training/speeds"  # the newest finished run's speed per device kind and backbone, of any folder

    def _remember_speeds(self) -> None:
        """Keep the speed of this folder's newest timed runs for folders with no run yet (a first
        run's time went unsaid: 60 epochs, 9 minutes on a CPU)."""
        before = self._saved_speeds()
        saved = dict(before)
        for run in reversed(self._runs):  # (oldest first: the newest of each kind is written last)
            if run.speed is None or not run.finished:
                continue
            key = f"{run.speed.device}/{run.speed.backbone}"
            # only a newer run replaces one remembered (opening a folder of year-old runs put back their speed)
            if run.started >= str(saved.get(key, {}).get("started", "")):
                saved[key] = {**asdict(run.speed), "started": run.started, "run": f"{run.path.name} of {self._root().name}"}
        if saved != before:  # (the runs list is refreshed at every checkpoint: the settings file is written only for news)
            self.settings.setValue(self.SPEEDS_KEY, json.dumps(saved))

    def _saved_speeds(self) -> dict[str, dict]:
        return {k: v for k, v in json_setting(self.settings, self.SPEEDS_KEY, dict).items() if isinstance(v, dict)}

    def _remembered_runs(self) -> list[RunInfo]:
        """The runs of other folders whose speed is remembered, as the estimate takes them (entries
        that are not a speed are passed over: an estimate divides by them)."""
        runs = []
        for entry in self._saved_speeds().values():
            try:
                speed = RunSpeed(**{f.name: entry[f.name] for f in fields(RunSpeed)})
            except (KeyError, TypeError):
                continue
            numbers = (speed.images_per_s, speed.image_size, speed.validation_share)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers) \
                    or speed.images_per_s <= 0 or speed.image_size <= 0 or speed.validation_share < 0:
                continue
            runs.append(RunInfo(Path(), str(entry.get("run", "of another folder")), 0, 0, None, True, {}, speed=speed))
        return runs

    def refresh_runs(self, select: Path | None = None) -> None:
        """List the folder's runs, newest first; ``select`` selects that run's row, else the run
        selected stays so (by row, a new run's row moved the selection onto another run)."""
        select = select or self._selected_run()
        runs = self._runs = list_runs(self._root()) if self.annotator.workspace is not None else []
        self._remember_speeds()
        self._plan_timer.start()  # the estimate of Train's time takes the newest run's speed
        current = self.predictions.model.path.resolve().parent if self.predictions.model is not None else None
        self.runs.setRowCount(len(runs))
        busy = self._busy_runs()
        minutes = Counter(run.started[:13] for run in runs)  # (runs of one minute told apart by their seconds)
        for row, run in enumerate(runs):
            state = ("training" if run.path.resolve() in busy else "finished early" if run.stopped_early and run.finished else
                     "finished" if run.finished else "stopped")
            best = "–" if run.best_map is None else f"{run.best_map:.3f}"
            if run.start_map is not None:
                best += f"\n({run.start_map:.3f})"
            in_use = current is not None and run.checkpoint.resolve().parent == current
            note = " ".join(run.note.split())  # (one line: a note edited by hand may have several)
            note_line = f"{note}\n" if note else ""
            when = _when(run.started, minutes[run.started[:13]] > 1) + (f"\n{note}" if note else "")
            for col, text in enumerate((when, f"{run.epochs_done}/{run.epochs}", best, state)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, str(run.checkpoint))
                item.setData(_RUN_ROLE, "" if run.finished else str(run.path))  # a stopped run can be resumed
                item.setData(_NOTE_ROLE, bool(note))
                tip = f"{note_line}{'the current model; ' if in_use else ''}{run.path}\n{describe_recipe(run.recipe)}"
                item.setToolTip(tip + _per_class_text(run) if col == 2 else tip)
                if in_use:  # the run the window predicts with
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.runs.setItem(row, col, item)
        row = next((k for k, run in enumerate(runs) if run.path.resolve() == select.resolve()), None) if select is not None else None
        if row is not None:
            self.runs.selectRow(row)
        else:
            self.runs.setCurrentCell(-1, -1)
        self._run_selected()  # the same row selected again says nothing: its buttons follow the model in use (Use stayed greyed)

    @property
    def resumable(self) -> Path | None:
        """The run Resume goes on with: the selected run if it stopped with a checkpoint, else the
        newest run if it did."""
        busy = self._busy_runs()
        for row in (self.runs.currentRow(), 0):
            item = self.runs.item(row, 0) if row >= 0 else None
            stopped = item.data(_RUN_ROLE) if item is not None else ""
            if stopped and (Path(stopped) / "train_state.pt").exists() and Path(stopped).resolve() not in busy:
                return Path(stopped)
        return None

    def _run_selected(self) -> None:
        run, model = self._selected_run(), self.predictions.model
        in_use = run is not None and model is not None and model.path.resolve().parent == run.resolve()
        self.use_button.setEnabled(run is not None and not in_use)
        self.delete_button.setEnabled(run is not None)
        self.note_button.setEnabled(run is not None)
        self._set_running(self.worker is not None)  # Resume goes on with the selected run, if it stopped

    def _run_clicked(self, row: int, _column: int) -> None:
        """A click on a run shows its log and chart (a run training now keeps its own on screen)."""
        if self.worker is None and self.runs.item(row, 0) is not None:
            self._shown_run = Path(self.runs.item(row, 0).data(Qt.ItemDataRole.UserRole)).parent
            self.chart.clear()
            self._show_history(self._shown_run)

    def _selected_checkpoint(self) -> Path | None:
        row = self.runs.currentRow()
        item = self.runs.item(row, 0) if row >= 0 else None
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _selected_run(self) -> Path | None:
        checkpoint = self._selected_checkpoint()
        return checkpoint.parent if checkpoint is not None else None

    def use_selected_run(self) -> None:
        if (checkpoint := self._selected_checkpoint()) is not None:
            self.predictions.load_model(checkpoint, self.predictions.device)

    def ask_run_note(self) -> None:
        """A note on the selected run, to tell runs apart by what they tried, not by their dates
        alone; an empty one removes it."""
        run = self._selected_run()
        if run is None:
            return
        old = next((r.note for r in self._runs if r.path.resolve() == run.resolve()), "")
        text, ok = QInputDialog.getText(self, "Note on run", f"A note on the run {run.name} (empty: none):", text=old)
        if not ok or text.strip() == old:
            return
        try:
            write_run_note(run, text)
        except OSError as exc:
            self.status.setText(f"Could not keep the note in {run}: {exc.strerror or exc}")
            return
        self.refresh_runs(select=run)

    def delete_selected_run(self) -> None:
        """Delete the selected run's folder, after asking (a run keeps 50-110 MB of checkpoints);
        not the run training now, nor the one whose model is in use."""
        run = self._selected_run()
        if run is None:
            return
        model = self.predictions.model
        if run.resolve() in self._busy_runs():
            self.status.setText("That run is training (or ending its last step): Cancel it, or wait, to delete it.")
            return
        if model is not None and model.path.resolve().parent == run.resolve():
            self.status.setText("That run's model is in use: switch to another model (Previous model, say) to delete it.")
            return
        size = sum(f.stat().st_size for f in run.rglob("*") if f.is_file())
        if not self.confirm("Delete run", f"Delete the run {run.name} ({size / 1e6:.0f} MB: its checkpoints, metrics and log)? "
                                          "This cannot be undone."):
            return
        try:
            shutil.rmtree(run)
        except OSError as exc:
            self.status.setText(f"Could not delete {run}: {exc.strerror or exc}")
        if self.worker is None:  # the log, chart, progress and status shown were of a run in the list, maybe this one: they stood after it went
            self.chart.clear()
            self.log.clear()
            self.progress.hide()
            if not run.exists():  # (the status went on saying "… the run can be resumed")
                self.status.setText(f"deleted the run {run.name}")
        self._models_before = [m for m in self._models_before if m[0].resolve().parent != run.resolve()]
        if self._offered is not None and not self._offered[0].exists():
            self._withdraw_offer()
        self._show_previous_model()
        self.refresh_runs()  # (its row gone, nothing is selected)
        self._run_selected()


_RUN_ROLE = Qt.ItemDataRole.UserRole + 1  # a runs-table cell's run folder, when the run can be resumed
_NOTE_ROLE = Qt.ItemDataRole.UserRole + 2  # whether the run has a note (under its date or folder name)


class _RunCellDelegate(QStyledItemDelegate):
    """A note under a run's date is cut at its end: from its start it read "…ages, more flips"."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        if index.column() == 0 and index.data(_NOTE_ROLE):  # (a renamed run folder is one line, not a two-line date)
            option.textElideMode = Qt.TextElideMode.ElideRight


def _per_class_text(run: RunInfo, most: int = 20) -> str:
    """A run's validation AP per class at its best epoch, weakest first, beside the start weights'
    (what the run taught each class): for the mAP cell's tooltip."""
    if not run.per_class:
        return ""
    rows = sorted(run.per_class.items(), key=lambda kv: (kv[1] is None, kv[1] or 0.0, kv[0]))
    lines = []
    for name, ap in rows[:most]:
        start = run.start_per_class.get(name)
        was = f" (start {start:.3f})" if start is not None else ""
        lines.append(f"{name} {ap:.3f}{was}" if ap is not None else f"{name} – (no validation labels)")
    more = f"\n… and {len(rows) - most} more" if len(rows) > most else ""
    return f"\n\nValidation AP per class at epoch {run.best_epoch} (its best), weakest first:\n" + "\n".join(lines) + more


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")
