"""The resize / normalise / pad step between decoded RGB images and the network."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.config import PreprocessConfig


@dataclass(frozen=True)
class NetworkInput:
    """images [B, 3, H, W] normalised and zero-padded; sizes: (h, w) of each resized, unpadded image;
    scales: (sx, sy) that map resized pixels back to original pixels."""

    images: Tensor
    sizes: list[tuple[int, int]]
    scales: list[tuple[float, float]]


def resized_size(height: int, width: int, config: PreprocessConfig) -> tuple[int, int]:
    """Size after resizing. Floored, the scale is computed in float32, as torchvision does; rounded,
    in Python floats and in the seed's order (float32 put 380 sizes of 100..2000 px a pixel off it:
    192x201 gave 637, not 636, as 636.5 became 636.50001)."""
    short, long = min(height, width), max(height, width)
    if config.size_rounding == "floor":
        scale = float(min(np.float32(config.min_size) / np.float32(short), np.float32(config.max_size) / np.float32(long)))
        return max(1, math.floor(height * scale)), max(1, math.floor(width * scale))
    scale = config.min_size / short
    if long * scale > config.max_size:
        scale = config.max_size / long
    return max(1, round(height * scale)), max(1, round(width * scale))


def preprocess(images: list[np.ndarray], config: PreprocessConfig, device: torch.device | str = "cpu") -> NetworkInput:
    """RGB uint8 arrays -> a normalised, resized, zero-padded batch (padded to ``size_divisible``)."""
    mean = torch.tensor(config.mean, device=device).view(3, 1, 1)
    std = torch.tensor(config.std, device=device).view(3, 1, 1)
    tensors, sizes, scales = [], [], []
    for array in images:
        h, w = array.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(array)).to(device).permute(2, 0, 1).float().div_(255)
        x = (x - mean) / std
        nh, nw = resized_size(h, w, config)
        if (nh, nw) != (h, w):
            x = F.interpolate(x[None], size=(nh, nw), mode="bilinear", align_corners=False, antialias=config.antialias)[0]
        tensors.append(x)
        sizes.append((nh, nw))
        scales.append((float(np.float32(w) / np.float32(nw)), float(np.float32(h) / np.float32(nh))))
    d = config.size_divisible
    ph = int(math.ceil(max(s[0] for s in sizes) / d) * d)
    pw = int(math.ceil(max(s[1] for s in sizes) / d) * d)
    batch = tensors[0].new_zeros((len(tensors), 3, ph, pw))
    for i, x in enumerate(tensors):
        batch[i, :, : x.shape[1], : x.shape[2]] = x
    return NetworkInput(batch, sizes, scales)
