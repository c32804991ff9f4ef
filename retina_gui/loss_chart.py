"""The Training panel's live chart: smoothed classification and box loss per step, validation mAP
per epoch."""

from __future__ import annotations

import math

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

SMOOTHING = 0.9  # exponential moving average of the plotted losses
FEW_POINTS = 30  # loss points drawn as dots too, up to this many: one or two alone make no line to see


class LossChart(QChartView):
    """Smoothed classification and box loss per step, validation mAP per epoch (right axis)."""

    def __init__(self) -> None:
        chart = QChart()
        super().__init__(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(200)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setMargins(QMargins(2, 2, 2, 2))  # a narrow dock leaves the plot little room: no wide frame around it
        chart.setBackgroundRoundness(0)
        small = QFont()
        small.setPointSizeF(7.5)
        chart.legend().setFont(small)
        self.cls, self.box, self.map = QLineSeries(name="class loss"), QLineSeries(name="box loss"), QLineSeries(name="val mAP")
        self.x_axis, self.loss_axis, self.map_axis = QValueAxis(titleText="step"), QValueAxis(titleText="loss"), QValueAxis(titleText="mAP")
        self.map_axis.setRange(0, 1)
        # mAP on its own (right) axis, drawn unlike the losses: at 0.78 it lay on a box loss of 0.75; dashed, with
        # hollow points, over the losses (under them, its first points were hidden; filled, they covered the box loss)
        self.map.setPen(QPen(QColor(230, 100, 20), 2, Qt.PenStyle.DashLine))
        self.map.setBrush(Qt.BrushStyle.NoBrush)
        self.map.setPointsVisible(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # (Train, greyed as it starts, passed the keys on to the chart)
        # the theme gave box loss an orange much like val mAP's: blue and green, apart from it and each other
        self.cls.setPen(QPen(QColor(40, 90, 200), 2))
        self.box.setPen(QPen(QColor(30, 150, 70), 2))
        self.x_axis.setLabelFormat("%d")
        self.loss_axis.setLabelFormat("%.2g")
        self.map_axis.setLabelFormat("%.1f")
        for axis in (self.x_axis, self.loss_axis, self.map_axis):
            axis.setTickCount(3)  # readable in a narrow panel
            axis.setLabelsFont(small)
            axis.setTitleFont(small)
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.loss_axis, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(self.map_axis, Qt.AlignmentFlag.AlignRight)
        for series, axis in ((self.cls, self.loss_axis), (self.box, self.loss_axis), (self.map, self.map_axis)):
            chart.addSeries(series)
            series.attachAxis(self.x_axis)
            series.attachAxis(axis)
        self.clear()

    def clear(self) -> None:
        for series in (self.cls, self.box, self.map):
            series.clear()
        self._smooth: dict[str, float] = {}
        self._top = 0.1
        self._set_steps(0)
        self.loss_axis.setRange(0, self._top)

    def _set_steps(self, total: int) -> None:
        """The step axis from 0 to an even number: its 3 ticks are whole steps (0..1 read "0 0 1")."""
        self.x_axis.setRange(0, max(2, total + total % 2))

    def add_step(self, step: int, total: int, cls_loss: float, box_loss: float) -> None:
        for key, series, value in (("cls", self.cls, cls_loss), ("box", self.box, box_loss)):
            if not math.isfinite(value):
                continue
            smooth = self._smooth[key] = value if key not in self._smooth else SMOOTHING * self._smooth[key] + (1 - SMOOTHING) * value
            series.append(step, smooth)
            series.setPointsVisible(series.count() <= FEW_POINTS)  # a 1-epoch run's chart was empty: single points, no line
            self._top = max(self._top, smooth * 1.1)
        self._set_steps(total)
        self.loss_axis.setRange(0, self._top)
        self.loss_axis.applyNiceNumbers()  # ticks at round values (0, 0.5, 1.0), not at thirds of the top

    def wheelEvent(self, event) -> None:
        event.ignore()  # the panel scrolls: a wheel over the chart kept the runs list out of reach

    def add_map(self, step: int, value: float) -> None:
        self.map.append(step, value)

    def points(self) -> int:
        return self.cls.count() + self.box.count() + self.map.count()
