"""Anchor boxes for every pyramid level, generated once per input/feature shape and device."""

from __future__ import annotations

import torch
from torch import Tensor

from core.config import AnchorConfig


def base_anchors(config: AnchorConfig, level: int) -> Tensor:
    """The ``R*S`` anchors of one level centred at the origin, xyxy, float32 [R*S, 4].

    Order is ratio-major / scale-minor (index ``r * S + s``), ratio = height / width.
    """
    size = config.sizes[level]
    if config.style == "seed":
        # float64 throughout, cast at the end, as the seed's numpy code does.
        ratios = torch.tensor(config.ratios, dtype=torch.float64).repeat_interleave(len(config.scales))
        sides = size * torch.tensor(config.scales, dtype=torch.float64).repeat(len(config.ratios))
        widths = torch.sqrt(sides * sides / ratios)
        heights = widths * ratios
        half = torch.stack([widths, heights, widths, heights], dim=1) * 0.5
        return (half * torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=torch.float64)).to(torch.float32)
    # torchvision: integer-truncated sizes, float32 arithmetic, rounded corners.
    scales = torch.tensor([float(int(size * s)) for s in config.scales], dtype=torch.float32)
    h_ratios = torch.sqrt(torch.tensor(config.ratios, dtype=torch.float32))
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()


class AnchorGenerator:
    """Anchors for a padded input size and its feature-map sizes, cached per (shapes, device).

    Anchor order is level -> y -> x -> ratio -> scale, matching the heads' output layout.
    """

    def __init__(self, config: AnchorConfig | None = None) -> None:
        self.config = config or AnchorConfig()
        self._base = [base_anchors(self.config, i) for i in range(self.config.num_levels)]
        self._cache: dict[tuple, Tensor] = {}

    def __call__(
        self,
        image_size: tuple[int, int],
        feature_sizes: list[tuple[int, int]],
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """Returns [sum(H_l * W_l * A), 4] float32 anchors in padded-input pixels."""
        key = (tuple(image_size), tuple(map(tuple, feature_sizes)), str(device))
        anchors = self._cache.get(key)
        if anchors is None:
            anchors = torch.cat(
                [self._level(i, image_size, size) for i, size in enumerate(feature_sizes)]
            ).to(device)
            self._cache[key] = anchors
        return anchors

    def num_anchors_per_level(self, feature_sizes: list[tuple[int, int]]) -> list[int]:
        a = self.config.anchors_per_location
        return [h * w * a for h, w in feature_sizes]

    def _level(self, level: int, image_size: tuple[int, int], grid: tuple[int, int]) -> Tensor:
        gh, gw = grid
        if self.config.style == "seed":
            stride = self.config.strides[level]
            shift_x = (torch.arange(gw, dtype=torch.float64) + 0.5) * stride
            shift_y = (torch.arange(gh, dtype=torch.float64) + 0.5) * stride
            base = self._base[level].to(torch.float64)
        else:
            stride_y, stride_x = image_size[0] // gh, image_size[1] // gw
            shift_x = torch.arange(gw, dtype=torch.int32) * stride_x
            shift_y = torch.arange(gh, dtype=torch.int32) * stride_y
            base = self._base[level]
        yy, xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
        xx, yy = xx.reshape(-1), yy.reshape(-1)
        shifts = torch.stack([xx, yy, xx, yy], dim=1)
        if self.config.style == "seed":
            # The seed builds anchors in float64 and casts once; cast shifts to match.
            return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4).to(torch.float32)
        return (shifts[:, None, :].to(torch.float32) + base[None, :, :]).reshape(-1, 4)
