"""The main window. It composes panels and holds no business logic.

For now it lists the images of the opened folder; the annotation workspace, predictions and training
panels are added by later issues.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QListWidget, QMainWindow


class MainWindow(QMainWindow):
    def __init__(self, *, folder: Path | None = None, model: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("retina-gui" + (f" — {folder}" if folder else ""))
        self.resize(1200, 800)
        self.files = QListWidget(self)
        self.setCentralWidget(self.files)
        if folder is not None:
            self.open_folder(folder)
        if model is not None:
            self.statusBar().showMessage(f"model: {model}" if model.is_file() else f"model not found: {model}")

    def open_folder(self, folder: Path) -> None:
        from core.images import list_images

        if not folder.is_dir():
            self.statusBar().showMessage(f"not a folder: {folder}")
            return
        self.files.clear()
        self.files.addItems([p.relative_to(folder).as_posix() for p in list_images([folder])])
