"""Background threads around core's slow functions: folder scanning, image decoding, label saving.

Every worker is a QThread that is stopped by ``stop()`` (set the cancel flag, quit, wait). Results
go to GUI-thread QObjects through queued signals; nothing here touches a widget.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Signal

from core.annotations import AnnotationFile, LabelsChangedOnDisk, save_failure
from core.cancel import Cancelled, CancelToken
from core.config import AnchorConfig, AssignConfig, PreprocessConfig
from core.images import ImageReadError, image_header, load_preview, walk_images
from core.labels import Category, LabelSet, placeholder_rows
from retina_gui.convert import qimage_from_rgb

_live: weakref.WeakSet[QThread] = weakref.WeakSet()
T = TypeVar("T")


def running_workers() -> list[QThread]:
    """Workers that are still running (the test suite fails a test that leaves one behind)."""
    return [t for t in list(_live) if t.isRunning()]


def drop_queued_results(*receivers: QObject) -> None:
    """Forget what stopped workers emitted to these objects before they stopped: stop() waits for
    the thread, but its queued signals are delivered afterwards (even after a disconnect), and a
    closed folder's images, predictions or report would land in the next folder."""
    for receiver in receivers:
        QCoreApplication.removePostedEvents(receiver, QEvent.Type.MetaCall)


class Worker(QThread):
    def __init__(self) -> None:
        super().__init__()
        self.cancel = CancelToken()
        _live.add(self)

    def stop(self) -> None:
        self.cancel.cancel()
        self.quit()
        self.wait()


class QueueWorker(Worker):
    """A worker that sleeps until it has work or is stopped. Subclasses change their pending work
    inside :meth:`_update` and fetch it with :meth:`_next`."""

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Condition()

    def _update(self, change: Callable[[], None]) -> None:
        with self._wake:
            change()
            self._wake.notify()

    def _next(self, take: Callable[[], T | None]) -> T | None:
        """Wait until ``take()`` (called under the lock) returns work; None once stopped."""
        with self._wake:
            while not self.cancel.cancelled:
                work = take()
                if work is not None:
                    return work
                self._wake.wait()
            return None

    def stop(self) -> None:
        self._update(self.cancel.cancel)
        self.quit()
        self.wait()


class FolderScanner(Worker):
    """Lists the image files under a folder in sorted order, emitting them in batches so that the
    file list fills (and the first image shows) while a large folder is still being read."""

    found = Signal(list)  # relative POSIX paths
    done = Signal(int)  # number of images
    failed = Signal(str)
    skipped = Signal(list)  # the entries left out (a link loop, a name that cannot be decoded), each with why

    BATCH_SECONDS = 0.05

    def __init__(self, folder: Path, *, recursive: bool) -> None:
        super().__init__()
        self.folder = folder
        self.recursive = recursive

    def run(self) -> None:
        pending: list[str] = []
        total = 0
        last = time.monotonic()
        self._skipped: list[str] = []
        try:
            for name in walk_images(self.folder, recursive=self.recursive, skipped=self._skipped):
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
        if self._skipped:
            self.skipped.emit(self._skipped)
        self.done.emit(total)


class ImageLoader(QueueWorker):
    """Decodes images (EXIF-oriented, the same pixels training uses) on request. A new request
    replaces the pending ones, so when the user flips quickly through images only the ones that are
    still wanted get decoded."""

    loaded = Signal(str, object, int, int)  # name, QImage, full oriented width, height
    failed = Signal(str, str)  # name, reason
    detailed = Signal(str, object)  # name, QImage: the image in full (see request_detail)

    MAX_SIDE = 4096  # larger images are decoded reduced (the boxes keep full-resolution coordinates)
    DETAIL_PIXELS = 64_000_000  # an image in full up to this (256 MB of pixels), reduced to it beyond

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self._pending: list[str] = []
        self._detail: str | None = None

    def request(self, names: list[str]) -> None:
        """Decode these, in this order, instead of whatever was pending (a full decode asked for
        another image too: paging on, zoomed in, decoded each image in full before the next)."""
        def change() -> None:
            self._pending = list(names)
            if names[:1] != [self._detail]:
                self._detail = None

        self._update(change)

    def request_detail(self, name: str) -> None:
        """Decode ``name`` in full (an image decoded reduced, zoomed in past its pixels), before
        whatever is pending; answered by ``detailed``, or by nothing when it cannot be read."""
        self._update(lambda: setattr(self, "_detail", name))

    def _take(self) -> tuple[str, bool] | None:
        if self._detail is not None:
            name, self._detail = self._detail, None
            return name, True
        return (self._pending.pop(0), False) if self._pending else None

    def run(self) -> None:
        while (work := self._next(self._take)) is not None:
            name, detail = work
            try:
                decoded = load_preview(self.folder / name, self._detail_side(name) if detail else self.MAX_SIDE)
            except ImageReadError as exc:
                if not detail:  # (a detail that fails leaves the image shown as it was)
                    self.failed.emit(name, exc.reason)
                continue
            if detail:
                self.detailed.emit(name, qimage_from_rgb(decoded.pixels))
            else:
                self.loaded.emit(name, qimage_from_rgb(decoded.pixels), decoded.width, decoded.height)

    def _detail_side(self, name: str) -> int:
        """The longest side to decode ``name`` at in full: its own, or less where it holds more than DETAIL_PIXELS."""
        width, height, _ = image_header(self.folder / name)
        return int(max(width, height) * min(1.0, math.sqrt(self.DETAIL_PIXELS / max(1, width * height))))


class LabelSaver(QueueWorker):
    """Writes label snapshots in the background, so that autosaving a folder with 100k boxes does
    not freeze the window. Only the newest pending snapshot is written; the labels file itself
    refuses a snapshot older than the one on disk. Stopping finishes the write in progress and
    drops a pending one (the caller saves last)."""

    saved = Signal(int)  # revision
    failed = Signal(str)
    changed_on_disk = Signal(str)  # another program changed the file: nothing was written

    def __init__(self, labels_file: AnnotationFile) -> None:
        super().__init__()
        self.labels_file = labels_file
        self._pending: tuple[LabelSet, int] | None = None

    def submit(self, labels: LabelSet, revision: int) -> None:
        self._update(lambda: setattr(self, "_pending", (labels, revision)))

    def _take(self) -> tuple[LabelSet, int] | None:
        work, self._pending = self._pending, None
        return work

    def run(self) -> None:
        while (work := self._next(self._take)) is not None:
            labels, revision = work
            try:
                if self.labels_file.write(labels, revision):
                    self.saved.emit(revision)
            except LabelsChangedOnDisk as exc:
                self.changed_on_disk.emit(str(exc))
            except Exception as exc:  # anything else ended the thread unseen: every later edit went unsaved, and no title said so
                self.failed.emit(save_failure(exc))


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI knows of the loaded model (no torch objects)."""

    path: Path
    classes: tuple[Category, ...]  # each with its id in the labels it learnt from (a renamed class keeps its id)
    preset: str
    backbone: str
    device: str
    precision: str
    score_floor: float
    nms_thresh: float
    max_detections: int | None
    anchors: AnchorConfig
    assign: AssignConfig
    preprocess: PreprocessConfig
    devices: tuple[str, ...]  # what the device choice offers on this machine
    cache_key: str  # the prediction cache's key: the same weights and settings number their candidates alike

    @cached_property  # (read per box drawn)
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def placeholders(self) -> set[int]:
        """Rows of a COCO head that are no classes (see :func:`core.labels.placeholder_rows`)."""
        return placeholder_rows(self.class_names)

    @property
    def class_count(self) -> int:
        """Its classes, a COCO head's placeholder rows not counted (91 rows are 80 classes)."""
        return len(self.class_names) - len(self.placeholders)


class PredictionWorker(QueueWorker):
    """Owns the model (torch is first imported here, off the GUI thread) and runs it: single images
    on request (the newest request first, the image on screen before its neighbours) and whole
    folders with progress, ETA and cancel. Candidates are cached on disk per model; a cached image
    is answered without running the network."""

    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    predicted = Signal(str, object, bool)  # name, Candidates, from the disk cache
    cached_names = Signal(list)  # images with cached candidates for the model just loaded (none read yet)
    rejected_loaded = Signal(object)  # {image: candidate indices the user rejected}, kept with the model's cache
    failed = Signal(str, str)  # name, why the image cannot be read
    prediction_failed = Signal(str, str)  # name, why the model failed on it (out of memory, say)
    progress = Signal(int, int, float)  # done, total, seconds left
    batch_finished = Signal(int, int, bool)  # images done (read or not), of them unreadable, cancelled
    batch_restarted = Signal(int)  # a model loaded during a folder run: it starts over with it, on that many images

    def __init__(self, folder: Path, cache_root: Path) -> None:
        super().__init__()
        self.folder, self.cache_root = folder, cache_root
        self._load: tuple[Path, str, str | None, str] | None = None
        self._wanted: list[str] = []
        self._batch: list[str] = []  # left to predict
        self._batch_order: list[str] = []  # all of the batch's images, predicted or not, in their order ...
        self._batch_names: set[str] = set()  # ... and as a set
        self._batch_total = 0
        self._batch_unreadable = 0  # images of the batch that could not be read (counted here: the batch is the worker's)
        self._batch_cancel = CancelToken()
        self._batch_active = False  # a folder run is going on: from its start to its batch_finished
        self._rejected: dict[str, dict[str, set[int]]] = {}  # to be saved: per model's cache key
        self._detector = None
        self._cache = None

    def load_model(self, path: Path, device: str = "auto", preset: str | None = None, precision: str = "auto") -> None:
        """Load another model (a folder run going on starts over with it, see _load_model)."""
        def change() -> None:
            self._load, self._wanted = (path, device, preset, precision), []

        self._update(change)

    def predict(self, names: list[str]) -> None:
        self._update(lambda: setattr(self, "_wanted", list(names)))

    def predict_folder(self, names: list[str]) -> None:
        """Predict these images as a batch; while a batch runs, the new names join it (the
        evaluation's images during a folder run, say) instead of replacing what is left of it."""

        def change() -> None:
            if self._batch and not self._batch_cancel.cancelled:
                added = [n for n in dict.fromkeys(names) if n not in self._batch_names]  # also not the one in progress
                self._batch += added
                self._batch_order += added
                self._batch_names.update(added)
                self._batch_total += len(added)
                return
            self._batch, self._batch_total, self._batch_unreadable = list(names), len(names), 0
            self._batch_order, self._batch_names = list(names), set(names)
            self._batch_cancel = CancelToken()
            self._batch_active = bool(names)
            self._batch_started = time.monotonic()

        self._update(change)

    def save_rejected(self, cache_key: str, rejected: dict[str, set[int]]) -> None:
        """Keep the rejections with the cached predictions of the model ``cache_key`` names (by
        the time this runs, the worker may have loaded another)."""
        snapshot = {name: set(indices) for name, indices in rejected.items()}
        self._update(lambda: self._rejected.__setitem__(cache_key, snapshot))

    def cancel_batch(self) -> None:
        self._update(self._batch_cancel.cancel)

    def stop(self) -> None:
        self._batch_cancel.cancel()
        super().stop()

    def _take(self) -> tuple[str, object] | None:
        """The next job: rejections to save, a model to load, the image on screen, or the next image of a batch."""
        if self._rejected:  # first: a model loaded next reads them back (the same model loaded again keeps them)
            rejected, self._rejected = self._rejected, {}
            return "rejected", rejected
        if self._load is not None:
            load, self._load = self._load, None
            return "load", load
        if self._wanted:
            return "image", self._wanted.pop(0)
        if self._batch:
            if self._batch_cancel.cancelled:
                done, self._batch, self._batch_active = self._batch_total - len(self._batch), [], False
                return "cancelled", (done, self._batch_unreadable)
            return "batch", self._batch.pop(0)
        return None

    def run(self) -> None:
        while (job := self._next(self._take)) is not None:
            kind, what = job
            if kind == "load":
                self._load_model(*what)
            elif kind == "cancelled":
                self.batch_finished.emit(*what, True)
            elif kind == "rejected":
                from core.prediction_cache import PredictionCache

                for key, rejected in what.items():
                    with contextlib.suppress(OSError):  # a read-only folder: rejections last for this session
                        PredictionCache(self.cache_root, key, self.folder).put_rejected(rejected)
            else:
                try:
                    read = self._predict_one(what)
                except Exception as exc:  # noqa: BLE001 - the model's failure, not the image's: said, and the worker goes on
                    self.prediction_failed.emit(what, f"{type(exc).__name__}: {exc}")
                    read = True
                    if kind == "batch":
                        self._update(lambda: self._batch_cancel.cancel())  # every image would fail the same way
                if kind == "batch":
                    self._batch_progress(read)

    def _batch_progress(self, read: bool) -> None:
        with self._wake:
            self._batch_unreadable += not read
            left, total, unreadable = len(self._batch), self._batch_total, self._batch_unreadable
            self._batch_active = left > 0
        done = total - left
        elapsed = time.monotonic() - self._batch_started
        self.progress.emit(done, total, elapsed / max(done, 1) * left)
        if left == 0:
            self.batch_finished.emit(done, unreadable, False)

    def _load_model(self, path: Path, device: str, preset: str | None, precision: str) -> None:
        try:
            import torch

            from core.detector import Detector
            from core.device import set_threads
            from core.prediction_cache import PredictionCache, model_key

            set_threads(leave_one_free=True)  # a core stays free for the window
            detector = Detector.from_file(path, device=device, preset=preset, precision=precision)
            post = detector.postprocess_config
            # (the precision too: fp32 chosen for exact figures must not be served bf16's cached candidates)
            key = model_key(path, {"preset": detector.preset.name, "preprocess": detector.preprocess_config, "floor": post.score_thresh,
                                   "precision": detector.runtime.precision})
            devices = ("auto", "cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count())))
        except Exception as exc:  # any failure to build the model is the user's file or choice: report it
            self.model_failed.emit(str(exc) if str(path) in str(exc) else f"{path}: {exc}")
            return
        self._detector, self._cache = detector, PredictionCache(self.cache_root, key, self.folder)
        # a folder run going on starts over with the model loaded (it went on with it from where it was: 15 of 58 images
        # stayed the old model's, and the folder's Accept left them out); here, between two images, once the load has worked
        with self._wake:
            restart = self._batch_active and not self._batch_cancel.cancelled
            if restart:
                self._batch, self._batch_total, self._batch_unreadable = list(self._batch_order), len(self._batch_order), 0
                self._batch_started = time.monotonic()
        if restart:
            self.batch_restarted.emit(len(self._batch_order))
        runtime = detector.runtime
        self.model_loaded.emit(ModelInfo(path, tuple(Category(c.id, c.name) for c in detector.classes), detector.preset.name,
                                         detector.spec.model.backbone, runtime.device, runtime.precision, post.score_thresh,
                                         post.nms_thresh, post.max_detections, detector.preset.anchors, detector.preset.assign,
                                         detector.preprocess_config, devices, key))
        try:
            names = self._cache.names(self.cancel)  # first: it drops the entries, and the rejections, of images changed since
        except Cancelled:  # the worker stops (the folder closes) while a copied folder's images are read
            return
        except Exception:  # noqa: BLE001 - the thread's guard (names() keeps what it can list): the images are predicted again
            names = []
        self.rejected_loaded.emit(self._cache.rejected())
        self.cached_names.emit(names)  # names only: reading 10,000 files here held every load up

    def _predict_one(self, name: str) -> bool:
        """Predict one image (from the cache when it can); False: the image could not be read."""
        if self._detector is None:
            return True
        cached = self._cache.get(name)
        if cached is not None:
            self._emit(name, cached, True)
            return True
        image = self._cache.image_file(name)  # the file as it is read: written over meanwhile, its entry is not this one's
        try:
            from core.images import load_image

            (candidates,) = self._detector.candidates([load_image(self.folder / name)])
        except ImageReadError as exc:
            self.failed.emit(name, exc.reason)
            return False
        try:
            self._cache.put(name, candidates, image)
        except OSError:
            pass  # a read-only folder: predictions still show, they are just not kept for next time
        self._emit(name, candidates, False)
        return True

    def _emit(self, name: str, candidates, from_cache: bool) -> None:
        post = self._detector.postprocess_config
        if post.max_detections is not None:
            candidates.kept(post.nms_thresh, post.max_detections)  # the NMS here, not on the GUI thread
        self.predicted.emit(name, candidates, from_cache)


class FunctionWorker(Worker):
    """Runs one function off the GUI thread (a report over the whole folder, say). The function
    takes the worker's cancel token: stop() (another folder opened, the window closing) then ends it
    early instead of waiting for it, and what it would have returned is not sent."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, function) -> None:
        super().__init__()
        self.function = function

    def run(self) -> None:
        try:
            result = self.function(self.cancel)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - whatever it is, the panel waiting for it must hear of it
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(result)


class DownloadWorker(Worker):
    """Downloads a weights file into torch's hub cache (where torchvision's weights API looks),
    with progress; an existing copy is used as it is. Offline it says so. Without a URL it fetches
    torchvision's COCO RetinaNet v2 (torchvision is imported here, not on the GUI thread)."""

    progress = Signal(int, int)  # bytes so far, total (0: unknown)
    done = Signal(object)  # Path
    failed = Signal(str)

    def __init__(self, url: str | None, folder: Path) -> None:
        super().__init__()
        self.url, self.folder = url, folder

    def run(self) -> None:
        import urllib.error
        import urllib.parse
        import urllib.request

        from core.atomic import atomic_path

        if self.url is None:
            from torchvision.models.detection import RetinaNet_ResNet50_FPN_V2_Weights

            self.url = RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1.url
        self.target = self.folder / Path(self.url).name
        if self.target.is_file():
            self.done.emit(self.target)
            return
        # torchvision's file names end in the first hex digits of the file's SHA-256, as torch.hub checks them
        named = re.search(r"-([0-9a-f]{8,})\.[^.]+$", Path(self.url).name)
        try:
            with urllib.request.urlopen(self.url, timeout=15) as response, atomic_path(self.target) as tmp, open(tmp, "wb") as out:
                length = (response.headers.get("Content-Length") or "").strip()
                total = int(length) if length.isdigit() else 0  # (an odd header raised ValueError, which ended the thread)
                received, digest = 0, hashlib.sha256()
                while block := response.read(1 << 20):
                    if self.cancel.cancelled:
                        raise InterruptedError
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    self.progress.emit(received, total)
                # a connection that closes early ends the reads without an error: the part file was kept as the
                # weights, and every later click took it for them
                if total and received != total:
                    raise OSError(f"the connection closed after {received:,} of {total:,} bytes: try again")
                if named and not digest.hexdigest().startswith(named.group(1)):
                    raise OSError(f"{self.target.name} arrived damaged (its SHA-256 is not the one its name gives): try again")
        except InterruptedError:
            self.failed.emit("download cancelled")
            return
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            host = urllib.parse.urlsplit(self.url).netloc
            self.failed.emit(f"offline: cannot reach {host} ({getattr(exc, 'reason', exc)}). To use these weights without a connection, "
                             f"copy {Path(self.url).name} into {self.target.parent}")
            return
        except OSError as exc:
            self.failed.emit(f"download failed: {exc}")
            return
        self.done.emit(self.target)


class TrainingWorker(Worker):
    """Runs :func:`core.finetune.fine_tune` on a snapshot of the labels; the window keeps working."""

    event = Signal(object)  # core.train.TrainEvent
    run_finished = Signal(object)  # core.train.TrainResult (not QThread.finished, which it would hide)
    failed = Signal(str, int)  # message, a smaller batch size to offer (0: none)

    def __init__(self, labels: LabelSet, image_root: Path, run_dir: Path, recipe, *, resume: bool = False,
                 model_at_start: Path | None = None) -> None:
        """``model_at_start``: the model the window used as the run started (the run's end asks before
        replacing another, chosen meanwhile)."""
        super().__init__()
        self.labels, self.image_root, self.run_dir, self.recipe, self.resume = labels, image_root, run_dir, recipe, resume
        self.model_at_start = model_at_start

    def run(self) -> None:
        from core.device import set_threads
        from core.finetune import FineTuneError, fine_tune

        set_threads(leave_one_free=True)
        try:
            result = fine_tune(self.labels, self.image_root, self.run_dir, self.recipe, resume=self.resume, on_event=self.event.emit,
                               cancel=self.cancel)
        except FineTuneError as exc:
            self.failed.emit(str(exc), exc.smaller_batch or 0)
            return
        except Exception as exc:  # a bug must not take the window down with the thread: report it
            self.failed.emit(f"Training stopped by an unexpected error ({type(exc).__name__}: {exc}); the last checkpoint is kept.", 0)
            return
        self.run_finished.emit(result)
