"""Fine-tuning in the window (issue 6 figures), offscreen Qt, demo model on the demo folder:

1. The event loop's longest gap while the model trains in the background (target <= 50 ms),
   over the whole run and over the training steps alone (model set-up and the per-epoch
   validation excluded).
2. Training images/s inside the app vs the same run through `retina train`'s code path
   (core.train.Trainer in the main thread, no window), same data, recipe and device
   (target: within 10 %).

Usage: python benchmarks/bench_training.py [--epochs 10] [--size 384]   (the device is auto: CUDA when present)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks.common import DEMO_MODEL, print_table
    from core.finetune import fine_tune
    from core.formats.coco import read_coco
    from retina_gui.main_window import MainWindow

    app = QApplication([])
    work = Path(tempfile.mkdtemp(prefix="retina-train-bench-"))
    folder = work / "demo"
    shutil.copytree(ROOT / "resources" / "demo", folder)
    # (the run may score below the demo model at this size: "use it all the same?" is answered yes, unseen)
    window = MainWindow(folder=folder, model=DEMO_MODEL, settings=QSettings(str(work / "s.ini"), QSettings.Format.IniFormat),
                        confirm=lambda title, text: True)
    window.show()
    while window.predictions.visible is None:
        app.processEvents()
    panel = window.training_panel
    panel.advanced.setChecked(True)
    panel.epochs_spin.setValue(args.epochs)
    panel.size_spin.setValue(args.size)
    panel.batch_spin.setValue(4)
    recipe = panel.recipe()
    # a fixed second of event processing: opening Advanced lays the panel out (~20-70 ms), which is not part of training
    settle = time.perf_counter() + 1.0
    while time.perf_counter() < settle:
        app.processEvents()

    gaps: list[tuple[float, int]] = []  # (time, gap ms)
    steps: list[tuple[float, int, float]] = []  # (time, step, images/s)
    clock = QElapsedTimer()
    ticker = QTimer(interval=5)
    ticker.timeout.connect(lambda: gaps.append((time.perf_counter(), clock.restart())))

    def on_event(event) -> None:
        if event.kind == "step":
            steps.append((time.perf_counter(), event.step, event.images_per_s))

    clock.start()
    ticker.start()
    start = time.perf_counter()
    panel.train()
    panel.worker.event.connect(on_event)
    while panel.worker is not None:
        app.processEvents()
    gui_s = time.perf_counter() - start
    settle = time.perf_counter() + 0.5  # the tick after the run's end: its clean-up (the run's garbage collected) counted too
    while time.perf_counter() < settle:
        app.processEvents()
    ticker.stop()
    window.close()
    # steps-only window: from the first to the last step event, minus the validation pauses
    first, last = steps[0][0], steps[-1][0]
    during = [g for t, g in gaps if first <= t <= last]
    ending = [g for t, g in gaps if t > last]
    per_step = [b[0] - a[0] for a, b in zip(steps, steps[1:])]
    typical = statistics.median(per_step)
    gui_rate = 4 / typical

    labels = read_coco(folder / "annotations.coco.json")
    cli_steps: list[float] = []
    start = time.perf_counter()
    fine_tune(labels, folder, work / "cli-run", recipe, on_event=lambda e: cli_steps.append(time.perf_counter()) if e.kind == "step" else None)
    cli_s = time.perf_counter() - start
    cli_rate = 4 / statistics.median([b - a for a, b in zip(cli_steps, cli_steps[1:])])
    print_table(f"Fine-tuning the demo model on the 8 demo images, {args.epochs} epochs at {args.size}, batch 4",
                ["", "wall s", "images/s (median step)", "longest event-loop gap: whole run / steps only / the run's end (ms)"],
                [["retina-gui Train (background worker)", gui_s, gui_rate, f"{max(g for _, g in gaps)} / {max(during)} / {max(ending)}"],
                 ["retina train's code path (no window)", cli_s, cli_rate, ""],
                 ["ratio gui / cli", gui_s / cli_s, gui_rate / cli_rate, ""]])
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
