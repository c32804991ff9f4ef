"""The bundled demo model detects the pieces of the bundled demo folder."""

from core.detector import Detector
from core.evaluate import evaluate_detector
from core.formats.coco import read_coco, verify_coco_file
from tests.conftest import DEMO_MODEL, ROOT

DEMO = ROOT / "resources" / "demo"


def test_demo_folder_is_small_and_its_labels_are_valid_coco():
    images = sorted(DEMO.glob("*.jpg"))
    assert 1 <= len(images) <= 8
    assert sum(p.stat().st_size for p in images) <= 3 * 1024 * 1024
    verify_coco_file(DEMO / "annotations.coco.json")
    labels = read_coco(DEMO / "annotations.coco.json")
    assert all(max(im.width, im.height) <= 1024 for im in labels.images)


def test_demo_model_finds_the_pieces():
    assert DEMO_MODEL.stat().st_size <= 20 * 1024 * 1024
    detector = Detector.from_file(DEMO_MODEL, device="cpu", precision="fp32")
    spec = detector.spec
    assert spec.model.backbone == "mobilenet_v2" and spec.preset == "retinanet"
    assert {"white-king", "black-queen"} <= {c.name for c in spec.classes}
    assert "command" in spec.training and spec.training["command"].startswith("retina train")
    result = evaluate_detector(detector, read_coco(DEMO / "annotations.coco.json"), DEMO)
    assert result.AP50 >= 0.9 and result.mAP >= 0.6
