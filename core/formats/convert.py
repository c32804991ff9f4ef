"""Reading and writing labels by format name, for ``retina convert`` and the GUI's export."""

from __future__ import annotations

from pathlib import Path

from core.atomic import atomic_path
from core.formats.coco import read_coco, verify_coco_file, write_coco
from core.formats.voc import read_voc, write_voc
from core.formats.yolo import read_yolo, write_yolo
from core.labels import LabelSet

FORMATS = ("coco", "voc", "yolo")


def read_labels(fmt: str, source: Path | str, images: Path | str | None = None) -> tuple[LabelSet, list[str]]:
    """Labels and the problems found besides them (YOLO: orphan label files, unlabelled or
    unreadable images). ``source`` is a JSON file for COCO, a folder for VOC and YOLO."""
    if fmt == "coco":
        return read_coco(source), []
    if fmt == "voc":
        return read_voc(source), []
    if fmt != "yolo":
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if images is None:
        raise ValueError("YOLO labels hold no image sizes: give the image folder too (--images DIR)")
    labels, report = read_yolo(source, images)
    problems = ([f"label file without image: {p}" for p in report.orphan_labels]
                + [f"image without label file: {p}" for p in report.unlabelled_images]
                + [f"unreadable image: {p}" for p in report.unreadable_images]
                + [f"label file shared with another image, given to neither: {p}" for p in report.ambiguous_images])
    return labels, problems


def write_labels(labels: LabelSet, fmt: str, target: Path | str) -> None:
    """Write atomically; a COCO file is then loaded with pycocotools and must evaluate to AP 1.0
    against itself (raises :class:`~core.formats.LabelFormatError` if not)."""
    if fmt == "coco":
        with atomic_path(target) as tmp:  # checked before it replaces anything
            write_coco(labels, tmp)
            verify_coco_file(tmp, name=f"{target} (not written)")
    elif fmt == "voc":
        write_voc(labels, target)
    elif fmt == "yolo":
        write_yolo(labels, target)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
