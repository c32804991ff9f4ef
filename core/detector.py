"""Inference: image arrays in, detections in original image pixels out.

:class:`Detector` composes preprocessing, the network (prepared once for fast inference: BatchNorm
folded into convolutions, channels-last memory, autocast to the chosen precision), anchors and the
two-step post-processing. It returns :class:`~core.postprocess.Candidates`, which the GUI caches and
re-filters as the user moves thresholds, or final :class:`~core.postprocess.Detections`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.anchors import AnchorGenerator
from core.backbones import backbone_stages
from core.boxes import BoxCoder
from core.config import PostprocessConfig, PreprocessConfig
from core.detections import Candidates, Detections
from core.device import autocast, channels_last_by_default, precision_name, resolve_device, resolve_precision
from core.model import RetinaNet
from core.postprocess import make_candidates
from core.preprocess import preprocess
from core.presets import Preset, get_preset
from core.weights import ClassInfo, ModelSpec, load_checkpoint


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d (in registration order, which
    is call order in torchvision's ResNets and MobileNets) into that convolution, in place."""
    for parent in module.modules():
        names = list(parent._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = parent._modules[first], parent._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                parent._modules[first] = fuse_conv_bn_eval(conv, bn)
                parent._modules[second] = nn.Identity()
    return module


class Float32(nn.Module):
    """Runs ``inner`` in float32 inside an autocast region."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self.inner(x.float())


def stem_in_float32(network: RetinaNet) -> RetinaNet:
    """Wrap the backbone's stem (its layers at stride 2) in :class:`Float32`, in place.

    With bf16 autocast, rounding the normalised pixels and the stem's BN-folded weights to bf16's
    8-bit mantissa was the largest error of the whole network: on the demo model the stem alone
    decided whether 95 % or 100 % of fp32's detections survive bf16 (benchmarks/bench_precision.py),
    while it holds a few percent of the FLOPs at most.
    """
    stem = {id(m) for m in backbone_stages(network.backbone.body)[0]}
    for parent in list(network.backbone.body.modules()):
        for name, child in list(parent._modules.items()):
            if id(child) in stem:
                parent._modules[name] = Float32(child)
    return network


def cast_weights(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast floating parameters and buffers to ``dtype`` in place, except inside :class:`Float32`.

    Autocast casts weights that need no gradient again on every call; casting once saves that
    (R50-FPN: 34 M weights per forward) and gives the same numbers.
    """
    if isinstance(module, Float32):
        return module
    for child in module.children():
        cast_weights(child, dtype)
    for tensors in (module._parameters, module._buffers):
        for t in tensors.values():
            if t is not None and t.is_floating_point():
                t.data = t.data.to(dtype)
    return module


@dataclass(frozen=True)
class RuntimeInfo:
    device: str
    precision: str
    channels_last: bool


class Detector:
    """A model ready for inference on one device and precision."""

    def __init__(
        self,
        model: RetinaNet,
        spec: ModelSpec,
        *,
        preset: Preset | None = None,
        device: str = "auto",
        precision: str = "auto",
        channels_last: bool | None = None,
        preprocess_config: PreprocessConfig | None = None,
        postprocess_config: PostprocessConfig | None = None,
    ) -> None:
        self.spec = spec
        self.preset = preset or get_preset(spec.preset)
        self.device = resolve_device(device)
        self.dtype = resolve_precision(precision, self.device)
        self.channels_last = channels_last_by_default(self.device) if channels_last is None else channels_last
        self.preprocess_config = preprocess_config or spec.preprocess or self.preset.preprocess
        self.postprocess_config = postprocess_config or self.preset.postprocess
        self.anchor_generator = AnchorGenerator(self.preset.anchors)
        self.coder = BoxCoder(self.preset.coder)
        network = fold_batchnorm(copy.deepcopy(model).eval())
        if self.dtype != torch.float32:
            network = cast_weights(stem_in_float32(network), self.dtype)
        network = network.to(self.device, memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        self.network = network.requires_grad_(False)

    @classmethod
    def from_file(cls, path: Path | str, *, preset: str | None = None, **kwargs) -> Detector:
        checkpoint = load_checkpoint(path)
        return cls(checkpoint.build_model(), checkpoint.spec, preset=get_preset(preset) if preset else None, **kwargs)

    @property
    def classes(self) -> tuple[ClassInfo, ...]:
        return self.spec.classes

    @property
    def runtime(self) -> RuntimeInfo:
        return RuntimeInfo(str(self.device), precision_name(self.dtype), self.channels_last)

    @torch.inference_mode()
    def candidates(self, images: list[np.ndarray], score_floor: float | None = None) -> list[Candidates]:
        """Candidate sets of RGB uint8 images [H, W, 3], one per image; ``score_floor`` defaults to
        the post-processing score threshold (lower it to let a slider go lower later)."""
        batch = preprocess(images, self.preprocess_config, self.device)
        x = batch.images.contiguous(memory_format=torch.channels_last) if self.channels_last else batch.images
        with autocast(self.device, self.dtype):
            out = self.network(x)
        padded = tuple(batch.images.shape[-2:])
        anchors = self.anchor_generator(padded, out.feature_sizes, self.device)
        return make_candidates(
            out.cls_logits,
            out.box_deltas,
            anchors,
            self.anchor_generator.num_anchors_per_level(out.feature_sizes),
            batch.sizes,
            padded,
            batch.scales,
            coder=self.coder,
            config=self.postprocess_config,
            score_floor=self.postprocess_config.score_thresh if score_floor is None else score_floor,
        )

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Final detections with the configured post-processing."""
        cfg = self.postprocess_config
        return [c.filter(cfg.score_thresh, cfg.nms_thresh, cfg.max_detections) for c in self.candidates(images)]
