"""Predictions: the model worker's cached candidates, re-filtered live at the slider thresholds,
shown on the canvas, accepted into the labels (undoable), and explained for missed labels."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor

from core.annotations import ImageStatus
from core.cancel import CancelToken
from core.detections import Detections
from core.images import ImageReadError, image_size
from core.labels import category_of_class, class_name_key
from core.prediction_cache import PredictionCache
from core.review import STACKED_IOU, AcceptChoice, Explanation, covered_by_labels, explain_labels, new_predictions
from core.text import count as count_of
from core.text import first_names, score_text
from retina_gui import commands
from retina_gui.annotator import Annotator
from retina_gui.canvas_items import BoxView
from retina_gui.convert import PALETTE, category_color, palette_color, rect_from_xyxy
from retina_gui.widgets import model_name
from retina_gui.workers import FunctionWorker, ModelInfo, PredictionWorker


@dataclass(frozen=True)
class AcceptPlan:
    """What accepting shown predictions would do (for Accept shown (folder), worked out in a worker):
    the shown predictions of each image (highest score first, as :meth:`Predictions.folder_entries`
    gives them), those accepting adds (:func:`core.review.new_predictions`), per image what it
    chose and why it left the others out, and the labels' revision that was worked out at."""

    entries: list
    fresh: list
    choices: dict[str, AcceptChoice]
    revision: int

    @property
    def shown(self) -> int:
        return sum(len(p) for _, _, p in self.entries)

    @property
    def adds(self) -> int:
        return sum(len(p) for _, _, p in self.fresh)

    @property
    def on_another_class(self) -> int:
        return sum(c.other_class for c in self.choices.values())

    @property
    def repeating(self) -> int:
        return sum(c.repeats for c in self.choices.values())

    @property
    def labelled_already(self) -> int:
        return sum(c.labelled for c in self.choices.values())

    def waiting(self, names: set[str]) -> AcceptPlan:
        """Only the images among ``names`` (those still waiting for review)."""
        return AcceptPlan([e for e in self.entries if e[0] in names], [e for e in self.fresh if e[0] in names],
                          {n: c for n, c in self.choices.items() if n in names}, self.revision)


def plan_accept(entries: list, labels: dict[str, tuple], keys: dict[int, str], revision: int, *, chosen: bool = False) -> AcceptPlan:
    """:class:`AcceptPlan` of ``entries`` against ``labels`` (each image's boxes, as the store has
    them) whose category ids have the class-name keys ``keys``; any thread may run it. ``chosen``:
    predictions the user picked one by one (a double or right click), added even where a label of
    another class lies."""
    fresh, choices = [], {}
    for file_name, size, predictions in entries:
        if not predictions:
            continue
        boxes = np.array([p[:4] for p in predictions], dtype=np.float64)
        classes = np.array([class_name_key(p[4]) for p in predictions], dtype=object)  # as accepting matches names
        choice = choices[file_name] = new_predictions(boxes, classes, *_label_arrays(labels.get(file_name, ()), keys.__getitem__),
                                                      other_class_iou=math.inf if chosen else STACKED_IOU)
        if len(choice.keep):
            fresh.append((file_name, size, [predictions[i] for i in choice.keep]))
    return AcceptPlan(entries, fresh, choices, revision)


class Predictions(QObject):
    model_changed = Signal(object)  # ModelInfo, or None while none is loaded
    load_failed = Signal(str)  # why a model could not be loaded (the one loaded before, if any, stays)
    prediction_failed = Signal(str, str)  # image, why the model failed on it (out of memory, say)
    changed = Signal()  # the current image's predictions (or the thresholds) changed
    message = Signal(str)
    batch_progress = Signal(int, int, float)
    batch_finished = Signal(int, int, bool)
    folder_gathered = Signal(object)  # AcceptPlan, worked out in a worker for Accept folder

    MEMORY_CACHE = 512  # images whose candidates stay in memory (the rest are on disk)

    def __init__(self, annotator: Annotator) -> None:
        super().__init__()
        self.annotator = annotator
        self.worker: PredictionWorker | None = None
        self.model: ModelInfo | None = None
        self.model_path: Path | None = None
        # the loaded model's disk cache, read on this thread and by gatherers (not the worker's, which
        # it replaces on its own thread when it loads another model, before this one hears of it)
        self.cache: PredictionCache | None = None
        self.device = "auto"
        self.preset: str | None = None
        self.precision = "auto"  # as the device: the user's choice, kept for every model loaded (core.config.PRECISIONS)
        self.candidates: OrderedDict[str, object] = OrderedDict()
        self.score: float | None = None
        self.nms: float | None = None
        self.hidden: set[int] = set()  # model class indices not shown
        self.rejected: dict[str, set[int]] = {}  # per image, candidate indices the user rejected
        self.auto = True  # predict each image when it is shown
        self.batch_running = False  # a folder run (Predict folder, Evaluate's images) is going on, until its batch_finished
        self.visible = None  # Detections of the current image after thresholds and class visibility
        self.all = None  # Detections after thresholds only
        self.model_runs = 0  # images the network ran on (cache hits not counted)
        self._in_use: tuple[Path | None, str, str | None, str] = (None, "auto", None, "auto")  # model_path, device, preset, precision
        self._requested: dict[Path, tuple[str, str | None, str]] = {}  # device, preset and precision each file was last asked with
        self._gatherer: FunctionWorker | None = None
        self._gathered_view: tuple | None = None  # what the gathered entries were shown with (see _view)
        annotator.image_shown.connect(self._image_shown)
        annotator.image_failed.connect(self._image_failed)

    # --- lifecycle -----------------------------------------------------------------------------
    def attach(self, folder: Path, cache_root: Path) -> None:
        self.detach()
        self.worker = PredictionWorker(folder, cache_root)
        self.worker.model_loaded.connect(self._model_loaded)
        self.worker.model_failed.connect(self._model_failed)
        self.worker.predicted.connect(self._predicted)
        self.worker.cached_names.connect(self._cached_names)
        self.worker.rejected_loaded.connect(self._rejected_loaded)
        self.worker.failed.connect(self._failed)
        self.worker.prediction_failed.connect(self.prediction_failed)
        self.worker.progress.connect(self.batch_progress)
        self.worker.batch_finished.connect(self._batch_finished)
        self.worker.batch_restarted.connect(self._batch_restarted)
        self.worker.start()
        if self.model_path is not None:
            self.load_model(self.model_path, self.device, self.preset)

    def _batch_restarted(self, images: int) -> None:
        """(The bar went back to 0 without a word.)"""
        self.message.emit(f"the folder run starts over with the model loaded: its {count_of(images, 'image')} are all to be that model's")

    def detach(self) -> None:
        self._stop_gathering()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.batch_running = False
        self.model, self.cache = None, None
        self.candidates.clear()
        self.visible = self.all = None
        self.model_changed.emit(None)
        self.changed.emit()

    def load_model(self, path: Path, device: str = "auto", preset: str | None = None, precision: str | None = None) -> None:
        """Load in the worker; ``preset`` None: the one the weights name; ``precision`` None: the one
        chosen before. The current model stays in use until the new one has loaded, and if it cannot be."""
        precision = self.precision if precision is None else precision
        self.model_path, self.device, self.preset, self.precision = path, device, preset, precision
        self._requested[path] = (device, preset, precision)
        if self.worker is not None:
            self.message.emit(f"loading {path.name} …")
            self.worker.load_model(path, device, preset, precision)
        elif self.model is None:  # (it loaded in silence once a folder was opened, and the panel said "no model")
            self.message.emit(f"{path.name} loads when a folder is opened (File ▸ Open Folder…)")
            self.model_changed.emit(None)

    def _model_loaded(self, info: ModelInfo) -> None:
        self.model, self.cache = info, PredictionCache(self.worker.cache_root, info.cache_key, self.worker.folder)
        self._in_use = (info.path, *self._requested.get(info.path, ("auto", None, "auto")))  # the choices it was loaded with
        self.candidates.clear()
        self.rejected.clear()
        self.refilter()  # the old model's boxes go; the new ones come from the worker
        # the thresholds the user set stay, for another model (a finished run's, say) as for the same
        # one loaded again (raised to its floor); the first model starts at 0.3 and its own NMS
        self.score = max(0.3 if self.score is None else self.score, info.score_floor)
        self.nms = info.nms_thresh if self.nms is None else self.nms
        # a COCO head's placeholder rows (__background__, N/A) are no classes: never shown (a random head predicts them)
        self.hidden = info.placeholders
        self.message.emit(f"model {model_name(info.path)}: {count_of(info.class_count, 'class')}, {info.preset} preset, {info.device} {info.precision}")
        self.model_changed.emit(info)
        if self.auto and self.annotator.current is not None:
            self.request(self.annotator.current)

    def _model_failed(self, reason: str) -> None:
        if self.model is not None:  # the worker still has it: go on with it
            self.model_path, self.device, self.preset, self.precision = self._in_use
            if self.auto and self.annotator.current is not None and self.annotator.current not in self.candidates:
                self.request(self.annotator.current)  # the load dropped the image waiting for its prediction
        else:
            self.model_path = None
            self.model_changed.emit(None)
        self.load_failed.emit(reason)
        self.message.emit(f"could not load the model: {reason}")

    # --- predicting ----------------------------------------------------------------------------
    def request(self, name: str) -> None:
        if self.worker is not None and self.model is not None:
            self.worker.predict([name])

    def predict_folder(self) -> None:
        if self.model is None:
            self.message.emit("no model loaded: Model ▸ Load Model… first")
        elif self.worker is not None:
            listed = self.annotator.files.model
            names = [n for n in listed.names if n not in listed.unreadable]
            self.predict_batch(names)
            known = f", {len(listed.names) - len(names)} known to be unreadable left out" if len(names) < len(listed.names) else ""
            self.message.emit(f"predicting the folder's {len(names)} images{known} … (progress and Cancel in the Model panel)")

    def predict_batch(self, names: list[str]) -> None:
        """Predict these images in the background, with progress (the folder's, or the labelled
        images Evaluate needs); the unreadable ones are counted apart."""
        self.batch_running = self.batch_running or bool(names)
        self.worker.predict_folder(names)

    def _batch_finished(self, done: int, unreadable: int, cancelled: bool) -> None:
        self.batch_running = False
        self.batch_finished.emit(done, unreadable, cancelled)

    def cancel_folder(self) -> None:
        if self.worker is not None:
            self.worker.cancel_batch()

    def _image_shown(self, name: str, _w: int, _h: int) -> None:
        if name in self.candidates:
            self.candidates.move_to_end(name)
        elif self.auto or (self.cache is not None and name in self.cache):  # cached: shown even when not predicting
            self.request(name)
        self.refilter()

    def _rejected_loaded(self, rejected: dict[str, set[int]]) -> None:
        self.rejected = rejected
        self.refilter()

    def _image_failed(self, _name: str, _reason: str) -> None:
        self.refilter()  # nothing to show for an unreadable image: the previous image's counts go

    def _predicted(self, name: str, candidates, from_cache: bool) -> None:
        self.model_runs += not from_cache
        self.candidates[name] = candidates
        self.candidates.move_to_end(name)
        while len(self.candidates) > self.MEMORY_CACHE:
            oldest = next(iter(self.candidates))
            if oldest == self.annotator.current:  # the image on screen keeps its own: a slider move re-filters them
                self.candidates.move_to_end(oldest)
                oldest = next(iter(self.candidates))
            del self.candidates[oldest]
        store = self.annotator.workspace.store if self.annotator.workspace else None
        if store is not None and name not in store.predicted and self._waits_for_review(store.status(name), from_cache):
            store.mark_predicted([name])
        if name == self.annotator.current:
            self.refilter()

    @staticmethod
    def _waits_for_review(status: ImageStatus, from_cache: bool) -> bool:
        """Whether an image's predictions wait for review (amber when it has no labels; Accept
        folder takes them): those of an unlabelled image, and the new ones of a labelled image not
        marked reviewed. Cached ones of a labelled image do not: it was accepted, or cleaned up, in
        an earlier session (reopening the folder put back the false positives it had deleted)."""
        return status is ImageStatus.UNLABELLED or (status is ImageStatus.LABELLED and not from_cache)

    def _cached_names(self, names: list[str]) -> None:
        """The images the loaded model predicted in an earlier session."""
        store = self.annotator.workspace.store if self.annotator.workspace else None
        if store is None:
            return
        store.mark_predicted(n for n in names if n not in store.predicted and self._waits_for_review(store.status(n), True))

    def _failed(self, name: str, reason: str) -> None:
        self.annotator.files.model.mark_unreadable(name, reason)

    # --- thresholds and visibility -------------------------------------------------------------
    def set_thresholds(self, score: float, nms: float) -> None:
        self.score, self.nms = score, nms
        self.refilter()

    def set_class_visible(self, index: int, visible: bool) -> None:
        (self.hidden.discard if visible else self.hidden.add)(index)
        self.refilter()

    def refilter(self) -> None:
        """Apply the thresholds to the current image's cached candidates (no network run)."""
        candidates = self.candidates.get(self.annotator.current) if self.annotator.current else None
        if candidates is None or self.model is None:
            self.visible = self.all = None
        else:
            self.all = candidates.filter(self.score, self.nms, self.model.max_detections)
            shown = shown_mask(self.all, self.hidden, self.rejected.get(self.annotator.current, set()))
            self.visible = self.all.subset(shown)
        self.changed.emit()

    def current_candidates(self):
        return self.candidates.get(self.annotator.current) if self.annotator.current else None

    def box_views(self) -> list[BoxView]:
        if self.visible is None or self.model is None:
            return []
        store = self.annotator.workspace.store if self.annotator.workspace else None
        covered = self._covered_by_labels(store)
        colors = self.class_colors()
        views = []
        for box, score, label, faint in zip(self.visible.boxes, self.visible.scores, self.visible.labels, covered):
            name = self.model.class_names[int(label)]
            views.append(BoxView(rect_from_xyxy(box), f"{name} {score_text(float(score), self.score)}", QColor(colors[int(label)]), float(score),
                                 bool(faint)))
        return views

    def class_colors(self) -> list[QColor]:
        """The colour of each model class: its label class's where the labels have one by that name;
        else a palette colour no label class and no other model class has (by index alone, a
        model class took a label class's colour, and accepting it made two classes look alike)."""
        store = self.annotator.workspace.store if self.annotator.workspace else None
        by_key = {class_name_key(c.name): c for c in store.categories} if store else {}
        found = [by_key.get(class_name_key(name)) for name in self.model.class_names]
        used = {category_color(c).name() for c in (store.categories if store else ())}
        free = (QColor(c) for c in PALETTE if c not in used)
        colors = []
        for k, category in enumerate(found):
            colors.append(category_color(category) if category is not None else next(free, palette_color(k)))
        return colors

    def _covered_by_labels(self, store) -> np.ndarray:
        """Mask of the visible predictions that a label of the same class already covers (accepted
        ones, or the model agreeing with a drawn label): drawn faintly, as accepting skips them."""
        if store is None or self.annotator.current is None:
            return np.zeros(len(self.visible), dtype=bool)
        keys = np.array([class_name_key(n) for n in self.model.class_names], dtype=object)
        return covered_by_labels(self.visible.boxes, keys[self.visible.labels], *_labels_by_key(store, self.annotator.current))

    # --- accepting -----------------------------------------------------------------------------
    def accept(self, indices: list[int]) -> int:
        """Accept these visible predictions of the current image (one undo step)."""
        if self.visible is None or self.annotator.current is None or self.annotator.size is None:
            return 0
        entry = (self.annotator.current, self.annotator.size, as_predictions(self.visible, indices, self.model.class_names))
        return self.accept_entries(self.plan_accept([entry], chosen=True), "Accept {count} prediction{s}", reviews=False)

    def reject(self, index: int) -> None:
        """Hide one prediction of the current image (it is not accepted by "accept shown" either);
        an undo step, as accepting is."""
        workspace = self.annotator.workspace
        if self.visible is not None and self.annotator.current is not None and workspace is not None:
            workspace.undo_stack.push(commands.RejectPrediction(self, self.model.cache_key, self.annotator.current,
                                                                int(self.visible.candidate_index[index]), self.prediction_text(index)))

    def prediction_text(self, index: int) -> str:
        """A shown prediction as its tag reads: "white-rook 0.93"."""
        return f"{self.model.class_names[int(self.visible.labels[index])]} {score_text(float(self.visible.scores[index]), self.score)}"

    def set_rejected(self, cache_key: str, file_name: str, candidate: int, rejected: bool) -> None:
        """``cache_key``: the model the candidate number belongs to; another (another file, preset,
        input size, or the same file rewritten by a resumed run) numbers its candidates anew, while
        the same one loaded again (another device) keeps them."""
        if self.model is None or self.model.cache_key != cache_key:
            return
        chosen = self.rejected.setdefault(file_name, set())
        if rejected:
            chosen.add(candidate)
        else:
            chosen.discard(candidate)
        if self.worker is not None:
            self.worker.save_rejected(cache_key, self.rejected)  # kept with the model's cached predictions
        if file_name == self.annotator.current:
            self.refilter()

    def classes_to_add(self, entries) -> list[str]:
        """The class names of these predictions (x1, y1, x2, y2, name) that the labels lack:
        accepting them adds those classes."""
        store = self.annotator.workspace.store if self.annotator.workspace else None
        have = {class_name_key(c.name) for c in store.categories} if store else set()
        names = dict.fromkeys(p[4] for _, _, predictions in entries for p in predictions)
        return [n for n in names if class_name_key(n) not in have]

    def image_entries(self) -> list[tuple[str, tuple[int, int], list[tuple[float, float, float, float, str]]]]:
        """The shown predictions of the current image, as :meth:`folder_entries` gives them."""
        if self.visible is None or self.annotator.current is None or self.annotator.size is None:
            return []
        return [(self.annotator.current, self.annotator.size,
                 as_predictions(self.visible, list(range(len(self.visible))), self.model.class_names))]

    def folder_entries(self, cancel: CancelToken | None = None) -> list[tuple[str, tuple[int, int], list[tuple[float, float, float, float, str]]]]:
        """(image, size, shown predictions) of every predicted image, at the current thresholds.
        Any thread may run what it gathers from (:meth:`gather_folder` runs it in a worker)."""
        gather = self._folder_gatherer()
        return gather(cancel or CancelToken()) if gather is not None else []

    def _folder_gatherer(self):
        """A function of a cancel token that gives :meth:`folder_entries`, over a snapshot of what
        it needs from this thread (the store, thresholds, rejections), or None without a model."""
        workspace = self.annotator.workspace
        if self.model is None or workspace is None:
            return None
        store = workspace.store
        names = list(store.predicted)
        in_memory = {n: self.candidates[n] for n in names if n in self.candidates}
        sizes = {n: (e.width, e.height) for n in names if (e := store.entry(n)) is not None}
        cache = self.cache
        score, nms, max_detections, class_names = self.score, self.nms, self.model.max_detections, self.model.class_names
        hidden, rejected = set(self.hidden), {n: set(r) for n, r in self.rejected.items()}
        folder = workspace.folder

        def gather(cancel: CancelToken) -> list:
            entries = []
            for name in names:
                cancel.raise_if_cancelled()
                candidates = in_memory.get(name)
                if candidates is None and cache is not None:
                    candidates = cache.get(name)
                if candidates is None:
                    continue
                detections = candidates.filter(score, nms, max_detections)
                size = sizes.get(name)
                if size is None:
                    try:
                        size = image_size(folder / name)
                    except ImageReadError:
                        continue
                indices = np.flatnonzero(shown_mask(detections, hidden, rejected.get(name, set()))).tolist()
                entries.append((name, size, as_predictions(detections, indices, class_names)))
            return entries

        return gather

    def gather_folder(self) -> bool:
        """Start gathering :meth:`folder_entries` in a worker, for :attr:`folder_gathered`: reading
        and filtering the cached candidates of 10,000 images takes about 20 s, which froze the
        window. False when it cannot start (no model, or a gathering still running)."""
        if self._gatherer is not None:
            self.message.emit("still gathering the folder's predictions …")
            return False
        gather = self._folder_gatherer()
        if gather is None:
            self.message.emit("no model loaded: Model ▸ Load Model… first")
            return False
        self._gathered_view = self._view()
        labels, keys, revision = self._labels_snapshot(self.annotator.workspace.store.predicted)

        def work(cancel: CancelToken) -> AcceptPlan:
            return plan_accept(gather(cancel), labels, keys, revision)

        self._gatherer = FunctionWorker(work)
        self._gatherer.done.connect(self._folder_gathered)
        self._gatherer.failed.connect(self._gathering_failed)
        self._gatherer.start()
        self.message.emit(f"gathering the shown predictions of {count_of(len(self.annotator.workspace.store.predicted), 'image')} …")
        return True

    def _view(self) -> tuple:
        """What decides the folder's shown predictions, besides the labels (which accepting reads
        afresh) and which images wait for review (predictions arriving meanwhile add some)."""
        return (self.model.cache_key if self.model else None, self.score, self.nms, frozenset(self.hidden),
                frozenset((n, frozenset(r)) for n, r in self.rejected.items()))

    def _stop_gathering(self) -> None:
        if self._gatherer is not None:
            self._gatherer.stop()
            self._gatherer = None

    def _folder_gathered(self, gathered: AcceptPlan) -> None:
        self._stop_gathering()
        if self._view() != self._gathered_view:  # what was gathered is no longer what is shown
            self.message.emit("the shown predictions changed while they were gathered (a threshold, a class shown or hidden, a rejection): "
                              "accept again")
            return
        store = self.annotator.workspace.store if self.annotator.workspace else None
        if store is not None and store.revision != gathered.revision:  # labels edited meanwhile: what accepting adds, afresh
            gathered = self.plan_accept(gathered.entries)
        self.folder_gathered.emit(gathered.waiting(store.predicted if store is not None else set()))  # not those marked reviewed meanwhile

    def _labels_snapshot(self, names) -> tuple[dict[str, tuple], dict[int, str], int]:
        """These images' labels (the store's own tuples: no copy), the class-name key of each
        category, and the store's revision: what :func:`plan_accept` needs, for any thread."""
        store = self.annotator.workspace.store
        return ({n: store.boxes(n) for n in names}, {c.id: class_name_key(c.name) for c in store.categories}, store.revision)

    def plan_accept(self, entries: list, *, chosen: bool = False) -> AcceptPlan:
        """:func:`plan_accept` of ``entries`` against the labels as they are now, on this thread."""
        return plan_accept(entries, *self._labels_snapshot(name for name, _, _ in entries), chosen=chosen)

    def _gathering_failed(self, reason: str) -> None:
        self._stop_gathering()
        self.message.emit(f"could not gather the folder's predictions: {reason}")

    def accept_entries(self, gathered: AcceptPlan, text: str, *, reviews: bool = True) -> int:
        """Add what accepting ``gathered`` adds (its ``fresh`` predictions) as one undo step named
        ``text`` (``{count}`` and ``{s}`` in it: the number added, and its plural ending).
        ``reviews``: its images' shown predictions were all looked at (accept shown), so they no
        longer wait for review; predictions picked one by one leave the others waiting (one of 43
        accepted by a double-click took the image out of Accept shown (folder))."""
        workspace = self.annotator.workspace
        if workspace is None or workspace.read_only:
            self.message.emit(workspace.read_only_text if workspace else "Open a folder first")
            return 0
        # a new class keeps the colour its predictions had: accepting (and undoing) changes no colour
        colors = {name: color.name() for name, color in zip(self.model.class_names, self.class_colors())} if self.model is not None else None
        added = gathered.adds
        new_classes = self.classes_to_add(gathered.fresh)
        count = workspace.accept_predictions(gathered.fresh, text.format(count=added, s="" if added == 1 else "s"), colors,
                                             reviewed=[e[0] for e in gathered.entries if e[2]] if reviews else [])  # nothing shown: not reviewed
        other, repeats, labelled = gathered.on_another_class, gathered.repeating, gathered.labelled_already
        left = [f"{labelled} labelled already"] if labelled else []
        left += [f"{repeats} repeating a likelier prediction of the same class"] if repeats else []
        left += [f"{other} on a label or likelier prediction of another class"] if other else []
        # a class added is said (one prediction accepted by a double-click added the model's class unannounced)
        classes = f"; new class{'es' if len(new_classes) > 1 else ''}: {first_names(new_classes)}" if count and new_classes else ""
        # images with nothing shown at this score stay waiting, amber, for a lower score to show their predictions: said
        # (amber left on them read as predictions still to look at)
        store = workspace.store
        idle = sum(1 for e in gathered.entries if not e[2] and store.status(e[0]) is ImageStatus.PREDICTED) if reviews else 0
        waiting = f"; {count_of(idle, 'image')} with nothing shown {'stays' if idle == 1 else 'stay'} amber" if idle else ""
        self.message.emit(f"accepted {count_of(count, 'prediction')}{classes}" + (f"; left out: {', '.join(left)}" if left else "") + waiting)
        self.refilter()
        return count

    # --- explanations --------------------------------------------------------------------------
    def explain_label(self, index: int, best_anchor_iou: float) -> Explanation | str:
        """Why label ``index`` of the current image is (not) detected; ``best_anchor_iou``: the best
        IoU of the model's anchors with it."""
        candidates = self.current_candidates()
        if self.model is None or candidates is None or self.all is None:
            return "no predictions for this image yet"
        store = self.annotator.workspace.store
        boxes = store.boxes(self.annotator.current)
        if boxes[index].iscrowd:
            return "a crowd region: detections of its class there are neither hits nor false positives"
        model_index = {cid: k for k, cid in category_of_class(list(self.model.class_names), store.categories).items()}
        if boxes[index].category_id not in model_index:
            return f"the model has no class named {store.category(boxes[index].category_id).name}"
        known = [i for i, b in enumerate(boxes) if b.category_id in model_index and not b.iscrowd]
        anchor_iou = np.zeros(len(known))  # (only the explained label's is read)
        anchor_iou[known.index(index)] = best_anchor_iou
        result = explain_labels(np.array([[boxes[i].x1, boxes[i].y1, boxes[i].x2, boxes[i].y2] for i in known]),
                                np.array([model_index[boxes[i].category_id] for i in known]), candidates, self.all,
                                score_thresh=self.score, nms_thresh=self.nms, best_anchor_iou=anchor_iou,
                                positive_iou=self.model.assign.positive_iou, class_names=list(self.model.class_names),
                                hidden_classes=self.hidden, only=known.index(index))
        return result[0]


def shown_mask(detections: Detections, hidden: set[int], rejected: set[int]) -> np.ndarray:
    """Mask of the detections not of a hidden model class and not rejected on their image."""
    return np.array([int(k) not in hidden and int(c) not in rejected for k, c in zip(detections.labels, detections.candidate_index)],
                    dtype=bool)


def as_predictions(detections: Detections, indices: list[int], class_names) -> list[tuple[float, float, float, float, str]]:
    """These detections as (x1, y1, x2, y2, class name), as accepting takes them."""
    return [(*map(float, detections.boxes[i]), class_names[int(detections.labels[i])]) for i in indices]


def _labels_by_key(store, file_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The image's non-crowd labels: boxes [N, 4] and class-name keys [N] (as predictions are matched to them)."""
    return _label_arrays(store.boxes(file_name), lambda category_id: class_name_key(store.category(category_id).name))


def _label_arrays(boxes, key_of) -> tuple[np.ndarray, np.ndarray]:
    """The non-crowd ``boxes``: [N, 4] and their class-name keys [N] (``key_of(category_id)``)."""
    labels = [b for b in boxes if not b.iscrowd]
    return (np.array([[b.x1, b.y1, b.x2, b.y2] for b in labels], dtype=np.float64).reshape(-1, 4),
            np.array([key_of(b.category_id) for b in labels], dtype=object))
