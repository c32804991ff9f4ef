"""Label file formats (no Qt): COCO JSON; every writer is atomic."""

import math

# Beyond this many pixels a number is no image size or coordinate: 1e400 reads as infinity, and
# 1e308 + 1e308 overflows to it (int() of it raised OverflowError; JSON cannot hold it written back).
MAX_PIXELS = 1e8


class LabelFormatError(ValueError):
    """A label file that cannot be read; the message names the file and what is wrong."""


def pixel_values_ok(*values: float) -> bool:
    """Whether these numbers (a box's corners, an image size) are finite and within MAX_PIXELS."""
    return all(math.isfinite(v) and abs(v) <= MAX_PIXELS for v in values)


def side_in_pixels(value, what: str) -> int:
    """An image width or height as a label file gives it: a whole number of pixels, 0 (unknown) or more."""
    number = float(value)
    if not pixel_values_ok(number) or number < 0:
        raise ValueError(f"{what} {value!r} is no image size (0 to {MAX_PIXELS:.0e} pixels)")
    return int(number)


def label_file_names(file_names: list[str], suffix: str) -> list[str]:
    """The per-image label file of each image (YOLO ``.txt``, VOC ``.xml``): its path with the
    image suffix replaced. Two images that share one (``a.jpg`` and ``a.png``) are an error, not a
    silent overwrite."""
    from pathlib import PurePosixPath

    from core.formats.coco import check_file_name

    out, seen = [], {}
    for name in file_names:
        target = PurePosixPath(check_file_name(name)).with_suffix(suffix).as_posix()
        if target in seen:
            raise LabelFormatError(f"{seen[target]} and {name} would both be written to {target}: rename one of the images "
                                   f"(label files are named after the image without its extension); nothing was written")
        seen[target] = name
        out.append(target)
    return out


def writes_label_file(image, fmt: str) -> bool:
    """Whether a VOC or YOLO export gives ``image`` (a :class:`core.labels.ImageEntry`) a label
    file: when it has boxes the format holds (YOLO has no crowd regions), or when it is a reviewed
    negative, written as a file with no objects ("nothing here"). An image with neither gets none:
    read back, an empty file made it a negative that nobody had reviewed."""
    return any(fmt == "voc" or not b.iscrowd for b in image.boxes) or (image.reviewed and not image.boxes)
