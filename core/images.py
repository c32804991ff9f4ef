"""Decoding any image file to EXIF-oriented RGB: the pixels the canvas shows, training reads and
export measures. numpy and PIL only (no torch), so the GUI can decode without loading torch."""

from __future__ import annotations

import contextlib
import math
import os
import stat
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

_ORIENTATION = 0x0112  # EXIF tag
_TURNED = (5, 6, 7, 8)  # orientations that swap width and height
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1: as stored), from the header alone: a PNG's eXIf chunk (or XMP
    orientation) counts only before the pixel data, as browsers read it, because PNG's getexif()
    decodes the whole image to look for a later one (0.24 s for 16 MP, to learn an image's size).
    The base class's getexif() reads what the header gave. Decoding and sizing agree."""
    exif = Image.Image.getexif(img) if img.format == "PNG" else img.getexif()
    return exif.get(_ORIENTATION, 1)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".jfif", ".ppm", ".pgm"})


class ImageReadError(ValueError):
    """A file that is not a readable image; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: cannot read image ({reason})")
        self.path = Path(path)
        self.reason = reason


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float greyscale: PIL's convert("RGB") clips at 255 instead of scaling. Floats in
        # [0, 1] (a common convention) are scaled from 1 (taken as 0..255 they decoded black)
        arr = np.asarray(img)
        top = float(arr.max(initial=0))
        peak = 65535.0 if img.mode.startswith("I;16") or top > 255 else 1.0 if img.mode == "F" and top <= 1.0 else 255.0
        grey = np.empty(arr.shape, np.uint8)
        for row in range(0, arr.shape[0], 256):  # in bands: float64 copies of a whole 168 MP scan took 4.3 GB
            grey[row : row + 256] = np.clip(arr[row : row + 256] * (255.0 / peak), 0, 255).round()
        img = Image.fromarray(grey, "L")
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
    return _decode(path, None).pixels


@dataclass(frozen=True)
class DecodedImage:
    """pixels: EXIF-transposed RGB [h, w, 3], possibly reduced; width, height: the full oriented
    size, the coordinate frame of boxes."""

    pixels: np.ndarray
    width: int
    height: int


def load_preview(path: Path | str, max_side: int) -> DecodedImage:
    """Like :func:`load_image`, reduced to at most ``max_side`` pixels on the long side (and, for
    JPEGs, more than ``max_side / 2``). JPEGs are decoded at 1/2, 1/4 or 1/8 scale in the DCT
    (PIL's ``draft``), so an 8000 px photo decodes in a fraction of the full time and memory."""
    return _decode(path, max_side)


@contextlib.contextmanager
def _opened(path: Path | str) -> Iterator[Image.Image]:
    """PIL's image of ``path``, its failures raised as :class:`ImageReadError`."""
    try:
        info = os.stat(path)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):  # a pipe named x.jpg: reading it waited forever (a folder is said below)
            raise ImageReadError(path, "not a regular file (a pipe or a device)")
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:  # ("not an image format PIL can read")
            raise ImageReadError(path, "an empty file (0 bytes)")
        with warnings.catch_warnings():
            # Photos of 90-180 MP (medium-format cameras, stitched scans) are real data, not bombs:
            # PIL warns above MAX_IMAGE_PIXELS and only refuses above twice that (the error below).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                yield img
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder") from None
    except UnidentifiedImageError:
        if Path(path).suffix.lower() in IMAGE_SUFFIXES:  # (a damaged PNG was told PNG can be read)
            raise ImageReadError(path, f"not a {Path(path).suffix[1:].upper()} image: damaged, or another kind of file under that name") from None
        raise ImageReadError(path, "not an image, or of a format that cannot be read (JPEG, PNG, TIFF, BMP, WebP, GIF, PPM can)") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(path, f"corrupt or truncated: {exc}") from None
    except MemoryError:  # the computer's state, not the file's: not marked unreadable for good
        raise
    except Exception as exc:  # PIL raises others on crafted files (a TIFF's TypeError): one ended the image loader's thread
        raise ImageReadError(path, f"corrupt: {type(exc).__name__}: {exc}") from None


def _decode(path: Path | str, max_side: int | None) -> DecodedImage:
    with _opened(path) as img:
        stored_w, stored_h = img.size
        orientation = _orientation(img)  # before load(): what the header says, as image_size() reads it
        if max_side and img.format == "JPEG" and max(img.size) > max_side:
            # the largest DCT reduction (1/2, 1/4, 1/8) that keeps the long side above
            # max_side / 2: a reduced decode is cheap, a full decode and resize is not
            scale = max_side / 2 / max(img.size)
            img.draft(img.mode, (math.ceil(stored_w * scale), math.ceil(stored_h * scale)))
        img.load()
        if img.format == "PNG":
            _check_png_chunks(path)
        rgb = _to_rgb(img.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else img)
    width, height = (stored_h, stored_w) if orientation in _TURNED else (stored_w, stored_h)
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return DecodedImage(np.array(rgb), width, height)  # a writable copy: torch refuses read-only buffers


def image_size(path: Path | str) -> tuple[int, int]:
    """(width, height) as displayed, i.e. after EXIF orientation, reading only the header."""
    return image_header(path)[:2]


def image_header(path: Path | str) -> tuple[int, int, int]:
    """(width, height) as displayed, and the EXIF orientation (1: as stored), reading only the header."""
    with _opened(path) as img:
        w, h = img.size
        orientation = _orientation(img)
    return (h, w, orientation) if orientation in _TURNED else (w, h, orientation)


def stored_to_shown(x1: float, y1: float, x2: float, y2: float, width: int, height: int, orientation: int) -> tuple[float, float, float, float]:
    """A box on an image's stored pixels (``width`` x ``height``, as a tool that ignores EXIF shows
    them) -> the same box on the image as displayed after EXIF ``orientation``."""
    points = [(x1, y1), (x2, y2)]
    turn = {2: lambda x, y: (width - x, y), 3: lambda x, y: (width - x, height - y), 4: lambda x, y: (x, height - y),
            5: lambda x, y: (y, x), 6: lambda x, y: (height - y, x), 7: lambda x, y: (height - y, width - x),
            8: lambda x, y: (y, width - x)}.get(orientation, lambda x, y: (x, y))
    (ax, ay), (bx, by) = (turn(x, y) for x, y in points)
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


LINK_BACK = "(a link back to a folder above it)"


def list_images(paths: list[Path | str], skipped: list[str] | None = None) -> list[Path]:
    """Files as given, folders expanded (recursively, as the window lists them: see
    :func:`walk_images`) to their image files in sorted order (rglob skipped linked subfolders
    without a word); the files a folder's listing leaves out go into ``skipped``, with the folder."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            left_out: list[str] = []
            out.extend(sorted(p / name for name in walk_images(p, skipped=left_out)))
            if skipped is not None:  # (a link back up loses no image: its folder is listed where it is)
                skipped.extend(f"{p}/{line}" for line in left_out if not line.endswith(LINK_BACK))
        else:
            out.append(p)
    return out


def walk_images(folder: Path, *, recursive: bool = True, skipped: list[str] | None = None) -> Iterator[str]:
    """The image files under ``folder`` as POSIX paths relative to it, sorted, each folder's files
    before its subfolders. Names starting with "." are left out; linked subfolders are followed,
    except a link back up to a folder it is in (it would list the same images forever). What is left
    out besides goes into ``skipped`` with the reason: a subfolder that cannot be read, such a link,
    a file name that is not valid UTF-8 (named, not shown mangled)."""
    return _walk(folder, "", frozenset(), recursive, skipped if skipped is not None else [])


def would_list(name: str, *, recursive: bool) -> bool:
    """Whether :func:`walk_images` lists the image at ``name`` (a POSIX path relative to the folder)."""
    parts = PurePosixPath(name).parts
    return not any(part.startswith(".") for part in parts) and (recursive or len(parts) == 1)


def _walk(folder: Path, prefix: str, above: frozenset[tuple[int, int]], recursive: bool, skipped: list[str]) -> Iterator[str]:
    info = folder.stat()
    here = (info.st_dev, info.st_ino)
    if here in above:
        skipped.append(f"{prefix or './'} {LINK_BACK}")
        return
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(entry.name).decode("utf-8", "replace")
            skipped.append(f"{prefix}{shown} (its name is not valid UTF-8: rename it)")
            continue
        try:
            is_dir = entry.is_dir()
        except OSError as exc:  # a link to itself (ELOOP): it ended the listing there, every later file and folder lost
            skipped.append(f"{prefix}{entry.name} ({exc.strerror or exc})")
            continue
        if is_dir:
            subfolders.append(entry)
        elif os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
            yield prefix + entry.name
    if recursive:
        for entry in subfolders:
            try:
                yield from _walk(Path(entry.path), f"{prefix}{entry.name}/", above | {here}, recursive, skipped)
            except OSError as exc:
                skipped.append(f"{prefix}{entry.name}/ ({exc.strerror or exc})")
