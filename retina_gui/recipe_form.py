"""The recipe a Train press uses: the defaults of the labels and the model in use, or, with
Advanced open, what its fields say; a folder's edits there are remembered for it."""

from __future__ import annotations

import json
import math
from dataclasses import fields, replace

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QSpinBox, QVBoxLayout, QWidget

from core.config import PRECISIONS
from core.finetune import DEFAULT_LR, Recipe, default_recipe
from core.labels import LabelSet
from retina_gui.predictions import Predictions
from retina_gui.widgets import RateSpinBox, json_setting

_JSON_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "None": (type(None),)}  # a Recipe field's, in JSON
# what a resumed run takes from its own recipe.json, not from the fields (see changed_from)
_RESUMED_FIELDS = ("image_size", "epochs", "lr", "optimizer", "batch_size", "hflip", "scale_jitter", "photometric", "frozen_stages",
                   "val_fraction", "precision", "seed")


class RecipeForm(QWidget):
    """The Advanced check box and the recipe's fields under it."""

    changed = Signal()  # a field was edited: the plan's estimate of the time follows, and a refusal over the recipe goes
    opened = Signal(bool)  # Advanced opened or closed: the plan's estimate follows (a refusal naming a field stays, to be read)

    def __init__(self, predictions: Predictions, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predictions = predictions
        self.annotator = predictions.annotator
        self.settings = settings  # each folder's Advanced edits (see _remember)
        self.advanced = QCheckBox("Advanced")  # opens the recipe below it (a closed group box left an empty frame)
        self.advanced.toggled.connect(self._advanced_toggled)
        self.recipe_box = QGroupBox()
        self.start_box = QComboBox()
        self.start_box.addItem("the current model", "current")
        self.start_box.addItem("a new model (ImageNet backbone when cached)", "new")
        self.backbone_box = QComboBox()
        self.backbone_box.addItems(["mobilenet_v2", "mobilenet_v3_large", "resnet18", "resnet34", "resnet50", "resnet101"])
        self.start_box.currentIndexChanged.connect(self.start_chosen)
        for box in (self.start_box, self.backbone_box):  # the plan's estimate of the time is of this backbone's speed
            box.currentIndexChanged.connect(self.changed)
        self.start_chosen()
        self.size_spin = QSpinBox(minimum=128, maximum=1600, singleStep=32)
        self.epochs_spin = QSpinBox(minimum=1, maximum=500)
        self.lr_spin = RateSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-4)
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
            spin.valueChanged.connect(self.changed)
        self._shown = False  # the fields hold the defaults once Advanced is first opened
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.advanced)
        layout.addWidget(self.recipe_box)
        self._advanced_toggled(False)
        for spin in (self.size_spin, self.epochs_spin, self.lr_spin, self.batch_spin, self.frozen_spin, self.val_spin, self.seed_spin,
                     self.patience_spin):
            spin.valueChanged.connect(self._remember)
        for box in (self.start_box, self.backbone_box, self.optimizer_box, self.precision_box):
            box.currentIndexChanged.connect(self._remember)
        for check in (self.flip_box, self.jitter_box, self.photo_box):
            check.toggled.connect(self._remember)

    @property
    def in_use(self) -> bool:
        """Whether Train takes the fields (Advanced open, and filled in), not the defaults."""
        return self.advanced.isChecked() and self._shown

    @property
    def from_current(self) -> bool:
        """Whether a run starts from the model in use (else from a new model)."""
        return self.start_box.currentData() == "current"

    def start_chosen(self, *_) -> None:
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
        if on and not self._shown:  # first opening: the folder's last Advanced settings, else the defaults; later the user's edits stay
            self._shown = True
            self.refill()
        if not on:
            self._remember()  # closed: forgotten (opened, nothing is kept until a field changes)
        self.opened.emit(on)  # the plan's estimate of the time is of the recipe Train would use now

    def refill(self) -> None:
        """The fields: the user's remembered edits over the defaults of the labels and the model as
        they are now."""
        remembered = self._remembered()
        if remembered is not None:
            start, recipe = remembered
            self.start_box.setCurrentIndex(self.start_box.findData(start))
            self.backbone_box.setCurrentText(recipe.backbone)
            self.start_chosen()  # (a fine-tune's backbone is its model's)
        self._filling = True
        self._fill(self.default_recipe() if remembered is None else recipe)
        self._filling = False

    def refill_shown(self) -> None:
        """The defaults follow the model (its input size, the GPU's batch): filled in before it had
        loaded, a reopened folder's Advanced showed 672 px for a 512-px model, and kept it as the
        user's choice."""
        if self._shown and self.annotator.workspace is not None:
            self.refill()

    def cuda_here(self) -> bool:
        info = self.predictions.model
        return bool(info and any(d.startswith("cuda") for d in info.devices))

    def default_recipe(self, labels: LabelSet | None = None) -> Recipe:
        info = self.predictions.model
        if labels is None:  # (Advanced opened before any folder: the defaults of no labels)
            ws = self.annotator.workspace
            labels = ws.store.to_labelset() if ws is not None else LabelSet([], [])
        return default_recipe(labels, info.path if info else None, cuda=self.cuda_here(),
                              start_input_size=info.preprocess.min_size if info else None, start_backbone=info.backbone if info else None)

    def recipe(self, labels: LabelSet | None = None) -> Recipe:
        """The defaults, or what the fields say when Advanced is open (``labels``: the workspace's,
        when the caller has them already)."""
        base = self.default_recipe(labels)
        if not self.in_use:
            return base
        start = base.start if self.from_current else None
        backbone = self.backbone_box.currentText() if start is None else base.backbone  # a fine-tune keeps its model's
        return Recipe(start=start, backbone=backbone, image_size=self.size_spin.value(), epochs=self.epochs_spin.value(),
                      lr=self.lr_spin.value(), optimizer=self.optimizer_box.currentData(), batch_size=self.batch_spin.value(),
                      hflip=self.flip_box.isChecked(), scale_jitter=self.jitter_box.isChecked(), photometric=self.photo_box.isChecked(),
                      frozen_stages=None if self.frozen_spin.value() < 0 else self.frozen_spin.value(),
                      val_fraction=self.val_spin.value() / 100, device=self.predictions.device,
                      precision=self.precision_box.currentText(), seed=self.seed_spin.value(),
                      patience=self.patience_spin.value() if self.val_spin.value() and self.patience_spin.value() else None)

    def changed_from(self, recipe: Recipe) -> list[str]:
        """The fields of ``recipe`` (a resumed run's own) that Advanced, open, says otherwise, as
        "name value" of the run's: those edits go unused, and the run's log says so."""
        if not self.in_use:
            return []
        shown = self.recipe()
        return [f"{name} {getattr(recipe, name)}" for name in _RESUMED_FIELDS if getattr(shown, name) != getattr(recipe, name)]

    def suggest_batch(self, batch_size: int) -> None:
        """A run ran out of memory: Advanced opens with a batch size that fits."""
        self.advanced.setChecked(True)
        self.batch_spin.setValue(batch_size)

    def set_running(self, running: bool) -> None:
        """Folded away while a run goes (it cannot be changed then): the progress, chart and log
        take its place, in view (with it open they were below the fold even at 1920x1080); back
        after the run."""
        self.advanced.setEnabled(not running)
        self.recipe_box.setVisible(self.advanced.isChecked() and not running)

    def _fill(self, recipe: Recipe) -> None:
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

    def settings_key(self) -> str:
        return f"training_advanced/{self.annotator.workspace.folder}"

    def _remember(self, *_) -> None:
        """The user's Advanced edits, kept for the folder as they are made: the fields that differ from
        the defaults (which follow the labels: a share of 0 % under 7 images, seen only, was kept as a
        choice). The folder opens with them next time (it reopened with the defaults, and fields typed
        in were lost unless a run started); Advanced closed forgets them (Train uses the defaults)."""
        if self.annotator.workspace is None or not self._shown or self._filling:
            return
        if self.advanced.isChecked():
            labels = self.annotator.workspace.store.to_labelset()  # (one copy of the labels per edit, not one per recipe)
            recipe, default = self.recipe(labels).to_json(), self.default_recipe(labels).to_json()
            saved = {k: v for k, v in recipe.items() if v != default[k] and k not in ("start", "device")}  # (the model's device)
            saved["start"] = "current" if self.from_current else "new"
            self.settings.setValue(self.settings_key(), json.dumps(saved))
        else:
            # (not remove(): the key is a path, and removing it removed those of every folder inside this one)
            self.settings.setValue(self.settings_key(), "")

    def _remembered(self) -> tuple[str, Recipe] | None:
        """This folder's remembered Advanced settings over its defaults, with where it starts from
        ("current" or "new"); None: none, or unreadable (another version's, edited by hand)."""
        if self.annotator.workspace is None or not (saved := json_setting(self.settings, self.settings_key(), dict)):
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
        """A folder opened: Advanced opens with the user's edits when it was left open with them
        (read, over the defaults, as it opens)."""
        if json_setting(self.settings, self.settings_key(), dict):
            self.advanced.setChecked(True)

    def detach(self) -> None:
        """The folder closes: Advanced closes for the next folder, and opens with its own defaults
        (this one's remembered settings stay)."""
        self.advanced.blockSignals(True)
        self.advanced.setChecked(False)
        self.advanced.blockSignals(False)
        self.recipe_box.setVisible(False)
        self._shown = False
