"""Named bundles of behaviour: how anchors, box coding, matching, loss, pre- and post-processing work.

- ``retinanet``: our default: the seed's anchors, box coding and preprocessing, plus the fixes the seed
  analysis calls for (every box gets its best anchor; focal loss from logits), a per-level top-k of
  1000, at most 300 detections, boxes clipped to the image.
- ``yhenon``: exactly yhenon/pytorch-retinanet at inference (per-class NMS 0.5 at score 0.05, no
  top-k, no cap, clipping to the padded input) and training (strict matching, clamped focal loss).
- ``torchvision_v1`` / ``torchvision_v2``: exactly torchvision's ``retinanet_resnet50_fpn(_v2)``, at
  inference and in its training loss (its matching, L1 or generalised-IoU box loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.config import (
    AnchorConfig,
    AssignConfig,
    BoxCoderConfig,
    LossConfig,
    ModelConfig,
    PostprocessConfig,
    PreprocessConfig,
)


@dataclass(frozen=True, kw_only=True)
class Preset:
    name: str
    anchors: AnchorConfig
    coder: BoxCoderConfig
    assign: AssignConfig
    loss: LossConfig
    postprocess: PostprocessConfig
    preprocess: PreprocessConfig
    p6_from: str
    head_norm: str

    def model_config(self, *, backbone: str, num_classes: int, **overrides) -> ModelConfig:
        return ModelConfig(
            backbone=backbone,
            num_classes=num_classes,
            p6_from=overrides.pop("p6_from", self.p6_from),
            head_norm=overrides.pop("head_norm", self.head_norm),
            anchors_per_location=self.anchors.anchors_per_location,
            **overrides,
        )


_TORCHVISION_COMMON = dict(
    anchors=AnchorConfig(style="torchvision"),
    coder=BoxCoderConfig(std=(1.0, 1.0, 1.0, 1.0), clamp=math.log(1000.0 / 16)),
    assign=AssignConfig(low_quality_matches=True, low_quality_to="best_overlap"),
    postprocess=PostprocessConfig(topk_per_level=1000, max_detections=300, clip="image"),
    preprocess=PreprocessConfig(min_size=800, max_size=1333, size_rounding="floor", antialias=False),
)

PRESETS: dict[str, Preset] = {
    "retinanet": Preset(
        name="retinanet",
        anchors=AnchorConfig(style="seed"),
        coder=BoxCoderConfig(),
        assign=AssignConfig(low_quality_matches=True),
        loss=LossConfig(formulation="logits"),
        postprocess=PostprocessConfig(topk_per_level=1000, max_detections=300, clip="image"),
        preprocess=PreprocessConfig(),
        p6_from="c5",
        head_norm="none",
    ),
    "yhenon": Preset(
        name="yhenon",
        anchors=AnchorConfig(style="seed"),
        coder=BoxCoderConfig(),
        assign=AssignConfig(low_quality_matches=False),
        loss=LossConfig(formulation="seed"),
        postprocess=PostprocessConfig(topk_per_level=None, max_detections=None, clip="seed_padded"),
        preprocess=PreprocessConfig(),
        p6_from="c5",
        head_norm="none",
    ),
    # v1 trains with plain L1 on the deltas, v2 with the generalised IoU loss of the decoded boxes
    "torchvision_v1": Preset(name="torchvision_v1", p6_from="p5", head_norm="none", loss=LossConfig(box_beta=0.0), **_TORCHVISION_COMMON),
    "torchvision_v2": Preset(name="torchvision_v2", p6_from="c5", head_norm="group_norm", loss=LossConfig(box_loss="giou"),
                             **_TORCHVISION_COMMON),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
