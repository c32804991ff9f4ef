import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATASETS = SHARED / "datasets"
PHOTOS = DATASETS / "sample_photos"
DEMO_MODEL = ROOT / "resources" / "models" / "demo_chess_mobilenet_v2.safetensors"


@pytest.fixture(scope="session")
def shared() -> Path:
    assert SHARED.is_dir(), f"tests need the shared material at {SHARED}"
    return SHARED


def valid_subset(folder: Path, count: int = 2) -> dict:
    """The first ``count`` images of the chess valid split copied into ``folder``, and their COCO
    labels (a dict, to change and write as the test needs)."""
    import json
    import shutil

    data = json.loads((DATASETS / "chess" / "valid" / "_annotations.coco.json").read_text())
    data["images"] = data["images"][:count]
    keep = {im["id"] for im in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    for im in data["images"]:
        shutil.copy(DATASETS / "chess" / "valid" / im["file_name"], folder / im["file_name"])
    return data


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised ResNet-18 RetinaNet for 3 classes at a small input size."""
    from core.config import PreprocessConfig
    from core.model import RetinaNet
    from core.presets import get_preset
    from core.weights import ClassInfo, ModelSpec, save_checkpoint

    torch.manual_seed(0)
    preset = get_preset("retinanet")
    config = preset.model_config(backbone="resnet18", num_classes=3)
    model = RetinaNet(config)
    torch.nn.init.constant_(model.head.classification_head.cls_logits.bias, -2.0)
    spec = ModelSpec(
        preset="retinanet",
        model=config,
        classes=(ClassInfo(1, "king"), ClassInfo(2, "queen"), ClassInfo(5, "rook")),
        preprocess=PreprocessConfig(min_size=160, max_size=256),
    )
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, model, spec)
    return path


@pytest.fixture(autouse=True)
def no_unanswered_question(monkeypatch):
    """Modal dialogs (the class picker, Yes/No questions, warnings, name, colour and file dialogs):
    opened offscreen with nobody to answer them, a test would hang. A test that expects one answers
    it (a ``confirm`` of its own, or a monkeypatched ``exec`` or static method); one that opens one
    unawares fails."""
    if "PySide6" in sys.modules:
        from PySide6.QtWidgets import QColorDialog, QDialog, QFileDialog, QInputDialog, QMessageBox

        def unexpected(*args, **kwargs):
            pytest.fail("a modal dialog opened, and this test does not answer it")

        monkeypatch.setattr(QDialog, "exec", unexpected)  # (the class picker, the shortcuts list: QDialogs)
        for owner, names in ((QMessageBox, ("question", "warning", "critical", "information")), (QInputDialog, ("getText", "getItem")),
                             (QColorDialog, ("getColor",)), (QFileDialog, ("getOpenFileName", "getSaveFileName", "getExistingDirectory"))):
            for name in names:
                monkeypatch.setattr(owner, name, unexpected)


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """A test must stop every thread it starts (napari's rule): leftovers crash Qt at exit."""
    import threading

    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    for t in leftover:
        t.join(timeout=5)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"threads left running: {still}"
    workers = sys.modules.get("retina_gui.workers")
    if workers is not None:
        running = workers.running_workers()
        for worker in running:
            worker.stop()
        assert not running, f"QThread workers left running: {[type(w).__name__ for w in running]}"
