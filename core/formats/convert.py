"""Reading and writing labels by format name, for ``retina convert`` and the GUI's export."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from core.atomic import atomic_path
from core.cancel import CancelToken
from core.formats import FORMAT_NAMES, NO_CROWD_FORMATS, LabelFormatError, label_file_names, visible_files, writes_label_file, written_boxes
from core.formats.coco import read_coco, verify_coco_file_apart, write_coco
from core.formats.labelme import holds_boxes, keeps_crowd, parsed_labelme, read_labelme, remove_boxes, write_labelme
from core.formats.retinanet_csv import NO_CLASS_LIST_NOTE, read_retinanet_csv, write_retinanet_csv
from core.formats.voc import read_voc, write_voc
from core.formats.yolo import holds_yolo_lines, numbered_as_there, read_yolo, write_yolo
from core.labels import LabelSet, same_named_categories
from core.text import count, first_names

FORMATS = ("coco", "voc", "yolo", "csv", "labelme")  # read and written (labelme's files are X-AnyLabeling's too)
FOLDER_FORMATS = ("voc", "yolo", "labelme")  # written as a folder of label files, one an image
LABEL_SUFFIX = {"voc": ".xml", "yolo": ".txt", "labelme": ".json"}  # of the label files of FOLDER_FORMATS


def read_labels(fmt: str, source: Path | str, images: Path | str | None = None,
                cancel: CancelToken | None = None, *, keep_outside: bool = False) -> tuple[LabelSet, list[str]]:
    """Labels and the problems found besides them (YOLO: orphan label files, unlabelled or
    unreadable images; RetinaNet CSV: no class list). ``source`` is a JSON file for COCO, a CSV
    file for RetinaNet CSV (its relative paths from its folder, made relative to ``images``,
    default that folder; no image sizes; one outside ``images`` an error, or with ``keep_outside``
    kept as an absolute path, to be matched by file name), a folder for VOC, YOLO and labelme. Raises
    :class:`core.cancel.Cancelled` when ``cancel`` is set (checked per image where images are read)."""
    if fmt == "coco":
        return read_coco(source), []
    if fmt == "voc":
        others: list[str] = []
        labels = read_voc(source, others)
        if not others:
            return labels, []
        what = "is not a VOC annotation" if len(others) == 1 else "are not VOC annotations"
        return labels, [f"{count(len(others), 'XML file')} that {what} passed over ({first_names(others, 3)})"]
    if fmt == "csv":
        return read_retinanet_csv(source, images, keep_outside=keep_outside)
    if fmt == "labelme":
        return read_labelme(source, cancel, images)
    if fmt != "yolo":
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if images is None:
        raise ValueError("YOLO labels hold no image sizes: give the image folder too (--images DIR)")
    labels, report = read_yolo(source, images, cancel)
    problems = ([f"label file without image: {p}" for p in report.orphan_labels]
                + ([unlabelled_note(report.unlabelled_images)] if report.unlabelled_images else [])
                + [f"unreadable image: {p}" for p in report.unreadable_images]
                + [f"label file shared with another image, given to neither: {p}" for p in report.ambiguous_images])
    return labels, problems


UNLABELLED_NOTE = "left out, no label file: "  # starts the note on a YOLO folder's unlabelled images (no problem: a note)
EMPTY_CLASSES_NOTE = "not written, classes without a box: "  # (a note: nothing labelled was left out)
CLASS_NUMBERS_NOTE = "classes numbered as "  # a YOLO export into a folder a data.yaml names the classes of
NOTES = (UNLABELLED_NOTE, NO_CLASS_LIST_NOTE, EMPTY_CLASSES_NOTE, CLASS_NUMBERS_NOTE)  # what read_labels' lines that are notes start with: nothing was left out


def unlabelled_note(names: list[str]) -> str:
    """One line for the images of a YOLO folder without a label file (a line each flooded the
    terminal: 223 of them for a folder labelled in part)."""
    return (f"{UNLABELLED_NOTE}{count(len(names), 'image')} ({first_names(names, 3)}); an image with no object in it "
            "needs an empty label file to be a negative")


def written_counts(labels: LabelSet, fmt: str) -> tuple[int, int]:
    """The images and boxes writing ``labels`` as ``fmt`` puts in files: VOC, YOLO and labelme give
    no label file (CSV: no line) to an image with neither boxes nor a reviewed mark, and hold no box
    wholly outside its image; YOLO, CSV and labelme leave crowd regions out."""
    if fmt == "coco":
        return len(labels.images), sum(len(im.boxes) for im in labels.images)
    images = [im for im in labels.images if writes_label_file(im, fmt)]
    return len(images), sum(len(written_boxes(im, fmt)) for im in images)


def with_image_sizes(labels: LabelSet, images: Path | str | None, *, strict: bool = True) -> LabelSet:
    """Images whose size the labels lack get it from the image file's header in ``images``; with
    no folder to read, a missing size is an error (COCO and VOC would carry a width of 0).
    ``strict=False``: an image that cannot be read keeps its missing size (an import into the
    window, which reports unreadable images itself)."""
    from core.images import ImageReadError, image_size

    unsized = [im for im in labels.images if im.width <= 0 or im.height <= 0]
    if not unsized:
        return labels
    if images is None:
        more = f" (and {len(unsized) - 1} more)" if len(unsized) > 1 else ""
        raise LabelFormatError(f"{unsized[0].file_name}{more} has no image size in the labels: "
                               "give the image folder (--images DIR) to read it from the images; nothing was written")
    out = []
    for im in labels.images:  # (in place, not by name: an import's renames can give two entries one name)
        if im.width > 0 and im.height > 0:
            out.append(im)
            continue
        try:
            w, h = image_size(Path(images) / im.file_name)
        except ImageReadError as exc:
            if not strict:
                out.append(im)
                continue
            raise LabelFormatError(f"{im.file_name} has no image size in the labels, and {exc} (the image folder is given by "
                                   "--images DIR); nothing was written") from None
        out.append(replace(im, width=w, height=h))
    return LabelSet(labels.categories, out, labels.extra)


@dataclass(frozen=True)
class ImageFit:
    """What :func:`fit_to_images` did (a line each for the boxes turned and scaled), and the images
    whose labels are for a size that no turn or scale explains, left as they were, with a line
    naming them (the caller says what it does with them)."""

    fixed: list[str]
    unfitted: list[str]
    unfitted_line: str = ""


def fit_to_images(labels: LabelSet, images: Path | str, cancel: CancelToken | None = None) -> tuple[LabelSet, ImageFit]:
    """Labels whose image sizes say they were made on other pixels than the images in ``images``
    show, brought onto them: labels of an EXIF-turned photo made on its stored pixels (a tool that
    ignores EXIF: 1200x1800 for a photo shown 1800x1200) are turned as the photo is shown; labels
    of a resized copy (a "resize to 640" export: 640x429 for 1024x686, each side within a pixel of
    one scale) are scaled to the image. Polygons move with their boxes; a crowd region's RLE mask,
    which cannot, is dropped (its box stays), and so is an ``area`` of the old pixels. Labels of
    another shape (a crop, a pad or a stretch, which cannot be told apart) are left as they were,
    and named. Images that cannot be read are not checked. Raises :class:`core.cancel.Cancelled`."""
    from core.images import ImageReadError, image_header, stored_to_shown

    out, turned, scaled, unfitted, sizes = [], [], [], [], {}
    for im in labels.images:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            width, height, orientation = image_header(Path(images) / im.file_name) if im.width > 0 and im.height > 0 else (0, 0, 1)
        except ImageReadError:
            width = height = 0
        if not width or (im.width, im.height) == (width, height):
            out.append(im)
            continue
        if (im.width, im.height) == (height, width) and orientation in (5, 6, 7, 8):
            def move(x, y, im=im, orientation=orientation):
                return stored_to_shown(x, y, x, y, im.width, im.height, orientation)[:2]
            turned.append(im.file_name)
        elif _one_scale((im.width, im.height), (width, height)):
            def move(x, y, sx=width / im.width, sy=height / im.height):
                return round(x * sx, 6), round(y * sy, 6)
            scaled.append(im.file_name)
            sizes.setdefault("scaled", (im.width, im.height, width, height))
        else:
            out.append(im)
            unfitted.append(im.file_name)
            sizes.setdefault("unfitted", (im.width, im.height, width, height))
            continue
        out.append(replace(im, width=width, height=height, boxes=[_moved(b, move) for b in im.boxes]))
    fixed = []
    if turned:
        fixed.append(f"{count(len(turned), 'image')} labelled on the stored pixels of an EXIF-turned photo (the first: {turned[0]}): "
                     f"{'its' if len(turned) == 1 else 'their'} boxes turned as the photo is shown")
    if scaled:
        w, h, to_w, to_h = sizes["scaled"]
        fixed.append(f"{count(len(scaled), 'image')} labelled at another size (the first: {scaled[0]}, {w}×{h} for {to_w}×{to_h}): "
                     f"{'its' if len(scaled) == 1 else 'their'} boxes scaled to the image")
    line = ""
    if unfitted:
        w, h, to_w, to_h = sizes["unfitted"]
        line = (f"{count(len(unfitted), 'image')} labelled at a size of another shape than the image's "
                f"(the first: {unfitted[0]}, {w}×{h} for {to_w}×{to_h}: a crop, a pad or a stretch, which cannot be told apart)")
    return LabelSet(labels.categories, out, labels.extra), ImageFit(fixed, unfitted, line)


def _one_scale(size: tuple[int, int], to: tuple[int, int]) -> bool:
    """Whether ``size`` is ``to`` resized by one scale, each side rounded to a whole pixel."""
    (w, h), (to_w, to_h) = size, to
    return abs(to_w * h / to_h - w) <= 1 or abs(to_h * w / to_w - h) <= 1


def _moved(box, move):
    """``box`` with its corners and polygon points put through ``move`` (x, y) -> (x, y)."""
    (ax, ay), (bx, by) = move(box.x1, box.y1), move(box.x2, box.y2)
    polygons = isinstance(box.segmentation, list) and all(isinstance(p, list) for p in box.segmentation)
    segmentation = ([[v for x, y in zip(p[::2], p[1::2]) for v in move(x, y)] for p in box.segmentation] if polygons else None)
    extra = {k: v for k, v in (box.extra or {}).items() if k != "area"}  # of the old pixels
    return replace(box, x1=min(ax, bx), y1=min(ay, by), x2=max(ax, bx), y2=max(ay, by), segmentation=segmentation, extra=extra or None)


def box_problems(labels: LabelSet, tolerance: float = 1.0) -> list[str]:
    """Problem lines for boxes that reach more than ``tolerance`` pixels outside their image, and
    for boxes without width or height (a COCO export refuses those; VOC and YOLO would take them;
    evaluation and training say so too)."""
    return [line for line in (boxes_outside(labels, tolerance), flat_boxes(labels)) if line]


def boxes_outside(labels: LabelSet, tolerance: float = 1.0) -> str:
    """A line naming the boxes that reach more than ``tolerance`` pixels outside their image ("" when none)."""
    outside = [im.file_name for im in labels.images for b in im.boxes
               if im.width > 0 and (b.x1 < -tolerance or b.y1 < -tolerance or b.x2 > im.width + tolerance or b.y2 > im.height + tolerance)]
    if not outside:
        return ""
    reach = "1 box reaches outside its image" if len(outside) == 1 else f"{len(outside)} boxes reach outside their images"
    return f"{reach} (the first in {outside[0]})"


def clipped_to_images(labels: LabelSet, tolerance: float = 1.0) -> tuple[LabelSet, list[str]]:
    """The labels as an import adds them to a folder's images, as a paste does: boxes clipped to
    their image, and those with nothing inside it (wholly outside, or without width or height) left
    out, with a line for each kind that goes beyond ``tolerance`` pixels (imported as they were, a box
    wholly outside could be neither seen nor deleted, and a flat one failed the next COCO export's
    check). Images of unknown size keep their boxes as they are."""
    from core.annotations import resized_box

    images, clipped, dropped = [], [], []
    for im in labels.images:
        if im.width <= 0 or im.height <= 0:
            images.append(im)
            continue
        boxes = []
        for b in im.boxes:
            x1, y1 = min(max(b.x1, 0.0), im.width), min(max(b.y1, 0.0), im.height)
            x2, y2 = min(max(b.x2, 0.0), im.width), min(max(b.y2, 0.0), im.height)
            if x2 <= x1 or y2 <= y1:
                dropped.append(im.file_name)
                continue
            if max(x1 - b.x1, y1 - b.y1, b.x2 - x2, b.y2 - y2) > tolerance:
                clipped.append(im.file_name)
            boxes.append(resized_box(b, x1, y1, x2, y2))
        images.append(replace(im, boxes=boxes))
    lines = ([f"{count(len(clipped), 'box')} reaching outside {'its image clipped to it' if len(clipped) == 1 else 'their images clipped to them'} "
              f"(the first in {clipped[0]})"] if clipped else [])
    lines += ([f"{count(len(dropped), 'box')} wholly outside {'its image' if len(dropped) == 1 else 'their images'}, or without width or "
               f"height, left out (the first in {dropped[0]})"] if dropped else [])
    return LabelSet(labels.categories, images, labels.extra), lines


def flat_boxes(labels: LabelSet) -> str:
    """A line naming the boxes without width or height ("" when none)."""
    flat = [im.file_name for im in labels.images for b in im.boxes if b.width <= 0 or b.height <= 0]
    return f"{count(len(flat), 'box')} without width or height (the first in {flat[0]})" if flat else ""


def export_notes(labels: LabelSet, fmt: str, target: Path | str) -> list[str]:
    """What writing ``labels`` as ``fmt`` to ``target`` does with what does not fit it, a line each:
    boxes reaching outside their image or without width or height, and classes of one name (as
    class names are compared); a YOLO folder's class numbers taken from a data.yaml. ``retina
    convert`` and the window's Export say the same."""
    notes = []
    if fmt == "yolo" and (numbers := numbered_as_there(labels, Path(target))[1]) is not None:
        trainer = " (an Ultralytics trainer reads them from it)" if numbers.name != "classes.txt" else ""
        notes.append(f"{CLASS_NUMBERS_NOTE}{numbers} numbers them{trainer}")
    if outside := boxes_outside(labels):
        # VOC holds whole pixels of the image, YOLO 0..1 of it: a box wholly outside has no place there
        notes.append(f"{outside}: {'written as they are' if fmt == 'coco' else 'clipped to the image, any wholly outside left out'}")
    if (flat := flat_boxes(labels)) and fmt != "coco":  # a COCO file is not written: its self-check names them
        notes.append(f"{flat}: written as they are")
    if same := same_named_categories(labels.categories):
        notes.append(f"{same}; written as they are, but retina train and eval refuse them")
    if unnamed := unwritten_classes(labels, fmt):
        notes.append(f"{EMPTY_CLASSES_NOTE}{first_names(unnamed, 3)} ({FORMAT_NAMES[fmt]} names a class by its boxes alone)")
    return notes


def written_classes(labels: LabelSet, fmt: str, target: Path | str) -> int:
    """How many classes writing ``labels`` as ``fmt`` to ``target`` names: a YOLO class list's
    lines (the folder's own classes among them, :func:`core.formats.yolo.numbered_as_there`),
    those with a box in VOC and labelme, else all."""
    if fmt == "yolo":
        return len(numbered_as_there(labels, Path(target))[0].categories)
    return len(labels.categories) - len(unwritten_classes(labels, fmt))


def unwritten_classes(labels: LabelSet, fmt: str) -> list[str]:
    """The names of the classes that writing ``labels`` as ``fmt`` leaves out: in VOC and labelme,
    which have no class list, those without a box written (a Roboflow file's "pieces")."""
    if fmt not in ("voc", "labelme"):
        return []
    used = {b.category_id for im in labels.images for b in written_boxes(im, fmt)}
    return [c.name for c in sorted(labels.categories, key=lambda c: c.id) if c.id not in used]


def crowd_left_out(labels: LabelSet, fmt: str) -> str:
    """The note on the crowd regions a YOLO, CSV or labelme file leaves out ("" when none), naming VOC's
    "difficult" boxes too, which are read as such (a LabelImg user knew them by that name alone)."""
    crowd = [b for im in labels.images for b in im.boxes if b.iscrowd] if fmt in NO_CROWD_FORMATS else []
    if not crowd:
        return ""
    # (a COCO crowd region has its mask; a box marked "difficult", read as one, none)
    difficult = "; boxes marked “difficult” (VOC, X-AnyLabeling) are read as crowd regions" if any(b.segmentation is None for b in crowd) else ""
    kept = " (a labelme file exported over keeps those of its boxes marked “difficult”, X-AnyLabeling's, that are unchanged)" \
        if fmt == "labelme" else ""
    return f"{count(len(crowd), 'crowd region')} left out: {FORMAT_NAMES[fmt]} has no form for them{kept}{difficult}"


def with_image_files(labels: LabelSet, images: Path | str) -> tuple[LabelSet, list[str]]:
    """The labels of images whose file is in the folder ``images``, and the names of those whose
    file is not (labels kept for images gone from the folder: exported, a trainer stopped on them)."""
    listed: dict[str, set[str]] = {}  # a folder's names, read once: a stat per image took 6.4 µs (0.6 s at 100,000 images)
    root = os.fspath(images)

    def there(name: str) -> bool:
        folder, _, base = name.rpartition("/")  # (file names are POSIX paths under the image folder)
        if folder not in listed:
            try:
                listed[folder] = {entry.name for entry in os.scandir(os.path.join(root, folder)) if entry.is_file()}
            except OSError:  # (no such folder, or not one)
                listed[folder] = set()
        # (not listed as written: a file system that ignores case, IMG_1.JPG for IMG_1.jpg, says by a stat)
        return base in listed[folder] or os.path.isfile(os.path.join(root, name))

    gone = [im.file_name for im in labels.images if not there(im.file_name)]
    if not gone:
        return labels, []
    missing = set(gone)
    return LabelSet(labels.categories, [im for im in labels.images if im.file_name not in missing], labels.extra), gone


def stale_label_files(labels: LabelSet, fmt: str, target: Path | str, image_names: Iterable[str],
                      images: Path | str | None = None) -> list[Path]:
    """The label files in the VOC, YOLO or labelme folder ``target`` of images among ``image_names``
    that writing ``labels`` would not replace: an earlier export's files of images whose boxes have
    all gone since (left there, they put the deleted boxes back into the dataset). A file counts only
    when it reads as such a label file: a VOC annotation naming that image, or a labelme file of it
    holding boxes or saying it has none (a file of points alone says nothing of boxes); YOLO lines
    of 5 numbers with classes of the folder's classes.txt (a caption ``chess_02.txt`` beside the
    images is not one). Raises LabelFormatError when ``labels`` cannot be written there (two images,
    one label file). ``images``: the image folder (labelme's files on an EXIF-turned photo are told by it)."""
    suffix = LABEL_SUFFIX[fmt]
    written = {target for im, target in zip(labels.images, label_file_names([im.file_name for im in labels.images], suffix))
               if writes_label_file(im, fmt)}
    target = Path(target)
    ours = {PurePosixPath(name).with_suffix(suffix).as_posix(): name for name in image_names}
    candidates = sorted((target / label, image) for label, image in ours.items()
                        if label not in written and label != "classes.txt" and (target / label).is_file())
    if fmt == "voc":
        return [path for path, image in candidates if _names_image(path, image)]
    if fmt == "labelme":  # (a file keeping a crowd region, marked "difficult", is written, not one to take the boxes out of)
        names, by_name = labels.category_names(), {im.file_name: im for im in labels.images}
        keeping = {image for path, image in candidates if image in by_name and keeps_crowd(path, by_name[image], names, Path(images or target))}
        return [path for path, image in candidates if image not in keeping and holds_boxes(path, PurePosixPath(image).name)]
    try:
        classes = len((target / "classes.txt").read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return []  # no classes.txt: no export of ours wrote this folder
    return [path for path, _ in candidates if holds_yolo_lines(path, classes)]


def labelme_targets(labels: LabelSet, target: Path | str) -> list[Path]:
    """The labelme files writing ``labels`` into the folder ``target`` writes."""
    names = label_file_names([im.file_name for im in labels.images], ".json")
    return [Path(target) / name for im, name in zip(labels.images, names) if writes_label_file(im, "labelme")]


def labelme_file_over(labels: LabelSet, target: Path | str, path: Path | str) -> str:
    """The image whose labelme file, written into ``target``, would be the file ``path`` (an image
    ``annotations.coco.jpg`` beside the folder's labels file): "" when none."""
    path = Path(path).resolve()
    try:
        names = label_file_names([im.file_name for im in labels.images], ".json")
    except LabelFormatError:  # (two images, one labelme file: the export itself says so)
        return ""
    for im, name in zip(labels.images, names):
        if (Path(target) / name).resolve() == path:
            return im.file_name
    return ""


def first_label_file(fmt: str, folder: Path | str) -> Path | None:
    """A VOC, YOLO or labelme label file in ``folder`` (or below it), if any: an XML file of a VOC
    annotation; YOLO's classes.txt, or a .txt file of YOLO lines (empty: a negative); a labelme
    JSON file. Other files (a README.txt, as a Roboflow export has; a COCO file) are none: a folder
    of them takes new labels."""
    folder = Path(folder)
    if fmt == "yolo" and (folder / "classes.txt").is_file():
        return folder / "classes.txt"
    is_one = {"voc": _is_voc, "yolo": holds_yolo_lines, "labelme": lambda path: parsed_labelme(path) is not None}[fmt]
    for path in sorted(visible_files(folder, "*" + LABEL_SUFFIX[fmt])):
        if is_one(path):
            return path
    return None


def _is_voc(path: Path) -> bool:
    import xml.etree.ElementTree as ET

    try:
        return ET.parse(path).getroot().tag == "annotation"
    except (OSError, ET.ParseError):
        return False


def _names_image(path: Path, image: str) -> bool:
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return False
    return root.tag == "annotation" and root.findtext("filename", "").strip() == PurePosixPath(image).name


def write_labels(labels: LabelSet, fmt: str, target: Path | str, cancel: CancelToken | None = None, *,
                 remove: Sequence[Path] = (), images: Path | str | None = None) -> None:
    """Write atomically; a COCO file is then loaded with pycocotools and must evaluate to AP 1.0
    against itself (raises :class:`~core.formats.LabelFormatError` if not). Raises
    :class:`core.cancel.Cancelled` when ``cancel`` is set. Whatever stops it (a cancel, an error,
    Ctrl+C) leaves the target as it was: a VOC, YOLO or labelme folder's files are written into a
    hidden folder inside it first and moved into place once all are written (a run stopped half-way left
    thousands of files, and the folder was then refused as one holding label files already).
    ``remove``: label files (:func:`stale_label_files`) deleted once every file is written (a labelme
    file's boxes taken out: it stays while it holds anything else, a point, a line, a flag).
    ``images``: the folder the file names are relative to (RetinaNet CSV and labelme write paths
    from their own folder to them; default the target's folder, for labelme the target)."""
    if fmt == "coco":
        with atomic_path(target) as tmp:  # checked before it replaces anything
            write_coco(labels, tmp)
            verify_coco_file_apart(tmp, name=f"{target} (not written)", cancel=cancel)
    elif fmt == "csv":
        write_retinanet_csv(labels, target, images if images is not None else Path(target).parent, cancel)
    elif fmt in FOLDER_FORMATS:
        target = Path(target)
        created = not target.exists()
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".retina-writing-", dir=target))  # same file system: the moves are renames
        try:
            if fmt == "labelme":
                write_labelme(labels, staging, cancel, images=images if images is not None else target, target=target)
            elif fmt == "yolo":
                write_yolo(numbered_as_there(labels, target)[0], staging, cancel)
            else:
                write_voc(labels, staging, cancel)
            for file in sorted(p for p in staging.rglob("*") if p.is_file()):
                destination = target / file.relative_to(staging)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file, destination)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if created:
                shutil.rmtree(target, ignore_errors=True)  # made here, it holds nothing else
            raise
        shutil.rmtree(staging, ignore_errors=True)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    for path in remove:
        if fmt == "labelme":
            remove_boxes(path)  # (its points, lines and flags stay)
        else:
            path.unlink(missing_ok=True)
