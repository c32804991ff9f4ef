"""“Previous model”: the models used before the current one, the most recent last, gone back
through one by one whatever replaced them (a run, the runs list, Load Model…), also after a restart
(it was greyed then, a fine-tuned model's start weights out of reach)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QPushButton

from retina_gui.predictions import Predictions
from retina_gui.widgets import json_setting, model_name


class ModelHistory(QObject):
    going_back = Signal(Path)  # Previous model was pressed: the model it loads

    KEY = "training/models_before"  # the models gone back to, kept for the next start
    KEPT = 20

    def __init__(self, predictions: Predictions, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.predictions, self.settings = predictions, settings
        self.back_button = QPushButton("Previous model")
        self.back_button.setToolTip("Back to the model used before this one")
        self.back_button.clicked.connect(self.go_back)
        self.before: list[tuple[Path, str | None]] = self._saved()  # (path, preset), the most recent last
        self._in_use: tuple[Path, str | None] | None = None
        self._going_back_to: Path | None = None
        predictions.model_changed.connect(self._model_changed)
        predictions.load_failed.connect(self._load_failed)
        self._show()

    def go_back(self) -> None:
        if self.before:
            path, preset = self.before[-1]  # taken off the list when it has loaded (a failed load keeps it there)
            self._going_back_to = path
            self.predictions.load_model(path, self.predictions.device, preset)
            self.going_back.emit(path)

    def forget_run(self, run: Path) -> None:
        """A run's folder was deleted: its models are no longer to go back to."""
        self.before = [m for m in self.before if m[0].resolve().parent != run.resolve()]
        self._show()

    def _model_changed(self, info) -> None:
        """A model was loaded: the one it replaced is the one to go back to; going back goes on to
        the one before."""
        if info is None:
            return
        if self._going_back_to == info.path and self.before and self.before[-1][0] == info.path:
            self.before.pop()
        elif self._in_use is not None and self._in_use[0] != info.path:
            self.before.append(self._in_use)
        self._going_back_to = None
        self._in_use = (info.path, self.predictions.preset)
        while self.before and self.before[-1][0] == info.path:  # (the model a restart loaded again)
            self.before.pop()
        self._show()

    def _load_failed(self, _reason: str) -> None:
        self._going_back_to = None

    def _saved(self) -> list[tuple[Path, str | None]]:
        """The models used before, as the last start left them: those whose file is still there."""
        entries = [e for e in json_setting(self.settings, self.KEY, list)
                   if isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], (str, type(None)))]
        return [(Path(path), preset) for path, preset in entries if Path(path).is_file()]

    def _show(self) -> None:
        """The button and its tooltip, and the list kept for the next start."""
        kept = json.dumps([[str(path), preset] for path, preset in self.before[-self.KEPT:]])
        if self.settings.value(self.KEY, "") != kept:  # (written only for news: every window started wrote it)
            self.settings.setValue(self.KEY, kept)
        self.back_button.setEnabled(bool(self.before))
        path = self.before[-1][0] if self.before else None
        self.back_button.setToolTip(f"Back to {model_name(path)}, the model used before this one" if path else
                                    "Back to the model used before this one")
