"""File ▸ Import Labels and Export Labels: the file dialogs, and the questions asked before an
export writes over files (the reading and writing itself runs in :class:`LabelTransfer`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from core.formats import FORMAT_NAMES
from core.text import count as count_of
from retina_gui.annotator import Annotator
from retina_gui.file_list import FileListPanel
from retina_gui.label_transfer import LabelTransfer
from retina_gui.workspace import Workspace


class LabelFileDialogs(QObject):
    message = Signal(str)  # a passing word for the status bar
    problem = Signal(str, str)  # (title, text): why nothing was exported

    def __init__(self, transfer: LabelTransfer, annotator: Annotator, files: FileListPanel, *, confirm: Callable[..., bool],
                 window: QWidget) -> None:
        """``confirm(title, question, undoable=False)``: the window's question; ``window``: the dialogs' parent."""
        super().__init__(window)
        self.transfer, self.annotator, self.files, self.confirm, self.window = transfer, annotator, files, confirm, window

    @property
    def workspace(self) -> Workspace | None:
        return self.annotator.workspace

    def ask_import(self, fmt: str) -> None:
        if self.workspace is None:
            self.message.emit("open a folder first: Import adds to its labels")
            return
        if fmt == "coco":
            source, _ = QFileDialog.getOpenFileName(self.window, "Import COCO JSON", str(self.workspace.folder), "COCO JSON (*.json)")
        elif fmt == "csv":
            source, _ = QFileDialog.getOpenFileName(self.window, "Import RetinaNet CSV", str(self.workspace.folder),
                                                    "RetinaNet CSV (*.csv);;All files (*)")
        else:
            source = QFileDialog.getExistingDirectory(self.window, f"Import {FORMAT_NAMES[fmt]} labels from folder", str(self.workspace.folder))
        if source:
            self.import_labels(fmt, Path(source))

    LABELME_LOOKED_AT = 2000  # images whose name a labelme file beside them is looked for, as a folder without labels opens

    def offer_labelme(self) -> bool:
        """A folder with no labels yet, whose images have labelme or X-AnyLabeling files beside them
        (``a.json`` by ``a.jpg``, as both tools save): asks to import them (a labelme user opening
        their folder saw no boxes, and no word on the files beside them). Whether it began to."""
        from core.atomic import parse_json
        from core.formats.labelme import is_labelme

        ws = self.workspace
        if ws is None or ws.read_only or ws.store.has_labels():
            return False
        beside = [path for name in self.files.model.names[:self.LABELME_LOOKED_AT]
                  if (path := (ws.folder / name).with_suffix(".json")).is_file()]

        def labelme_file(path: Path) -> bool:
            try:  # (a file of labelme's may hold its image, megabytes of it: a few are read on the GUI thread, not all)
                return is_labelme(parse_json(path.read_text(encoding="utf-8-sig")))
            except (OSError, UnicodeDecodeError, ValueError):
                return False

        if (first := next((path for path in beside[:5] if labelme_file(path)), None)) is None:
            return False
        files = len(set(beside))  # (a.jpg and a.png: one a.json)
        many = f"{count_of(files, 'image')}" + (" or more" if len(self.files.model.names) > self.LABELME_LOOKED_AT else "")
        one = files == 1
        if not self.confirm("labelme labels", f"{many} here {'has' if one else 'have'} a labelme or X-AnyLabeling file "
                                              f"beside {'it' if one else 'them'} (the first: {first.name}). Import "
                                              f"{'its' if one else 'their'} boxes? (One undo step; the files stay as they are. File ▸ "
                                              "Import Labels does it later.)", undoable=True):
            return False
        return self.import_labels("labelme", ws.folder)

    def import_labels(self, fmt: str, source: Path) -> bool:
        """Read in the background, then add the boxes as one undo step (``transfer.finished`` says how it went)."""
        return self.workspace is not None and self.transfer.import_labels(self.workspace, fmt, source, set(self.files.model.names))

    def ask_export(self, fmt: str) -> None:
        if self.workspace is None:
            self.message.emit("open a folder first: Export writes its labels")
            return
        if not self.workspace.store.has_labels():  # (it wrote an empty file and said "self-check passed")
            self.message.emit("nothing to export: this folder has no labels yet (no classes, boxes or reviewed images)")
            return
        # a folder that cannot be written (a read-only share) was offered, and the export then failed there
        place = self.workspace.folder if os.access(self.workspace.folder, os.W_OK) else Path.home()
        if fmt == "coco":
            # the replace question is asked here, after the labels file itself is refused: the dialog's own came first,
            # and a "yes" to it was then refused
            target, _ = QFileDialog.getSaveFileName(self.window, "Export COCO JSON", str(place / "export.coco.json"), "COCO JSON (*.json)",
                                                    options=QFileDialog.Option.DontConfirmOverwrite)
            if target and Path(target).exists() and Path(target).resolve() != self.workspace.labels_path.resolve() and not self.confirm(
                    "Export", f"{target} exists. Replace it?"):
                return
        elif fmt == "csv":
            from core.formats.retinanet_csv import class_list_path

            target, _ = QFileDialog.getSaveFileName(self.window, "Export RetinaNet CSV", str(place / "annotations.csv"),
                                                    "RetinaNet CSV (*.csv)", options=QFileDialog.Option.DontConfirmOverwrite)
            taken = [p.name for p in (Path(target), class_list_path(target)) if p.exists()] if target else []
            if taken and not self.confirm("Export", f"{' and '.join(taken)} exist{'s' if len(taken) == 1 else ''} in "
                                                    f"{Path(target).parent}. Replace {'it' if len(taken) == 1 else 'them'}?"):
                return
        else:
            # (labelme's files lie beside their images: it opens the folder with its labels)
            target = QFileDialog.getExistingDirectory(self.window, f"Export {FORMAT_NAMES[fmt]} labels into folder", str(place))
        if target:
            self.export(fmt, Path(target))

    def export(self, fmt: str, target: Path) -> bool:
        """Write in the background (``transfer.finished`` says how it went). A VOC, YOLO or labelme
        folder holding an earlier export's files of images that have no labels now: asks to remove them."""
        from core.formats import LabelFormatError
        from core.formats.convert import FOLDER_FORMATS, labelme_file_over, labelme_targets, stale_label_files, with_image_files
        from core.known_files import KnownFiles

        if self.workspace is None:
            return False
        labels_path, labels = self.workspace.labels_path, self.workspace.store.to_labelset()
        if fmt == "labelme" and (over := labelme_file_over(labels, target, labels_path)):
            self.problem.emit("Export", f"The labelme file of {over} would be written over this folder's labels file "
                                        f"{labels_path.name}: nothing was exported. Export into another folder.")
            return False
        stale = []
        if fmt in FOLDER_FORMATS and target.is_dir():
            names = [*self.files.model.names, *self.workspace.store.file_names()]
            # as the export writes them: without the images gone from the folder (their old label files, counted as written
            # over, stayed, with classes.txt rewritten under them)
            labels = with_image_files(labels, self.workspace.folder)[0]
            try:
                stale = stale_label_files(labels, fmt, target, names, self.workspace.folder)
            except LabelFormatError as exc:  # two images, one label file: said, as the export itself says it
                self.problem.emit("Export", str(exc))
                return False
            if fmt == "labelme" and (unknown := KnownFiles(self.workspace.folder).unknown([*labelme_targets(labels, target), *stale])):
                # (edited in labelme since they were imported, or never read here: their boxes were replaced without a word)
                if not self.confirm("Export", f"{count_of(len(unknown), 'labelme file')} in {target} {'was' if len(unknown) == 1 else 'were'} "
                                              f"changed since retina-gui read or wrote {'it' if len(unknown) == 1 else 'them'}, or never "
                                              f"read here (the first: {unknown[0].name}): the export replaces "
                                              f"{'its' if len(unknown) == 1 else 'their'} boxes with this folder's labels (points, lines "
                                              "and flags stay). Export? (No: nothing is exported; File ▸ Import Labels brings their "
                                              "boxes in first)"):
                    return False
            if stale and not self.confirm("Export", _removal_question(fmt, target, stale)):
                return False
        return self.transfer.export(self.workspace, fmt, target, stale)


def _removal_question(fmt: str, target: Path, stale: list[Path]) -> str:
    """The question before an export removes the label files of images that have no labels now."""
    if fmt == "labelme":  # (they may be labelme's own, not an export's: a folder labelled there, its files not imported)
        return (f"{target} holds {count_of(len(stale), 'labelme file')} of this folder's images that have no labels here now (the first: "
                f"{stale[0].name}). Export and take their boxes out, so that the folder matches the labels? Their points, lines and "
                "flags stay. (No: nothing is exported)")
    return (f"{target} holds {count_of(len(stale), FORMAT_NAMES[fmt] + ' label file')} of this folder's images that have no labels now, "
            f"from an earlier export (the first: {stale[0].name}). Export and remove them, so that the folder matches the labels? "
            "(No: nothing is exported)")
