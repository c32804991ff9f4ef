"""File ▸ Import Labels and Export Labels. Reading and writing label files runs in a worker: a
folder of 10,000 images and 100,000 boxes takes 15 s to write as YOLO or VOC and 25 s as COCO (its
pycocotools self-check included), which froze the window. The imported boxes are added on the GUI
thread, as one undo step."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.text import count, first_names
from retina_gui.workers import FunctionWorker
from retina_gui.workspace import Workspace


@dataclass(frozen=True)
class _Export:
    fmt: str
    target: Path
    images: int  # the images written, as the export starts
    removed: int  # label files of images without labels now, removed
    folder: Path

    kind = "export"


@dataclass(frozen=True)
class _Import:
    source: Path
    workspace: Workspace
    present: set[str]  # the folder's listed images

    kind = "import"


class LabelTransfer(QObject):
    message = Signal(str)  # how it went, for the status bar
    problem = Signal(str, str)  # title, text: a failure or the problems an import found
    finished = Signal(bool)  # whether the import or export went through

    def __init__(self) -> None:
        super().__init__()
        self._worker: FunctionWorker | None = None
        self._task: _Export | _Import | None = None

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def what_stopping_loses(self) -> str:
        """What stopping the running import or export would leave undone, for the question asked first."""
        task = self._task
        if task is None:
            return ""
        if isinstance(task, _Export):
            kept = ("the file is left as it was" if task.fmt == "coco" else "the files are left as they were" if task.fmt == "csv"
                    else "the folder is left as it was (none of its files written)")
            return f"The export to {task.target} is not finished: stopping it now, {kept}."
        return f"The import of {task.source} is not finished: stopping it now adds nothing."

    def export(self, workspace: Workspace, fmt: str, target: Path, remove: list[Path] = ()) -> bool:
        """Start writing the labels (a snapshot) as ``fmt`` to ``target``, then deleting the label
        files ``remove``; False if refused at once."""
        from core.formats.convert import (
            crowd_left_out,
            export_notes,
            labelme_targets,
            with_image_files,
            write_labels,
            written_counts,
        )
        from core.known_files import digest

        if self.busy:
            self.message.emit("an import or export is still running")
            return False
        if target.resolve() == workspace.labels_path.resolve():
            self.problem.emit("Export", f"{target} is this folder's labels file, which is saved by itself after every edit "
                                        "(File ▸ Save writes it now). Export to another file.")
            return False
        labels = workspace.store.to_labelset()
        self._task = _Export(fmt, target, written_counts(labels, fmt)[0], len(remove), workspace.folder)
        folder = workspace.folder

        def write(cancel):
            """Off the GUI thread: the labels of images gone from the folder are left out (the window
            keeps them, in case the images come back; exported, a trainer stopped on them)."""
            here, gone = with_image_files(labels, folder)
            notes = export_notes(here, fmt, target)  # (before the export writes the class list they read)
            write_labels(here, fmt, target, cancel, remove=remove, images=folder)
            # the labelme files written, as they are now: exported over again, only one changed since is asked about
            written = {path: digest(path) for path in [*labelme_targets(here, target), *remove]} if fmt == "labelme" else {}
            return written_counts(here, fmt), gone, notes, crowd_left_out(here, fmt), written

        self._start(write)
        self.message.emit(f"exporting {count(self._task.images, 'image')} to {target} …")
        return True

    def import_labels(self, workspace: Workspace, fmt: str, source: Path, present: set[str]) -> bool:
        """Start reading ``source``; its boxes are added to ``workspace`` when it has been read."""
        from core.formats import visible_files
        from core.formats.convert import clipped_to_images, fit_to_images, read_labels, with_image_sizes
        from core.known_files import digest
        from core.labels import LabelSet, matched_by_file_name, same_named_pair, unlisted_image

        if self.busy:
            self.message.emit("an import or export is still running")
            return False
        if workspace.read_only:
            self.problem.emit("Import", workspace.read_only_text)
            return False
        folder = workspace.folder
        self._task = _Import(source, workspace, present)

        def read(cancel):
            """Off the GUI thread: the sizes a file lacks (COCO without them) come from the image
            headers; labels made on other pixels than the folder's images are turned or scaled onto
            them, and those of an image of another shape left out (added, they lay elsewhere); boxes
            are clipped to their image. Also the file names that are images under the folder, not
            listed (for the note of what is skipped)."""
            labels, problems = read_labels(fmt, source, folder, cancel, keep_outside=True)  # (a CSV of a copy elsewhere: by file name)
            match = matched_by_file_name([im.file_name for im in labels.images], present, folder)
            labels = LabelSet(labels.categories, [replace(im, file_name=match.renamed.get(im.file_name, im.file_name))
                                                  for im in labels.images], labels.extra)
            if pair := same_named_pair(labels.categories):  # (merged into one class here without a word)
                problems.append(f"categories {pair[0].id} ({pair[0].name!r}) and {pair[1].id} ({pair[1].name!r}) of the file have one "
                                "name (as class names are compared): their boxes are one class here")
            unlisted = {im.file_name for im in labels.images if im.file_name not in present and unlisted_image(im.file_name, folder)}

            def on_listed(labels: LabelSet, change) -> LabelSet:
                """``change`` made to the entries of this folder's listed images alone, by place (two
                entries may name one image); the rest are skipped (an unmatched absolute CSV path was
                read outside the folder), and what they hold is not said."""
                here = [k for k, im in enumerate(labels.images) if im.file_name in present]
                images = list(labels.images)
                for k, im in zip(here, change(LabelSet(labels.categories, [images[k] for k in here])).images):
                    images[k] = im
                return LabelSet(labels.categories, images, labels.extra)

            labels = on_listed(labels, lambda listed: with_image_sizes(listed, folder, strict=False))
            if fmt not in ("yolo", "csv"):  # (their sizes are the images' own)
                labels, fit = fit_to_images(labels, folder, cancel)
                left_out = set(fit.unfitted)
                labels = LabelSet(labels.categories, [im for im in labels.images if im.file_name not in left_out], labels.extra)
                problems += [*fit.fixed, *([f"{fit.unfitted_line}: left out"] if fit.unfitted else [])]
            clipped: list[str] = []

            def clip(listed: LabelSet) -> LabelSet:
                listed, lines = clipped_to_images(listed)
                clipped.extend(lines)
                return listed

            labels = on_listed(labels, clip)
            difficult = sum(b.iscrowd and b.segmentation is None for im in labels.images if im.file_name in present for b in im.boxes)
            if difficult and fmt in ("voc", "labelme"):  # (imported as "5 boxes", two of them left out of the class counts unsaid)
                regions = "a crowd region" if difficult == 1 else "crowd regions"
                clipped.append(f"{count(difficult, 'box')} marked “difficult” read as {regions}: training ignores the anchors "
                               "on them, evaluation counts neither a miss nor a false detection there, and YOLO and CSV exports "
                               "leave them out")
            # the JSON files read, as they are now: an export over them later asks only if one has changed since (a file
            # of another kind among them is never written over: not parsed again to leave it out)
            read_files = {path: digest(path) for path in visible_files(source, "*.json")} if fmt == "labelme" else {}
            return labels, problems + clipped, unlisted, match, read_files

        self._start(read)
        self.message.emit(f"reading {source} …")
        return True

    def _start(self, function) -> None:
        self._worker = FunctionWorker(function)
        self._worker.done.connect(self._done)
        self._worker.failed.connect(self._failed)
        self._worker.start()

    def stop(self) -> None:
        """Cancel (another folder opens, the window closes): an export stops between files, and a
        COCO file is left as it was; an import adds nothing."""
        if self._worker is not None:
            self._worker.stop()
            self._worker, self._task = None, None

    def _done(self, result) -> None:
        task = self._task
        self.stop()
        if task is None:
            return
        if isinstance(task, _Export):
            check = ", pycocotools self-check passed" if task.fmt == "coco" else ""
            if task.fmt == "coco" and task.target.resolve().parent != task.folder:  # (a file saved elsewhere did not say where its images are)
                check += f"; its file names are paths in {task.folder}"
            if task.fmt == "csv":
                from core.formats.retinanet_csv import class_list_path

                check = f", class list {class_list_path(task.target).name} beside it (corners rounded outwards to whole pixels)"
            (images, boxes), missing, notes, crowd, written = result
            _remember(task.folder, written)
            if crowd:  # (in the status bar alone, it was gone in 10 s, cut at 1280 px)
                notes.append(crowd)
            removed = "" if not task.removed else f"; the boxes of {count(task.removed, 'labelme file')} of images with no labels now " \
                "taken out" if task.fmt == "labelme" else f"; {count(task.removed, 'label file')} of images with no labels now removed"
            left_out = f" ({crowd})" if crowd else ""
            self.message.emit(f"exported {count(images, 'image')}, {count(boxes, 'box')}{left_out} to {task.target}{check}{removed}")
            if missing:
                kept = "its labels stay here, in case it comes back" if len(missing) == 1 else \
                    "their labels stay here, in case they come back"
                notes.insert(0, f"{count(len(missing), 'labelled image')} no longer in the folder left out (the first: {missing[0]}); {kept}")
            if notes:
                self.problem.emit("Export", f"Exported to {task.target}. Notes:\n" + "\n".join(notes))
            self.finished.emit(True)
            return
        from core.formats.convert import NOTES

        source, workspace, present = task.source, task.workspace, task.present
        labels, problems, unlisted_names, match, read_files = result
        try:
            added, skipped, repeated, reviewed = workspace.import_labels(labels, present, source.name)
        except (ValueError, OSError) as exc:  # a class name refused, the read-only labels; nothing is left half done
            self.problem.emit("Import failed", str(exc))
            self.finished.emit(False)
            return
        _remember(workspace.folder, read_files)
        # notes say nothing went wrong (a CSV's "no class list" was shown as a problem): they follow the status instead
        notes = "".join(f"; {p}" for p in problems if p.startswith(NOTES))
        problems = [p for p in problems if not p.startswith(NOTES)]
        unlisted = [name for name in skipped if name in unlisted_names]
        several = [name for name in skipped if name in match.ambiguous]
        contested = [name for name in skipped if name in match.contested]
        elsewhere = [name for name in skipped if name not in unlisted_names and name not in match.ambiguous and name not in match.contested]
        if elsewhere:
            problems.append(f"{count(len(elsewhere), 'labelled image')} not in this folder skipped, e.g. {elsewhere[0]}")
        if several:  # (said to be "not in this folder": each was, twice over)
            problems.append(f"{count(len(several), 'labelled image')} skipped that could be any of several images here, e.g. "
                            f"{several[0]} ({first_names(match.ambiguous[several[0]], 3)})")
        if contested:  # (two entries' boxes went onto one image)
            problems.append(f"{count(len(contested), 'labelled image')} skipped whose one image here the file names in another entry "
                            f"too, e.g. {contested[0]} ({match.contested[contested[0]]})")
        if unlisted:  # (they were put on a listed image of the same file name, silently)
            problems.append(f"{count(len(unlisted), 'labelled image')} in the folder but not listed (File ▸ Include Subfolders is off?) "
                            f"skipped, e.g. {unlisted[0]}")
        if problems:
            self.problem.emit("Import", f"Imported {count(added, 'box')}. Notes:\n" + "\n".join(problems[:20]))
        again = f"; {count(repeated, 'box')} already there {'was' if repeated == 1 else 'were'} not added again" if repeated else ""
        marked = f", {count(reviewed, 'image')} marked reviewed" if reviewed else ""
        self.message.emit(f"imported {count(added, 'box')}{marked} from {source}{again}{notes}")
        self.finished.emit(True)

    def _failed(self, reason: str) -> None:
        task = self._task
        self.stop()
        if task is not None:
            self.message.emit(f"{task.kind} failed")  # ("reading …" stood in the status bar behind the message)
            self.problem.emit(f"{task.kind.capitalize()} failed", reason.split(": ", 1)[-1])
            self.finished.emit(False)


def _remember(folder: Path, files: dict) -> None:
    """Record, for the image folder ``folder``, the other tools' label files read or written as they
    are now (see :mod:`core.known_files`)."""
    from core.known_files import KnownFiles

    try:
        KnownFiles(folder).record(files)
    except OSError:  # (not remembered: the next export over them asks once more, no more)
        pass
