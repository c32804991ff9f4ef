"""Annotation workspace speed and memory (issue 4 figures), each against a synchronous peer that
does what the tools users leave behind do (the whole file list built and the image decoded on the
GUI thread, labelme / LabelImg style), in the same run.

1. A folder of 10,000 generated JPEGs: time from process start until the first image is on screen,
   and resident memory once the folder is listed (targets: <= 1 s, <= 400 MB).
2. Switching between 2048x1371 JPEGs: time from the key press until the image is on screen, at a
   reading pace (the neighbours are prefetched) and cold (no cache, no prefetch: decode-bound)
   (target: median <= 80 ms).
3. 1,000 boxes on one image: repaint time per pan and zoom step (target: <= 33 ms a frame).
4. Autosave of 100k boxes: the longest stall of the GUI thread, background writer vs writing on
   the GUI thread.
5. An 8000x6000 JPEG: reduced decode for display vs a full decode.
6. Export of the same 100k boxes as COCO, VOC and YOLO: total time and the longest stall of the
   GUI thread, in the background (File ▸ Export Labels) vs on the GUI thread (as before).
7. The image search over 100,000 names (ASCII, and all with accents): time to filter the list at a
   key, vs folding every name's accents at each key (as before).

Each measurement runs in a fresh process (offscreen Qt). Usage:
    python benchmarks/bench_workspace.py [--data /tmp/retina-gui-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTO = ROOT.parent / "shared" / "datasets" / "sample_photos" / "sklearn" / "china.jpg"


def make_data(data: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    folders = {"10k": data / "folder_10k", "2048": data / "folder_2048", "huge": data / "huge"}
    rng = np.random.default_rng(0)
    base = Image.open(PHOTO).convert("RGB")
    if not (folders["10k"] / "done").exists():
        folders["10k"].mkdir(parents=True, exist_ok=True)
        small = base.resize((640, 427))
        for i in range(10_000):
            sub = folders["10k"] / f"part_{i // 1000:02d}"
            sub.mkdir(exist_ok=True)
            small.rotate(i % 360).save(sub / f"img_{i:05d}.jpg", quality=85)
        (folders["10k"] / "done").touch()
    if not (folders["2048"] / "done").exists():
        folders["2048"].mkdir(parents=True, exist_ok=True)
        big = np.asarray(base.resize((2048, 1371), Image.Resampling.BICUBIC)).astype(np.int16)
        for i in range(24):
            noisy = np.clip(big + rng.integers(-12, 12, big.shape), 0, 255).astype(np.uint8)
            Image.fromarray(np.roll(noisy, i * 37, axis=1)).save(folders["2048"] / f"photo_{i:02d}.jpg", quality=92)
        (folders["2048"] / "done").touch()
    if not (folders["huge"] / "done").exists():
        folders["huge"].mkdir(parents=True, exist_ok=True)
        base.resize((8000, 6000), Image.Resampling.BILINEAR).save(folders["huge"] / "huge_8000x6000.jpg", quality=90)
        (folders["huge"] / "done").touch()
    return folders


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- child processes -----------------------------------------------------------------------------
def child_startup(folder: Path, started: float, mode: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    settings = QSettings(str(folder.parent / f"settings_{mode}.ini"), QSettings.Format.IniFormat)
    settings.clear()
    if mode == "ours":
        from retina_gui.main_window import MainWindow

        window = MainWindow(folder=folder, settings=settings)
        window.show()
        while window.annotator.size is None:
            app.processEvents()
        first = time.time() - started
        while not window.listing.complete or window.files.model.rowCount() == 0:
            app.processEvents()
        app.processEvents()
        listed = time.time() - started
        count = window.files.model.rowCount()
        window.close()
    else:  # the synchronous peer: list everything, then decode the first image, all on the GUI thread
        from PySide6.QtGui import QImageReader, QPixmap
        from PySide6.QtWidgets import QLabel, QListWidget, QMainWindow, QSplitter

        window = QMainWindow()
        files = QListWidget()
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
        files.addItems(names)
        label = QLabel()
        reader = QImageReader(str(folder / names[0]))
        reader.setAutoTransform(True)
        label.setPixmap(QPixmap.fromImage(reader.read()))
        splitter = QSplitter()
        splitter.addWidget(files)
        splitter.addWidget(label)
        window.setCentralWidget(splitter)
        window.show()
        app.processEvents()
        first = listed = time.time() - started
        count = files.count()
    return {"first_image_s": first, "listed_s": listed, "rss_mb": rss_mb(), "images": count, "torch_loaded": "torch" in sys.modules}


def child_switch(folder: Path) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QImageReader, QPixmap
    from PySide6.QtWidgets import QApplication

    from retina_gui.main_window import MainWindow

    app = QApplication([])
    settings = QSettings(str(folder.parent / "settings_switch.ini"), QSettings.Format.IniFormat)
    settings.clear()
    window = MainWindow(folder=folder, settings=settings)
    window.show()

    def wait_shown(name: str) -> None:
        while not (window.annotator.current == name and window.annotator.size is not None):
            app.processEvents()

    def pause(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)

    names = []
    while len(names) < 24:
        app.processEvents()
        names = window.files.model.names
    wait_shown(names[0])
    paced, cold = [], []
    for name in names[1:12]:
        pause(0.4)  # reading pace: the prefetch of the neighbours has time to finish
        start = time.perf_counter()
        window.files.step(1)
        wait_shown(name)
        paced.append(time.perf_counter() - start)
    window.annotator.PREFETCH = 0
    for name in names[12:]:
        pause(0.05)
        window.annotator._cache.clear()
        start = time.perf_counter()
        window.files.step(1)
        wait_shown(name)
        cold.append(time.perf_counter() - start)
    window.close()
    peer = []
    for name in names[:12]:  # synchronous decode + pixmap on the GUI thread
        start = time.perf_counter()
        reader = QImageReader(str(folder / name))
        reader.setAutoTransform(True)
        QPixmap.fromImage(reader.read())
        peer.append(time.perf_counter() - start)
    return {"paced_ms": 1000 * statistics.median(paced), "cold_ms": 1000 * statistics.median(cold),
            "peer_ms": 1000 * statistics.median(peer), "paced_max_ms": 1000 * max(paced)}


def child_boxes(folder: Path) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import random

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from core.labels import Box
    from retina_gui.main_window import MainWindow

    app = QApplication([])
    settings = QSettings(str(folder.parent / "settings_boxes.ini"), QSettings.Format.IniFormat)
    settings.clear()
    target = folder.parent / "boxes_folder"
    target.mkdir(exist_ok=True)
    image = target / "photo.jpg"
    if not image.exists():
        image.write_bytes((folder / "photo_00.jpg").read_bytes())
    (target / "annotations.coco.json").unlink(missing_ok=True)
    window = MainWindow(folder=target, settings=settings)
    window.resize(1600, 1000)
    window.show()
    while window.annotator.size is None:
        app.processEvents()
    ws = window.workspace
    for name in ("car", "person", "sign"):
        ws.add_category(name)
    rng = random.Random(0)
    boxes = []
    for _ in range(1000):
        x, y = rng.uniform(0, 1900), rng.uniform(0, 1250)
        boxes.append(Box(x, y, x + rng.uniform(10, 140), min(1371, y + rng.uniform(10, 120)), rng.choice([1, 2, 3])))
    ws.paste_boxes("photo.jpg", window.annotator.size, boxes)
    app.processEvents()
    canvas = window.canvas
    vp = canvas.viewport()

    def frame() -> float:
        start = time.perf_counter()
        vp.repaint()
        return time.perf_counter() - start

    times: dict[str, list[float]] = {}
    for selection, indices in (("none", []), ("100, with handles", list(range(100))), ("all 1000", list(range(1000)))):
        canvas.select(indices)
        canvas.fit()
        times[f"fit, {selection} selected"] = [frame() for _ in range(10)]
        zoom = times[f"zoom, {selection} selected"] = []
        for step in range(30):  # zoom in to 4x and back out, at the centre
            canvas.zoom_by(1.25 if step < 15 else 0.8)
            zoom.append(frame())
        canvas.set_zoom(1.0)
        pan = times[f"pan at 100 %, {selection} selected"] = []
        for step in range(60):
            bar = canvas.horizontalScrollBar() if step % 2 else canvas.verticalScrollBar()
            bar.setValue(bar.value() + (25 if step < 30 else -25))
            pan.append(frame())
    canvas.select([])
    size = window.annotator.size
    edits = {"nudge one box": lambda k: ws.nudge_boxes("photo.jpg", size, [k], 1, 0),
             "draw one box": lambda k: ws.paste_boxes("photo.jpg", size, [Box(10 + k, 10, 60 + k, 60, 1)]),
             "delete one box": lambda k: ws.delete_boxes("photo.jpg", [500 + k]),
             "select one box": lambda k: canvas.select([300 + k]),
             "undo a delete": lambda k: ws.undo_stack.undo()}
    for what, edit in edits.items():  # from the edit to the window repainted, all listeners included
        took = times[f"edit, {what}, 1000 boxes"] = []
        for k in range(10):
            start = time.perf_counter()
            edit(k)
            app.processEvents()
            vp.repaint()
            took.append(time.perf_counter() - start)
    window.close()
    (target / "annotations.coco.json").unlink(missing_ok=True)
    return {"frames": {k: [1000 * statistics.median(v), 1000 * max(v)] for k, v in times.items()}, "viewport": f"{vp.width()}x{vp.height()}"}


def child_autosave(folder: Path) -> dict:
    """10,000 labelled images with 10 boxes each (100k boxes): how long the GUI thread stalls
    while an edit is autosaved, measured as the longest gap between ticks of a 5 ms timer."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QRectF, QTimer
    from PySide6.QtWidgets import QApplication

    from core.annotations import AnnotationFile, AnnotationStore
    from core.labels import Box, Category, ImageEntry, LabelSet
    from retina_gui.workspace import Workspace

    app = QApplication([])
    images = [ImageEntry(i + 1, f"d/img_{i:05d}.jpg", 640, 480, [Box(j, j, j + 20.5, j + 30.25, 1) for j in range(10)])
              for i in range(10_000)]
    path = folder.parent / "autosave_bench.coco.json"
    path.unlink(missing_ok=True)
    labels_file = AnnotationFile(path)
    workspace = Workspace(folder, path, labels_file, AnnotationStore(LabelSet([Category(1, "a")], images)))
    gaps, clock = [], QElapsedTimer()
    ticker = QTimer(interval=5)

    def tick() -> None:
        gaps.append(clock.restart())

    ticker.timeout.connect(tick)
    results = {}
    for mode in ("background", "synchronous"):
        workspace.set_current_category(1)
        workspace.draw_box("d/img_00000.jpg", (640, 480), QRectF(1, 1, 30, 30))
        clock.start()
        gaps.clear()
        ticker.start()
        start = time.perf_counter()
        if mode == "synchronous":
            QTimer.singleShot(20, workspace.save)
        saved_before = workspace.dirty
        while workspace.dirty and time.perf_counter() - start < 30:
            app.processEvents()
        done = time.perf_counter() - start
        end = time.perf_counter() + 0.1
        while time.perf_counter() < end:
            app.processEvents()
        ticker.stop()
        results[mode] = {"edit_to_saved_s": done, "worst_stall_ms": max(gaps), "was_dirty": saved_before}
    workspace.close()
    results["file_mb"] = path.stat().st_size / 1e6
    path.unlink()
    return results


def child_export(folder: Path) -> dict:
    """File ▸ Export Labels of 10,000 images with 100,000 boxes, per format: total time, and the
    longest gap between ticks of a 5 ms timer (the window's stall), in the background worker
    against write_labels called on the GUI thread."""
    import shutil
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from core.annotations import AnnotationStore
    from core.formats.convert import write_labels
    from core.labels import Box, Category, ImageEntry, LabelSet
    from retina_gui.label_transfer import LabelTransfer
    from retina_gui.workspace import Workspace

    app = QApplication([])
    images = [ImageEntry(i + 1, f"d/img_{i:05d}.jpg", 640, 480, [Box(j * 9, j, j * 9 + 20.5, j + 30.25, 1 + j % 3) for j in range(10)])
              for i in range(10_000)]
    labels = LabelSet([Category(1, "a"), Category(2, "b"), Category(3, "c")], images)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent))
    workspace = Workspace(folder, scratch / "labels.json", None, AnnotationStore(labels))
    transfer, finished = LabelTransfer(), []
    transfer.finished.connect(finished.append)
    gaps, clock = [], QElapsedTimer()
    ticker = QTimer(interval=5)
    ticker.timeout.connect(lambda: gaps.append(clock.restart()))
    results = {}
    for fmt in ("coco", "voc", "yolo"):
        for mode in ("background", "synchronous"):
            target = scratch / f"{fmt}_{mode}" / ("export.json" if fmt == "coco" else "")
            target.parent.mkdir(exist_ok=True)
            gaps.clear()
            finished.clear()
            clock.start()
            ticker.start()
            start = time.perf_counter()
            if mode == "background":
                transfer.export(workspace, fmt, target)
                while not finished:
                    app.processEvents()
            else:
                QTimer.singleShot(20, lambda fmt=fmt, target=target: (write_labels(workspace.store.to_labelset(), fmt, target),
                                                                      finished.append(True)))
                while not finished:
                    app.processEvents()
            took = time.perf_counter() - start
            app.processEvents()
            ticker.stop()
            results[f"{fmt} {mode}"] = {"total_s": took, "worst_stall_ms": max(gaps)}
    shutil.rmtree(scratch)
    return results


def child_huge(folder: Path) -> dict:
    from core.images import load_image, load_preview

    path = folder / "huge_8000x6000.jpg"
    out = {}
    for name, fn in (("preview", lambda: load_preview(path, 4096)), ("full", lambda: load_image(path))):
        fn()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name + "_ms"] = 1000 * statistics.median(times)
    preview = load_preview(path, 4096)
    out["preview_shape"] = list(preview.pixels.shape)
    out["size"] = [preview.width, preview.height]
    return out


def child_search(_folder: Path) -> dict:
    from PySide6.QtWidgets import QApplication

    from retina_gui.file_list import FileFilter, FileListModel, search_key

    class FoldingAtEachKey(FileFilter):
        def filterAcceptsRow(self, row, parent) -> bool:
            return not self.text or self.text in search_key(self.sourceModel().names[row])

    QApplication.instance() or QApplication([])
    out = {}
    for kind, stem in (("ascii", "Folder {}/IMG_{:06d}.jpg"), ("accents", "Déjà vu {}/Crème_{:06d}.jpg")):
        model = FileListModel()
        model.append([stem.format(i % 100, i) for i in range(100_000)])
        for name, proxy in (("ours", FileFilter()), ("peer", FoldingAtEachKey())):
            proxy.setSourceModel(model)
            times = []
            for text in ("v", "vu", "vu 4", "vu 42", "1"):  # typed, then a new search
                start = time.perf_counter()
                proxy.set_text(text)
                times.append(time.perf_counter() - start)
            out[f"{kind}_{name}_ms"] = 1000 * statistics.median(times)
    return out


def run_child(*args: str) -> dict:
    started = time.time()
    out = subprocess.run([sys.executable, __file__, "--child", *args, "--started", repr(started)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/tmp/retina-gui-bench"))
    parser.add_argument("--child", nargs="*")
    parser.add_argument("--started", type=float)
    args = parser.parse_args()
    if args.child:
        kind, folder, *rest = args.child
        if kind == "startup":
            result = child_startup(Path(folder), args.started, rest[0])
        else:
            result = {"switch": child_switch, "boxes": child_boxes, "huge": child_huge, "autosave": child_autosave,
                      "export": child_export, "search": child_search}[kind](Path(folder))
        print(json.dumps(result))
        return

    from benchmarks.common import print_table

    folders = make_data(args.data)
    ours = [run_child("startup", str(folders["10k"]), "ours") for _ in range(3)]
    peer = [run_child("startup", str(folders["10k"]), "peer") for _ in range(3)]
    med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    print_table("10,000 JPEGs in 10 subfolders: from process start (median of 3 runs)",
                ["", "first image on screen (s)", "all listed (s)", "RSS (MB)", "torch loaded"],
                [["retina-gui", med(ours, "first_image_s"), med(ours, "listed_s"), med(ours, "rss_mb"), ours[0]["torch_loaded"]],
                 ["synchronous peer", med(peer, "first_image_s"), med(peer, "listed_s"), med(peer, "rss_mb"), False],
                 ["ratio ours/peer", med(ours, "first_image_s") / med(peer, "first_image_s"), "", "", ""]])
    switch = run_child("switch", str(folders["2048"]))
    print_table("Switching between 2048x1371 JPEGs (median ms, key press to image on screen)",
                ["retina-gui, reading pace", "retina-gui, cold (no cache/prefetch)", "synchronous QImageReader peer", "ratio paced/peer"],
                [[switch["paced_ms"], switch["cold_ms"], switch["peer_ms"], switch["paced_ms"] / switch["peer_ms"]]])
    boxes = run_child("boxes", str(folders["2048"]))
    print_table(f"1,000 labelled boxes on a 2048x1371 image, viewport {boxes['viewport']}: repaint per frame, edit to repainted (ms)",
                ["", "median", "max"], [[k, *v] for k, v in boxes["frames"].items()])
    autosave = run_child("autosave", str(folders["2048"]))
    print_table(f"Autosave of 10,000 images with 100,000 boxes ({autosave['file_mb']:.1f} MB of COCO JSON)",
                ["", "edit to file written (s)", "longest GUI-thread stall (ms)"],
                [[m, autosave[m]["edit_to_saved_s"], autosave[m]["worst_stall_ms"]] for m in ("background", "synchronous")])
    export = run_child("export", str(folders["2048"]))
    print_table("Export of 10,000 images with 100,000 boxes", ["", "total (s)", "longest GUI-thread stall (ms)"],
                [[m, r["total_s"], r["worst_stall_ms"]] for m, r in export.items()])
    huge = run_child("huge", str(folders["huge"]))
    print_table("8000x6000 JPEG decode (ms)", ["reduced for display (<= 4096 px)", "full", "ratio", "shown pixels", "box frame"],
                [[huge["preview_ms"], huge["full_ms"], huge["preview_ms"] / huge["full_ms"], "x".join(map(str, huge["preview_shape"][:2])),
                  "x".join(map(str, huge["size"]))]])
    search = run_child("search", str(folders["2048"]))
    print_table("Image search over 100,000 names: filter time per key (median ms)",
                ["names", "retina-gui", "folding accents at each key", "ratio"],
                [[kind, search[f"{kind}_ours_ms"], search[f"{kind}_peer_ms"], search[f"{kind}_ours_ms"] / search[f"{kind}_peer_ms"]]
                 for kind in ("ascii", "accents")])


if __name__ == "__main__":
    main()
