"""RetinaNet network: backbone body + FPN (P3-P7) + classification and box heads.

Parameter names follow torchvision's ``RetinaNet`` (``backbone.body``, ``backbone.fpn``,
``head.classification_head``, ``head.regression_head``), so its state dicts load without renaming.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.backbones import build_body
from core.config import ModelConfig


class HeadOutputs(NamedTuple):
    """cls_logits [B, A, K] and box_deltas [B, A, 4], anchors ordered level -> y -> x -> anchor;
    feature_sizes: (H, W) of P3..P7."""

    cls_logits: Tensor
    box_deltas: Tensor
    feature_sizes: list[tuple[int, int]]


def _init_conv(conv: nn.Conv2d) -> None:
    nn.init.kaiming_uniform_(conv.weight, a=1)
    nn.init.constant_(conv.bias, 0)


class FeaturePyramid(nn.Module):
    """P3-P5 from 1x1 laterals + nearest top-down + 3x3 outputs; P6 = 3x3/2 conv on C5 or P5;
    P7 = 3x3/2 conv on ReLU(P6)."""

    def __init__(self, in_channels: tuple[int, int, int], channels: int, p6_from: str) -> None:
        super().__init__()
        self.inner_blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(c, channels, 1)) for c in in_channels)
        self.layer_blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1)) for _ in in_channels)
        self.extra_blocks = nn.Module()
        self.extra_blocks.p6 = nn.Conv2d(in_channels[-1] if p6_from == "c5" else channels, channels, 3, 2, 1)
        self.extra_blocks.p7 = nn.Conv2d(channels, channels, 3, 2, 1)
        self.p6_from = p6_from
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _init_conv(m)

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        inner = self.inner_blocks[-1](features[-1])
        outputs = [self.layer_blocks[-1](inner)]
        for i in range(len(features) - 2, -1, -1):
            lateral = self.inner_blocks[i](features[i])
            inner = lateral + F.interpolate(inner, size=lateral.shape[-2:], mode="nearest")
            outputs.insert(0, self.layer_blocks[i](inner))
        p6 = self.extra_blocks.p6(features[-1] if self.p6_from == "c5" else outputs[-1])
        p7 = self.extra_blocks.p7(F.relu(p6))
        return [*outputs, p6, p7]


class Backbone(nn.Module):
    def __init__(self, config: ModelConfig, pretrained: bool = False) -> None:
        super().__init__()
        self.body, channels = build_body(config.backbone, bn_eps=config.backbone_bn_eps, pretrained=pretrained)
        self.fpn = FeaturePyramid(channels, config.fpn_channels, config.p6_from)

    def forward(self, images: Tensor) -> list[Tensor]:
        return self.fpn(self.body(images))


class _Head(nn.Module):
    """4 x (3x3 conv [+ GroupNorm] + ReLU) then one 3x3 conv with ``outputs_per_anchor * A`` channels."""

    def __init__(self, config: ModelConfig, outputs_per_anchor: int, out_name: str) -> None:
        super().__init__()
        c = config.fpn_channels
        use_norm = config.head_norm == "group_norm"
        layers = []
        for _ in range(config.head_convs):
            conv = nn.Conv2d(c, c, 3, padding=1, bias=not use_norm)
            # He init keeps the activation scale through the 4 convs; the paper's N(0, 0.01) shrinks it
            # ~4x per layer (at 128 channels), leaving near-constant logits and vanishing gradients
            # that short fine-tuning runs never recover from.
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            if conv.bias is not None:
                nn.init.constant_(conv.bias, 0)
            layers.append(nn.Sequential(conv, nn.GroupNorm(32, c), nn.ReLU()) if use_norm else nn.Sequential(conv, nn.ReLU()))
        self.conv = nn.Sequential(*layers)
        out = nn.Conv2d(c, outputs_per_anchor * config.anchors_per_location, 3, padding=1)
        nn.init.normal_(out.weight, std=0.01)
        nn.init.constant_(out.bias, 0)
        setattr(self, out_name, out)
        self._out_name = out_name
        self.outputs_per_anchor = outputs_per_anchor

    def forward(self, features: list[Tensor]) -> Tensor:
        out_conv = getattr(self, self._out_name)
        results = []
        for x in features:
            y = out_conv(self.conv(x))
            n, _, h, w = y.shape
            # (N, A*K, H, W) -> (N, H, W, A, K) -> (N, H*W*A, K)
            results.append(y.permute(0, 2, 3, 1).reshape(n, h * w * (y.shape[1] // self.outputs_per_anchor), self.outputs_per_anchor))
        return torch.cat(results, dim=1)


class Heads(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.classification_head = _Head(config, config.num_classes, "cls_logits")
        nn.init.constant_(self.classification_head.cls_logits.bias, config.prior_bias)
        self.regression_head = _Head(config, 4, "bbox_reg")


class RetinaNet(nn.Module):
    """The network alone: normalised, padded images [B, 3, H, W] -> :class:`HeadOutputs`.

    Anchors, preprocessing and post-processing live in their own modules and are composed by
    :class:`core.detector.Detector`.
    """

    def __init__(self, config: ModelConfig, *, pretrained_backbone: bool = False) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(config, pretrained=pretrained_backbone)
        self.head = Heads(config)

    def forward(self, images: Tensor) -> HeadOutputs:
        features = self.backbone(images)
        return HeadOutputs(
            self.head.classification_head(features),
            self.head.regression_head(features),
            [tuple(f.shape[-2:]) for f in features],
        )

    def reset_class_head(self, num_classes: int, keep_rows: dict[int, int] | None = None) -> None:
        """Replace the class output for ``num_classes`` classes; ``keep_rows`` maps new class index ->
        old class index whose weights are kept (fine-tuning onto a class list sharing some names)."""
        head = self.head.classification_head
        old = head.cls_logits
        a = self.config.anchors_per_location
        new = nn.Conv2d(old.in_channels, num_classes * a, 3, padding=1).to(old.weight)
        nn.init.normal_(new.weight, std=0.01)
        nn.init.constant_(new.bias, self.config.prior_bias)
        with torch.no_grad():
            for new_k, old_k in (keep_rows or {}).items():
                new.weight.view(a, num_classes, *new.weight.shape[1:])[:, new_k] = old.weight.view(a, -1, *old.weight.shape[1:])[:, old_k]
                new.bias.view(a, num_classes)[:, new_k] = old.bias.view(a, -1)[:, old_k]
        head.cls_logits = new
        head.outputs_per_anchor = num_classes
        self.config = replace(self.config, num_classes=num_classes)
