"""A torchvision RetinaNet state dict, run through `retina predict`, gives torchvision's detections."""

import json

import pytest
import torch
from torchvision.models.detection import retinanet_resnet50_fpn, retinanet_resnet50_fpn_v2

from core.cli import main
from core.images import load_image
from tests.conftest import PHOTOS
from tests.matching import assert_same_detections

IMAGES = [PHOTOS / "skimage" / "astronaut.png", PHOTOS / "skimage" / "chelsea.png"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_retina_predict_matches_torchvision(version, tmp_path):
    torch.manual_seed(1)
    builder = retinanet_resnet50_fpn if version == "v1" else retinanet_resnet50_fpn_v2
    tv = builder(weights=None, weights_backbone=None).eval()
    with torch.no_grad():  # a random head that still produces hundreds of detections
        tv.head.classification_head.cls_logits.bias.normal_(-1.5, 0.5)
    weights = tmp_path / f"tv_{version}.pth"
    torch.save(tv.state_dict(), weights)
    out = tmp_path / "results.json"
    code = main(["predict", *map(str, IMAGES), "--weights", str(weights), "--preset", f"torchvision_{version}",
                 "--precision", "fp32", "--device", "cpu", "--out", str(out)])
    assert code == 0
    results = json.loads(out.read_text())
    for image_id, path in enumerate(IMAGES, start=1):
        x = torch.from_numpy(load_image(path)).permute(2, 0, 1).float() / 255
        with torch.no_grad():
            expected = tv([x])[0]
        ours = sorted((r for r in results if r["image_id"] == image_id), key=lambda r: -r["score"])
        assert len(expected["scores"]) >= 100
        exp_boxes = expected["boxes"].numpy().copy()
        exp_boxes[:, 2:] -= exp_boxes[:, :2]
        assert_same_detections(
            [r["bbox"] for r in ours], [r["score"] for r in ours], [r["category_id"] for r in ours],
            exp_boxes, expected["scores"].numpy(), expected["labels"].numpy(),
        )
        assert ours[0]["file_name"] == path.name
