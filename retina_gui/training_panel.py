"""The training panel: one-click fine-tuning of the current model on the folder's labels in the
background, with progress, a live loss / mAP chart, a log, cancel and resume, and clear failure
messages. Its parts: the recipe (recipe_form), the runs list (runs_list), Previous model
(model_history)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from core.finetune import (
    RUNS_FOLDER,
    FineTuneError,
    Recipe,
    check_labels,
    describe_plan,
    empty_classes,
    estimate_duration,
    load_recipe,
    new_run_dir,
    runs_folder_problem,
)
from core.history import append_log, read_history
from core.labels import class_name_key
from core.text import duration, first_names
from retina_gui.loss_chart import LossChart
from retina_gui.model_history import ModelHistory
from retina_gui.predictions import Predictions
from retina_gui.recipe_form import RecipeForm
from retina_gui.runs_list import RunsList
from retina_gui.widgets import BoundedNote, TaskProgress, button_grid, model_name, rows_high, scroll_into_view
from retina_gui.workers import TrainingWorker


class TrainingPanel(QWidget):
    failed = Signal(str)  # a failure message for the window to show
    run_ended = Signal(str)  # a run finished: what it scored, and whether its model is now in use, for the window to show

    def __init__(self, predictions: Predictions, parent: QWidget | None, *, confirm: Callable[..., bool], settings: QSettings) -> None:
        super().__init__(parent)
        self.predictions = predictions
        self.confirm = confirm
        self.annotator = predictions.annotator
        self.worker: TrainingWorker | None = None
        self.run_dir: Path | None = None
        self._shown_run: Path | None = None  # the run whose log and chart the panel shows
        self._left_out: list[str] = []  # the classes without boxes the run going on leaves out
        self._unlogged: str | None = None  # a line of the run's log said before its folder was made, for its train.log
        self._ending: list[TrainingWorker] = []  # runs let go of (another folder opened): cancelled, ending their step
        self.model_history = ModelHistory(predictions, settings, self)
        self.model_history.going_back.connect(self._going_back)
        self.recipe_form = RecipeForm(predictions, settings)
        self.recipe_form.changed.connect(self.labels_changed)
        self.runs_list = RunsList(predictions, settings, busy=self._busy_runs, confirm=confirm)
        self.runs_list.chosen.connect(self._run_chosen)
        self.runs_list.selection_changed.connect(self._selection_changed)
        self.runs_list.deleted.connect(self._run_deleted)
        self.runs_list.said.connect(self._say)
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Fine-tune the current model on the labelled images of this folder, in the background")
        self.train_button.clicked.connect(self.train)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Go on with a stopped run: the one selected in the runs list, else the newest")
        self.resume_button.clicked.connect(self.resume)
        self.progress = TaskProgress("%p %")
        self.status = BoundedNote(lines=5)  # (at 3 a run's result was cut before whether its model took over)
        # a finished run's model not taken over unasked (worse than its start, a new model, or another chosen meanwhile):
        # offered under its result (a modal question came up in the middle of labelling, and Enter answered it)
        self.use_run_button = QPushButton("Use its model")
        self.use_run_button.setToolTip("Switch to the model this run trained (“Previous model” switches back)")
        self.use_run_button.clicked.connect(self._use_offered)
        self.use_run_button.hide()
        self._offered: tuple[Path, str] | None = None  # its checkpoint, and the status once taken over
        self._refusal: str | None = None  # why Train could not start, while the status line says it
        self._status_model: Path | None = None  # the model the status line says is in use ("now using …", "back to …")
        self.plan = QLabel("")  # what Train would do with the labels as they are now
        self._plan_stale = False  # the labels changed while the panel was hidden
        self._on_screen = True  # see set_on_screen
        self._folder_images: list[str] | None = None  # the open folder's images, once listed (before: every labelled one counts)
        self.plan.setWordWrap(True)
        self._plan_timer = QTimer(self, singleShot=True, interval=300)  # after a burst of edits, once
        self._plan_timer.timeout.connect(self.describe)
        self.runs_list.refreshed.connect(self._plan_timer.start)  # the estimate of Train's time takes the newest run's speed
        self.recipe_form.opened.connect(self._plan_later)
        self.chart = LossChart()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.log.setMinimumHeight(rows_high(self.log, 4))

        # the buttons, and a run's progress and status under them, stay in view as the rest scrolls (the
        # window docks ``pinned`` above the panel): below the recipe, or scrolled past, Cancel and Resume were out of sight
        self.pinned = QWidget()
        top = QVBoxLayout(self.pinned)
        top.setContentsMargins(2, 2, 2, 2)
        top.addLayout(button_grid(self.train_button, self.cancel_button, self.resume_button, self.model_history.back_button))
        progress_row = QHBoxLayout()  # (the offer beside the finished run's bar: a row of its own pushed the chart out of view)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.use_run_button)
        top.addLayout(progress_row)
        top.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.plan)
        layout.addWidget(self.recipe_form)
        layout.addWidget(self.chart, 2)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.runs_list, 1)
        predictions.model_changed.connect(self._model_changed)
        self._set_running(False)

    # --- the plan ----------------------------------------------------------------------------
    def _model_changed(self, info) -> None:
        if self.worker is None and self._status_model is not None and (info is None or info.path != self._status_model):
            self.status.setText("")  # "now using …" of a model no longer in use (another run's chosen since)
            self._status_model = None
        if self._offered is not None and info is not None and Path(info.path).resolve() == self._offered[0].resolve():
            # taken (Use its model, the runs list): the status says it is in use (it went on offering it)
            self.status.setText(self._offered[1])
            self._status_model = info.path
            self._withdraw_offer()
        if info is not None:
            self.recipe_form.start_chosen()  # a fine-tune's backbone field shows this model's
        if self.worker is None:
            self.recipe_form.refill_shown()
        self.runs_list.refresh()
        # the list follows the model to its run, with the run's log and chart
        run = self.runs_list.select_run_of(info.path) if info is not None else None
        if run is not None and (self._shown_run is None or self._shown_run.resolve() != run):  # (the run just finished keeps its
            self._run_chosen(run)  # chart of every step: read back, it has a point an epoch)
        self._set_running(self.worker is not None)
        self._plan_timer.start()

    def _plan_later(self, *_args) -> None:
        self._plan_timer.start()  # (connected straight to start, a bool argument would be its interval)

    def labels_changed(self, *_args) -> None:
        if self.worker is None and self.status.text() == self._refusal:  # it was about the labels as they were
            self.status.setText("")
        self._plan_timer.start()

    def describe(self) -> None:
        """Says what Train would use (core's plan of the labels as they are now). Only while the
        panel is on screen: at 100,000 boxes it costs ~100 ms after every burst of edits; a panel
        behind another tab says it when it comes forward."""
        ws, model = self.annotator.workspace, self.predictions.model
        self._plan_stale = ws is not None and not self._on_screen
        if ws is None:
            self.plan.setText("")
        elif not self._plan_stale:
            labels = ws.store.to_labelset()
            recipe = self.recipe_form.recipe(labels)  # the validation share and seed of Advanced, when it is open
            plan = describe_plan(labels, model.classes if model else None, self._folder_images, recipe)
            if model is None and self.recipe_form.from_current:  # (Train said so only once pressed)
                plan = f"{plan}\nFirst load a model (Model ▸ Load Model…), or start from a new one in Advanced."
            elif gone := self._start_gone(recipe):
                plan = f"{plan}\n{gone}"
            if problem := runs_folder_problem(self.runs_list.root):  # (said only once Train was pressed, in a box over the folder's own)
                plan = f"{plan}\n{problem}: Train cannot start."
            busy = self._busy_runs()  # a run still training: its speed so far is no guide
            runs = [run for run in self.runs_list.runs if run.speed is not None and run.path.resolve() not in busy] or self.runs_list.remembered_runs()
            if runs:
                plan = f"{plan}\n{estimate_duration(labels, recipe, runs, self._device_kind(recipe), self._folder_images)}".rstrip()
            self.plan.setText(plan)

    def set_folder_images(self, names: list[str]) -> None:
        """The folder's images, once listed: labelled images gone from it are not counted."""
        self._folder_images = names
        self._plan_timer.start()

    def set_on_screen(self, on_screen: bool) -> None:
        """The panel's dock came forward in its tab group, or went behind another (a tab behind
        another is still "visible" to Qt: its dock says which)."""
        self._on_screen = on_screen
        if on_screen and self._plan_stale:
            self.describe()

    def _device_kind(self, recipe: Recipe) -> str:
        """Where a run of ``recipe`` would train: "cuda" or "cpu"."""
        return ("cuda" if self.recipe_form.cuda_here() else "cpu") if recipe.device == "auto" else recipe.device.split(":")[0]

    def attach(self) -> None:
        """A folder opened: its runs, its plan, and Advanced open with the user's edits when it was
        left open with them."""
        self.runs_list.refresh()
        self.recipe_form.attach()
        # (deferred, as the other causes are: an open said it three times, 0.2 s at 100,000 boxes before the window showed)
        self._plan_timer.start()

    # --- running -------------------------------------------------------------------------------
    def train(self, *, resume_dir: Path | None = None) -> bool:
        ws = self.annotator.workspace
        if ws is None or self.worker is not None:
            return False
        if problem := runs_folder_problem(self.runs_list.root):  # said now, not as a raw error from the worker
            written = "" if (self.runs_list.root / RUNS_FOLDER).is_file() else (
                " Or File ▸ Open Labels File… keeps the labels, and the runs beside them, in a folder that can be written.")
            self._refuse(f"{problem}.{written}")
            return False
        labels = ws.store.to_labelset()  # a snapshot: labelling goes on while the model trains
        if self._folder_images is not None:  # as the plan line counted them: labelled images gone from the folder are not split
            labels = labels.with_files(self._folder_images)
        problems = check_labels(labels, resuming=resume_dir is not None)
        # classes without boxes alone in the way: the run may leave them out, after asking (a Roboflow export's rare class
        # stopped every fine-tune on a part of it until the class was deleted from the labels)
        empty = empty_classes(labels) if problems and resume_dir is None and not check_labels(labels.without_empty_classes()) else []
        if problems and not empty:
            self._refuse(problems[0])
            return False
        if resume_dir is not None:
            try:
                recipe = load_recipe(resume_dir)
            except FineTuneError as exc:
                self._refuse(str(exc))
                return False
        else:
            recipe = self.recipe_form.recipe()
            if recipe.start is None and self.recipe_form.from_current and self.predictions.model is None:
                self._refuse("Load a model first, or choose to start from a new model (Advanced).")
                return False
            if (gone := self._start_gone(recipe)) is not None:
                self._refuse(gone)
                return False
            if recipe.precision == "fp16" and self._device_kind(recipe) == "cpu":  # (no loss scaling there, and slow)
                self._refuse("fp16 trains on a GPU only: choose auto, fp32 or bf16 in Advanced ▸ Precision.")
                return False
        if empty:
            if not self._leaving_out_accepted(empty):
                self._refuse(problems[0])
                return False
            labels = labels.without_empty_classes()
        if resume_dir is None and recipe.start is None and not self._random_start_accepted(recipe.backbone):
            return False
        self._left_out = empty
        self.run_dir = self._shown_run = resume_dir or new_run_dir(self.runs_list.root)
        self.chart.clear()
        self.log.clear()
        self._unlogged = f"left out of this run, having no boxes: {', '.join(empty)}" if empty else None
        if self._unlogged:
            self.log.appendPlainText(self._unlogged)
        if resume_dir is not None:
            self._show_history(resume_dir)
            if changed := self.recipe_form.changed_from(recipe):  # edits in Advanced went unused without a word
                self.log.appendPlainText(f"resumed with the run's own recipe ({', '.join(changed)}), not Advanced's: those "
                                         "settings are for a new run")
        self._withdraw_offer()
        self.status.setText("starting …")
        self.progress.setRange(0, 0)  # busy until the first step says how many (the last run's "100 %" stood there, or nothing)
        self.progress.show()
        self._status_model = None
        # the model in use as it starts: another one in use at its end was chosen meanwhile (a resumed run's
        # recipe names the weights it first started from, maybe days ago)
        self.worker = TrainingWorker(labels, ws.folder, self.run_dir, recipe, resume=resume_dir is not None,
                                     model_at_start=self.predictions.model.path if self.predictions.model is not None else None)
        self.worker.event.connect(self._event)
        self.worker.run_finished.connect(self._finished)
        self.worker.failed.connect(self._fail)
        self._set_running(True)
        self.worker.start()
        self.runs_list.refresh()  # a resumed run's row says it trains
        return True

    def _leaving_out_accepted(self, empty: list[str]) -> bool:
        them, many = ("them", True) if len(empty) > 1 else ("it", False)
        return self.confirm("Classes without boxes", f"{first_names(empty)} {'have' if many else 'has'} no boxes yet. Train without "
                                                     f"{them}? This run learns the other classes, and its model does not detect {them}; "
                                                     f"the class{'es stay' if many else ' stays'} in your labels. (No: nothing starts; "
                                                     f"label some boxes of {them} first, or delete {them}.)")

    @staticmethod
    def _start_gone(recipe: Recipe) -> str | None:
        """Why a fine-tune cannot start from the model in use: its file went after it was loaded
        (the worker said "…: no such file", and left an empty runs folder)."""
        if recipe.start is None or Path(recipe.start).is_file():
            return None
        return (f"The model in use, {recipe.start}, is no longer on disk (deleted or moved since it was loaded): load it again "
                "(Model ▸ Load Model…), or start from a new model in Advanced.")

    def _random_start_accepted(self, backbone: str) -> bool:
        """A new model without ImageNet weights on this computer starts from random weights (no
        download behind the user's back): asked first, with where the weights go (it started so
        unsaid, and a new user's first run learnt next to nothing)."""
        from core.backbones import imagenet_files, pretrained_cached

        if pretrained_cached(backbone):
            return True
        files, folder = imagenet_files(backbone)
        return self.confirm("Train from random weights?",
                            f"ImageNet weights for {backbone} are not on this computer, so the new model would start from random "
                            "weights: it needs far more labelled images and epochs than a fine-tune, and detects little for a long "
                            f"while. To start from ImageNet instead, copy {' or '.join(files)} into {folder}/ and press Train again.\n\n"
                            "Train from random weights anyway?")

    def cancel(self) -> None:
        if self.worker is not None:
            self.status.setText("cancelling … (the last checkpoint is kept)")
            self.worker.cancel.cancel()

    def resume(self) -> None:
        if self.runs_list.resumable is not None:
            self.train(resume_dir=self.runs_list.resumable)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
            self._set_running(False)

    def _let_go(self) -> None:
        """Cancel the run and stop listening to it, without waiting: its step ends (seconds, on a CPU:
        the window froze that long), it keeps its checkpoint in its own run folder, and ends."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        for signal in (worker.event, worker.run_finished, worker.failed):
            signal.disconnect()
        worker.finished.connect(self._run_ended)  # (before the cancel: it may end at once)
        self._ending.append(worker)
        worker.cancel.cancel()
        self._set_running(False)

    def _run_ended(self) -> None:
        """Forget the let-go runs that have ended (also called where its queued call may have been
        dropped with a closed folder's)."""
        ended = [w for w in self._ending if w.isFinished()]
        for worker in ended:
            worker.wait()
            self._ending.remove(worker)

    @property
    def ending(self) -> bool:
        """Whether a run let go of is still ending its step (quitting waits for it)."""
        self._run_ended()
        return bool(self._ending)

    def _busy_runs(self) -> set[Path]:
        """The run folders a run is writing in: the one training, and those let go of that are ending."""
        self._run_ended()
        busy = [w.run_dir for w in self._ending] + ([self.run_dir] if self.worker is not None else [])
        return {path.resolve() for path in busy}

    def wait_ending(self, ms: int) -> None:
        for worker in self._ending:
            worker.wait(ms)

    def detach(self) -> None:
        """The folder closes: its run is cancelled (and let go of), and nothing of it (Resume, the
        chart, the log, the Advanced settings, which were chosen for its data) carries over to the
        next folder."""
        self._let_go()
        self._folder_images = None
        self.recipe_form.detach()
        self.run_dir = self._shown_run = None
        self.runs_list.clear()
        self.chart.clear()
        self.log.clear()
        self.status.setText("")
        self._withdraw_offer()
        self.progress.hide()

    def _set_running(self, running: bool) -> None:
        ready = self.annotator.workspace is not None
        self.train_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running)
        resumable = self.runs_list.resumable if ready and not running else None
        self.resume_button.setEnabled(resumable is not None)
        self.resume_button.setToolTip(f"Go on with the stopped run {resumable.name}" if resumable is not None else
                                      "Go on with a stopped run: the one selected in the runs list, else the newest")
        if not running and self.progress.maximum() == 0:  # ended before its first step: no busy bar left going
            self.progress.setRange(0, 1)
            self.progress.hide()
        self.recipe_form.set_running(running)

    def _event(self, event) -> None:
        if self._unlogged and self.run_dir is not None and self.run_dir.is_dir():  # the run's folder is made: its log says it too
            with contextlib.suppress(OSError):
                append_log(self.run_dir, self._unlogged)
            self._unlogged = None
        if event.kind == "step":
            self.progress.setMaximum(event.total_steps)
            self.progress.setValue(event.step)
            self.chart.add_step(event.step, event.total_steps, event.cls_loss, event.box_loss)
            epochs = f"/{self.worker.recipe.epochs}" if self.worker is not None else ""
            self.status.setText(f"epoch {event.epoch + 1}{epochs}, step {event.step}/{event.total_steps}, {event.images_per_s:.1f} images/s, "
                                f"{duration(event.eta_s)} left; class loss {event.cls_loss:.3f}, box loss {event.box_loss:.3f}")
        elif event.kind == "epoch" and event.metrics and event.metrics.get("mAP") is not None:
            self.chart.add_map(event.step, event.metrics["mAP"])  # core's "log" event already puts it in the log
        elif event.kind in ("log", "nan") and event.message:
            self.log.appendPlainText(event.message)
        elif event.kind == "checkpoint":
            self.runs_list.refresh()  # the run is listed, as training, with the epochs it has done

    def _finished(self, result) -> None:
        QApplication.alert(self.window())  # the taskbar entry asks for attention when the window is in the background (no-op in front)
        trained = [c.name for c in self.worker.labels.categories] if self.worker is not None else []
        # a new model (not a fine-tune of the one in use) was never scored against it: it takes over only if the user says so
        in_use = self.predictions.model
        new_model = self.worker is not None and self.worker.recipe.start is None and in_use is not None
        # another model chosen while it trained (Previous model, a run's): it was the user's pick, taken away unasked
        start = self.worker.model_at_start if self.worker is not None else None
        switched = start is not None and in_use is not None and Path(in_use.path).resolve() != Path(start).resolve()
        resumed = self.worker is not None and self.worker.resume
        planned = self.worker.recipe.epochs if self.worker is not None else None
        self.stop()
        if result.cancelled and result.steps == 0 and not resumed:  # (fine_tune removed it)
            self.status.setText("cancelled before its first step: nothing was learnt, and the run is not kept")
        elif result.cancelled:
            # (the log says where, and Resume goes on from there: the panel said "after 2 epochs" of a run stopped validating the 3rd)
            where = (f"while validating epoch {result.epochs_done + 1} (its steps done)" if result.validation_pending
                     else f"in epoch {result.epochs_done + 1}" + (f", after {_epochs(result.epochs_done)}" if result.epochs_done else ""))
            self.status.setText(f"cancelled {where}; the last checkpoint is kept and the run can be resumed")
        else:
            self.progress.setValue(self.progress.maximum())  # (steps skipped as non-finite sent no event: it stood at 33 %)
            checkpoint = result.best_checkpoint or result.last_checkpoint
            # (no images held out: too few labelled images, or each would take the only boxes of a class; the plan said which)
            best = ", not validated (no images were held out)" if result.best_map is None else f", best validation mAP {result.best_map:.3f}"
            if result.start_map is not None:
                best += f" (start weights {result.start_map:.3f})"
            early = f" of {planned} (stopped early: validation mAP had stopped rising)" if result.stopped_early and planned else ""
            done = f"done: {_epochs(result.epochs_done)}{early}{best}"
            worse = result.start_map is not None and result.best_map is not None and result.best_map < result.start_map
            # a run that scores below the weights it started from does not take over unasked: the
            # predictions on screen got visibly worse, and the better model was one click from lost
            sizes = ""
            if result.start_input_size and result.input_size and result.start_input_size != result.input_size:
                sizes = (f" (the start weights were scored at their input size, {result.start_input_size} px, the new model at "
                         f"{result.input_size} px)")
            taken = f"{done}; now using {model_name(checkpoint)}"
            if worse:
                taken += ". It scores below the weights it started from on the same images: “Previous model” switches back"
            elif result.best_map is None or new_model or switched:  # nothing says whether it is better than the model it replaces
                taken += ". Nothing compared it with the model it replaced: “Previous model” switches back"
            if worse:
                why = f"it scores below the weights it started from on the same validation images{sizes}"
            elif new_model:  # (a new model scoring 0.000 replaced a working one unasked)
                why = f"it trained a new model, and the model in use ({model_name(in_use.path)}) was not scored on the same images"
            elif switched:
                why = f"{model_name(in_use.path)} was chosen while it trained (it started with {model_name(start)})"
            notes = ""
            if result.classes_gone:  # (a log line alone said it: the model kept a class trained on negatives only)
                notes = (f". Resumed, it kept its own classes: {', '.join(result.classes_gone)} "
                         f"{'have' if len(result.classes_gone) > 1 else 'has'} no boxes now (merged, deleted or emptied since it "
                         "started), and learnt from none: a new run leaves them out, or asks to")
            if self._left_out:
                notes += (f". {first_names(self._left_out)} {'were' if len(self._left_out) > 1 else 'was'} left out (no boxes): "
                          f"its model does not detect {'them' if len(self._left_out) > 1 else 'it'}")
            notes += self._classes_changed_since(trained + self._left_out)
            if worse or new_model or switched:  # the decision first: five lines show, and it came last (cut at 1024x700)
                self.status.setText(f"The current model stays, and “Use its model” switches to this run's: {why}. "
                                    f"{done[0].upper()}{done[1:]}{notes}")
                self._offered = (checkpoint, taken + notes)
                self.use_run_button.show()
                self.run_ended.emit(f"{done}; the current model stays (its model is offered in the Training panel)")
            else:
                self.status.setText(taken + notes)
                self.predictions.load_model(checkpoint, self.predictions.device)
                self._status_model = checkpoint
                self.run_ended.emit(f"{done}; now using {checkpoint.parent.name}")
            self.log.appendPlainText(self.status.text())  # the outcome kept in full under the run's log ...
            # ... and in its file, which the log is read back from (the line was gone once the run's model took over); on
            # a full disk the line on screen is all there is, as of the log's other lines
            with contextlib.suppress(OSError):
                append_log(result.run_dir, self.status.text())
        self._set_running(False)
        self.runs_list.refresh(select=result.run_dir if result.cancelled else None)  # the stopped run, selected, is the one Resume goes on with
        scroll_into_view(self.chart)  # (Advanced, open again as the user left it, pushed the run's chart below the fold)

    def _use_offered(self) -> None:
        """“Use its model”: the finished run's model, offered rather than taken over, is loaded; the
        offer goes once it is in use (see _model_changed), and stays if it cannot be loaded."""
        if self._offered is not None:
            self.predictions.load_model(self._offered[0], self.predictions.device)

    def _withdraw_offer(self) -> None:
        """Another run starts, the folder closes, the run's model is chosen otherwise or its run deleted."""
        self._offered = None
        self.use_run_button.hide()

    def _classes_changed_since(self, trained: list[str]) -> str:
        """A note when the classes were edited while the run trained on its snapshot of the labels."""
        ws = self.annotator.workspace
        if ws is None:
            return ""
        now = [c.name for c in ws.store.categories]
        now_keys, trained_keys = {class_name_key(n) for n in now}, {class_name_key(n) for n in trained}  # as the model's classes are matched
        gone, new = [n for n in trained if class_name_key(n) not in now_keys], [n for n in now if class_name_key(n) not in trained_keys]
        if not gone and not new:
            return ""
        parts = ([f"new since: {', '.join(new)}"] if new else []) + ([f"renamed or deleted since: {', '.join(gone)}"] if gone else [])
        return f". The classes changed while it trained ({'; '.join(parts)}): train again to bring the model up to date."

    def _refuse(self, message: str) -> None:
        """Train was pressed and cannot start: why, in a box and in the status until the labels
        change; not in the log, which is the run's (it was said three times). An offered model
        stays offered, and said so (its reason went from the status)."""
        offered = " (The last run's model is still offered: “Use its model”.)" if self._offered is not None else ""
        self.status.setText(message + offered)
        self._refusal = self.status.text()
        self.progress.hide()  # (the last run's "100 %" stood there)
        self.failed.emit(message)

    def _fail(self, message: str, smaller_batch: int) -> None:
        QApplication.alert(self.window())
        self.stop()
        if smaller_batch:
            self.recipe_form.suggest_batch(smaller_batch)
            message += " The batch size in Advanced is set to that: press Train again."
        self.status.setText(message)
        self.log.appendPlainText(message)
        self.failed.emit(message)
        self._set_running(False)
        self.runs_list.refresh(select=self.run_dir)  # its last checkpoint, if it got to one, can be resumed

    def _show_history(self, run_dir: Path) -> None:
        """A resumed run's log, and its chart so far: validation points and each epoch's mean losses
        (the per-step losses are not kept)."""
        try:
            logged = (run_dir / "train.log").read_text(encoding="utf-8", errors="replace") if (run_dir / "train.log").exists() else ""
        except OSError:
            logged = ""
        self.log.setPlainText(re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", logged))  # as the live lines read: no timestamps
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())  # newest lines in view, as they come
        try:
            history = read_history(run_dir)
        except ValueError:  # a damaged metrics.json: the log alone (Resume then says what is wrong)
            history = []
        for entry in history:
            if all(key in entry for key in ("step", "cls_loss", "box_loss")):
                self.chart.add_step(entry["step"], entry["step"], entry["cls_loss"], entry["box_loss"])
            if "mAP" in entry:
                self.chart.add_map(entry.get("step", 0), entry["mAP"])

    # --- the parts' news ------------------------------------------------------------------------
    def _selection_changed(self) -> None:
        self._set_running(self.worker is not None)  # Resume goes on with the selected run, if it stopped

    def _run_chosen(self, run: Path) -> None:
        """A click on a run shows its log and chart (a run training now keeps its own on screen)."""
        if self.worker is None:
            self._shown_run = run
            self.chart.clear()
            self._show_history(run)

    def _run_deleted(self, run: Path) -> None:
        if self.worker is None:  # the log, chart, progress and status shown were of a run in the list, maybe this one: they stood after it went
            self.chart.clear()
            self.log.clear()
            self.progress.hide()
            if not run.exists():  # (the status went on saying "… the run can be resumed")
                self.status.setText(f"deleted the run {run.name}")
        self.model_history.forget_run(run)
        if self._offered is not None and not self._offered[0].exists():
            self._withdraw_offer()

    def _going_back(self, path: Path) -> None:
        self.status.setText(f"back to {model_name(path)}")
        self._status_model = path

    def _say(self, text: str) -> None:
        self.status.setText(text)


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")
