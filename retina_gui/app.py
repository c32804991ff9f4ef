"""Entry point ``retina-gui [FOLDER | IMAGE] [--labels FILE] [--no-subfolders] [--model WEIGHTS]``: sets up Qt and opens the main window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="retina-gui", description="Label, inspect and fine-tune RetinaNet detectors.")
    parser.add_argument("folder", nargs="?", type=Path, help="image folder to open, or an image (its folder opens on it)")
    parser.add_argument("--model", type=Path, help="weights file to load (retina-gui, torchvision or yhenon)")
    parser.add_argument("--labels", type=Path, help="COCO file holding the folder's labels (default: annotations.coco.json in it, or a Roboflow export's _annotations.coco.json)")
    parser.add_argument("--no-subfolders", action="store_true", help="list only the folder's own images")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtWidgets import QApplication

    from retina_gui.main_window import MainWindow

    # torch is loaded by the first model, in its worker, which also leaves a core for the window
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("retina-gui")
    app.setOrganizationName("retina-gui")
    window = MainWindow(model=args.model, recursive=not args.no_subfolders)
    window.show()
    if args.folder is not None:
        window.open_folder_once_shown(args.folder, args.labels)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
