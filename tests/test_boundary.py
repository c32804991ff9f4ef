"""core/ must never load Qt: it runs in CLI tools, training jobs and on headless servers."""

import subprocess
import sys

CORE_MODULES = [
    "core", "core.anchors", "core.assign", "core.boxes", "core.cli", "core.config", "core.detector",
    "core.images", "core.losses", "core.model", "core.postprocess", "core.predict", "core.presets", "core.weights",
    "core.annotations", "core.anchor_coverage", "core.detections", "core.finetune", "core.prediction_cache", "core.preprocess",
    "core.review", "core.formats.convert",
]


def test_importing_core_loads_no_qt():
    code = (
        "import sys, importlib\n"
        f"for m in {CORE_MODULES!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'retina_gui')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_window_opens_without_loading_torch():
    """torch takes seconds and hundreds of MB to load: the GUI loads it with the first model, in
    the model's worker thread, so the window and the first image come up at once."""
    code = "import sys, retina_gui.app, retina_gui.main_window\nprint('torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
