"""The folder's training runs, newest first: to compare them, switch the model between them, note
what each tried, and delete them; the newest runs' speed is remembered for other folders' estimates."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.finetune import RunInfo, RunSpeed, describe_recipe, list_runs, write_run_note
from retina_gui.predictions import Predictions
from retina_gui.widgets import button_grid, json_setting, rows_high

_RUN_ROLE = Qt.ItemDataRole.UserRole + 1  # a cell's run folder, when the run can be resumed
_NOTE_ROLE = Qt.ItemDataRole.UserRole + 2  # whether the run has a note (under its date or folder name)


class RunsList(QWidget):
    chosen = Signal(Path)  # a run clicked: its folder, whose log and chart to show
    selection_changed = Signal()  # the run Resume goes on with may be another
    refreshed = Signal()  # listed anew: the estimate of Train's time takes the newest run's speed
    deleted = Signal(Path)  # a run's folder was deleted (or what of it could be)
    said = Signal(str)  # why a button did nothing, or what went wrong: for the panel's status

    SPEEDS_KEY = "training/speeds"  # the newest finished run's speed per device kind and backbone, of any folder

    def __init__(self, predictions: Predictions, settings: QSettings, *, busy: Callable[[], set[Path]],
                 confirm: Callable[..., bool], parent: QWidget | None = None) -> None:
        """``busy()``: the (resolved) run folders a run is writing in."""
        super().__init__(parent)
        self.predictions, self.settings, self.busy, self.confirm = predictions, settings, busy, confirm
        self.annotator = predictions.annotator
        self.runs: list[RunInfo] = []
        self.table = QTableWidget(0, 4)
        # mAP over the start's on two lines, as the date is: on one, the widest column left the date "…07:27" beside "…7:17"
        self.table.setHorizontalHeaderLabels(["run", "epochs", "mAP\n(start)", "state"])
        self.table.horizontalHeaderItem(2).setToolTip("The run's best validation mAP (that of the weights it started from)")
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # the two-line dates
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the date gives way (elided) in a narrow panel
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)  # ... from its start: "…10:14" tells runs of a day apart, "Nov …" did not
        self.table.setItemDelegate(_RunCellDelegate(self.table))
        self.table.horizontalHeader().setMinimumSectionSize(40)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)  # a bold row stays one line
        self.table.setMinimumHeight(rows_high(self.table, 7))  # (its header and three runs, a date on two lines each)
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.cellClicked.connect(self._clicked)
        self.use_button = QPushButton("Use this run's model")
        self.use_button.clicked.connect(self.use_selected)
        self.note_button = QPushButton("Note…")
        self.note_button.setToolTip("Write a note on the selected run (what it tried), shown under its date in the list")
        self.note_button.clicked.connect(self.ask_note)
        self.delete_button = QPushButton("Delete run…")
        self.delete_button.setToolTip("Delete the selected run's folder (its checkpoints, metrics and log), after asking")
        self.delete_button.clicked.connect(self.delete_selected)
        for button in (self.use_button, self.note_button, self.delete_button):
            button.setEnabled(False)  # a run must be chosen in the list
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Runs"))
        layout.addWidget(self.table, 1)
        layout.addLayout(button_grid(self.use_button, self.delete_button, self.note_button))  # (three in a row widened the panel)

    @property
    def root(self) -> Path:
        """The folder whose runs folder holds the runs: the labels file's."""
        return self.annotator.workspace.labels_path.parent

    def refresh(self, select: Path | None = None) -> None:
        """List the folder's runs, newest first; ``select`` selects that run's row, else the run
        selected stays so (by row, a new run's row moved the selection onto another run)."""
        select = select or self.selected_run()
        runs = self.runs = list_runs(self.root) if self.annotator.workspace is not None else []
        self._remember_speeds()
        current = self.predictions.model.path.resolve().parent if self.predictions.model is not None else None
        self.table.setRowCount(len(runs))
        busy = self.busy()
        minutes = Counter(run.started[:13] for run in runs)  # (runs of one minute told apart by their seconds)
        for row, run in enumerate(runs):
            state = ("training" if run.path.resolve() in busy else "finished early" if run.stopped_early and run.finished else
                     "finished" if run.finished else "stopped")
            best = "–" if run.best_map is None else f"{run.best_map:.3f}"
            if run.start_map is not None:
                best += f"\n({run.start_map:.3f})"
            in_use = current is not None and run.checkpoint.resolve().parent == current
            note = " ".join(run.note.split())  # (one line: a note edited by hand may have several)
            note_line = f"{note}\n" if note else ""
            when = _when(run.started, minutes[run.started[:13]] > 1) + (f"\n{note}" if note else "")
            for col, text in enumerate((when, f"{run.epochs_done}/{run.epochs}", best, state)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, str(run.checkpoint))
                item.setData(_RUN_ROLE, "" if run.finished else str(run.path))  # a stopped run can be resumed
                item.setData(_NOTE_ROLE, bool(note))
                tip = f"{note_line}{'the current model; ' if in_use else ''}{run.path}\n{describe_recipe(run.recipe)}"
                item.setToolTip(tip + _per_class_text(run) if col == 2 else tip)
                if in_use:  # the run the window predicts with
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        row = next((k for k, run in enumerate(runs) if run.path.resolve() == select.resolve()), None) if select is not None else None
        if row is not None:
            self.table.selectRow(row)
        else:
            self.table.setCurrentCell(-1, -1)
        self._selected()  # the same row selected again says nothing: its buttons follow the model in use (Use stayed greyed)
        self.refreshed.emit()

    def clear(self) -> None:
        """The folder closed."""
        self.runs = []
        self.table.setRowCount(0)

    def select_run_of(self, checkpoint: Path) -> Path | None:
        """The list follows the model in use to its run (after Previous model, the run clicked
        before stayed chosen, the bold row alone telling which was in use): the run's folder when
        its row was not selected already, else None."""
        run_dir = checkpoint.resolve().parent
        row = next((k for k, run in enumerate(self.runs) if run.checkpoint.resolve().parent == run_dir), None)
        if row is None or row == self.table.currentRow():
            return None
        self.table.selectRow(row)
        return run_dir

    @property
    def resumable(self) -> Path | None:
        """The run Resume goes on with: the selected run if it stopped with a checkpoint, else the
        newest run if it did."""
        busy = self.busy()
        for row in (self.table.currentRow(), 0):
            item = self.table.item(row, 0) if row >= 0 else None
            stopped = item.data(_RUN_ROLE) if item is not None else ""
            if stopped and (Path(stopped) / "train_state.pt").exists() and Path(stopped).resolve() not in busy:
                return Path(stopped)
        return None

    def _selected(self) -> None:
        run, model = self.selected_run(), self.predictions.model
        in_use = run is not None and model is not None and model.path.resolve().parent == run.resolve()
        self.use_button.setEnabled(run is not None and not in_use)
        self.delete_button.setEnabled(run is not None)
        self.note_button.setEnabled(run is not None)
        self.selection_changed.emit()

    def _clicked(self, row: int, _column: int) -> None:
        if self.table.item(row, 0) is not None:
            self.chosen.emit(Path(self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)).parent)

    def _selected_checkpoint(self) -> Path | None:
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def selected_run(self) -> Path | None:
        checkpoint = self._selected_checkpoint()
        return checkpoint.parent if checkpoint is not None else None

    def use_selected(self) -> None:
        if (checkpoint := self._selected_checkpoint()) is not None:
            self.predictions.load_model(checkpoint, self.predictions.device)

    def ask_note(self) -> None:
        """A note on the selected run, to tell runs apart by what they tried, not by their dates
        alone; an empty one removes it."""
        run = self.selected_run()
        if run is None:
            return
        old = next((r.note for r in self.runs if r.path.resolve() == run.resolve()), "")
        text, ok = QInputDialog.getText(self, "Note on run", f"A note on the run {run.name} (empty: none):", text=old)
        if not ok or text.strip() == old:
            return
        try:
            write_run_note(run, text)
        except OSError as exc:
            self.said.emit(f"Could not keep the note in {run}: {exc.strerror or exc}")
            return
        self.refresh(select=run)

    def delete_selected(self) -> None:
        """Delete the selected run's folder, after asking (a run keeps 50-110 MB of checkpoints);
        not the run training now, nor the one whose model is in use."""
        run = self.selected_run()
        if run is None:
            return
        model = self.predictions.model
        if run.resolve() in self.busy():
            self.said.emit("That run is training (or ending its last step): Cancel it, or wait, to delete it.")
            return
        if model is not None and model.path.resolve().parent == run.resolve():
            self.said.emit("That run's model is in use: switch to another model (Previous model, say) to delete it.")
            return
        size = sum(f.stat().st_size for f in run.rglob("*") if f.is_file())
        if not self.confirm("Delete run", f"Delete the run {run.name} ({size / 1e6:.0f} MB: its checkpoints, metrics and log)? "
                                          "This cannot be undone."):
            return
        try:
            shutil.rmtree(run)
        except OSError as exc:
            self.said.emit(f"Could not delete {run}: {exc.strerror or exc}")
        self.deleted.emit(run)
        self.refresh()  # (its row gone, nothing is selected)

    def _remember_speeds(self) -> None:
        """Keep the speed of this folder's newest timed runs for folders with no run yet (a first
        run's time went unsaid: 60 epochs, 9 minutes on a CPU)."""
        before = self._saved_speeds()
        saved = dict(before)
        for run in reversed(self.runs):  # (oldest first: the newest of each kind is written last)
            if run.speed is None or not run.finished:
                continue
            key = f"{run.speed.device}/{run.speed.backbone}"
            # only a newer run replaces one remembered (opening a folder of year-old runs put back their speed)
            if run.started >= str(saved.get(key, {}).get("started", "")):
                saved[key] = {**asdict(run.speed), "started": run.started, "run": f"{run.path.name} of {self.root.name}"}
        if saved != before:  # (the list is refreshed at every checkpoint: the settings file is written only for news)
            self.settings.setValue(self.SPEEDS_KEY, json.dumps(saved))

    def _saved_speeds(self) -> dict[str, dict]:
        return {k: v for k, v in json_setting(self.settings, self.SPEEDS_KEY, dict).items() if isinstance(v, dict)}

    def remembered_runs(self) -> list[RunInfo]:
        """The runs of other folders whose speed is remembered, as the estimate takes them (entries
        that are not a speed are passed over: an estimate divides by them)."""
        runs = []
        for entry in self._saved_speeds().values():
            try:
                speed = RunSpeed(**{f.name: entry[f.name] for f in fields(RunSpeed)})
            except (KeyError, TypeError):
                continue
            numbers = (speed.images_per_s, speed.image_size, speed.validation_share)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers) \
                    or speed.images_per_s <= 0 or speed.image_size <= 0 or speed.validation_share < 0:
                continue
            runs.append(RunInfo(Path(), str(entry.get("run", "of another folder")), 0, 0, None, True, {}, speed=speed))
        return runs


def _when(run_name: str, seconds: bool = False) -> str:
    """A run folder's name (its start, 20261127-101447, "-2" after it for a second run that
    second) as a short date on two lines, "11-27\n10:14" ("11-27\n10:14-2"): on one line, a narrow
    panel elided it to "…:14". With ``seconds`` (another run started in the same minute), "10:14:47"."""
    try:
        return datetime.strptime(run_name[:15], "%Y%m%d-%H%M%S").strftime("%m-%d\n%H:%M" + (":%S" if seconds else "")) + run_name[15:]
    except ValueError:  # a folder the user named
        return run_name


class _RunCellDelegate(QStyledItemDelegate):
    """A note under a run's date is cut at its end: from its start it read "…ages, more flips"."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        if index.column() == 0 and index.data(_NOTE_ROLE):  # (a renamed run folder is one line, not a two-line date)
            option.textElideMode = Qt.TextElideMode.ElideRight


def _per_class_text(run: RunInfo, most: int = 20) -> str:
    """A run's validation AP per class at its best epoch, weakest first, beside the start weights'
    (what the run taught each class): for the mAP cell's tooltip."""
    if not run.per_class:
        return ""
    rows = sorted(run.per_class.items(), key=lambda kv: (kv[1] is None, kv[1] or 0.0, kv[0]))
    lines = []
    for name, ap in rows[:most]:
        start = run.start_per_class.get(name)
        was = f" (start {start:.3f})" if start is not None else ""
        lines.append(f"{name} {ap:.3f}{was}" if ap is not None else f"{name} – (no validation labels)")
    more = f"\n… and {len(rows) - most} more" if len(rows) > most else ""
    return f"\n\nValidation AP per class at epoch {run.best_epoch} (its best), weakest first:\n" + "\n".join(lines) + more
