"""The trainer: synchronous, driven by a progress callback and a cancel token; threads belong to the
caller (the GUI runs it in a worker, the CLI in the main thread, torchrun in N processes).

A run folder holds ``last.safetensors`` (weights and metadata, written every epoch and on cancel),
``best.safetensors`` (best validation mAP), ``train_state.pt`` (optimizer, step and epoch for
resuming; loaded with ``weights_only=True``), ``metrics.json`` (one entry per epoch) and
``train.log``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn

from core.anchors import AnchorGenerator
from core.atomic import atomic_path, write_json
from core.backbones import backbone_stages
from core.boxes import BoxCoder
from core.cancel import Cancelled, CancelToken
from core.config import PreprocessConfig
from core.dataset import CACHE_BYTES, AugmentConfig, Batch, DetectionDataset, GroupedBatchSampler, check_image_folder, collate, readable
from core.device import autocast, channels_last_by_default, precision_name, resolve_device, resolve_precision
from core.evaluate import EvalResult, evaluate_detector, size_notes
from core.formats.convert import box_problems
from core.history import append_log, read_history
from core.labels import Category, LabelSet, class_name_key, is_number, kept_class_rows
from core.losses import retinanet_loss
from core.model import RetinaNet
from core.presets import get_preset
from core.text import count, first_names
from core.weights import Checkpoint, CheckpointError, ClassInfo, ModelSpec, load_checkpoint, read_spec, save_checkpoint


class TrainingError(RuntimeError):
    """Training stopped for a reason the user must act on (diverged, no data, ...)."""


class ResumeMismatch(TrainingError):
    """A resumed run was given other settings than it started with (images, image size, processes,
    too few epochs): the command's fault, as a wrong argument is (``retina train`` exits 2)."""


BF16_CPU_MIN_SIZE = 128  # training images of a smaller short side train in fp32 on a CPU under precision "auto"


def _smallest_short_side(labels: LabelSet, config: TrainConfig) -> float:
    """The shortest side an image of ``labels`` is trained at: ``image_size``, less for an image
    whose long side ``max_size`` holds back (a 4:1 image at 160 px trains at 60), less again at the
    low end of scale jitter."""
    low = config.augment.scale_jitter[0] if config.augment is not None else 1.0
    sides = [min(config.image_size, config.max_size * min(im.width, im.height) / max(im.width, im.height))
             for im in labels.images if im.width > 0 and im.height > 0]
    return min(sides, default=config.image_size) * low


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = 12
    batch_size: int = 4
    optimizer: Literal["sgd", "adamw"] = "adamw"
    lr: float = 3e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 100
    schedule: Literal["cosine", "step"] = "cosine"
    grad_clip: float | None = 10.0
    precision: str = "auto"
    channels_last: bool | None = None  # None: channels_last on the CPU, contiguous on CUDA (see channels_last_by_default)
    freeze_bn: bool | None = None  # None: freeze when starting from trained weights, train BN from scratch
    frozen_stages: int | None = None  # None: 1 when starting from trained weights, else 0
    image_size: int = 512
    max_size: int = 768
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    seed: int = 0
    max_consecutive_nan: int = 5
    num_workers: int = 0
    validate: bool = True
    validate_start: bool = True  # fine-tuning: score the start weights first (history entry "epoch": 0)
    # stop once validation mAP has not risen for this many epochs (the best epoch's weights are
    # best.safetensors); None: every epoch is trained
    patience: int | None = None


@dataclass(frozen=True)
class TrainEvent:
    """What the trainer reports. ``kind``: "step", "epoch" (with validation ``metrics``), "nan" (a
    skipped step), "checkpoint", "log"."""

    kind: str
    epoch: int
    step: int
    total_steps: int
    cls_loss: float = math.nan
    box_loss: float = math.nan
    lr: float = math.nan
    images_per_s: float = math.nan
    eta_s: float = math.nan
    metrics: dict[str, Any] | None = None
    message: str = ""


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    epochs_done: int
    steps: int
    cancelled: bool
    best_map: float | None
    last_checkpoint: Path
    best_checkpoint: Path | None
    start_map: float | None = None  # the start weights' validation mAP (fine-tuning), for comparison
    # the input sizes (short side) the start weights were scored at and the run trained at: a run at
    # 256 px scored below weights scored at 512, and nothing said why
    start_input_size: int | None = None
    input_size: int | None = None
    skipped_images: int = 0  # missing or unreadable images left out (each one named in the log)
    validation_pending: bool = False  # cancelled while validating epoch epochs_done + 1, its steps done (resume validates it)
    stopped_early: bool = False  # validation mAP stopped rising for TrainConfig.patience epochs: the epochs left were not trained
    # a resumed run's head classes the labels no longer have (merged or deleted since it started): learnt from negatives only
    classes_gone: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataSource:
    labels: LabelSet
    image_root: Path


@dataclass(frozen=True)
class _Dist:
    world_size: int = 1
    rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_from_env(device: torch.device) -> tuple[_Dist, torch.device]:
    """Under torchrun (WORLD_SIZE > 1), join the process group. On CUDA each process takes the GPU
    of its LOCAL_RANK: the device asked for ("cuda", "cuda:0") put every process on one GPU, which
    NCCL refuses."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), device
    if device.type == "cuda":
        # (modulo the GPUs it sees: a launcher may give each process one through CUDA_VISIBLE_DEVICES)
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        # validation runs on rank 0 while the others wait at a barrier: NCCL's 10-minute default
        # timeout ended runs with a large validation set
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=2))
    return _Dist(dist.get_world_size(), dist.get_rank()), device


def training_classes(labels: LabelSet) -> list[Category]:
    """Categories that have at least one (non-crowd) box, in id order."""
    counts = labels.box_counts()
    return sorted((c for c in labels.categories if counts.get(c.id, 0) > 0), key=lambda c: c.id)


def adapt_classes(model: RetinaNet, old: tuple[ClassInfo, ...], new: list[Category]) -> dict[str, str]:
    """Give ``model`` a class head for ``new``; the rows :func:`core.labels.kept_class_rows` names
    (the same name, or a renamed class's id) are kept, the others start from the prior.
    Returns {new name: kept old name}."""
    if [c.name for c in old] == [c.name for c in new]:
        return {c.name: c.name for c in new}
    keep = kept_class_rows(old, new)
    model.reset_class_head(len(new), keep_rows=keep)
    return {new[j].name: old[i].name for j, i in keep.items()}


def freeze(model: RetinaNet, *, bn: bool, stages: int) -> None:
    """Freeze BatchNorm layers (statistics and affine parameters: yhenon's ``freeze_bn`` left the
    latter trainable, its bug #109) and the first ``stages`` backbone stages."""
    for stage in backbone_stages(model.backbone.body)[:stages]:
        stage.requires_grad_(False)
    if bn:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.requires_grad_(False)


def set_train_mode(model: RetinaNet, *, freeze_bn: bool, frozen_stages: int) -> None:
    """Training mode, except for the BatchNorm layers that are frozen, which keep their statistics:
    all of them with ``freeze_bn``, else those of the frozen stages (whose statistics drifted under
    convolutions that no longer learn)."""
    model.train()
    for part in [model] if freeze_bn else backbone_stages(model.backbone.body)[:frozen_stages]:
        for m in part.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


@contextmanager
def _batchnorm_statistics_kept(model: nn.Module, *, keep: bool) -> Iterator[None]:
    """With ``keep``, the BatchNorm layers that learn statistics leave them as they are for the
    forward inside: a blank image that stands in for an unreadable batch would pull them towards
    zero (rank 0's statistics are the ones DDP gives every process)."""
    learning = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.training] if keep else []
    for m in learning:
        m.eval()
    try:
        yield
    finally:
        for m in learning:
            m.train()


def _lr_factor(step: int, total: int, config: TrainConfig) -> float:
    warm = min(1.0, (step + 1) / config.warmup_iters) if config.warmup_iters else 1.0
    warm = 0.001 + (1 - 0.001) * warm
    progress = step / max(1, total)
    if config.schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * progress))
    return warm * (0.1 ** sum(progress >= m for m in (2 / 3, 8 / 9)))


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)  # no decay on biases and norm weights
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


class Trainer:
    """One training run. Build it, then call :meth:`run`."""

    def __init__(
        self,
        *,
        train_data: DataSource,
        val_data: DataSource | None,
        run_dir: Path | str,
        config: TrainConfig,
        start: Checkpoint | None = None,
        backbone: str = "resnet50",
        preset: str = "retinanet",
        pretrained_backbone: bool = False,
        classes: list[Category] | None = None,
        device: str = "auto",
        resume: bool = False,
        on_event: Callable[[TrainEvent], None] | None = None,
        cancel: CancelToken | None = None,
        fpn_channels: int = 256,
        command: str = "",
    ) -> None:
        self.command = command
        self.run_dir = Path(run_dir)
        self.dist, self.device = _dist_from_env(resolve_device(device))
        if config.channels_last is None:  # decided here, so that the run's recipe says which it was
            config = replace(config, channels_last=channels_last_by_default(self.device))
        self.config = config
        self.dtype = resolve_precision(config.precision, self.device)
        if self.dtype == torch.float16 and self.device.type != "cuda":  # (the window refused it; retina train trained on, unscaled)
            raise ValueError("fp16 trains on a CUDA GPU only (its loss scaling is the GPU's, and the CPU runs fp16 slowly): "
                             "choose precision bf16 or fp32")
        # oneDNN's bf16 backward of a stride-2 convolution over a 1x1 map gives NaN gradients (P7's
        # weights, in 5 of 6 steps at 32 px, 1 of 6 at 64, none at 96): "auto" takes fp32 there
        self._small_input_fp32 = (config.precision == "auto" and self.device.type == "cpu" and self.dtype == torch.bfloat16
                                  and _smallest_short_side(train_data.labels, config) < BF16_CPU_MIN_SIZE)
        if self._small_input_fp32:
            self.dtype = torch.float32
        self._made_from: Path | None = None  # the outermost folder this run made (set by _hold_run_folder)
        self._marks_made: set[str] = set()  # the lock and run mark files it made in a folder that was there
        self._run_lock = self._hold_run_folder(resume)  # before anything is written there
        try:
            self._prepare(train_data=train_data, val_data=val_data, config=config, start=start, backbone=backbone, preset=preset,
                          pretrained_backbone=pretrained_backbone, classes=classes, resume=resume, on_event=on_event, cancel=cancel,
                          fpn_channels=fpn_channels)
        except BaseException:
            self._remove_unused_run_folder()  # (before the lock goes: a run started there meanwhile keeps its folder)
            self._release_run_folder()
            raise

    def _prepare(self, *, train_data: DataSource, val_data: DataSource | None, config: TrainConfig, start: Checkpoint | None, backbone: str,
                 preset: str, pretrained_backbone: bool, classes: list[Category] | None, resume: bool,
                 on_event: Callable[[TrainEvent], None] | None, cancel: CancelToken | None, fpn_channels: int) -> None:
        """The rest of construction, with the run folder held."""
        self.on_event = on_event or (lambda e: None)
        self.cancel = cancel or CancelToken()
        self.step, self.epoch, self.skip, self.total_steps = 0, 0, 0, 0
        self.end_pending = False  # an epoch's steps are done but its validation and checkpoint are not (cancelled there)
        self._epoch_losses: list[tuple[float, float]] = []  # (class, box) loss of each finished step of this epoch
        # this epoch's training seconds (the images' loading included, validation not) and images: a speed for estimates
        self._epoch_seconds, self._epoch_images = 0.0, 0
        self.classes = classes or training_classes(train_data.labels)
        self.classes_gone: tuple[str, ...] = ()
        if not self.classes:
            raise TrainingError(f"no labelled boxes to train on: the {count(len(train_data.labels.images), 'image')} of the training labels "
                                "have none")
        if not train_data.labels.images:
            raise TrainingError("the training set has no images")
        if not resume:  # before anything is logged: a refused run must not write into another's train.log (every process refuses alike)
            self._check_new_run_folder()
        self.reported: set[str] = set()  # unreadable images already logged
        train_data = self._readable(train_data, "training")
        # the validation images as given, before those unreadable are left out (one bad image refused every resume)
        self.validation = validation_digest(val_data.labels if val_data is not None else None)
        if val_data is not None:
            val_data = self._readable(val_data, "validation")
        self.train_data, self.val_data = train_data, val_data
        state = self._resume_state() if resume else None
        torch.manual_seed(config.seed)
        if state is not None:
            self._check_same_images(state.get("image_root", ""), state.get("image_root_from_run", ""), train_data.image_root)
            if state.get("world_size", self.dist.world_size) != self.dist.world_size:
                raise ResumeMismatch(f"this run was started on {count(state['world_size'], 'process')}, not {self.dist.world_size}: resume it on as many "
                                    "(each one's share of the images and the steps of an epoch depend on it)")
            checkpoint = self._state_checkpoint(state)
            self._check_same_recipe((checkpoint.spec.training or {}).get("recipe") or {}, config)
            self.spec = checkpoint.spec
            self.model = checkpoint.build_model()
            # the run goes on with the classes its head has (the labels' classes may have changed since:
            # mapping them onto its rows by position would train one class's rows on another's boxes)
            self.classes = self._head_classes(train_data.labels, val_data.labels if val_data is not None else None)
            known = {c.id for c in train_data.labels.categories}  # (a class the labels lost keeps its own id and name)
            self.spec = replace(self.spec, classes=tuple(ClassInfo(c.id, c.name) if c.id in known else head
                                                         for c, head in zip(self.classes, self.spec.classes)))
            learnt = {c.id for c in self.classes}
            added = [c.name for c in training_classes(train_data.labels) if c.id not in learnt]
            if added:
                self._log(f"classes added since this run started are not learnt by it: {', '.join(added)} (a new run learns them)")
        elif start is not None:
            self.model = start.build_model()
            kept = adapt_classes(self.model, start.spec.classes, self.classes)
            origin = start.spec.source.removeprefix("fine-tuned from ")  # (a fine-tune of a fine-tune said "from fine-tuned from …")
            self.spec = replace(start.spec, model=self.model.config, classes=tuple(ClassInfo(c.id, c.name) for c in self.classes),
                                source=f"fine-tuned from {origin}")
            renamed = [f"{was} → {now}" for now, was in kept.items() if class_name_key(now) != class_name_key(was)]
            by_id = f" (by their ids, renamed since: {', '.join(renamed)})" if renamed else ""
            self._log(f"start weights: {start.spec.source}; class rows kept: {len(kept)}/{len(self.classes)}{by_id}")
        else:
            p = get_preset(preset)
            model_config = p.model_config(backbone=backbone, num_classes=len(self.classes), fpn_channels=fpn_channels)
            self.model = RetinaNet(model_config, pretrained_backbone=pretrained_backbone)
            self.spec = ModelSpec(preset=preset, model=model_config, classes=tuple(ClassInfo(c.id, c.name) for c in self.classes))
        # the start weights are scored as they were used: at their own input size, not the run's (a
        # 512-px model scored at 256 looked far worse than it is, and a worse run looked like a gain)
        # (torchvision and yhenon files name no input size: theirs is their preset's)
        self.start_preprocess = (start.spec.preprocess or get_preset(start.spec.preset).preprocess) if start is not None and state is None else None
        self.preset = get_preset(self.spec.preset)
        # the preset's preprocessing at the run's input size: a default one dropped torchvision's
        # floor rounding and lack of antialiasing, for training and for the checkpoint's predictions
        self.spec = replace(self.spec, preprocess=replace(self.preset.preprocess, min_size=config.image_size, max_size=config.max_size))
        pretrained = start is not None or pretrained_backbone
        self.freeze_bn = pretrained if config.freeze_bn is None else config.freeze_bn
        self.frozen_stages = (1 if pretrained else 0) if config.frozen_stages is None else config.frozen_stages
        if state is not None:  # as the run being resumed decided
            if config.frozen_stages is not None and config.frozen_stages != int(state["frozen_stages"]):  # (it went without a word)
                self._log(f"frozen stages {config.frozen_stages} ignored: a resumed run keeps its own, {int(state['frozen_stages'])}")
            self.freeze_bn, self.frozen_stages = bool(state["freeze_bn"]), int(state["frozen_stages"])
        freeze(self.model, bn=self.freeze_bn, stages=self.frozen_stages)
        memory = torch.channels_last if config.channels_last else torch.contiguous_format
        self.model.to(self.device, memory_format=memory)
        self.optimizer = _optimizer(self.model, config)
        self.anchor_generator = AnchorGenerator(self.preset.anchors)
        self.coder = BoxCoder(self.preset.coder)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16 and self.device.type == "cuda")
        self.dataset = DetectionDataset(
            train_data.labels, train_data.image_root, self.classes, preprocess=self.spec.preprocess,
            augment=config.augment, seed=config.seed,
            cache_bytes=0 if config.num_workers else CACHE_BYTES,  # workers are forked anew each epoch: their caches were thrown away
        )
        small = self.dataset.boxes_under_one_pixel()
        if small:
            self._log(f"{len(small)} labelled box{'es are' if len(small) > 1 else ' is'} under 1 px at image size {config.image_size} "
                      f"(first in {small[0]}): too small to learn; a larger image size (and max size) keeps them")
        self.sampler = GroupedBatchSampler(
            self.dataset.aspect_ratios(), config.batch_size, seed=config.seed,
            world_size=self.dist.world_size, rank=self.dist.rank,
        )
        self.steps_per_epoch = len(self.sampler.global_batches())
        self.total_steps = self.steps_per_epoch * config.epochs
        if val_data is not None:  # validation scores the classes by name: sharing none, it scores nothing, and said only "no validation data"
            learnt = {class_name_key(c.name) for c in self.classes}
            if not any(class_name_key(c.name) in learnt for c in training_classes(val_data.labels)):
                self._log(f"the validation labels share no class with the ones trained ({first_names([c.name for c in self.classes])}): "
                          "nothing to score, so no validation mAP and no best.safetensors")
        self.best_map: float | None = None
        self.history: list[dict[str, Any]] = []
        self.stopped_early = False
        self.fine_tuning = start is not None
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            if state.get("scaler"):  # fp16 on CUDA: the loss scale it reached (a fresh 65536 skipped other steps than the run would have)
                self.scaler.load_state_dict(state["scaler"])
            self.step, self.epoch, self.skip = int(state["step"]), int(state["epoch"]), int(state["skip"])
            self.end_pending = bool(state.get("end_pending", False))
            # the steps of the epoch done before the stop count in its mean losses too
            self._epoch_losses = [(float(c), float(b)) for c, b in state.get("epoch_losses", [])]
            self.best_map = state["best_map"] if state["best_map"] >= 0 else None
            # an epoch recorded there but not in the state (killed before its checkpoint was complete) is trained again
            done = self.epoch - 1 if self.end_pending else self.epoch
            try:
                self.history = [h for h in read_history(self.run_dir) if h["epoch"] <= done]
            except ValueError as exc:
                raise TrainingError(f"{self.run_dir / 'metrics.json'} is damaged ({exc}): the run's history cannot go on") from None
            self._settle_pending_best(done)
            # killed between the early stop's checkpoint and its end: it stays stopped, not trained on
            self.stopped_early = bool(self.history and self.history[-1].get("stopped_early"))
            # runs saved before "fine_tuning" was kept: their checkpoint says where they started
            self.fine_tuning = bool(state.get("fine_tuning", self.spec.source.startswith("fine-tuned from")))
            if state.get("start_preprocess"):
                saved = json.loads(state["start_preprocess"])
                self.start_preprocess = PreprocessConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
            where = f"the validation of epoch {self.epoch}" if self.end_pending else f"epoch {self.epoch + 1}"  # (not "epoch 2" of a 1-epoch run)
            needed = self.epoch if self.end_pending else self.epoch + 1
            if config.epochs < needed:  # it trained nothing and called the run done, its last checkpoint a step ahead of its history
                raise ResumeMismatch(f"this run stopped in epoch {needed}: resume it with --epochs {needed} or more")
            self._log(f"resumed at {where}, step {self.step}")
        self.network: nn.Module = self.model
        if self.dist.world_size > 1:
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _readable(self, data: DataSource, role: str) -> DataSource:
        """Leaves out (and logs) images whose file is missing or not an image; none left is an error."""
        try:
            check_image_folder(data.labels, data.image_root)  # the window trains too: no option names here
        except ValueError as exc:
            raise TrainingError(f"{role} images: {exc}") from None
        labels, problems, resized = readable(data.labels, data.image_root)
        self.reported.update(problems)
        for problem in problems[:20]:
            self._log(f"skipped {role} image: {problem}")
        if len(problems) > 20:
            self._log(f"… and {len(problems) - 20} more unreadable {role} images")
        for note in (*size_notes(resized), *box_problems(labels)):
            self._log(f"{role} labels: {note}")
        if problems and not labels.images:
            raise TrainingError(f"none of the {len(problems)} {role} images can be read; the first: {problems[0]}")
        return DataSource(labels, data.image_root)

    # -- state -------------------------------------------------------------------------------------

    def _settle_pending_best(self, done: int) -> None:
        """Killed between an epoch's commit and moving its best weights into place, the run left
        them pending: they are the best, of a committed epoch, and go into place now (an epoch not
        committed is trained again and writes its own)."""
        pending = self.run_dir / _PENDING_BEST
        if pending.exists() and self.dist.main:
            if _training_summary(pending).get("epochs_done", done + 1) <= done:
                os.replace(pending, self.run_dir / "best.safetensors")
            else:
                pending.unlink()

    @property
    def _validates(self) -> bool:
        return bool(self.config.validate and self.val_data is not None and self.val_data.labels.images)

    def _validated_on(self) -> str:
        """The validation images, as the first log line says them (--val-split 0.01 of 2 images held out one, unsaid)."""
        if not self._validates:
            return " (no validation)"
        return f" ({count(len(self.val_data.labels.images), 'validation image')})"

    def _check_same_recipe(self, saved: dict[str, Any], config: TrainConfig) -> None:
        """A resumed run goes on as it was started: another image or batch size, or optimizer, would
        change it mid-way, unseen (more epochs are fine: the schedule stretches, and the log says so)."""
        now = _recipe(config)
        # (the seed orders the images of every epoch, and splits off the validation images in the window)
        changed = [key for key in ("image_size", "max_size", "batch_size", "optimizer", "lr", "seed") if key in saved and saved[key] != now[key]]
        if changed:
            was = ", ".join(f"{key.replace('_', ' ')} {saved[key]}" for key in changed)
            raise ResumeMismatch(f"this run was started with {was}: resume it with the same settings, or start a new run in another folder")
        if "epochs" in saved and saved["epochs"] != config.epochs:
            self._log(f"epochs changed from {saved['epochs']} to {config.epochs} on resume")
        applied = [key for key in ("precision", "augment", "warmup_iters", "weight_decay", "momentum", "schedule", "grad_clip", "channels_last",
                                   "num_workers", "patience") if key in saved and saved[key] != now[key]]
        if applied:
            self._log("settings changed on resume, from here on: " + ", ".join(
                f"{key.replace('_', ' ')} {_setting_text(key, saved[key])} → {_setting_text(key, now[key])}" for key in applied))

    def _check_same_images(self, saved: str, from_run: str, image_root: Path) -> None:
        """A resumed run goes on with the images it started on: resumed with another dataset's, it
        went on training (and saving over its checkpoints) on images it never began with. The same
        folder moved or renamed along with the run folder (the window keeps its runs inside the
        image folder) is the same images. Labels added or changed since the stop are fine: that is
        labelling going on."""
        now = Path(image_root).resolve()
        moved_along = bool(from_run) and (self.run_dir / from_run).resolve() == now
        if saved and Path(saved) != now and not moved_along:
            raise ResumeMismatch(f"this run trained on the images in {saved}, not {now}: resume it with the same images, or start a "
                                f"new run in another folder from its weights, {self.run_dir / 'last.safetensors'}")

    def _state_checkpoint(self, state: dict[str, Any]) -> Checkpoint:
        """The model of the state's step: its weights and description are in the state itself (the
        commit; last.safetensors may be an epoch ahead, killed between the two, or gone). States
        written before they held the description take it from last.safetensors."""
        if "spec" in state and "model" in state:
            return Checkpoint(ModelSpec.from_json(state["spec"]), state["model"])
        last = self.run_dir / "last.safetensors"
        try:
            checkpoint = load_checkpoint(last)
        except CheckpointError as exc:
            raise TrainingError(f"{exc}; this run's train_state.pt is older than the ones that can go on without it: start a new run "
                                f"from its weights ({self.run_dir / 'best.safetensors'}, if there is one)") from None
        if "model" in state:
            checkpoint = Checkpoint(checkpoint.spec, state["model"])
        return checkpoint

    def _resume_state(self) -> dict[str, Any]:
        path = self.run_dir / "train_state.pt"
        if not path.exists() and (self.run_dir / "last.safetensors").exists():
            summary = _training_summary(self.run_dir / "last.safetensors")
            stopped_early = any(isinstance(h, dict) and h.get("stopped_early") for h in summary.get("history") or [])
            unfinished = summary.get("epochs_done", 0) < (summary.get("recipe") or {}).get("epochs", 0) and not stopped_early
            if unfinished and not _first_checkpoint(summary, self.run_dir):
                raise TrainingError(f"the run in {self.run_dir} has no train_state.pt (deleted?), so it cannot go on from its step: start a "
                                    f"new run in another folder from its weights, {self.run_dir / 'last.safetensors'}")
            if unfinished:
                raise TrainingError(f"the run in {self.run_dir} was stopped while saving its first checkpoint, so there is no state to go "
                                    "on from: start it again (the same command without --resume starts it over in this folder)")
            raise TrainingError(f"the run in {self.run_dir} has finished: there is nothing to resume. To train further, start "
                                f"a new run from its weights, {self.run_dir / 'last.safetensors'}")
        if not path.exists():
            raise TrainingError(f"nothing to resume in {self.run_dir} (no train_state.pt / last.safetensors): without --resume, a new run "
                                "starts there")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - truncated, empty or not a state: all the same to the user
            raise TrainingError(f"{path} is damaged ({type(exc).__name__}), so the run cannot go on from its step; start a new "
                                f"run from its weights, {self.run_dir / 'last.safetensors'}") from None

    def _checkpoint_spec(self) -> ModelSpec:
        """The spec saved with the weights: how far the run got, its recipe and its last scores."""
        return replace(self.spec, training={"epochs_done": self.epoch, "step": self.step, "best_mAP": self.best_map, "recipe": _recipe(self.config),
                                            "command": self.command, "history": self.history[-1:],
                                            "validation": self.validation})

    def _save(self, reason: str) -> None:
        """last.safetensors, then train_state.pt: the state is the commit. It holds the weights of
        its step too, so a run killed between the two files resumes from the state, whole (the
        weights in last.safetensors may be an epoch ahead of the optimizer state)."""
        if not self.dist.main:
            return
        spec = self._checkpoint_spec()
        save_checkpoint(self.run_dir / "last.safetensors", self.model, spec)
        state = {"model": {k: v.detach().to("cpu").clone() for k, v in self.model.state_dict().items()},
                 "spec": spec.to_json(),
                 "world_size": self.dist.world_size,
                 "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(), "step": self.step, "epoch": self.epoch, "skip": self.skip,
                 "best_map": -1.0 if self.best_map is None else self.best_map,
                 "freeze_bn": self.freeze_bn, "frozen_stages": self.frozen_stages, "end_pending": self.end_pending,
                 "fine_tuning": self.fine_tuning, "epoch_losses": list(self._epoch_losses),
                 "image_root": str(Path(self.train_data.image_root).resolve()),
                 "image_root_from_run": _relative(Path(self.train_data.image_root).resolve(), self.run_dir.resolve()),
                 "start_preprocess": json.dumps(asdict(self.start_preprocess)) if self.start_preprocess else ""}
        with atomic_path(self.run_dir / "train_state.pt") as tmp:
            torch.save(state, tmp)
        self._emit(TrainEvent("checkpoint", self.epoch, self.step, self.total_steps, message=reason))

    # -- events ------------------------------------------------------------------------------------

    def _emit(self, event: TrainEvent) -> None:
        if self.dist.main:
            self.on_event(event)

    def _log(self, message: str, kind: str = "log") -> None:
        """Appends to train.log and reports it as an event of ``kind`` ("log", or "nan")."""
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            append_log(self.run_dir, message)
        self._emit(TrainEvent(kind, self.epoch, self.step, self.total_steps, message=message))

    # -- loop --------------------------------------------------------------------------------------

    def _head_classes(self, labels: LabelSet, val_labels: LabelSet | None) -> list[Category]:
        """The resumed run's head classes, each with the id the labels give it now: matched by name
        (a re-export renumbers ids: matched by id, every class trained on another's boxes), else by
        id when that class has a name no head class has (renamed in the window, which keeps ids).
        A head class the labels no longer have gets an id no box has: its rows see negatives only."""
        by_key = {class_name_key(c.name): c for c in labels.categories}
        by_id = {c.id: c for c in labels.categories}
        head_keys = {class_name_key(c.name) for c in self.spec.classes}
        unused = min((c.id for c in labels.categories), default=0) - 1
        counts = labels.box_counts()  # (a class boxed in validation images alone is not gone: it is scored)
        for category_id, n in (val_labels.box_counts() if val_labels is not None else {}).items():
            counts[category_id] = counts.get(category_id, 0) + n
        classes, renamed, gone = [], [], []
        for head in self.spec.classes:
            match = by_key.get(class_name_key(head.name))
            if match is None and (same_id := by_id.get(head.id)) is not None and class_name_key(same_id.name) not in head_keys:
                match = same_id
                renamed.append(f"{head.name} → {same_id.name}")
            if match is None:
                gone.append(head.name)
                match, unused = Category(unused, head.name), unused - 1
            elif not counts.get(match.id):  # listed still, its boxes all deleted: as good as gone (it went unsaid)
                gone.append(match.name)
            classes.append(Category(match.id, match.name))  # the labels' name: validation matches by it, the checkpoint keeps it
        if renamed:
            self._log(f"classes renamed since this run started (the same class ids): {', '.join(renamed)}")
        if gone:
            self._log(f"classes of this run the labels no longer have boxes of (it learns them from none): {', '.join(gone)}")
        self.classes_gone = tuple(gone)
        return classes

    def _check_new_run_folder(self) -> None:
        """A new run goes into a new or empty folder, or over a run of ours that was killed before its
        first checkpoint (its files are uncommitted: they go). A committed or finished run is
        refused, and so are files of the same names that no run of ours wrote (a user's own
        metrics.json was replaced, their train.log written into)."""
        folder = self.run_dir
        if (folder / "train_state.pt").exists():
            raise TrainingError(f"{folder} already holds a run: continue it (retina train --resume; Resume in the window), or train into a new "
                                "folder (its checkpoints and metrics would be mixed with this run's)")
        last = folder / "last.safetensors"
        summary = _training_summary(last) if last.exists() else None
        if summary is not None and summary.get("epochs_done", 1) >= (summary.get("recipe") or {}).get("epochs", 1):
            raise TrainingError(f"{folder} holds a finished run: train into a new folder (to train further, start from its weights, {last})")
        if summary is not None and not _first_checkpoint(summary, folder):
            raise TrainingError(f"{folder} holds a run whose train_state.pt is gone: train into a new folder (to go on from it, start "
                                f"from its weights, {last})")
        theirs = [name for name in (*_RUN_FILES, "best.safetensors") if (folder / name).exists()]
        if theirs and (not (folder / _RUN_MARK).exists() or "best.safetensors" in theirs):  # (a run writes best after its first checkpoint)
            raise TrainingError(f"{folder} holds {', '.join(theirs)}, which this run would overwrite or write into: train into a new or "
                                "empty folder")
        if self.dist.main:
            for name in ("last.safetensors", "metrics.json", _PENDING_BEST):  # a killed run's, uncommitted: the run starts clean
                (folder / name).unlink(missing_ok=True)
            (folder / _RUN_MARK).touch()

    def _hold_run_folder(self, resume: bool):
        """One run at a time in a run folder (held from construction to the end of :meth:`run`): a
        second one started beside it, in another terminal or the window, is refused before it
        writes anything there. Under torchrun the first process holds it for all."""
        from filelock import FileLock, Timeout

        if not self.dist.main:
            return None
        if resume and not self.run_dir.is_dir():  # (it was made, with a lock file in it, then refused)
            raise TrainingError(f"nothing to resume: {self.run_dir} does not exist (without --resume, a new run starts there)")
        # the outermost folder this run makes (--out runs/a/b made runs and runs/a too): removed, if the run fails before it starts
        self._made_from = next((p for p in reversed([self.run_dir, *self.run_dir.parents]) if not p.exists()), None)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        folders = [name for name in (*_RUN_FILES, "best.safetensors", _PENDING_BEST) if (self.run_dir / name).is_dir()]
        if folders:  # (found otherwise only when the first epoch's files are written)
            raise TrainingError(f"{self.run_dir} holds folders named {', '.join(folders)}, where the run writes its files: move them away")
        self._marks_made = {name for name in (_LOCK_FILE, _RUN_MARK) if not (self.run_dir / name).exists()}
        lock = FileLock(self.run_dir / _LOCK_FILE, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise TrainingError(f"another training is running in {self.run_dir} (its checkpoints would be mixed with this one's)") from None
        for name in (*_RUN_FILES, "best.safetensors", _PENDING_BEST):  # a killed run's half-written files (atomic_path's), not others'
            for left in self.run_dir.glob(f".{name}.*.tmp"):
                left.unlink(missing_ok=True)
        return lock

    def _release_run_folder(self) -> None:
        if self._run_lock is not None:
            self._run_lock.release()
            self._run_lock = None

    def _remove_unused_run_folder(self) -> None:
        """The folders this run made, left with nothing but its marks (it failed before its start:
        the start weights' download, say), go: they stayed, and looked like a run."""
        made = self._made_from
        if made is None:  # a folder of the user's (a --resume of a folder without a run): only the marks this run left go
            for name in self._marks_made:
                with contextlib.suppress(OSError):
                    (self.run_dir / name).unlink(missing_ok=True)
            return
        with contextlib.suppress(OSError):
            if {p.name for p in self.run_dir.iterdir()} <= {_LOCK_FILE, _RUN_MARK}:
                for name in (_LOCK_FILE, _RUN_MARK):
                    (self.run_dir / name).unlink(missing_ok=True)
                for folder in [self.run_dir, *self.run_dir.parents]:  # up to the first it made, each only while empty
                    folder.rmdir()
                    if folder == made:
                        break

    def run(self) -> TrainResult:
        """Train to the end, or until cancelled (then saved at the step, resumable); the run
        folder is free again afterwards."""
        try:
            return self._run()
        finally:
            self._release_run_folder()

    def _run(self) -> TrainResult:
        config = self.config
        self._log(
            f"training {self.spec.model.backbone} ({self.spec.preset}) on {count(len(self.dataset), 'image')}{self._validated_on()}, "
            f"{count(len(self.classes), 'class')}, {count(self.steps_per_epoch, 'step')}/epoch, device {self.device}, "
            f"precision {precision_name(self.dtype)}{f' (bf16 gives NaN gradients for images under {BF16_CPU_MIN_SIZE} px on a CPU)' if self._small_input_fp32 else ''}, "
            f"world size {self.dist.world_size}"
        )
        if config.warmup_iters > self.total_steps // 2:  # (a 3-step fine-tune peaked at 1/60 of its lr, without a word)
            peak = max(_lr_factor(step, self.total_steps, config) for step in range(self.total_steps))
            self._log(f"note: the warm-up ({count(config.warmup_iters, 'step')}) takes over half of the run ({self.total_steps}): the "
                      f"learning rate peaks at {peak:.2g}× the lr set (fewer warm-up steps let it reach it)")
        cancelled = False
        nan_streak = 0
        start_time, start_step = time.perf_counter(), self.step
        images_seen = 0  # since start_time, as trained on (an epoch's last batch may be short: counted whole, 7 images read as 8)
        try:
            if self.fine_tuning and self.epoch == self.step == 0 and self._start_entry() is None and config.validate_start:  # also when cancelled there
                self._validate_start()
                start_time = time.perf_counter()
            if self.end_pending:  # cancelled while validating the last epoch: validate it now
                self._end_epoch()
            if config.patience is not None and not self._validates:
                self._log(f"no validation, so no early stop: {'the one epoch is' if config.epochs == 1 else f'all {config.epochs} epochs are'} trained")
            while self.epoch < config.epochs and not self.stopped_early:
                self.dataset.set_epoch(self.epoch)
                self.sampler.set_epoch(self.epoch, self.skip)
                loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=self.sampler, collate_fn=collate, num_workers=config.num_workers,
                                                     pin_memory=self.device.type == "cuda")
                set_train_mode(self.model, freeze_bn=self.freeze_bn, frozen_stages=self.frozen_stages)
                stepped = bool(self._epoch_losses)  # a batch was trained on this epoch (resumed mid-epoch: before the stop)
                epoch_began = time.perf_counter()
                for batch in loader:
                    self.cancel.raise_if_cancelled()
                    for bad in batch.unreadable:
                        if bad.message not in self.reported:
                            self.reported.add(bad.message)
                            self._log(f"skipped training image: {bad.message}")
                    weight = 1.0
                    if not batch.image_ids:
                        if self.dist.world_size == 1:
                            self.skip += 1
                            continue
                        # the other processes wait for this one's gradients (it raised, and they died in theirs): it
                        # takes part in the step with a blank image whose loss counts for nothing
                        batch, weight = self._blank_batch(), 0.0
                    finite, cls_loss, box_loss, real = self._step(batch, weight)
                    seen = len(batch.image_ids) * self.dist.world_size if weight else 0
                    self._epoch_images += seen
                    images_seen += seen
                    self.skip += 1
                    if finite and not real:  # no process had an image to learn from: no step
                        continue
                    stepped = True
                    if not finite:
                        nan_streak += 1
                        self._log(f"non-finite {self._nonfinite} in epoch {self.epoch + 1}, batch {self.skip}: step skipped "
                                  f"({nan_streak} in a row)", kind="nan")
                        if nan_streak >= config.max_consecutive_nan:
                            raise self._diverged(f"loss or gradients were not finite for {nan_streak} steps in a row")
                        continue
                    nan_streak = 0
                    self._epoch_losses.append((cls_loss, box_loss))
                    self.step += 1
                    elapsed = time.perf_counter() - start_time
                    rate = images_seen / max(elapsed, 1e-9)
                    eta = (self.total_steps - self.step) * elapsed / max(self.step - start_step, 1)
                    self._emit(TrainEvent("step", self.epoch, self.step, self.total_steps, cls_loss, box_loss, self.optimizer.param_groups[0]["lr"], rate, eta))
                self._epoch_seconds += time.perf_counter() - epoch_began
                self._share_unreadable()
                if not stepped:
                    raise TrainingError("no image of the epoch could be decoded (their headers read, their pixels not): nothing was "
                                        "trained; the log names them")
                if not self._epoch_losses:  # fewer steps than the streak that stops a run: the epoch counted as done
                    raise self._diverged(f"no step of epoch {self.epoch + 1} had a finite loss and finite gradients")
                self.epoch += 1
                self.skip = 0
                self.end_pending = True
                self._end_epoch()
        except Cancelled:
            cancelled = True
            where = f"while validating epoch {self.epoch}" if self.end_pending else f"at epoch {self.epoch + 1}"
            self._log(f"cancelled {where}, step {self.step}")
            self._save("cancelled")
        else:
            if self.dist.main:  # a finished run has nothing to resume: its optimizer state (2x the weights for AdamW) goes
                (self.run_dir / "train_state.pt").unlink(missing_ok=True)
        best = self.run_dir / "best.safetensors"
        start = self._start_entry()
        done = self.epoch - 1 if self.end_pending else self.epoch  # cancelled while validating: that epoch is not done
        start_size = start.get("input_size") if start is not None and is_number(start.get("input_size")) else None
        return TrainResult(self.run_dir, done, self.step, cancelled, self.best_map, self.run_dir / "last.safetensors",
                           best if best.exists() else None, start_map=None if start is None else start.get("mAP"),
                           start_input_size=start_size, input_size=self.spec.preprocess.min_size, skipped_images=len(self.reported),
                           validation_pending=cancelled and self.end_pending, stopped_early=self.stopped_early,
                           classes_gone=self.classes_gone)

    def _diverged(self, what: str) -> TrainingError:
        kept = "the last checkpoint is kept" if (self.run_dir / "last.safetensors").exists() else "no epoch had finished, so there is no checkpoint"
        # bf16 on the CPU gives NaN gradients for the 1x1 maps of very small inputs (a PyTorch limit)
        fp32 = ", or --precision fp32" if self.dtype == torch.bfloat16 else ""
        return TrainingError(f"{what}: training stopped, {kept} (try a lower learning rate{fp32})")

    def _share_unreadable(self) -> None:
        """Under torchrun each process reads its own share of the images: those another process could
        not read are logged (by rank 0, which alone writes) and counted by every process, which
        then all end alike."""
        if self.dist.world_size == 1:
            return
        shares: list[list[str] | None] = [None] * self.dist.world_size
        dist.all_gather_object(shares, sorted(self.reported))
        for message in sorted(set().union(*shares) - self.reported):
            self.reported.add(message)
            self._log(f"skipped training image: {message}")

    def _blank_batch(self) -> Batch:
        side = math.ceil(self.config.image_size / 32) * 32
        return Batch(torch.zeros(1, 3, side, side), [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)], [torch.zeros(0, 4)], [-1],
                     [(side, side)])

    def _step(self, batch: Batch, weight: float = 1.0) -> tuple[bool, float, float, int]:
        """One optimizer step on ``batch``: (finite, class loss, box loss, processes that had images).
        ``weight`` 0: this process's batch was unreadable; under torchrun it takes part all the
        same, its loss counting for nothing, and the gradients are those of the processes that had
        images (no step when none had)."""
        lr = self.config.lr * _lr_factor(self.step, self.total_steps, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        images = batch.images.to(self.device, memory_format=torch.channels_last if self.config.channels_last else torch.contiguous_format,
                                 non_blocking=True)  # (from pinned memory on CUDA: the step's kernels queue behind the copy)
        with autocast(self.device, self.dtype), _batchnorm_statistics_kept(self.model, keep=not weight):
            out = self.network(images)
        anchors = self.anchor_generator(tuple(images.shape[-2:]), out.feature_sizes, self.device)
        losses = retinanet_loss(
            out.cls_logits, out.box_deltas, anchors, [b.to(self.device, non_blocking=True) for b in batch.boxes],
            [lab.to(self.device, non_blocking=True) for lab in batch.labels],
            coder=self.coder, assign_config=self.preset.assign, loss_config=self.preset.loss,
            ignore_boxes=[b.to(self.device, non_blocking=True) for b in batch.ignore],
        )
        loss = (losses.classification + losses.box) * weight
        # (non-finite ranks, class loss, box loss), summed over the ranks in one all-reduce: every rank
        # skips together, and the losses logged are the whole batch's, not the first rank's share
        finite = torch.isfinite(loss.detach())
        zero = torch.zeros((), device=loss.device)
        tally = torch.stack([(~finite).float(), torch.where(finite, losses.classification.detach().float() * weight, zero),
                             torch.where(finite, losses.box.detach().float() * weight, zero), torch.full((), weight, device=loss.device)])
        if self.dist.world_size > 1:
            dist.all_reduce(tally, op=dist.ReduceOp.SUM)
        self.optimizer.zero_grad(set_to_none=True)
        bad, cls_sum, box_sum, real = tally.tolist()
        real = round(real)
        self._nonfinite = "loss"
        if bad or not real:
            if self.dist.world_size > 1:  # DDP's reducer waits for a backward after each forward: one that changes nothing
                (loss * 0).backward()
                self.optimizer.zero_grad(set_to_none=True)
            return not bad, math.nan, math.nan, real
        # DDP averages over every process: the ones with images count (N / real), as if the others were not there
        self.scaler.scale(loss * (self.dist.world_size / real)).backward()
        if self.config.grad_clip:
            self.scaler.unscale_(self.optimizer)
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            # With fp16 loss scaling, overflowing gradients are expected: the scaler skips the step
            # and lowers its scale. Otherwise a non-finite gradient is a diverging step.
            if not torch.isfinite(norm) and not self.scaler.is_enabled():
                self.optimizer.zero_grad(set_to_none=True)
                self._nonfinite = "gradient"  # (the loss was finite: "non-finite loss" sent the user looking at the labels)
                return False, math.nan, math.nan, real
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return True, cls_sum / real, box_sum / real, real

    def _start_entry(self) -> dict[str, Any] | None:
        """The history's scores of the start weights (``"epoch": 0``), when a fine-tune recorded them."""
        return self.history[0] if self.history and self.history[0]["epoch"] == 0 else None

    def _validate_start(self) -> None:
        """Score the start weights (their class head already adapted) on the validation set, so
        that the run's result can be compared with where it began."""
        if self.val_data is None or not self.val_data.labels.images or not self.config.validate:
            return
        if self.dist.main:
            own = self.start_preprocess or self.spec.preprocess
            metrics = self.evaluate(self.val_data, own)
            self.history = [{"epoch": 0, "step": 0, "input_size": own.min_size, **metrics.to_json()}]
            write_json(self.run_dir / "metrics.json", self.history)
            size = f" (at their input size {own.min_size}, the run trains at {self.spec.preprocess.min_size})" \
                if own.min_size != self.spec.preprocess.min_size else ""
            self._log(f"before training{size}: {_scores(metrics)}")
            self._emit(TrainEvent("epoch", 0, 0, self.total_steps, metrics=metrics.to_json()))
        if self.dist.world_size > 1:
            dist.barrier()

    def _end_epoch(self) -> None:
        metrics: EvalResult | None = None
        began = time.perf_counter()
        if self._validates and self.dist.main:
            metrics = self.evaluate(self.val_data)
        entry = {"epoch": self.epoch, "step": self.step, **({} if metrics is None else metrics.to_json())}
        if self._epoch_images:  # how fast it went, for the window's estimate of the next run's time
            entry.update(device=self.device.type, backbone=self.spec.model.backbone, processes=self.dist.world_size,
                         train_s=round(self._epoch_seconds, 3), images=self._epoch_images, val_s=round(time.perf_counter() - began, 3))
        self._epoch_seconds, self._epoch_images = 0.0, 0
        if self._epoch_losses:  # the epoch's mean losses: a resumed run's chart starts with them
            entry["cls_loss"], entry["box_loss"] = (sum(losses) / len(losses) for losses in zip(*self._epoch_losses))
            self._epoch_losses = []
        self.history.append(entry)
        self.end_pending = False
        improved = metrics is not None and metrics.mAP is not None and (self.best_map is None or metrics.mAP > self.best_map)
        if improved:
            self.best_map = metrics.mAP
        stop_note = self._early_stop()
        if stop_note:
            entry["stopped_early"] = True  # (before the history is written: a resumed run stays stopped)
        # the history and the best weights first, the checkpoint (the commit) last: killed in between,
        # the run resumes at the previous checkpoint and does this epoch again, history and best included
        pending_best = self.run_dir / _PENDING_BEST
        if self.dist.main:
            write_json(self.run_dir / "metrics.json", self.history)
            if improved:
                save_checkpoint(pending_best, self.model, self._checkpoint_spec())
        self._save(f"epoch {self.epoch}")
        if self.dist.main and improved:  # committed: the best weights are this epoch's (a retrained epoch may score lower)
            os.replace(pending_best, self.run_dir / "best.safetensors")
        summary = "" if metrics is None else f": {_scores(metrics)}"
        self._log(f"epoch {self.epoch}/{self.config.epochs} done{summary}")
        self._emit(TrainEvent("epoch", self.epoch, self.step, self.total_steps, metrics=None if metrics is None else metrics.to_json()))
        if stop_note:
            self._log(stop_note)
        if self.dist.world_size > 1:
            # the first process alone validates, so it alone knows whether to stop: the others follow it
            decision = torch.tensor([float(bool(stop_note))], device=self.device)
            dist.broadcast(decision, 0)
            self.stopped_early = bool(decision.item())

    def _early_stop(self) -> str:
        """Why the run stops after this epoch ("" when it goes on): validation mAP has not risen for
        ``patience`` epochs (a run resumed counts the epochs before its stop)."""
        patience = self.config.patience
        if patience is None or not self.dist.main or self.epoch >= self.config.epochs:
            return ""
        scored = [(h["epoch"], h["mAP"]) for h in self.history if h["epoch"] >= 1 and is_number(h.get("mAP"))]
        if not scored:
            return ""
        best_epoch, best = scored[0]
        for epoch, value in scored[1:]:
            if value > best:
                best_epoch, best = epoch, value
        if self.epoch - best_epoch < patience:
            return ""
        self.stopped_early = True
        return (f"stopped early after epoch {self.epoch} of {self.config.epochs}: validation mAP has not risen for "
                f"{count(self.epoch - best_epoch, 'epoch')} (best {best:.3f}, at epoch {best_epoch}, is best.safetensors)")

    def evaluate(self, data: DataSource, preprocess: PreprocessConfig | None = None) -> EvalResult:
        """Validation mAP of the model as it is now, at the run's input size or at ``preprocess``."""
        from core.detector import Detector

        spec = self.spec if preprocess is None else replace(self.spec, preprocess=preprocess)
        detector = Detector(self.model, spec, device=str(self.device), precision=precision_name(self.dtype))
        try:
            result = evaluate_detector(detector, data.labels, data.image_root, cancel=self.cancel)
            for message in result.skipped:
                if message not in self.reported:
                    self.reported.add(message)
                    self._log(f"skipped validation image: {message}")
            return result
        finally:
            set_train_mode(self.model, freeze_bn=self.freeze_bn, frozen_stages=self.frozen_stages)


_PENDING_BEST = ".best.pending.safetensors"  # an epoch's best weights until its checkpoint is committed
_RUN_FILES = ("last.safetensors", "train_state.pt", "metrics.json", "train.log")  # what a run writes in its folder (besides best.safetensors)
# left by a run that started in the folder (not by one refused there, as the lock file is): the files of
# the names above are a run's, which a new run may clear when none was committed
_RUN_MARK = ".retina-run"
_LOCK_FILE = ".run.lock"  # held while a run uses its folder


def _first_checkpoint(summary: dict[str, Any], folder: Path) -> bool:
    """Whether a checkpoint is a run's first (the run killed before committing it): its step is not
    past the end of the first epoch the history records (a run cancelled in epoch 2 also says
    "1 epoch done")."""
    try:
        first_epoch = next((h.get("step") for h in read_history(folder) if h.get("epoch") == 1), None)
    except ValueError:
        return False
    return first_epoch is None or summary.get("step", 0) <= first_epoch


def _relative(path: Path, start: Path) -> str:
    """``path`` from ``start`` ("" where there is no such path: another drive)."""
    try:
        return os.path.relpath(path, start)
    except ValueError:
        return ""


def _training_summary(path: Path) -> dict[str, Any]:
    """The training summary a checkpoint's metadata holds ({} if none can be read)."""
    try:
        return read_spec(path).training or {}
    except CheckpointError:  # a damaged file says nothing: judged as finished, as before
        return {}


def _scores(metrics: EvalResult) -> str:
    return ", ".join(f"{name} {'–' if value is None else f'{value:.3f}'}" for name, value in (("val mAP", metrics.mAP), ("AP50", metrics.AP50)))


def validation_digest(labels: LabelSet | None) -> str:
    """Which images a run validates on, in a few characters ("none" without validation): a resumed
    run must go on with the same ones (others would have it validated on images it trained on, and
    its best weights picked across different sets)."""
    if labels is None or not labels.images:
        return "none"
    names = "\n".join(sorted(str(image.file_name) for image in labels.images))
    return f"{len(labels.images)}:{hashlib.sha1(names.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}"


def _recipe(config: TrainConfig) -> dict[str, Any]:
    recipe = asdict(config)
    return json.loads(json.dumps(recipe, default=str))


def _setting_text(key: str, value: Any) -> str:
    """A recipe setting as the log says it ("augment {'hflip': 0.5, …} → None" before)."""
    if key == "augment":
        return "off" if value is None else "on (" + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items()) + ")"
    return str(value)
