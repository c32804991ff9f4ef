"""Decoding any image file to EXIF-oriented RGB, and the resize/normalise/pad step before the network."""

from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from core.config import PreprocessConfig

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".jfif", ".ppm", ".pgm"})


class ImageReadError(ValueError):
    """A file that is not a readable image; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: cannot read image ({reason})")
        self.path = Path(path)
        self.reason = reason


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float greyscale: PIL's convert("RGB") clips at 255 instead of scaling.
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr * (255.0 / peak), 0, 255).round().astype(np.uint8)
        img = Image.fromarray(arr, "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels are shown over white, the way viewers show them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def _check_png_chunks(path: Path | str) -> None:
    """PIL skips the CRC of image-data chunks, so a corrupted PNG would decode to wrong pixels."""
    data = Path(path).read_bytes()
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 8 + length
        if end + 4 > len(data):
            raise ValueError("chunk runs past the end of the file")
        if zlib.crc32(data[pos + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):
            raise ValueError(f"bad checksum in {data[pos + 4 : pos + 8].decode('latin-1')} chunk")
        if data[pos + 4 : pos + 8] == b"IEND":
            return
        pos = end + 4


def load_image(path: Path | str) -> np.ndarray:
    """Decode ``path`` to an EXIF-transposed RGB uint8 array [H, W, 3] (the pixels the user sees).

    Raises :class:`ImageReadError` for missing, corrupt, truncated or unsupported files.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                if img.format == "PNG":
                    _check_png_chunks(path)
                img = ImageOps.exif_transpose(img)
                return np.array(_to_rgb(img))  # a writable copy: torch refuses read-only buffers
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image format PIL can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(path, f"too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(path, f"corrupt or truncated: {exc}") from None


def image_size(path: Path | str) -> tuple[int, int]:
    """(width, height) as displayed, i.e. after EXIF orientation, reading only the header."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, str(exc)) from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def list_images(paths: list[Path | str]) -> list[Path]:
    """Files as given, folders expanded (recursively) to their image files in sorted order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()))
        else:
            out.append(p)
    return out


@dataclass(frozen=True)
class NetworkInput:
    """images [B, 3, H, W] normalised and zero-padded; sizes: (h, w) of each resized, unpadded image;
    scales: (sx, sy) that map resized pixels back to original pixels."""

    images: Tensor
    sizes: list[tuple[int, int]]
    scales: list[tuple[float, float]]


def resized_size(height: int, width: int, config: PreprocessConfig) -> tuple[int, int]:
    """Size after resizing; the scale is computed in float32, as torchvision does."""
    short, long = np.float32(min(height, width)), np.float32(max(height, width))
    scale = float(min(np.float32(config.min_size) / short, np.float32(config.max_size) / long))
    rounding = math.floor if config.size_rounding == "floor" else round
    return max(1, int(rounding(height * scale))), max(1, int(rounding(width * scale)))


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
