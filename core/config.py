"""Typed, immutable configuration of every RetinaNet behaviour that differs between implementations.

A :class:`~core.presets.Preset` bundles one of each; checkpoints store the preset name plus overrides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from core.labels import is_number

PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # what core.device.resolve_precision takes

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, kw_only=True)
class AnchorConfig:
    """Anchors per pyramid level. ``ratio`` is height / width; order is ratio-major, scale-minor.

    ``style="seed"``: sizes ``size * scale`` unrounded, centres at ``(k + 0.5) * stride``.
    ``style="torchvision"``: sizes truncated with ``int()``, base anchors rounded, centres at
    ``k * stride`` with ``stride = padded_size // grid``.
    """

    sizes: tuple[float, ...] = (32, 64, 128, 256, 512)
    strides: tuple[int, ...] = (8, 16, 32, 64, 128)
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    scales: tuple[float, ...] = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
    style: Literal["seed", "torchvision"] = "seed"

    @property
    def num_levels(self) -> int:
        return len(self.sizes)

    @property
    def anchors_per_location(self) -> int:
        return len(self.ratios) * len(self.scales)


@dataclass(frozen=True, kw_only=True)
class BoxCoderConfig:
    """Deltas are ``(target - mean) / std``; ``clamp`` caps dw, dh on decode (None: no cap, as the seed)."""

    mean: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    std: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2)
    clamp: float | None = None


@dataclass(frozen=True, kw_only=True)
class AssignConfig:
    """IoU >= positive_iou: positive; < negative_iou: negative; between: ignored.

    ``low_quality_matches`` also gives every ground-truth box its best anchor(s), whatever their IoU.
    Such an anchor goes to the box that claims it (``low_quality_to="claimant"``; of several, the one
    it overlaps most) or, as torchvision's Matcher does, to the box it overlaps most of all
    (``"best_overlap"``), which can leave the claiming box without an anchor.
    """

    positive_iou: float = 0.5
    negative_iou: float = 0.4
    low_quality_matches: bool = True
    low_quality_to: Literal["claimant", "best_overlap"] = "claimant"


@dataclass(frozen=True, kw_only=True)
class LossConfig:
    """Focal loss + smooth L1 on std-normalised deltas.

    ``formulation="logits"``: stable focal loss from logits; both losses summed and divided by the
    image's positives. ``formulation="seed"``: probabilities clamped to [1e-4, 1 - 1e-4] and the box
    loss averaged with ``.mean()`` over 4 * positives, exactly as yhenon/pytorch-retinanet.
    ``box_loss="giou"``: the generalised IoU loss of the decoded boxes instead (torchvision v2).
    """

    alpha: float = 0.25
    gamma: float = 2.0
    box_beta: float = 1.0 / 9.0
    formulation: Literal["logits", "seed"] = "logits"
    box_loss: Literal["smooth_l1", "giou"] = "smooth_l1"


@dataclass(frozen=True, kw_only=True)
class PostprocessConfig:
    """Detection filtering. ``clip="image"`` clamps to the unpadded resized image; ``"seed_padded"``
    clamps x1, y1 >= 0 and x2 <= W, y2 <= H of the padded input only, as the seed does."""

    score_thresh: float = 0.05
    nms_thresh: float = 0.5
    topk_per_level: int | None = 1000
    max_detections: int | None = 300
    clip: Literal["image", "seed_padded"] = "image"


def _whole(value: Any, low: int, high: int = 100_000) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True, kw_only=True)
class PreprocessConfig:
    """RGB/255, normalise, resize so the short side is ``min_size`` (long side <= ``max_size``), pad.

    ``size_rounding``: how the resized size is derived from ``side * scale`` (torchvision floors, the
    seed rounds). ``antialias`` low-pass filters when downscaling (torchvision does not).
    """

    min_size: int = 608
    max_size: int = 1024
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    size_divisible: int = 32
    size_rounding: Literal["floor", "round"] = "round"
    antialias: bool = True

    def __post_init__(self) -> None:
        # the settings a checkpoint's metadata carries: hand-edited, a size_divisible of 0 raised
        # ZeroDivisionError, and a std of 0 or a min_size of 0 gave no detections without a word
        problems = [f"{name} {value!r} (a whole number of pixels, at least {low})"
                    for name, value, low in (("min_size", self.min_size, 1), ("max_size", self.max_size, 1),
                                             ("size_divisible", self.size_divisible, 1)) if not _whole(value, low)]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if not (isinstance(values, tuple) and len(values) == 3 and all(is_number(v) for v in values)
                    and (name == "mean" or min(values) > 0)):
                problems.append(f"{name} {values!r} ({'three' if name == 'mean' else 'three positive'} numbers, one per RGB channel)")
        if self.size_rounding not in ("floor", "round"):
            problems.append(f"size_rounding {self.size_rounding!r} (floor or round)")
        if problems:
            raise ValueError(f"preprocessing settings out of range: {'; '.join(problems)}")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Network architecture. ``p6_from``: P6 is a stride-2 conv on C5 (seed, torchvision v2) or on
    P5 (torchvision v1). ``head_norm="group_norm"`` puts GroupNorm(32) after each head conv (v2)."""

    backbone: str = "resnet50"
    num_classes: int = 80
    fpn_channels: int = 256
    p6_from: Literal["c5", "p5"] = "c5"
    head_norm: Literal["none", "group_norm"] = "none"
    head_convs: int = 4
    prior_prob: float = 0.01
    backbone_bn_eps: float | None = None  # None: the backbone's own default
    anchors_per_location: int = 9

    def __post_init__(self) -> None:
        # what a checkpoint's metadata carries: hand-edited, a num_classes of 13.0 or an fpn_channels of "96" ended in
        # tracebacks deep in torch, and a prior_prob of 1 in "math domain error"
        checks = (("backbone", isinstance(self.backbone, str), "a backbone's name"),
                  ("num_classes", _whole(self.num_classes, 1), "a whole number, at least 1"),
                  ("fpn_channels", _whole(self.fpn_channels, 1), "a whole number, at least 1"),
                  ("p6_from", self.p6_from in ("c5", "p5"), "c5 or p5"),
                  ("head_norm", self.head_norm in ("none", "group_norm"), "none or group_norm"),
                  ("head_convs", _whole(self.head_convs, 0, 64), "a whole number from 0 to 64"),
                  ("prior_prob", is_number(self.prior_prob) and 0 < self.prior_prob < 1, "a number between 0 and 1"),
                  ("backbone_bn_eps", self.backbone_bn_eps is None or (is_number(self.backbone_bn_eps) and self.backbone_bn_eps >= 0),
                   "a number, at least 0 (torchvision v1's frozen BatchNorm), or null"),
                  ("anchors_per_location", _whole(self.anchors_per_location, 1), "a whole number, at least 1"))
        problems = [f"{name} {getattr(self, name)!r} ({wanted})" for name, ok, wanted in checks if not ok]
        if problems:
            raise ValueError(f"model settings out of range: {'; '.join(problems)}")

    @property
    def prior_bias(self) -> float:
        return -math.log((1.0 - self.prior_prob) / self.prior_prob)


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return {f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v for f in fields(config)}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Inverse of :func:`to_dict`; unknown keys are rejected with a clear message."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def updated(config: Any, **changes: Any) -> Any:
    """A copy of ``config`` with ``changes``; None values are ignored (handy for CLI overrides)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


__all__ = [
    "AnchorConfig",
    "AssignConfig",
    "BoxCoderConfig",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LossConfig",
    "ModelConfig",
    "PostprocessConfig",
    "PreprocessConfig",
    "from_dict",
    "to_dict",
    "updated",
]
