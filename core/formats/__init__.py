"""Label file formats (no Qt): COCO JSON; every writer is atomic."""

import math

# Beyond this many pixels a number is no image size or coordinate: 1e400 reads as infinity, and
# 1e308 + 1e308 overflows to it (int() of it raised OverflowError; JSON cannot hold it written back).
MAX_PIXELS = 1e8
FORMAT_NAMES = {"coco": "COCO", "voc": "VOC", "yolo": "YOLO", "csv": "RetinaNet CSV", "labelme": "labelme"}  # as messages name them
NO_CROWD_FORMATS = ("yolo", "csv", "labelme")  # formats without a form for a crowd region: left out of them


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


def visible_files(folder, pattern: str) -> list:
    """Files matching ``pattern`` under ``folder``, neither hidden nor in hidden folders (an export
    stopped by a crash leaves its staging folder ``.retina-writing-…``, macOS its ``._a.xml``
    beside each file copied; a folder scan skips them too)."""
    from pathlib import Path

    folder = Path(folder)
    return [p for p in folder.rglob(pattern) if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def path_under(path, root) -> str | None:
    """``path`` (absolute) as a POSIX path relative to the folder ``root``: as written (normalised),
    else as both really are (``root`` reached through a link); None when it lies outside. A link
    that is the image itself keeps its own name (resolving it first refused an image linked in
    from elsewhere, or named it after another file of the folder)."""
    import os
    from pathlib import Path

    full, folder = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if full.is_relative_to(folder):
        return full.relative_to(folder).as_posix()
    real, real_folder = Path(os.path.realpath(full)), Path(os.path.realpath(folder))  # (only here: it costs a call per path component)
    return real.relative_to(real_folder).as_posix() if real.is_relative_to(real_folder) else None


def label_file_names(file_names: list[str], suffix: str) -> list[str]:
    """The per-image label file of each image (YOLO ``.txt``, VOC ``.xml``): its path with the
    image suffix replaced. Two images that share one (``a.jpg`` and ``a.png``, and ``a.jpg`` and
    ``A.JPG``, one file on Windows and macOS) are an error, not a silent overwrite."""
    from pathlib import PurePosixPath

    from core.formats.coco import check_file_name

    out, seen = [], {}
    for name in file_names:
        target = PurePosixPath(check_file_name(name)).with_suffix(suffix).as_posix()
        if target.casefold() in seen:
            other = seen[target.casefold()]
            raise LabelFormatError(f"{other} and {name} would both be written to {target}"
                                   f"{'' if PurePosixPath(other).with_suffix(suffix).as_posix() == target else ' (one file where case does not count: Windows, macOS)'}"
                                   ": rename one of the images (label files are named after the image without its extension); nothing was written")
        seen[target.casefold()] = name
        out.append(target)
    return out


def written_boxes(image, fmt: str) -> list:
    """The boxes of ``image`` (a :class:`core.labels.ImageEntry`) that a VOC, YOLO or labelme file
    holds: those with some part inside the image (each clips to it: a box wholly outside became a
    one-pixel sliver at the edge, or a YOLO line of width 0), and for YOLO no crowd regions, which
    it has no form for (nor have RetinaNet CSV and labelme)."""
    sized = image.width > 0 and image.height > 0
    return [b for b in image.boxes if not (fmt in NO_CROWD_FORMATS and b.iscrowd)
            and (not sized or (b.x2 > 0 and b.y2 > 0 and b.x1 < image.width and b.y1 < image.height))]


def writes_label_file(image, fmt: str) -> bool:
    """Whether a VOC, YOLO or labelme export gives ``image`` (a :class:`core.labels.ImageEntry`) a label
    file: when it has boxes the format holds (:func:`written_boxes`), or when it is a reviewed
    negative, written as a file with no objects ("nothing here"). An image with neither gets none:
    read back, an empty file made it a negative that nobody had reviewed."""
    return bool(written_boxes(image, fmt)) or (image.reviewed and not image.boxes)
