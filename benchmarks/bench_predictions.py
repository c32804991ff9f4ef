"""Prediction overlay figures (issue 5), with the demo model, offscreen Qt:

1. Slider re-filter at 100k candidates: threshold + NMS on the cached candidates, the overlay
   rebuilt, the canvas repainted (target <= 16 ms) - against the peer's way, running the model
   again on the image.
2. The event loop's longest gap while the model predicts a folder in the background (target
   <= 50 ms) - against running the model on the GUI thread (labelme's way).
3. Batch prediction of a folder in the window vs `retina predict`'s loop (core.predict.predict_files)
   on the same images, same model and device (target: within 10 %).
4. Accept shown (folder) over many predicted images: gathering their cached predictions in a
   worker, the event loop's longest gap, against gathering them on the GUI thread.

Usage: python benchmarks/bench_predictions.py [--device cpu|cuda] [--copies 3] [--gather 2000]
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
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--copies", type=int, default=3, help="copies of the 8 demo images in the batch folder")
    parser.add_argument("--gather", type=int, default=2000, help="predicted images that Accept folder gathers")
    args = parser.parse_args()

    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks.common import DEMO_MODEL, print_table
    from core.detections import Candidates
    from core.detector import Detector
    from core.images import load_image
    from core.predict import predict_files
    from retina_gui.main_window import MainWindow

    app = QApplication([])
    work = Path(tempfile.mkdtemp(prefix="retina-bench-"))
    folder = work / "images"
    folder.mkdir()
    for k in range(args.copies):
        for image in sorted((ROOT / "resources" / "demo").glob("*.jpg")):
            shutil.copy(image, folder / f"{k}_{image.name}")
    names = sorted(p.name for p in folder.glob("*.jpg"))
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(folder=folder, settings=settings)
    window.resize(1440, 900)
    window.show()
    window.predictions.load_model(DEMO_MODEL, args.device)
    while window.predictions.visible is None:
        app.processEvents()

    # 1. re-filter 100k candidates
    rng = np.random.default_rng(0)
    n = 100_000
    xy = rng.uniform(0, 700, (n, 2))
    wh = rng.uniform(10, 120, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    synthetic = Candidates(boxes, rng.uniform(0.05, 1, n).astype(np.float32), rng.integers(0, 13, n), np.arange(n), np.zeros(n, np.int64),
                           (1.3333, 1.3333), 0.05)
    current = window.annotator.current
    window.predictions.candidates[current] = synthetic
    panel = window.model_panel
    times, shown = [], []
    for value in list(range(30, 96, 5)) * 2:
        start = time.perf_counter()
        panel.score_slider.setValue(value)
        window.canvas.viewport().repaint()
        times.append(time.perf_counter() - start)
        shown.append(window.canvas.prediction_count())
    detector = Detector.from_file(DEMO_MODEL, device=args.device)
    image = load_image(folder / current)
    detector.candidates([image])
    rerun = []
    for _ in range(5):
        start = time.perf_counter()
        detector.candidates([image])
        rerun.append(time.perf_counter() - start)
    refilter_ms, rerun_ms = 1000 * statistics.median(times), 1000 * statistics.median(rerun)
    print_table(f"Score slider over {n:,} cached candidates ({min(shown)}-{max(shown)} boxes shown), ms per slider step",
                ["re-filter + overlay + repaint (median)", "worst", "peer: run the model again", "ratio"],
                [[refilter_ms, 1000 * max(times), rerun_ms, refilter_ms / rerun_ms]])
    del window.predictions.candidates[current]

    # 2 + 3. batch prediction in the background, the event loop's gaps, vs predict_files
    gaps, clock = [], QElapsedTimer()
    ticker = QTimer(interval=5)
    ticker.timeout.connect(lambda: gaps.append(clock.restart()))
    finished: list[int] = []
    window.predictions.batch_finished.connect(lambda count, cancelled: finished.append(count))
    runs_before = window.predictions.model_runs
    shutil.rmtree(folder / ".retina-gui", ignore_errors=True)  # no disk cache hits
    window.predictions.candidates.clear()
    clock.start()
    ticker.start()
    start = time.perf_counter()
    window.predictions.predict_folder()
    while not finished:
        app.processEvents()
    gui_s = time.perf_counter() - start
    ticker.stop()
    gui_runs = window.predictions.model_runs - runs_before

    # 4. Accept folder's gathering: the batch's cached candidates under many more names
    cache = window.predictions.cache
    store = window.workspace.store
    for k in range(args.gather):
        name = names[k % len(names)]
        os.link(folder / name, folder / f"g{k}_{name}")
        os.link(cache.entry_path(name), cache.entry_path(f"g{k}_{name}"))  # (a link of the image: the same time and size)
        store.mark_predicted([f"g{k}_{name}"])
    predicted = len(store.predicted)
    start = time.perf_counter()
    gathered = window.predictions.plan_accept(window.predictions.folder_entries())  # the gathering, and what accepting adds
    on_gui_s = time.perf_counter() - start
    window.predictions.folder_gathered.disconnect(window.accepting.accept_gathered)  # no question: the gathering alone is timed
    arrived: list = []
    loop = QEventLoop()  # an idle window waits for events (a loop of processEvents() held the GIL from the worker)
    window.predictions.folder_gathered.connect(arrived.append)
    window.predictions.folder_gathered.connect(loop.quit)
    gaps.clear()
    clock.start()
    ticker.start()
    start = time.perf_counter()
    window.predictions.gather_folder()
    loop.exec()
    worker_s = time.perf_counter() - start
    ticker.stop()
    assert len(arrived[0].entries) == len(gathered.entries) and arrived[0].fresh == gathered.fresh
    window.close()
    paths = [folder / name for name in names]
    start = time.perf_counter()
    cli_count = sum(1 for _ in predict_files(detector, paths))
    cli_s = time.perf_counter() - start
    start = time.perf_counter()
    detector.candidates([load_image(paths[0])])
    on_gui_thread_ms = 1000 * (time.perf_counter() - start)
    print_table(f"Predicting a folder of {len(names)} images on {detector.runtime.device} ({detector.runtime.precision})",
                ["", "seconds", "images/s", "longest event-loop gap (ms)"],
                [["retina-gui, background worker", gui_s, gui_runs / gui_s, max(gaps)],
                 ["retina predict loop (predict_files)", cli_s, cli_count / cli_s, ""],
                 ["ratio gui / cli", gui_s / cli_s, "", ""],
                 ["peer: model on the GUI thread (one image)", "", "", on_gui_thread_ms]])
    print_table(f"Accept shown (folder): gathering the shown predictions of {predicted} predicted images, and what accepting adds",
                ["", "seconds", "longest event-loop gap (ms)"],
                [["retina-gui, background worker", worker_s, max(gaps)],
                 ["peer: on the GUI thread (before)", on_gui_s, 1000 * on_gui_s]])
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
