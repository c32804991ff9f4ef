"""Precision, recall and F1 of the evaluated model at every score threshold the slider can take,
a line at the threshold in use and a point at the best F1; a click sets the threshold."""

from __future__ import annotations

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QScatterSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QToolTip

from core.review import ThresholdPoint


class ThresholdChart(QChartView):
    """``score_chosen(score)`` when clicked: the threshold under the mouse, in the slider's hundredths."""

    score_chosen = Signal(float)

    def __init__(self) -> None:
        chart = QChart()
        super().__init__(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(110)  # (the panel fits 1600x900 without scrolling)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        chart.setMargins(QMargins(2, 2, 2, 2))  # (a narrow dock: no wide frame around the plot)
        chart.setBackgroundRoundness(0)
        small = QFont()
        small.setPointSizeF(7.5)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
        chart.legend().setFont(small)
        self.precision, self.recall, self.f1 = QLineSeries(name="precision"), QLineSeries(name="recall"), QLineSeries(name="F1")
        self.f1.setPen(QPen(QColor(20, 20, 20), 2))
        self.threshold = QLineSeries()  # the slider's threshold: a vertical line
        self.threshold.setPen(QPen(QColor(120, 120, 120), 1, Qt.PenStyle.DashLine))
        self.best = QScatterSeries()
        self.best.setMarkerSize(8)
        self.best.setColor(QColor(20, 20, 20))
        self.x_axis, self.y_axis = QValueAxis(), QValueAxis()  # (no titles: the tab and tooltip say what they are)
        self.y_axis.setRange(0, 1)
        for axis in (self.x_axis, self.y_axis):
            axis.setTickCount(3)  # readable in a narrow panel
            axis.setLabelFormat("%.1f")
            axis.setLabelsFont(small)
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        for series in (self.threshold, self.precision, self.recall, self.f1, self.best):
            chart.addSeries(series)
            series.attachAxis(self.x_axis)
            series.attachAxis(self.y_axis)
        for series in (self.threshold, self.best):  # (said in the tooltip, not the legend: the legend has no room)
            chart.legend().markers(series)[0].setVisible(False)
        self._points: list[ThresholdPoint] = []
        self.show_sweep([], None)

    @property
    def points(self) -> list[ThresholdPoint]:
        return self._points

    def show_sweep(self, points: list[ThresholdPoint], best: ThresholdPoint | None) -> None:
        """The figures at each threshold of ``points`` (increasing scores); no points: an empty chart."""
        self._points = points
        # precision only where something is detected (it was drawn at 1.0 over thresholds that leave nothing)
        self.precision.replace([QPointF(p.score, p.precision) for p in points if p.detections])
        for series, values in ((self.recall, [p.recall for p in points]), (self.f1, [p.f1 for p in points])):
            series.replace([QPointF(p.score, v) for p, v in zip(points, values)])
        self.best.replace([QPointF(best.score, best.f1)] if best is not None else [])
        self.x_axis.setRange(0.0, 1.0)  # (from the score floor, 0.05, its three ticks read 0.1, 0.5 at 0.525 and 1.0)

    def set_threshold(self, score: float | None) -> None:
        self.threshold.replace([] if score is None or not self._points else [QPointF(score, 0.0), QPointF(score, 1.0)])

    def point_at(self, x: float) -> ThresholdPoint | None:
        """The threshold of the sweep nearest to a position along the score axis."""
        if not self._points:
            return None
        return min(self._points, key=lambda p: abs(p.score - x))

    def _point_under(self, event) -> ThresholdPoint | None:
        position = event.position()
        if not self.chart().plotArea().contains(position):
            return None
        return self.point_at(self.chart().mapToValue(position).x())

    def mouseMoveEvent(self, event) -> None:
        point = self._point_under(event)
        if point is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(),
                              f"score > {point.score:.2f}: precision {f'{point.precision:.3f}' if point.detections else 'n/a'}, "
                              f"recall {point.recall:.3f}, "
                              f"F1 {point.f1:.3f}\n{point.true_positives} found, {point.false_positives} false, {point.missed} missed\n"
                              "click: use this threshold", self)
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event) -> None:
        point = self._point_under(event) if event.button() == Qt.MouseButton.LeftButton else None
        if point is not None:
            self.score_chosen.emit(point.score)
        super().mousePressEvent(event)

    def wheelEvent(self, event) -> None:
        event.ignore()  # the panel scrolls (see LossChart)
