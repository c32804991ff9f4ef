"""Feature extractors returning C3, C4, C5 (strides 8, 16, 32) from torchvision classification models.

Module names follow torchvision's detection layout (``body.conv1``, ``body.layer1`` for ResNets;
``body.<i>`` for MobileNets' ``features``), so torchvision and ImageNet state dicts load directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torchvision
from torch import Tensor, nn


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained (offline, or not cached)."""


@dataclass(frozen=True)
class BackboneSpec:
    builder: str
    weights_enum: str
    taps: tuple[int, ...] | None  # feature indices for MobileNets; None for ResNets
    channels: tuple[int, int, int]


BACKBONES: dict[str, BackboneSpec] = {
    "resnet18": BackboneSpec("resnet18", "ResNet18_Weights", None, (128, 256, 512)),
    "resnet34": BackboneSpec("resnet34", "ResNet34_Weights", None, (128, 256, 512)),
    "resnet50": BackboneSpec("resnet50", "ResNet50_Weights", None, (512, 1024, 2048)),
    "resnet101": BackboneSpec("resnet101", "ResNet101_Weights", None, (512, 1024, 2048)),
    "mobilenet_v2": BackboneSpec("mobilenet_v2", "MobileNet_V2_Weights", (6, 13, 18), (32, 96, 1280)),
    "mobilenet_v3_large": BackboneSpec("mobilenet_v3_large", "MobileNet_V3_Large_Weights", (6, 12, 16), (40, 112, 960)),
}


class ResNetBody(nn.Module):
    """conv1 .. layer4 of a torchvision ResNet; forward returns [C3, C4, C5]."""

    def __init__(self, resnet: torchvision.models.ResNet) -> None:
        super().__init__()
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(resnet, name))

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c3, c4, self.layer4(c4)]


class TappedSequential(nn.Sequential):
    """A MobileNet ``features`` Sequential that returns the outputs of the blocks in ``taps``."""

    def __init__(self, features: nn.Sequential, taps: tuple[int, ...]) -> None:
        super().__init__(*features[: taps[-1] + 1])
        self.taps = taps

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for i, block in enumerate(self):
            x = block(x)
            if i in self.taps:
                outputs.append(x)
        return outputs


def hub_checkpoints() -> str:
    """Where torchvision's weights API keeps and looks for weights files ($TORCH_HOME, else
    $XDG_CACHE_HOME/torch, else ~/.cache/torch; then hub/checkpoints)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def imagenet_files(name: str) -> tuple[list[str], str]:
    """The file names of every version of ``name``'s ImageNet weights, and the folder torchvision
    looks for them in (any one of them there is used)."""
    enum = getattr(torchvision.models, BACKBONES[name].weights_enum)
    return [os.path.basename(w.url) for w in enum], hub_checkpoints()


def pretrained_cached(name: str) -> bool:
    """Whether some version of the ImageNet weights of ``name`` is in torch hub's cache."""
    files, cache = imagenet_files(name)
    return any(os.path.isfile(os.path.join(cache, file)) for file in files)


def pretrained_state_dict(name: str) -> dict[str, Tensor]:
    """ImageNet weights through torchvision's weights API: any version already in torch hub's cache
    (so offline machines use what they have), else the default version, downloaded."""
    spec = BACKBONES[name]
    enum = getattr(torchvision.models, spec.weights_enum)
    cache = hub_checkpoints()
    cached = [w for w in enum if os.path.isfile(os.path.join(cache, os.path.basename(w.url)))]
    weights = cached[0] if cached else enum.DEFAULT
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # URLError, socket errors, hash mismatch: all mean "not available"
        raise WeightsUnavailableError(
            f"could not get ImageNet weights for {name} ({weights.url}): {exc}. "
            f"Offline, copy one of {', '.join(os.path.basename(w.url) for w in enum)} into {cache}/ (any version is used) "
            "or start without a pretrained backbone."
        ) from None


def build_body(name: str, *, bn_eps: float | None = None, pretrained: bool = False) -> tuple[nn.Module, tuple[int, int, int]]:
    """The feature extractor for ``name`` and its C3, C4, C5 channel counts.

    ``bn_eps`` overrides the BatchNorm epsilon (torchvision's published v1 COCO weights need 0.0).
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    spec = BACKBONES[name]
    builder = getattr(torchvision.models, spec.builder)
    model = builder(weights=None)
    if pretrained:
        model.load_state_dict(pretrained_state_dict(name))
    if bn_eps is not None:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eps = bn_eps
    if spec.taps is None:
        return ResNetBody(model), spec.channels
    return TappedSequential(model.features, spec.taps), spec.channels


def backbone_stages(body: nn.Module) -> list[nn.Module]:
    """The body's stages from the input on (stem, then one per stride), for freezing."""
    if isinstance(body, ResNetBody):
        return [nn.ModuleList([body.conv1, body.bn1]), body.layer1, body.layer2, body.layer3, body.layer4]
    blocks = list(body)
    t3, t4 = body.taps[0], body.taps[1]
    return [nn.ModuleList(blocks[:2]), nn.ModuleList(blocks[2:4]), nn.ModuleList(blocks[4 : t3 + 1]),
            nn.ModuleList(blocks[t3 + 1 : t4 + 1]), nn.ModuleList(blocks[t4 + 1 :])]
