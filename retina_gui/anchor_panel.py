"""The anchor view: the anchors at a clicked point per pyramid level, how the selected labels are
assigned (positive, ignored and best anchors, computed by core's real assignment), labels that no
anchor reaches with a suggested fix, editable anchor settings, and a folder-wide coverage report."""

from __future__ import annotations

from dataclasses import replace
from itertools import groupby

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QTimer
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.config import AnchorConfig, AssignConfig, PreprocessConfig
from core.presets import get_preset
from core.text import count, score_text
from retina_gui.annotator import Annotator
from retina_gui.canvas import Tool
from retina_gui.canvas_items import OverlayBox
from retina_gui.convert import color_icon, rect_from_xyxy
from retina_gui.widgets import WarningLabel, button_grid, scroll_into_view
from retina_gui.workers import FunctionWorker, ModelInfo

# no green, grey or yellow: those mark a label's positive, ignored and best anchors
LEVEL_COLORS = ("#ff5050", "#ff9a00", "#ff60c0", "#40c0ff", "#a070ff")


MAX_VALUES = 10
MAX_PER_POSITION = 25  # ratios x scales: the layout, built on the GUI thread, grows with it (15 ms at 25 on a 2 MP photo)


def _numbers(text: str, what: str, low: float, high: float) -> tuple[float, ...]:
    """Up to MAX_VALUES different numbers in [low, high], separated by spaces or commas."""
    try:
        values = tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        values = ()
    if not values or not all(low <= v <= high for v in values):  # also refuses nan and inf
        raise ValueError(f"{what}: numbers from {low:g} to {high:g}, separated by spaces")
    if len(set(values)) != len(values) or len(values) > MAX_VALUES:
        raise ValueError(f"{what}: at most {MAX_VALUES} different numbers")
    return values


class AnchorPanel(QWidget):
    def __init__(self, annotator: Annotator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.annotator = annotator
        self.canvas = annotator.canvas
        default = get_preset("retinanet")
        self.model_anchors, self.anchors = default.anchors, default.anchors
        self.assign_config: AssignConfig = default.assign
        self.preprocess: PreprocessConfig = default.preprocess
        self.point: QPointF | None = None
        self._layout_cache: dict[tuple, object] = {}
        self._coverage_worker: FunctionWorker | None = None
        self._assign_worker: FunctionWorker | None = None
        self._assigned: tuple[tuple, list] | None = None  # (key, LabelAnchors of the current image's labels)
        self._on_screen = False  # see set_on_screen
        self._covered: AnchorConfig = default.anchors  # the settings of the coverage report running or shown
        # the folder's coverage report, kept under the details (the next click, or Model's settings, wiped the
        # report made with settings being tried), and the details above it
        self._coverage_lines: list[str] = []
        self._details: list[str] = []

        self.enabled = QCheckBox("Show anchors and assignment")
        self.enabled.toggled.connect(self._toggled)
        self.probe = QPushButton("Pick a point (P)")
        self._tool_before = Tool.EDIT  # the tool the probe took over from
        self.probe.setCheckable(True)
        self.probe.toggled.connect(self._probe_toggled)
        self.level_boxes = [QCheckBox(f"P{n}") for n in range(3, 8)]
        self.ratio_boxes: list[QCheckBox] = []
        self.scale_boxes: list[QCheckBox] = []
        # in rows of four: in one row, ten scales widened the dock to 532 px for good, the image shrinking to 310
        self.ratio_row, self.scale_row = QGridLayout(), QGridLayout()
        for i, box in enumerate(self.level_boxes):
            box.setChecked(True)
            box.setIcon(color_icon(QColor(LEVEL_COLORS[i])))  # (the name in the colour was 1.8:1 on the panel, P4's orange)
            box.toggled.connect(self.refresh)
        self.sizes_edit, self.ratios_edit, self.scales_edit = QLineEdit(), QLineEdit(), QLineEdit()
        apply = QPushButton("Apply")
        apply.setToolTip("See the effect of other anchor settings before training (the model itself is unchanged)")
        apply.clicked.connect(self._apply_settings)
        reset = QPushButton("Model's settings")
        reset.clicked.connect(self.reset_settings)
        self.report = QPlainTextEdit(readOnly=True)
        self.report.setMinimumHeight(160)
        coverage = QPushButton("Coverage report (folder)")
        coverage.clicked.connect(self.run_coverage)

        show = QGroupBox("Show")
        form = QFormLayout(show)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow(self.enabled)
        form.addRow(self.probe)
        form.addRow("Levels", button_grid(*self.level_boxes, columns=3))
        form.addRow("Ratios", self.ratio_row)
        form.addRow("Scales", self.scale_row)
        # (a swatch of each colour the canvas draws them in: the words in it, grey on the panel, hard to read)
        legend = QLabel('The selected label\'s anchors: <span style="color:#30b030">■</span> positive, '
                        '<span style="color:#909090">■</span> ignored, <span style="color:#c0a000">■</span> best (with its IoU)')
        legend.setWordWrap(True)
        form.addRow(legend)
        settings = QGroupBox("Settings (try before training)")
        sform = QFormLayout(settings)
        sform.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        sform.addRow("Sizes (input px)", self.sizes_edit)
        self.sizes_edit.setToolTip("The base anchor size of each level, P3 to P7, in pixels of the network's input (the image "
                                   "resized to the model's input size): Details gives this image's scale")
        sform.addRow("Ratios (h/w)", self.ratios_edit)
        sform.addRow("Scales", self.scales_edit)
        sform.addRow(button_grid(apply, reset))
        self.settings_note = WarningLabel()  # why Apply refused: beside the button, not below the fold in Details
        self.settings_note.hide()
        sform.addRow(self.settings_note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(show)
        layout.addWidget(settings)
        layout.addWidget(coverage)
        layout.addWidget(QLabel("Details"))
        layout.addWidget(self.report, 1)
        self._set_anchor_config(self.anchors)

        self.canvas.point_clicked.connect(self._point_clicked)
        self.canvas.selection_changed.connect(self._selection_changed)
        annotator.image_shown.connect(self._image_shown)

    # --- settings ------------------------------------------------------------------------------
    def set_model(self, info: ModelInfo | None) -> None:
        if info is not None:
            if (info.anchors, info.assign, info.preprocess) != (self.model_anchors, self.assign_config, self.preprocess):
                # a coverage report is of the settings it was made with: another input size (same anchors) gives another one
                self._stop_coverage()
                self._coverage_lines = []
                self._show_report()  # (with the anchors unticked, no refresh shows the details again: the old report stood)
            self.model_anchors, self.assign_config, self.preprocess = info.anchors, info.assign, info.preprocess
            self.reset_settings()

    def _selection_changed(self) -> None:
        self.refresh()
        if self._on_screen and self.enabled.isChecked() and self.canvas.selected():
            scroll_into_view(self.report)  # the selected label's anchors, said there (below the fold at 1024x700)

    def reset_settings(self) -> None:
        self._set_anchor_config(self.model_anchors)

    def _apply_settings(self) -> None:
        try:
            config = replace(self.anchors, sizes=_numbers(self.sizes_edit.text(), "sizes", 1, 4096),
                             ratios=_numbers(self.ratios_edit.text(), "ratios", 0.01, 100),
                             scales=_numbers(self.scales_edit.text(), "scales", 0.1, 10))
        except ValueError as exc:
            return self._refuse(str(exc))
        if len(config.sizes) != len(config.strides):
            return self._refuse(f"sizes: one per level, {len(config.strides)} (P3 to P7)")
        if len(config.ratios) * len(config.scales) > MAX_PER_POSITION:
            return self._refuse(f"at most {MAX_PER_POSITION} anchors per position (ratios × scales; the model has "
                                f"{len(self.model_anchors.ratios) * len(self.model_anchors.scales)})")
        self._set_anchor_config(config)

    def _refuse(self, reason: str) -> None:
        self.settings_note.setText(f"Not applied: {reason}")
        self.settings_note.show()

    def _set_anchor_config(self, config: AnchorConfig) -> None:
        self.anchors = config
        self.settings_note.hide()  # a refusal is over once settings are set (Apply, Model's settings, another model)
        self._layout_cache.clear()
        self.sizes_edit.setText(" ".join(f"{v:g}" for v in config.sizes))
        self.ratios_edit.setText(" ".join(f"{v:g}" for v in config.ratios))
        self.scales_edit.setText(" ".join(f"{v:.4g}" for v in config.scales))
        for field in (self.sizes_edit, self.ratios_edit, self.scales_edit):
            field.setCursorPosition(0)  # their start in view (a narrow panel showed the end of a long list)
        for row, boxes, values in ((self.ratio_row, self.ratio_boxes, config.ratios), (self.scale_row, self.scale_boxes, config.scales)):
            hidden = {box.text() for box in boxes if not box.isChecked()}  # a value still there stays hidden: Apply showed them all again
            for box in boxes:
                row.removeWidget(box)
                box.deleteLater()
            boxes.clear()
            for k, v in enumerate(values):
                box = QCheckBox(f"{v:.3g}")
                box.setChecked(box.text() not in hidden)
                box.toggled.connect(self.refresh)
                row.addWidget(box, k // 4, k % 4)
                boxes.append(box)
        self.refresh()

    # --- views ---------------------------------------------------------------------------------
    def layout_for_current(self, anchors: AnchorConfig | None = None):
        """The anchors over the current image, for the trial settings (or ``anchors``)."""
        from core.anchor_coverage import anchor_layout

        if self.annotator.size is None:
            return None
        anchors = anchors or self.anchors
        key = (self.annotator.size, anchors, self.preprocess)
        if key not in self._layout_cache:
            if len(self._layout_cache) >= 8:  # a folder of many image sizes: keep the recent ones
                del self._layout_cache[next(iter(self._layout_cache))]
            self._layout_cache[key] = anchor_layout(*self.annotator.size, anchors, self.preprocess)
        return self._layout_cache[key]

    def set_on_screen(self, on_screen: bool) -> None:
        """The panel's dock came forward, or went behind another tab (or closed): anchors are drawn
        only while the panel that explains them is in view (left on the image, dozens of them hid
        the evaluation's highlighted error under them). Bringing it forward says False, then True."""
        self._on_screen = on_screen
        self.refresh()
        if not on_screen and self.probe.isChecked():
            QTimer.singleShot(0, self._end_probe_if_hidden)  # (not on the False that bringing it forward says first)

    def _end_probe_if_hidden(self) -> None:
        """The probe ends with its panel out of view: clicks on the image picked points no one saw,
        and selected nothing (the Evaluation panel brought forward over it, say)."""
        if not self._on_screen and self.probe.isChecked():
            self.probe.setChecked(False)

    def _toggled(self, on: bool) -> None:
        if not on:
            self.probe.setChecked(False)
        self.refresh()

    def _probe_toggled(self, on: bool) -> None:
        if on:
            self.enabled.setChecked(True)
        elif self.point is not None:  # the probe's anchors go with it (they stayed, mixed with a label's selected next)
            self.point = None
            self.refresh()
        if on and self.canvas.tool is not Tool.PROBE:
            self._tool_before = self.canvas.tool  # given back when the probe ends (it was the edit tool, after W too)
        self.canvas.set_tool(Tool.PROBE if on else self._tool_before)

    def toggle_probe(self) -> None:
        self.probe.setChecked(not self.probe.isChecked())

    def _point_clicked(self, point: QPointF) -> None:
        self.point = point
        self.refresh()
        scroll_into_view(self.report)  # what it found is said there (below the fold on a small screen)

    def _image_shown(self, *_args) -> None:
        self.point = None
        self.refresh()

    def labels_changed(self, names: list[str]) -> None:
        if self.annotator.current in names:
            self.refresh()

    def _chosen_offsets(self) -> list[int]:
        s = len(self.scale_boxes)
        return [r * s + k for r, rb in enumerate(self.ratio_boxes) if rb.isChecked() for k, sb in enumerate(self.scale_boxes) if sb.isChecked()]

    OFF_TEXT = ("Tick “Show anchors and assignment” to see the anchors of a selected label, or press P to pick a point; "
                "the coverage report below needs neither.")

    def refresh(self, *_args) -> None:
        if not self.enabled.isChecked() or not self._on_screen or self.annotator.size is None:
            self.canvas.set_overlay([])
            if not self.enabled.isChecked() and self._details != [self.OFF_TEXT]:  # (it opened blank, and clicks did nothing)
                self._details = [self.OFF_TEXT]
                self._show_report()
            return
        layout = self.layout_for_current()
        overlay: list[OverlayBox] = []
        lines = []
        offsets = self._chosen_offsets()
        if self.point is not None:
            from core.anchor_coverage import anchors_at

            per_level = anchors_at(layout, self.point.x(), self.point.y())
            lines.append(f"anchors at ({self.point.x():.0f}, {self.point.y():.0f}); input px = image px × {layout.input_scale:.3g}:")
            for i, (level, boxes) in enumerate(per_level.items()):
                if not self.level_boxes[i].isChecked():
                    continue
                color = QColor(LEVEL_COLORS[i])
                for box in boxes[offsets]:
                    overlay.append(OverlayBox(rect_from_xyxy(box), color))
                info = layout.levels[i]
                lines.append(f"  P{level}: {count(len(offsets), 'anchor')}, stride {info.stride} input px ({info.stride / layout.input_scale:.3g} "
                             f"image px), grid {info.grid[1]}×{info.grid[0]}")
            overlay.append(OverlayBox(QRectF(self.point, self.point), QColor(255, 255, 255)))  # where was clicked (a point: a cross), on top
        lines += self._assignment(layout, overlay)
        if self.point is None and not self.canvas.selected():  # (ticked, it drew nothing, and nothing said why)
            lines.insert(0, "Select a label (click it, or Tab) to see its anchors, or pick a point (P) to see every level's there.")
        self.canvas.set_overlay(overlay)
        self._details = lines
        self._show_report()

    def _show_report(self) -> None:
        """The details of the selected label or point, then the folder's coverage report."""
        coverage = ["", "Coverage report (folder):", *self._coverage_lines] if self._coverage_lines else []
        self.report.setPlainText("\n".join([*self._details, *coverage]).strip("\n"))

    def _assignment(self, layout, overlay: list[OverlayBox]) -> list[str]:
        """Assignment of the selected labels (all labels are checked for reachability)."""
        store = self.annotator.workspace.store if self.annotator.workspace else None
        if store is None or self.annotator.current is None:
            return []
        boxes = store.boxes(self.annotator.current)
        if not boxes:
            return []
        result = self.label_assignment()
        if result is None:
            return [f"assigning the {len(boxes)} labels of this image to anchors …"]
        lines = []
        for i in (i for i in self.canvas.selected() if i < len(result)):  # the canvas may not have redrawn an edit yet
            r = result[i]
            name = store.category(boxes[i].category_id).name
            rule = " by the low-quality rule" if not r.reachable else ""  # ("10 positive", then "no anchor reaches IoU 0.5")
            lines.append(f"{_describe(name, boxes[i])}: best anchor IoU {r.best_iou:.2f}; {len(r.positive)} positive{rule}, "
                         f"{len(r.ignored)} ignored anchors")
            for j in r.ignored:
                overlay.append(OverlayBox(rect_from_xyxy(layout.boxes[j]), QColor(150, 150, 150)))
            for j in r.positive:
                overlay.append(OverlayBox(rect_from_xyxy(layout.boxes[j]), QColor(60, 220, 60), dashed=False))
            for k, j in enumerate(r.best):  # tied best anchors: one says the IoU (45 labels covered the image)
                overlay.append(OverlayBox(rect_from_xyxy(layout.boxes[j]), QColor(255, 230, 0), 2, False, "" if k else f"IoU {r.best_iou:.2f}"))
            if not r.reachable:
                lines.append(f"  no anchor reaches IoU {self.assign_config.positive_iou:g}: {r.suggestion}")
        unreachable = [i for i, r in enumerate(result) if not r.reachable]
        if unreachable:
            lines.append(f"{len(unreachable)} of {len(boxes)} labels on this image have no anchor at IoU ≥ "
                         f"{self.assign_config.positive_iou:g} (matched only by the low-quality rule):")
            # the advice once, when one holds for all (it was said 32 times over; a selected label's says its sizes)
            advice = list(dict.fromkeys(result[i].suggestion.split(": the box", 1)[0] for i in unreachable))
            for i in unreachable:
                said = "" if len(advice) == 1 else f"; {result[i].suggestion}"
                lines.append(f"  {_describe(store.category(boxes[i].category_id).name, boxes[i])}: best IoU {score_text(result[i].best_iou, self.assign_config.positive_iou)}{said}")
            if len(advice) == 1:
                lines.append(f"  for all of them: {advice[0]}" + (" (select one for its sizes)" if advice[0].startswith(("use", "add a"))
                                                                   else ""))
        else:
            every = "the one label on this image has" if len(boxes) == 1 else f"all {len(boxes)} labels on this image have"  # ("all 1 labels")
            lines.append(f"{every} an anchor at IoU ≥ {self.assign_config.positive_iou:g}")
        return lines

    def _labels_key(self, anchors: AnchorConfig) -> tuple:
        """What a per-label result depends on: the image, its labels' geometry and the settings."""
        boxes = self.annotator.workspace.store.boxes(self.annotator.current)
        return (self.annotator.current, self.annotator.size, tuple((b.x1, b.y1, b.x2, b.y2) for b in boxes), anchors,
                self.assign_config, self.preprocess)

    def label_assignment(self) -> list | None:
        """How each label of the current image is assigned (core's training assignment) with the
        trial settings, or None while that is being computed. It runs in a worker (a few hundred
        ms for a busy photo) once per image, label geometry and settings; selection changes reuse
        it, and the panel refreshes when it arrives."""
        key = self._labels_key(self.anchors)
        if self._assigned is not None and self._assigned[0] == key:
            return self._assigned[1]
        if self._assign_worker is None:  # else the running one refreshes when done, and this starts again
            from core.anchor_coverage import assign_labels

            layout, config, anchors = self.layout_for_current(), self.assign_config, self.anchors
            xyxy = np.array(key[2], dtype=np.float64).reshape(-1, 4)
            self._assign_worker = FunctionWorker(lambda _cancel: (key, assign_labels(layout, xyxy, config, anchors)))
            self._assign_worker.done.connect(self._assignment_done)
            self._assign_worker.failed.connect(self._assignment_failed)
            self._assign_worker.start()
        return None

    def _assignment_done(self, keyed: tuple[tuple, list]) -> None:
        self._stop_assignment()
        self._assigned = keyed
        self.refresh()

    def _assignment_failed(self, reason: str) -> None:
        self._stop_assignment()
        self._details = [f"anchor assignment failed: {reason}"]
        self._show_report()

    def _stop_assignment(self) -> None:
        if self._assign_worker is not None:
            self._assign_worker.stop()
            self._assign_worker = None

    def model_best_anchor_iou(self, index: int) -> float:
        """Best IoU of any of the model's anchors with label ``index`` of the current image (what
        "why missed?" needs, whatever settings are being tried in this panel; for every label after
        each edit it took 0.38 s at 2,000 labels)."""
        from core.anchor_coverage import best_anchor_ious

        box = self.annotator.workspace.store.boxes(self.annotator.current)[index]
        return float(best_anchor_ious(self.layout_for_current(self.model_anchors), np.array([[box.x1, box.y1, box.x2, box.y2]]))[0])

    # --- coverage report -----------------------------------------------------------------------
    def run_coverage(self) -> None:
        if self.annotator.workspace is None or self._coverage_worker is not None:
            return
        from core.anchor_coverage import coverage

        labels = self.annotator.workspace.store.to_labelset()
        anchors, preprocess, config = self.anchors, self.preprocess, self.assign_config
        self._covered = anchors
        self._coverage_lines = ["computing the coverage of every label …"]
        self._show_report()
        scroll_into_view(self.report)
        self._coverage_worker = FunctionWorker(lambda cancel: coverage(labels, anchors, preprocess, config, cancel=cancel))
        self._coverage_worker.done.connect(self._coverage_done)
        self._coverage_worker.failed.connect(self._coverage_failed)
        self._coverage_worker.start()

    def stop(self) -> None:
        """The folder closes: its work stops, and its coverage report goes."""
        self._stop_coverage()
        self._stop_assignment()
        self._coverage_lines = []
        self._details = []

    def _stop_coverage(self) -> None:
        if self._coverage_worker is not None:
            self._coverage_worker.stop()
            self._coverage_worker = None

    def _coverage_done(self, report) -> None:
        self._stop_coverage()
        store = self.annotator.workspace.store if self.annotator.workspace else None
        if not len(report.best_iou):  # ("0 labels …; 0.0% have no anchor", then two empty headings)
            boxes = sum(len(store.boxes(n)) for n in store.file_names()) if store else 0
            self._set_coverage(["no labels in this folder yet: label some boxes, then see how the anchors cover them"] if not boxes else
                               [f"none of the folder's {count(boxes, 'box')} could be measured: crowd regions (VOC “difficult” boxes), "
                                "boxes without width or height, or boxes of images whose size is not known yet"])
            return
        names = {c.id: c.name for c in store.categories} if store else {}
        counts, edges = report.histogram
        peak = max(counts.max(), 1) if len(counts) else 1
        tried = "the model's anchor settings" if self._covered == self.model_anchors else (
            f"the settings tried (sizes {' '.join(f'{v:g}' for v in self._covered.sizes)}, ratios "
            f"{' '.join(f'{v:g}' for v in self._covered.ratios)}, scales {' '.join(f'{v:.3g}' for v in self._covered.scales)})")
        lines = [f"{count(len(report.best_iou), 'label')}, with {tried}; {report.unreachable_share:.1%} have no anchor at IoU ≥ "
                 f"{report.positive_iou:g}", "best-anchor IoU histogram:"]
        rows = _histogram_rows(counts, edges)
        bar = self._bar_room(max((text for text, _ in rows), key=len, default=""))
        lines += [text + "#" * round(bar * c / peak) for text, c in rows]
        lines.append("per class: labels, unreachable, median best IoU")
        for cid, (n, share, median) in sorted(report.per_class().items(), key=lambda kv: -kv[1][1]):
            lines.append(f"  {names.get(cid, cid)}: {n}, {share:.1%}, {median:.2f}")
        self._set_coverage(lines)

    def _bar_room(self, text: str) -> int:
        """How many "#" fit after ``text`` on a line of the report as wide as it is now, 4 to 16 (16
        wrapped each bar onto a second line in a panel 256 px wide, at 1024x700)."""
        metrics = self.report.fontMetrics()
        scrollbar = self.report.verticalScrollBar()
        width = (self.report.viewport().width() - (0 if scrollbar.isVisible() else scrollbar.sizeHint().width())  # (the report may need it)
                 - 2 * self.report.document().documentMargin() - metrics.horizontalAdvance(text))
        return int(max(4, min(16, width // max(metrics.horizontalAdvance("#"), 1) - 1)))

    def _coverage_failed(self, reason: str) -> None:
        self._stop_coverage()
        self._set_coverage([f"failed: {reason}"])

    def _set_coverage(self, lines: list[str]) -> None:
        """Shows the coverage report, scrolled to its start (the details above it may fill the view)."""
        self._coverage_lines = lines
        self._show_report()
        QTimer.singleShot(0, self._scroll_to_coverage)  # once the text is laid out: before, the view's range was the old text's

    def _scroll_to_coverage(self) -> None:
        """The coverage report's heading at the top of the view, the report under it (made visible
        by a cursor, it stood at the view's foot, highlighted, the report below the fold)."""
        found = self.report.document().find("Coverage report (folder):")
        if not found.isNull():
            self.report.setTextCursor(QTextCursor(found.block()))  # (no selection)
            self.report.verticalScrollBar().setValue(found.block().firstLineNumber())  # (a plain text view scrolls by lines)


def _describe(class_name: str, box) -> str:
    """A label as the user can find it on the canvas (boxes have no numbers there)."""
    return f"{class_name} at ({box.x1:.0f}, {box.y1:.0f}), {box.width:.0f}×{box.height:.0f} px"


def _histogram_rows(counts: np.ndarray, edges: np.ndarray) -> list[tuple[str, int]]:
    """The histogram's rows from its first to its last filled bin, each run of three or more empty
    bins between them in one row (13 of 20 bins were empty; one stray tiny label listed 13 rows of 0)."""
    filled = np.flatnonzero(counts)
    rows = []
    for empty, run in groupby(range(filled.min(), filled.max() + 1) if len(filled) else (), key=lambda k: counts[k] == 0):
        run = list(run)
        if empty and len(run) >= 3:
            rows.append((f"  {edges[run[0]]:.2f}–{edges[run[-1] + 1]:.2f} {0:>5} ", 0))
        else:
            rows += [(f"  {edges[k]:.2f}–{edges[k + 1]:.2f} {int(counts[k]):>5} ", int(counts[k])) for k in run]
    return rows
