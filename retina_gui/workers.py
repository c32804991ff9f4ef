"""Background threads around core's slow functions: folder scanning, image decoding, label saving.

Every worker is a QThread that is stopped by ``stop()`` (set the cancel flag, quit, wait). Results
go to GUI-thread QObjects through queued signals; nothing here touches a widget.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from core.annotations import AnnotationFile
from core.cancel import CancelToken
from core.images import IMAGE_SUFFIXES, ImageReadError, load_preview
from core.labels import LabelSet
from retina_gui.convert import qimage_from_rgb

_live: weakref.WeakSet[QThread] = weakref.WeakSet()


def running_workers() -> list[QThread]:
    """Workers that are still running (the test suite fails a test that leaves one behind)."""
    return [t for t in list(_live) if t.isRunning()]


class Worker(QThread):
    def __init__(self) -> None:
        super().__init__()
        self.cancel = CancelToken()
        _live.add(self)

    def stop(self) -> None:
        self.cancel.cancel()
        self.quit()
        self.wait()


class FolderScanner(Worker):
    """Lists the image files under a folder in sorted order, emitting them in batches so that the
    file list fills (and the first image shows) while a large folder is still being read."""

    found = Signal(list)  # relative POSIX paths
    done = Signal(int)  # number of images
    failed = Signal(str)

    BATCH_SECONDS = 0.05

    def __init__(self, folder: Path, *, recursive: bool) -> None:
        super().__init__()
        self.folder = folder
        self.recursive = recursive

    def run(self) -> None:
        pending: list[str] = []
        total = 0
        last = time.monotonic()
        try:
            for name in self._walk(self.folder, ""):
                if self.cancel.cancelled:
                    return
                pending.append(name)
                if time.monotonic() - last > self.BATCH_SECONDS:
                    self.found.emit(pending)
                    total += len(pending)
                    pending, last = [], time.monotonic()
        except OSError as exc:
            self.failed.emit(f"cannot read {self.folder}: {exc}")
        if pending:
            self.found.emit(pending)
            total += len(pending)
        self.done.emit(total)

    def _walk(self, folder: Path, prefix: str):
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                subfolders.append(entry)
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                yield prefix + entry.name
        if self.recursive:
            for entry in subfolders:
                yield from self._walk(Path(entry.path), f"{prefix}{entry.name}/")


class ImageLoader(Worker):
    """Decodes images (EXIF-oriented, the same pixels training uses) on request. A new request
    replaces the pending ones, so when the user flips quickly through images only the ones that are
    still wanted get decoded."""

    loaded = Signal(str, object, int, int)  # name, QImage, full oriented width, height
    failed = Signal(str, str)  # name, reason

    MAX_SIDE = 4096  # larger images are decoded reduced (the boxes keep full-resolution coordinates)

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self._pending: list[str] = []
        self._wake = threading.Condition()

    def request(self, names: list[str]) -> None:
        """Decode these, in this order, instead of whatever was pending."""
        with self._wake:
            self._pending = list(names)
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self.cancel.cancel()
            self._wake.notify()
        self.quit()
        self.wait()

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self.cancel.cancelled:
                    self._wake.wait()
                if self.cancel.cancelled:
                    return
                name = self._pending.pop(0)
            try:
                decoded = load_preview(self.folder / name, self.MAX_SIDE)
            except ImageReadError as exc:
                self.failed.emit(name, exc.reason)
                continue
            self.loaded.emit(name, qimage_from_rgb(decoded.pixels), decoded.width, decoded.height)


class LabelSaver(Worker):
    """Writes label snapshots in the background, so that autosaving a folder with 100k boxes does
    not freeze the window. Only the newest pending snapshot is written; the labels file itself
    refuses a snapshot older than the one on disk."""

    saved = Signal(int)  # revision
    failed = Signal(str)

    def __init__(self, labels_file: AnnotationFile) -> None:
        super().__init__()
        self.labels_file = labels_file
        self._pending: tuple[LabelSet, int] | None = None
        self._wake = threading.Condition()

    def submit(self, labels: LabelSet, revision: int) -> None:
        with self._wake:
            self._pending = (labels, revision)
            self._wake.notify()

    def stop(self) -> None:
        """Finish the write in progress (a pending one is dropped: the caller saves last)."""
        with self._wake:
            self.cancel.cancel()
            self._wake.notify()
        self.quit()
        self.wait()

    def run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self.cancel.cancelled:
                    self._wake.wait()
                if self.cancel.cancelled:
                    return
                labels, revision = self._pending
                self._pending = None
            try:
                if self.labels_file.write(labels, revision):
                    self.saved.emit(revision)
            except (OSError, ValueError) as exc:
                self.failed.emit(str(exc))
