"""yhenon/pytorch-retinanet weights, as state dict and as pickled model, against its own inference."""

import os

import pytest
import torch

from core.detector import Detector
from core.images import load_image
from core.preprocess import preprocess
from core.weights import CheckpointError, load_checkpoint
from tests.conftest import PHOTOS
from tests.matching import assert_same_detections
from tests.yhenon_reference import ResNet, install_as_retinanet_package


@pytest.fixture(scope="module")
def reference_model():
    torch.manual_seed(7)
    model = ResNet(num_classes=6)
    with torch.no_grad():  # random, non-trivial heads so that hundreds of boxes survive
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
        model.classificationModel.output.weight.normal_(0, 0.05)
        model.classificationModel.output.bias.normal_(-4.5, 1.0)
        model.regressionModel.output.weight.normal_(0, 0.01)
    return model.eval()


def _compare(path, reference_model):
    checkpoint = load_checkpoint(path)
    assert checkpoint.spec.preset == "yhenon" and checkpoint.spec.model.backbone == "resnet18"
    assert checkpoint.spec.model.num_classes == 6
    det = Detector(checkpoint.build_model(), checkpoint.spec, device="cpu", precision="fp32", channels_last=False)
    image = load_image(PHOTOS / "skimage" / "coffee.png")
    (cand,) = det.candidates([image])
    ours = cand.filter(0.05, 0.5, None)
    batch = preprocess([image], det.preprocess_config)
    assert batch.images.shape[-2:] == (608, 928)  # min side 608, padded to a multiple of 32
    with torch.no_grad():
        scores, labels, boxes = reference_model(batch.images)
    assert len(ours) == len(scores) > 100
    net_boxes = cand.boxes[ours.candidate_index]
    assert_same_detections(net_boxes, ours.scores, ours.labels, boxes.numpy(), scores.numpy(), labels.numpy())
    # and the seed's partial clip: x2 <= W of the padded input
    assert net_boxes[:, 2].max() <= 928 + 1e-4


def test_yhenon_state_dict_matches_reference_inference(reference_model, tmp_path):
    path = tmp_path / "coco_resnet_18_state_dict.pt"
    torch.save(reference_model.state_dict(), path)
    _compare(path, reference_model)


def test_yhenon_pickled_model_loads_without_running_its_code(reference_model, tmp_path, monkeypatch):
    install_as_retinanet_package(monkeypatch)
    path = tmp_path / "retinanet_9.pt"
    torch.save(reference_model, path)
    monkeypatch.undo()  # the loader must not need the classes to exist
    _compare(path, reference_model)


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    exploit = _Exploit()
    exploit.marker = marker
    path = tmp_path / "evil.pt"
    torch.save({"model": exploit}, path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(path)
    assert not marker.exists()


def test_the_seed_s_resize_sizes_are_its_own_to_the_pixel():
    """The seed works out its resize in Python floats: min side 608 unless the long side would pass
    1024, then rounds (to even, Python's round). In float32, 380 sizes of 100..2000 px were a pixel
    off it, 192x201 among them (636.5 became 636.50001, rounded up)."""
    from core.preprocess import resized_size
    from core.presets import get_preset

    config = get_preset("yhenon").preprocess

    def seed(rows: int, cols: int) -> tuple[int, int]:
        scale = 608 / min(rows, cols)
        if max(rows, cols) * scale > 1024:
            scale = 1024 / max(rows, cols)
        return int(round(rows * scale)), int(round(cols * scale))

    assert resized_size(192, 201, config) == seed(192, 201) == (608, 636)
    assert all(resized_size(h, w, config) == seed(h, w) for h in range(100, 2001, 7) for w in range(100, 2001, 3))
