"""The evaluation view: COCO mAP of the model on the labelled images (predicted in the background
where needed), a per-class AP table, and the false positives and negatives at the current score
threshold; clicking one shows it on its image, and a false positive can be added as a label."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.atomic import write_text
from core.cancel import CancelToken
from core.finetune import trained_on
from core.labels import ImageEntry, category_of_class, class_name_key, same_named_categories
from core.review import CAUSES, MATCH_IOU, ThresholdPoint, box_iou, confusions, errors_csv
from core.text import count
from retina_gui.canvas_items import OverlayBox
from retina_gui.convert import rect_from_xyxy, stored_corners
from retina_gui.predictions import Predictions
from retina_gui.threshold_chart import ThresholdChart
from retina_gui.widgets import TaskProgress, model_name, rows_high, scroll_into_view
from retina_gui.workers import FunctionWorker


def quality_text(point: ThresholdPoint) -> str:
    """"precision 0.91, recall 0.85, F1 0.88"; with nothing detected, precision "n/a" (it read
    1.00 beside recall 0.00)."""
    precision = f"{point.precision:.2f}" if point.detections else "n/a"
    return f"precision {precision}, recall {point.recall:.2f}, F1 {point.f1:.2f}"


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


class _ErrorRows(QAbstractListModel):
    """The errors listed, as rows; the error itself under UserRole."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list = []

    def set_errors(self, errors: list) -> None:
        self.beginResetModel()
        self.errors = errors
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.errors)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        e = self.errors[index.row()]
        score = f" {e.score:.2f}" if e.kind == "FP" else ""
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{e.kind}  {e.class_name}{score} · {e.file_name}"  # the file name last: long ones are elided
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{'missed label' if e.kind == 'FN' else 'false positive'}: {e.class_name}{score} in {e.file_name}\n{e.detail}"
        if role == Qt.ItemDataRole.UserRole:
            return e
        return None


class ErrorList(QTableView):
    """The error list, on a model: rows are drawn as they come into view (110,000 list items took
    0.42 s to make on the GUI thread, at every move of the score slider). A one-column table, not
    a list view: its rows are all one height, so laying them out costs nothing (a list view placed
    each row: 0.15 s at 110,000 errors, 0.75 s at 554,000, at every rest of the slider)."""

    currentRowChanged = Signal(int)  # -1: none

    def __init__(self) -> None:
        super().__init__()
        self.rows = _ErrorRows()
        self.setModel(self.rows)
        self.horizontalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().lineSpacing() + 4)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTabKeyNavigation(False)  # Tab leaves the list, as from a list (in a table it went down the rows)
        # a long image name is cut at its end, "…" saying so (cut at the panel's edge, it read as the whole name; cut in
        # the middle of the row, the score went)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.selectionModel().currentRowChanged.connect(self._current_changed)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentRowChanged.emit(current.row())

    def set_errors(self, errors: list) -> None:
        self.rows.set_errors(errors)

    def count(self) -> int:
        return len(self.rows.errors)

    def error(self, row: int):
        return self.rows.errors[row]

    def current_error(self):
        row = self.currentRow()
        return self.rows.errors[row] if row >= 0 else None

    def currentRow(self) -> int:
        return self.currentIndex().row()

    def setCurrentRow(self, row: int) -> None:
        if row >= 0:
            self.setCurrentIndex(self.rows.index(row))
        else:
            self.selectionModel().clear()


class _Pages(QTabWidget):
    """Tabs whose least height is their pages' least: a tab widget's height for a width is its page's
    preferred one (the error list at full height), which a layout takes as the least, and the panel
    scrolled at 1600x900, the chosen error's detail below the fold."""

    def hasHeightForWidth(self) -> bool:
        return False


class EvaluationPanel(QWidget):
    score_chosen = Signal(float)  # "Use the best F1 threshold": the score slider is the Model panel's

    def __init__(self, predictions: Predictions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predictions = predictions
        self.annotator = predictions.annotator
        self.report = None
        self._worker: FunctionWorker | None = None
        self._waiting = False  # for the folder prediction of the labelled images
        self._pending = None  # an error to highlight once its image is shown
        self._view = (0.0, 0.0)  # the score and NMS thresholds of the report's errors
        self._run_view = (0.0, 0.0)  # those of the run going on
        # images edited since the report's labels were taken: its label numbers are stale there, and its figures
        self._edited: set[str] = set()
        self._run_edits: set[str] = set()  # the same for the run going on, the report's once it is done
        # the labels the report (the run going on) took, by image: an edit undone leaves an image as they were, no longer edited
        self._taken: dict[str, ImageEntry] = {}
        self._run_taken: dict[str, ImageEntry] = {}
        self._classes: frozenset = frozenset()  # the label classes the report scored (see _scored_classes)
        self._heading = self._footnotes = ""  # what the report's figures are of, and what it left out
        self._metrics_tip = ""
        self._best: float | None = None  # the score threshold of the report's best F1, when better than the one in use
        self._run_classes: frozenset = frozenset()
        self.run_button = QPushButton("Evaluate")
        self.run_button.setToolTip("COCO metrics of the model on the labelled images, then its misses and false detections")
        self.run_button.clicked.connect(self._run_clicked)
        self.unseen_only = QCheckBox("Leave out images it learnt from")
        self.unseen_only.setChecked(True)
        self._unseen_wanted = True  # the user's choice, for models whose training images are known
        self.unseen_only.toggled.connect(self._show_stale)  # the report is of the images chosen then
        self.unseen_only.clicked.connect(self._unseen_clicked)
        self._unseen: bool | None = None  # the box as the report's run had it (None: not known for its model)
        self._run_note = ""  # what the run going on left out, or scores that it learnt from
        self._run_unscored: list[str] = []  # the images the labels file lists without boxes, left out of the run going on
        self._joined = False  # the run going on waits for a folder run it joined (Predict folder)
        self._run_names: list[str] = []  # the images the run going on evaluates
        self._run_unseen: bool | None = None
        self.progress = TaskProgress()
        self.metrics = QLabel("")
        self.metrics.setWordWrap(True)
        self.best_button = QPushButton("")  # the score threshold of the best F1, when it is not the one in use
        self.best_button.setToolTip("Set the score threshold to the one where precision and recall together (F1) are best on these images")
        self.best_button.clicked.connect(self._use_best)
        self.best_button.hide()
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["class", "AP"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)  # (a double-click and a key typed over the figures)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)  # compact rows: more classes in view
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # class names get the room
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(rows_high(self.table, 7))  # (its header and 6 classes)
        self.by_score = ThresholdChart()
        self.by_score.setToolTip("Precision, recall and F1 at each score threshold; the dashed line is the threshold in use. "
                                 "Click to use another.")
        self.by_score.score_chosen.connect(self.score_chosen)
        self.kind = QComboBox()  # which errors the list shows: all, or of a kind, or of a kind with one cause, with their numbers
        self.kind.setToolTip("Which errors to list: missed labels or false positives, and what went wrong")
        self.classes = QComboBox()  # and of which class (by name, as classes are matched)
        self.classes.setToolTip("Only the errors of one class")
        for box in (self.kind, self.classes):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)  # fits a narrow panel
            box.setMinimumContentsLength(8)
            box.currentIndexChanged.connect(self._filters_changed)
        self.errors = ErrorList()
        # where the panel does not fit its dock it scrolls by what its least height lacks: that least shows rows enough
        self.errors.setMinimumHeight(rows_high(self.errors, 5))
        self.errors.currentRowChanged.connect(self._error_chosen)
        self.errors.clicked.connect(self._error_clicked)
        self._last: tuple | None = None  # the error chosen last and its row then (F8 goes on from it after the image changed)
        self._added: set[tuple] = set()  # false positives added as labels since the report (_added_key)
        # false positives whose label was given their class: _added_key -> (that label's place, its index on the image)
        self._relabelled: dict[tuple, tuple] = {}
        self._fp_index: tuple = (None, {}, {})  # a report, its false positives by image, their places (see _false_positive_places)
        self._refilter_timer = QTimer(self, singleShot=True, interval=150)  # the score slider at rest: its errors listed
        self._refilter_timer.timeout.connect(self._follow_score)
        self._on_screen = True  # in front of its tab group (see set_on_screen)
        self._refilter: FunctionWorker | None = None  # the errors at the score now shown, listed in the background
        self.error_detail = QLabel("")  # the chosen error's kind: a confusion, a duplicate, a poorly placed box, background
        self.error_detail.setWordWrap(True)
        self.error_detail.setMinimumHeight(3 * self.fontMetrics().lineSpacing())  # room for the longest, wrapped in a narrow panel
        self.error_detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.add_button = QPushButton("Add as label")
        self.add_button.setToolTip("The false positive is really an object: add it to the labels")
        self.add_button.clicked.connect(self.add_as_label)
        self.add_button.setEnabled(False)  # a false positive must be chosen
        # a class confusion's label may be what is wrong ("Sure of it: is the label's class wrong?"): Add as label put a
        # second label on the piece
        self.relabel_button = QPushButton("Relabel")
        self.relabel_button.clicked.connect(self.relabel)
        self.relabel_button.setEnabled(False)  # (shown and hidden, it moved Export list… sideways)
        self.relabel_button.setToolTip("On a class confusion: give the label under it the detection's class")
        self.export_button = QPushButton("Export list…")
        self.export_button.setToolTip("The errors listed, as CSV: kind, cause, class, score, image, box, what went wrong")
        self.export_button.clicked.connect(self.ask_export_errors)
        self.export_button.setEnabled(False)
        self.error_page = QWidget()
        page = QVBoxLayout(self.error_page)
        page.setContentsMargins(0, 2, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.kind, 1)
        row.addWidget(self.classes, 1)  # (at 2/5 of the row, "All classes (57)" was cut to "All classes (5")
        page.addLayout(row)
        page.addWidget(self.errors, 1)
        page.addWidget(self.error_detail)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.relabel_button)
        row.addWidget(self.export_button)
        page.addLayout(row)
        # One place, pages to choose: all three at once left the error list 3 rows at 1600x900
        self.pages = _Pages()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.error_page, "Errors")
        self.pages.addTab(self.table, "Class AP")
        self.pages.addTab(self.by_score, "By score")
        # all three tabs in view in a narrow panel (at 260 px "By score" was behind a scroll arrow)
        self.pages.tabBar().setUsesScrollButtons(False)
        self.pages.tabBar().setElideMode(Qt.TextElideMode.ElideMiddle)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.run_button)
        layout.addWidget(self.unseen_only)
        layout.addWidget(self.progress)
        layout.addWidget(self.metrics)
        layout.addWidget(self.best_button)
        layout.addWidget(self.pages, 1)
        predictions.batch_progress.connect(self._progress)
        predictions.batch_finished.connect(self._predicted)
        predictions.model_changed.connect(self._model_changed)
        predictions.changed.connect(self._thresholds_moved)
        self.annotator.image_shown.connect(self._image_shown)
        self._model_changed(None)

    def _image_shown(self, name: str, *_args) -> None:
        if self._pending is not None and name == self._pending.file_name:
            error, self._pending = self._pending, None
            self.show_error(error)
            return
        self._pending = None  # another image came first (D while the error's decoded): shown later, it zoomed to the error unasked
        self.annotator.canvas.set_overlay([], "highlight")
        chosen = self.errors.current_error()
        if chosen is not None and chosen.file_name != name:
            self._choose_row(-1)  # another image (D, a click in the list): the row said an error that is not on screen, and clicking it again did nothing

    def set_on_screen(self, on_screen: bool) -> None:
        """The panel went behind another tab (or closed): its error's highlight leaves the image
        with it (it stayed, a red box around nothing once "Add as label" was undone)."""
        self._on_screen = on_screen
        if not on_screen:
            self.annotator.canvas.set_overlay([], "highlight")

    def labels_changed(self, names: list[str]) -> None:
        """Labels of these images were edited: the report no longer describes the labelled images (an
        edit of an image it did not cover adds that image to them)."""
        store = self.annotator.workspace.store if self.annotator.workspace is not None else None
        for edited, taken in ((self._edited, self._taken), (self._run_edits, self._run_taken)):  # (a run going on took its at its start)
            for name in names:
                if store is not None and _same_labels(taken.get(name), store.entry(name)):
                    edited.discard(name)  # (undone: "Labels changed: Evaluate again" stayed)
                else:
                    edited.add(name)
        self._show_stale()
        if self._relist_added(names):
            self._fill_filters()
            self._fill_errors()

    def _relist_added(self, names) -> bool:
        """A false positive now a label, however it got there (Add as label, a double-click on it,
        Accept), leaves the list (it stayed when accepted on the image); one whose label is gone
        again (Undo) is listed again. By class too: the classes of one anchor share its box, and a
        confusion with the label added is still an error. Looks at the images ``names``; returns
        whether the list changes."""
        store = self.annotator.workspace.store if self.annotator.workspace is not None else None
        if self.report is None or store is None:
            return False
        edited, by_file = set(names), self._false_positives_by_file()
        keys = {c.id: class_name_key(c.name) for c in store.categories}
        added = {a for a in self._added if a[0] not in edited}
        for name in edited & by_file.keys():
            # (a false positive accepted is stored at its stored corners: the boxes' own corners are compared)
            labelled = {((b.x1, b.y1, b.x2, b.y2), keys.get(b.category_id)) for b in store.boxes(name)}
            added |= {_added_key(e) for e, place in self._false_positive_places(name) if place in labelled}
            added |= {key for key, (place, _) in self._relabelled.items() if key[0] == name and place in labelled}
        changed, self._added = added != self._added, added
        return changed

    def _false_positives_by_file(self) -> dict[str, list]:
        """The report's false positives by image, grouped once a report."""
        if self._fp_index[0] is not self.report:
            by_file: dict[str, list] = {}
            for e in self.report.errors if self.report is not None else ():
                if e.kind == "FP":
                    by_file.setdefault(e.file_name, []).append(e)
            self._fp_index = (self.report, by_file, {})
        return self._fp_index[1]

    def _false_positive_places(self, name: str) -> list[tuple]:
        """An image's false positives, each with where a label of it would lie (its stored corners
        and class), worked out at the image's first edit (for all, 0.5 s in 100,000)."""
        places = self._fp_index[2]
        if name not in places:
            places[name] = [(e, (stored_corners(*e.box), class_name_key(e.class_name))) for e in self._false_positives_by_file()[name]]
        return places[name]

    def classes_changed(self) -> None:
        self._show_stale()

    STALE_TEXT = "Labels changed: Evaluate again"
    THRESHOLDS_TEXT = "NMS threshold changed: Evaluate again"
    IMAGES_TEXT = "Images chosen changed: Evaluate again"

    @property
    def stale(self) -> str:
        """Why the report no longer describes what the window shows ("" while it does): the labels
        changed since its were taken, or the NMS threshold moved (the score threshold does not: its
        errors follow it, see :meth:`_follow_score`)."""
        workspace = self.annotator.workspace
        if self.report is None or workspace is None:
            return ""
        if self._edited or self._scored_classes() != self._classes:
            return self.STALE_TEXT
        if self._unseen is not None and self.unseen_only.isChecked() != self._unseen:
            return self.IMAGES_TEXT
        return self.THRESHOLDS_TEXT if self.predictions.nms != self._view[1] else ""

    def _scored_classes(self) -> frozenset:
        """The label classes an evaluation scores, by id and name: those the model has a class of
        that name for. A rename or a new class of such a name changes the figures; a class the model
        does not know, or a colour, does not (adding an empty class marked the report stale)."""
        model, workspace = self.predictions.model, self.annotator.workspace
        if model is None or workspace is None:
            return frozenset()
        known = {class_name_key(name) for name in model.class_names}
        return frozenset((c.id, class_name_key(c.name)) for c in workspace.store.categories if class_name_key(c.name) in known)

    def _thresholds_moved(self) -> None:
        self._show_stale()
        self.by_score.set_threshold(self.predictions.score)
        # (also back to the report's own threshold while a re-listing at another one runs: that one is stopped)
        if self.report is not None and self.predictions.score is not None and (
                self.predictions.score != self._view[0] or self._refilter is not None):
            self._refilter_timer.start()

    def _follow_score(self) -> None:
        """The errors at the score threshold now shown, from the report's matching (COCO mAP ranks
        every detection above the model's floor: the score threshold changes the errors only)."""
        score = self.predictions.score
        if self.report is None or self._worker is not None or self._waiting or score is None:
            return  # (an evaluation on its way lists its own errors, at the slider's threshold)
        self._stop_refilter()  # (at a score already left behind)
        if score == self._view[0]:
            return
        report = self.report
        self._refilter = FunctionWorker(lambda cancel: report.at_score(score, cancel))
        self._refilter.done.connect(self._refiltered)
        self._refilter.start()

    @staticmethod
    def _mixed_up(errors) -> str:
        """The class pairs the model mixes up most at this threshold (missed labels detected as another class)."""
        pairs = confusions(errors)
        if not pairs:
            return ""
        said = ", ".join(f"{label} as {other} {n}×" for label, other, n in pairs[:3])
        more = f" and {count(len(pairs) - 3, 'other pair')}" if len(pairs) > 3 else ""
        return f"\nDetected as another class: {said}{more}."

    def _use_best(self) -> None:
        if self._best is not None:
            self.score_chosen.emit(self._best)

    def _refiltered(self, report) -> None:
        """A re-listing's errors, taken only if they are at the threshold shown and of the report
        shown: one stopped after it had sent them still delivers them (the list stayed at 0.60 with
        the slider back at 0.20)."""
        if (self.report is None or report.matches is not self.report.matches or self._worker is not None or self._waiting
                or report.score_thresh != self.predictions.score):
            return
        self._stop_refilter()  # (done: nothing to wait for)
        self.report, self._view = report, (report.score_thresh, self._view[1])
        self._show_report()

    def _stop_refilter(self) -> None:
        if self._refilter is not None:
            self._refilter.stop()
            self._refilter = None

    def _show_stale(self, *_args) -> None:
        """Said in the progress bar, and the figures greyed: a line added to them moved the table and
        the error list under the mouse (Add as label makes the report stale)."""
        if self._worker is not None or self._waiting:  # the bar shows the run's progress
            return
        stale = self.stale
        self.progress.setFormat(stale or "%p %")
        self.metrics.setEnabled(not stale)
        self.best_button.setEnabled(not stale and self._best is not None)  # (its F1 is of the report's thresholds and labels)
        self.metrics.setToolTip(f"{stale.split(':')[0]} since this evaluation: press Evaluate again" if stale else self._metrics_tip)

    def _unseen_clicked(self, checked: bool) -> None:
        self._unseen_wanted = checked

    def _model_changed(self, info) -> None:
        self.stop()  # a run of the old model would fill in its report under the new one
        self._waiting = False
        self._set_running(False)
        self.run_button.setEnabled(info is not None)
        known = self._learnt_from() is not None
        self.unseen_only.setEnabled(known)
        self.unseen_only.setChecked(known and self._unseen_wanted)  # (greyed but ticked, it read as leaving out images it did not)
        self.unseen_only.setToolTip("A model of a run scores best on the images it learnt from: those say little of the images it has "
                                    "not seen (known for the Train runs of this folder, and the runs they started from)" if known else
                                    "Off: which images this model learnt from is known only for the Train runs of this folder")
        self.report = None
        self._added, self._relabelled, self._last = set(), {}, None
        self.progress.hide()  # the last run's "100 %" belonged to the other model
        self._show_stale()
        self.metrics.setText("Load a model to evaluate (Model ▸ Load Model…)." if info is None else
                             "Evaluate to see mAP, per-class AP and the errors.")
        self.table.setRowCount(0)
        self.by_score.show_sweep([], None)
        self.best_button.hide()
        self._fill_filters()
        self._clear_errors()

    # --- running -------------------------------------------------------------------------------
    def _labelled(self) -> list[str]:
        """Labelled images that are in the folder (missing ones cannot be predicted)."""
        store = self.annotator.workspace.store
        present = set(self.annotator.files.model.names)
        return [n for n in store.file_names() if n in present and (store.entry(n).boxes or store.entry(n).reviewed)]

    def _learnt_from(self) -> set[str] | None:
        """The images of this folder the model in use learnt from, when known (core.finetune.trained_on)."""
        model, workspace = self.predictions.model, self.annotator.workspace
        return None if model is None or workspace is None else trained_on(model.path, workspace.labels_path.parent)

    def _evaluated(self) -> tuple[list[str], str]:
        """The images to evaluate on (the labelled ones, less those the model learnt from when
        Only unseen is ticked), and what the report should say of the rest."""
        names, trained = self._labelled(), self._learnt_from() or set()
        seen = [n for n in names if n in trained]
        if not seen:
            return names, ""
        if self.unseen_only.isChecked():
            return [n for n in names if n not in trained], f"{count(len(seen), 'image')} it learnt from left out"
        return names, f"{len(seen)} of them it learnt from: its scores there are optimistic"

    def evaluate(self) -> None:
        p = self.predictions
        if p.model is None or self.annotator.workspace is None or self._worker is not None:
            return
        names, self._run_note = self._evaluated()
        present = set(self.annotator.files.model.names)
        self._run_unscored = [n for n in self.annotator.workspace.store.listed_without_boxes() if n in present]
        self._run_names = names  # (the images chosen now: the checkbox may change while they are predicted)
        self._run_unseen = self.unseen_only.isChecked() if self.unseen_only.isEnabled() else None
        if not names:
            self.metrics.setText("Every labelled image here taught this model: untick “Leave out images it learnt from” "
                                 "to score it on them (an optimistic guide)." if self._run_note else "No labelled images to evaluate on.")
            return
        if problem := same_named_categories(self.annotator.workspace.store.categories):  # said now, not after predicting
            self.metrics.setText(f"Cannot evaluate: {problem}.")
            return
        store = self.annotator.workspace.store
        # the boxes of the images evaluated (those of the images it learnt from, left out, counted too)
        counts = Counter(b.category_id for name in names for b in store.boxes(name) if not b.iscrowd)
        if not any(counts.get(cid) for cid in category_of_class(list(p.model.class_names), store.categories).values()):
            # "0 missed labels, 0 false detections" read as a perfect model
            self.metrics.setText(f"Nothing to evaluate: none of the model's {count(p.model.class_count, 'class')} is a class of the labels "
                                 f"with boxes on the {count(len(names), 'image')} evaluated (classes are matched by name).")
            return
        missing = [n for n in names if n not in p.candidates and n not in p.cache]
        self._set_running(True)
        self.progress.setFormat("%p %")  # the bar is this run's now; the old report stays marked stale until the new one comes
        if missing:
            self._waiting = True
            self._joined = p.batch_running  # a folder run going on takes its images: a cancel here leaves it going
            self.metrics.setText(f"predicting {len(missing)} labelled images first …")
            p.predict_batch(missing)
        else:
            self._compute(names)

    def _run_clicked(self) -> None:
        """Evaluate, or, while it runs, Cancel (it could be cancelled only from the Model tab, behind
        this one, while predicting, and not at all while scoring)."""
        if self._waiting or self._worker is not None:
            self.cancel()
        else:
            self.evaluate()

    def cancel(self) -> None:
        if self._waiting and not self._joined:
            self.predictions.cancel_folder()  # its end (batch_finished, cancelled) comes back to _predicted
        elif self._waiting:  # joined to the Model tab's Predict folder: it goes on (a cancel here stopped it too)
            self._cancelled()
        elif self._worker is not None:
            self.stop()
            self._cancelled()

    def _cancelled(self) -> None:
        self._waiting = False
        self._set_running(False)
        if self.report is not None:  # the last report as it was, its bar too (the cancelled run's "71 %" stood beside "cancelled")
            self.progress.setValue(self.progress.maximum())
            self._show_report()
            if self.predictions.score != self._view[0]:  # the slider moved while it ran (the list stayed at the old threshold)
                self._refilter_timer.start()
        else:
            self.progress.hide()
            self.metrics.setText("evaluation cancelled")

    def _set_running(self, running: bool) -> None:
        self.run_button.setText("Cancel" if running else "Evaluate")
        self.run_button.setToolTip("Stop this evaluation (the last report stays)" if running else
                                   "COCO metrics of the model on the labelled images, then its misses and false detections")

    def _progress(self, done: int, total: int, _left: float) -> None:
        if self._waiting:
            self.progress.setMaximum(total)
            self.progress.setValue(done)

    def _predicted(self, _done: int, _unreadable: int, cancelled: bool) -> None:
        if not self._waiting:
            return
        self._waiting = False
        if cancelled:
            self._cancelled()
            return
        present = set(self._labelled())  # (still labelled and in the folder)
        self._compute([n for n in self._run_names if n in present])

    def _compute(self, names: list[str]) -> None:
        from core.review import evaluate_predictions

        p = self.predictions
        store = self.annotator.workspace.store
        taken = store.to_labelset()
        labels = taken.with_files(names)
        self._run_taken = {im.file_name: im for im in taken.images}
        memory = {n: p.candidates[n] for n in names if n in p.candidates}
        cache, model = p.cache, p.model
        view_score, nms = p.score, p.nms
        self._run_edits, self._run_classes = set(), self._scored_classes()  # the labels this run's report is of
        self._run_view = (view_score, nms)  # the report's errors are at these thresholds, whatever the sliders do meanwhile
        self._stop_refilter()

        def run(cancel: CancelToken):
            candidates, lost = {}, []
            for n in names:
                cancel.raise_if_cancelled()
                found = memory.get(n)  # (not "or": an image with no detections has empty candidates, which are falsy)
                found = cache.get(n) if found is None else found
                if found is None:
                    lost.append(n)
                else:
                    candidates[n] = found
            report = evaluate_predictions(labels, candidates, list(model.class_names), eval_score=model.score_floor, nms_thresh=nms,
                                          max_detections=model.max_detections, view_score=view_score, cancel=cancel)
            return report, lost

        self.metrics.setText(f"evaluating {len(names)} images …")
        self._worker = FunctionWorker(run)
        self._worker.done.connect(self._done)
        self._worker.failed.connect(self._failed)
        self._worker.start()

    def stop(self) -> None:
        self._stop_refilter()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def _done(self, result) -> None:
        if self._worker is None:  # the result of a run stopped since (another model): not this report
            return
        report, lost = result
        unreadable = [n for n in lost if n in self.annotator.files.model.unreadable]  # (its decoding failed while it was predicted)
        lost = [n for n in lost if n not in self.annotator.files.model.unreadable]
        self.stop()
        self._set_running(False)
        self.report, self._edited, self._classes, self._view = report, self._run_edits, self._run_classes, self._run_view
        self._taken = self._run_taken
        self._added, self._relabelled = set(), {}
        self._relist_added(self._edited)  # (one accepted while it ran: the labels it took had not yet got it)
        self._unseen = self._run_unseen
        self._show_stale()
        self.progress.setMaximum(max(1, self.progress.maximum()))
        self.progress.setValue(self.progress.maximum())  # shown from now on: where "Labels changed" will be said, moving nothing
        info = self.predictions.model  # (bf16 and fp32 differ in the third digit: the README says which gives exact figures)
        note = f"; {self._run_note}" if self._run_note else ""
        self._heading = f"{model_name(info.path)} on {count(report.images, 'image')} ({info.device}, {info.precision}{note})"
        self._footnotes = ("".join(f"\n{note[0].upper()}{note[1:]}." for note in report.notes)
                           + (f"\n{count(len(lost), 'labelled image')} left out: their predictions could not be kept (a folder that cannot "
                              f"be written keeps the last {self.predictions.MEMORY_CACHE} in memory only); the first: {lost[0]}." if lost else "")
                           + (f"\n{count(len(unreadable), 'labelled image')} left out as unreadable (red in the list); the first: "
                              f"{unreadable[0]}." if unreadable else "")
                           # (the figures differed from retina eval's on the same file without a word)
                           + (f"\n{count(len(self._run_unscored), 'image')} the labels file lists without boxes left out (unlabelled "
                              f"here; retina eval scores them as negatives): mark them reviewed (R) to score them so; the first: "
                              f"{self._run_unscored[0]}." if self._run_unscored else ""))
        rows = sorted(report.metrics.per_class.items(), key=lambda kv: (kv[1] is None, kv[1] if kv[1] is not None else 0))
        m = report.metrics
        # AP by object size under the classes, in italics (in the figures above, they took a line from the error list)
        sizes = [("all classes: small objects (APs)", m.APs), ("all classes: medium objects (APm)", m.APm),
                 ("all classes: large objects (APl)", m.APl)]
        self.table.setRowCount(len(rows) + len(sizes))
        for r, (name, ap) in enumerate([*rows, *sizes]):
            cells = QTableWidgetItem(name), QTableWidgetItem(_figure(ap))
            for cell in cells if r >= len(rows) else ():
                font = cell.font()
                font.setItalic(True)
                cell.setFont(font)
                cell.setToolTip("COCO's sizes: small under 32×32 px, large over 96×96 px (– : no labels of that size)")
            self.table.setItem(r, 0, cells[0])
            self.table.setItem(r, 1, cells[1])
        self._show_report()
        if self.predictions.score != self._view[0]:  # the slider moved while it ran
            self._refilter_timer.start()

    def _show_report(self) -> None:
        """The figures, and the errors at the report's score threshold."""
        m, errors = self.report.metrics, self.report.errors
        misses = sum(e.kind == "FN" for e in errors)
        floor = self.predictions.model.score_floor
        here = next((p for p in self.report.sweep if round(p.score * 100) == round(self._view[0] * 100)), None)
        best = self.report.best_f1
        quality = f" ({quality_text(here)})" if here is not None else ""
        self.metrics.setText(f"{self._heading}: mAP {_figure(m.mAP)}, AP50 {_figure(m.AP50)}, AP75 {_figure(m.AP75)}. "
                             f"At score > {self._view[0]:.2f}: {count(misses, 'missed label')}, {count(len(errors) - misses, 'false detection')}"
                             f"{quality}." + self._mixed_up(errors) + self._footnotes)
        self._best = best.score if best is not None and (here is None or best.f1 > here.f1) else None
        if best is not None:
            # short: the figures in its tooltip (in the text, it widened the panel's column for good); greyed at the best,
            # not hidden (the tabs and the list under it moved up under the mouse as it was clicked)
            self.best_button.setText(f"Use score > {best.score:.2f} (best F1)" if self._best is not None else
                                     f"Score > {best.score:.2f} is the best F1")
            self.best_button.setToolTip(f"The score threshold where precision and recall together are best on these images: F1 "
                                        f"{best.f1:.2f}, precision {best.precision:.2f}, recall {best.recall:.2f}")
        self.best_button.setVisible(best is not None)
        self.best_button.setEnabled(self._best is not None and not self.stale)
        self.by_score.show_sweep(list(self.report.sweep), best)
        self.by_score.set_threshold(self.predictions.score)
        # (in the tooltip: a line more in the panel put the error list below the fold at 1600x900)
        self._metrics_tip = (f"COCO mAP ranks every detection above the model's floor, {floor:.2f}: the score slider does not change "
                             "it. Precision and recall: a detection matches a label of its class at IoU 0.5 or more.")
        self._show_stale()
        self._fill_filters()
        self._fill_errors()

    def _failed(self, reason: str) -> None:
        if self._worker is None:
            return
        self.stop()
        self._set_running(False)
        self.metrics.setText(f"evaluation failed: {reason}")
        self._show_stale()

    # --- errors --------------------------------------------------------------------------------
    KIND_NAMES = {"FN": "Missed labels", "FP": "False positives"}
    CAUSE_PREFIX = {"FN": "  Missed: ", "FP": "  FP: "}

    @staticmethod
    def _identity(error) -> tuple:
        return error.kind, error.file_name, error.index

    def _errors(self) -> list:
        """The report's errors, less the false positives added as labels since (the report's own
        labels are those of its run: re-listed at another threshold, they came back), and the
        missed labels relabelled since as the detection on them said (their miss stayed listed)."""
        if self.report is None:
            return []
        if not self._added:
            return self.report.errors
        relabelled = {(key[0], index) for key, (_, index) in self._relabelled.items() if key in self._added}
        return [e for e in self.report.errors
                if _added_key(e) not in self._added and not (e.kind == "FN" and (e.file_name, e.index) in relabelled)]

    def _chosen_filters(self) -> tuple[str, str, str]:
        kind, _, cause = (self.kind.currentData() or "").partition(":")
        return kind, cause, self.classes.currentData() or ""

    def _fill_filters(self) -> None:
        """The kind menu (each kind, and each cause that has errors) and the class menu, each with
        the numbers of errors the other menu's choice leaves (a class chosen: the kinds of its
        errors); what was chosen stays chosen while it is there (a cause gone falls back to its kind)."""
        errors = self._errors()
        kind_was, class_was = self.kind.currentData() or "", self.classes.currentData() or ""
        kind, cause, key = self._chosen_filters()
        # one count over the errors (about twenty passes took 0.46 s at every slider rest, at 554,000 errors)
        key_of = {name: class_name_key(name) for name in {e.class_name for e in errors}}
        counts = Counter((e.kind, e.cause, key_of[e.class_name]) for e in errors)
        of_class, per_class = Counter({(k, c): 0 for k, c, _ in counts}), Counter()  # (each cause listed, whatever the class chosen)
        for (k, c, class_key), n in counts.items():
            if not key or class_key == key:
                of_class[k, c] += n
            if (not kind or k == kind) and (not cause or c == cause):
                per_class[class_key] += n
        for box in (self.kind, self.classes):
            box.blockSignals(True)
            box.clear()
            box.setEnabled(self.report is not None)  # ("All errors (0)" before any evaluation read as a perfect model)
        if self.report is None:
            self.kind.addItem("All errors", "")
            self.classes.addItem("All classes", "")
            for box in (self.kind, self.classes):
                box.blockSignals(False)
            return
        self.kind.addItem(f"All errors ({sum(of_class.values())})", "")
        for k, causes in CAUSES.items():
            self.kind.addItem(f"{self.KIND_NAMES[k]} ({sum(n for (kk, _), n in of_class.items() if kk == k)})", k)
            for c, words in causes.items():
                if (k, c) in of_class:  # (a cause with errors of any class)
                    # (named with its kind: the closed menu shows the entry alone)
                    self.kind.addItem(f"{self.CAUSE_PREFIX[k]}{words} ({of_class[k, c]})", f"{k}:{c}")
        names: dict[str, str] = {}  # by name key (classes are matched by name): the name as first seen
        for e in errors:
            names.setdefault(key_of[e.class_name], e.class_name)
        self.classes.addItem(f"All classes ({sum(per_class.values())})", "")
        for k, name in sorted(names.items(), key=lambda kv: kv[1].casefold()):
            self.classes.addItem(f"{name} ({per_class[k]})", k)
        kind_row = self.kind.findData(kind_was)
        self.kind.setCurrentIndex(kind_row if kind_row >= 0 else max(0, self.kind.findData(kind_was.partition(":")[0])))
        self.classes.setCurrentIndex(max(0, self.classes.findData(class_was)))
        for box in (self.kind, self.classes):
            box.setToolTip(box.currentText())  # the whole of it (a narrow panel cut "FP: class confusion (2)" to "FP: class confusi")
            box.blockSignals(False)

    def _filters_changed(self, *_args) -> None:
        self._fill_filters()  # the other menu's numbers follow the choice
        self._fill_errors()

    def shown_errors(self) -> list:
        """The errors the two menus choose; in the false positives' view most confident first (a
        missing label, or a model sure of a mistake), else image by image."""
        kind, cause, key = self._chosen_filters()
        chosen = [e for e in self._errors()
                  if (not kind or e.kind == kind) and (not cause or e.cause == cause) and (not key or class_name_key(e.class_name) == key)]
        return sorted(chosen, key=lambda e: -e.score) if kind == "FP" else chosen

    def _clear_errors(self) -> None:
        """Empty the list without choosing another error on the way (clearing moved the current row
        from item to item, and each move showed its image: the view jumped when the model changed)."""
        self.errors.blockSignals(True)
        self.errors.set_errors([])
        self.errors.blockSignals(False)
        self._pending = None
        self.export_button.setEnabled(False)
        self.pages.setTabText(0, "Errors")
        self._describe(None)
        self.annotator.canvas.set_overlay([], "highlight")

    def _fill_errors(self, *_args) -> None:
        """List the errors chosen; the one chosen before stays chosen, and highlighted, where it is
        still listed (the score slider re-lists them)."""
        chosen = self.errors.current_error()
        was = None if chosen is None else self._identity(chosen)
        self._clear_errors()
        shown = self.shown_errors()
        self.export_button.setEnabled(bool(shown))
        if self.report is not None:
            self.pages.setTabText(0, f"Errors ({len(shown)})")
        self.errors.blockSignals(True)
        self.errors.set_errors(shown)
        self.errors.blockSignals(False)
        row = next((r for r, e in enumerate(shown) if self._identity(e) == was), None) if was is not None else None
        if row is not None:
            self._choose_row(row)
            e = shown[row]
            # (not behind another tab: the score slider is on the Model tab, and the highlight went with the panel)
            if self._on_screen and self.annotator.current == e.file_name and self.annotator.size is not None:
                self._highlight(e, select=False)

    def ask_export_errors(self) -> None:
        workspace = self.annotator.workspace
        if workspace is None or not self.errors.count():
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the errors listed (CSV)", str(workspace.folder / "errors.csv"), "CSV (*.csv)")
        if path:
            self.export_errors(Path(path))

    def export_errors(self, path: Path) -> bool:
        """Write the errors listed (as the menus choose them, in the list's order) to ``path``."""
        try:
            write_text(path, errors_csv(self.shown_errors()))
        except OSError as exc:
            why = f"{path}: {exc.strerror}" if exc.strerror else str(exc)  # (ours name the path themselves)
            QMessageBox.warning(self, "Export errors", f"The errors could not be written: {why}. Nothing was written.")
            return False
        self.predictions.message.emit(f"{count(self.errors.count(), 'error')} written to {path}")
        return True

    def _choose_row(self, row: int) -> None:
        """Make ``row`` the list's current one (-1: none) without going to its image."""
        self.errors.blockSignals(True)
        self.errors.setCurrentRow(row)
        self.errors.blockSignals(False)
        self._describe(self.errors.error(row) if row >= 0 else None)

    def _describe(self, error) -> None:
        self.add_button.setEnabled(error is not None and error.kind == "FP")
        relabels = error is not None and _relabels(error)
        self.relabel_button.setEnabled(relabels)
        self.relabel_button.setToolTip(("On a class confusion: give the label the class it was detected as" if not relabels else
                                        f"The {error.other_class} label under it is of the wrong class: make it {error.class_name}"
                                        if error.kind == "FP" else f"The label is of the wrong class: make it {error.other_class}"))
        detail = "" if error is None or not error.detail else f"{error.detail[0].upper()}{error.detail[1:]}"
        self.error_detail.setText(detail if not detail or detail.endswith(("?", ".")) else f"{detail}.")  # ("wrong?." read badly)

    def _error_chosen(self, row: int) -> None:
        error = self.errors.error(row) if row >= 0 else None
        self._describe(error)
        if error is None:
            return
        self._last = (self._identity(error), row)
        self.annotator.files.set_current(error.file_name)
        self.show_error(error)

    def _error_clicked(self, _index) -> None:
        """What the clicked error is, and what can be done with it, in view (F8 brought them into view,
        a click left them below the fold at 1024x700)."""
        scroll_into_view(self.errors, self.error_detail, self.add_button)

    def step(self, direction: int) -> bool:
        """F8 / Shift+F8: the next or previous error of the list (after the last, the first), from
        the one chosen last, also when another image was opened or the list was filled again since;
        False when none is listed."""
        n = self.errors.count()
        if not n:
            return False
        row = self.errors.currentRow()
        if row >= 0:
            target = row + direction
        elif self._last is None:
            target = 0 if direction > 0 else n - 1
        else:
            identity, last_row = self._last
            found = next((r for r in range(n) if self._identity(self.errors.error(r)) == identity), None)
            # (one that left the list, added as a label: the ones beside its place)
            target = found + direction if found is not None else last_row if direction > 0 else last_row - 1
        self.pages.setCurrentWidget(self.error_page)
        self.errors.setCurrentRow(target % n)
        # what the error is, under the list, and what can be done with it (below the fold at 1280x800, and at 1024x700)
        scroll_into_view(self.errors, self.error_detail, self.add_button)
        return True

    def show_error(self, error) -> None:
        """Highlight the error's box once its image is on screen, and bring it into view."""
        if self.annotator.current != error.file_name or self.annotator.size is None:
            self._pending = error
            return
        self._highlight(error)
        self.annotator.canvas.show_rect(rect_from_xyxy(error.box))

    def _highlight(self, error, select: bool = True) -> None:
        """A thick box around the error, its tag naming the detection (a false positive often lies on a
        label and on the right detection: "FP" alone did not say which of them was wrong); with
        ``select``, the missed label selected (not when the list is only filled again)."""
        color = QColor(255, 60, 60) if error.kind == "FP" else QColor(255, 160, 0)
        self._mark(error.box, color, f"FP {error.class_name} {error.score:.2f}" if error.kind == "FP" else f"FN {error.class_name}")
        if select:  # (after an edit the index may name another label; a false positive is no label: none)
            self.annotator.canvas.select([error.index] if error.kind == "FN" and error.file_name not in self._edited else [])

    def add_as_label(self) -> bool:
        row, error = self.errors.currentRow(), self.errors.current_error()
        if error is None:
            return
        if error.kind != "FP" or self.annotator.size is None or self.annotator.current != error.file_name:
            return
        chosen = self.predictions.plan_accept([(error.file_name, self.annotator.size, [(*error.box, error.class_name)])], chosen=True)
        added = self.predictions.accept_entries(chosen, "Add false positive as label", reviews=False)  # (a class confusion lies on another class's label)
        if added:
            # out of the list and its numbers, for good (re-listed from the report's labels, it came back); the view stays
            # on the label added (the next row became current, and its image was shown); F8 goes on from its place
            self._added.add(_added_key(error))
            self._last = (self._identity(error), row)
            self._fill_filters()
            self._fill_errors()
            self._mark(error.box, QColor(60, 200, 60), "added")
        return bool(added)

    def relabel(self) -> bool:
        """A class confusion's label takes the class it was detected as (one undo step): the label's
        class was what was wrong. From the false positive on it, or from the missed label itself."""
        row, error = self.errors.currentRow(), self.errors.current_error()
        ws = self.annotator.workspace
        if error is None or not _relabels(error) or ws is None or self.annotator.current != error.file_name:
            return False
        if ws.read_only:  # (the edit raised, unseen)
            self.predictions.message.emit(ws.read_only_text)
            return False
        if error.kind == "FP":
            index, new_name, old_name, fp = error.on_label, error.class_name, error.other_class, error
        else:  # the detection on it, listed as a false positive, goes with it
            index, new_name, old_name = error.index, error.other_class, error.class_name
            fp = next((e for e in self.report.errors if e.kind == "FP" and e.cause == "confusion" and e.file_name == error.file_name
                       and e.on_label == index and class_name_key(e.class_name) == class_name_key(new_name)), None)
        keys = {c.id: class_name_key(c.name) for c in ws.store.categories}
        new = next((cid for cid, key in keys.items() if key == class_name_key(new_name)), None)
        boxes = ws.store.boxes(error.file_name)
        # the label the error names (not another of its class it overlaps more: one its own detection found), as it was
        label = boxes[index] if index < len(boxes) else None
        if (new is None or label is None or keys.get(label.category_id) != class_name_key(old_name)
                or box_iou(np.array([error.box]), np.array([[label.x1, label.y1, label.x2, label.y2]]))[0, 0] < MATCH_IOU):
            self.predictions.message.emit("that label has changed since the evaluation: Evaluate again")
            return False
        if not ws.relabel_boxes(error.file_name, [index], new):
            return False
        # out of the list while that label has its class (Undo lists it again); F8 goes on from its place
        key = _added_key(fp) if fp is not None else (error.file_name, error.box, new_name)
        self._relabelled[key] = (((label.x1, label.y1, label.x2, label.y2), class_name_key(new_name)), index)
        self._added.add(key)
        self._last = (self._identity(error), row)
        self._fill_filters()
        self._fill_errors()
        self._mark((label.x1, label.y1, label.x2, label.y2), QColor(60, 200, 60), f"now {new_name}")
        return True

    def _mark(self, box: tuple[float, float, float, float], color: QColor, tag: str) -> None:
        """The highlight: a thick box a little outside ``box`` (a label's outline stays seen), tagged."""
        self.annotator.canvas.set_overlay([OverlayBox(rect_from_xyxy(box).adjusted(-4, -4, 4, 4), color, 3, False, tag)], "highlight")


def _same_labels(taken: ImageEntry | None, now: ImageEntry | None) -> bool:
    """Whether an image's labels are as an evaluation took them (None: no labels): reviewed or not,
    and the same boxes in the same order. In order: a missed label's row selects the label by its
    index (a box cut and pasted back, the same labels in another order, selected another box); Undo
    puts the very boxes back where they were (boxes are immutable: mostly the same objects, compared
    at once)."""
    if taken is None or now is None:
        return all(entry is None or (not entry.boxes and not entry.reviewed) for entry in (taken, now))
    return taken.reviewed == now.reviewed and taken.boxes == now.boxes


def _relabels(error) -> bool:
    """Whether Relabel applies: a class confusion, with the label and the class it was detected as known."""
    return error.cause == "confusion" and bool(error.other_class) and (error.kind == "FN" or error.on_label is not None)


def _added_key(error) -> tuple:
    """A false positive added as a label, as the error list leaves it out."""
    return error.file_name, error.box, error.class_name
