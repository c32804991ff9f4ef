import pytest
import torch

from core.backbones import BACKBONES, WeightsUnavailableError, build_body
from core.config import ModelConfig
from core.model import RetinaNet


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_every_backbone_gives_five_levels_and_aligned_outputs(backbone):
    config = ModelConfig(backbone=backbone, num_classes=4, fpn_channels=64, p6_from="p5" if "mobilenet" in backbone else "c5")
    model = RetinaNet(config).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 128, 160))
    assert out.feature_sizes == [(16, 20), (8, 10), (4, 5), (2, 3), (1, 2)]
    anchors = sum(h * w for h, w in out.feature_sizes) * 9
    assert out.cls_logits.shape == (2, anchors, 4) and out.box_deltas.shape == (2, anchors, 4)


def test_prior_probability_init_and_group_norm_heads():
    model = RetinaNet(ModelConfig(backbone="resnet18", num_classes=3, head_norm="group_norm"))
    bias = model.head.classification_head.cls_logits.bias
    torch.testing.assert_close(torch.sigmoid(bias), torch.full_like(bias, 0.01))
    first = model.head.classification_head.conv[0]
    assert isinstance(first[1], torch.nn.GroupNorm) and first[0].bias is None


def test_reset_class_head_keeps_named_rows():
    model = RetinaNet(ModelConfig(backbone="resnet18", num_classes=3, fpn_channels=64))
    old = model.head.classification_head.cls_logits.weight.detach().clone().view(9, 3, 64, 3, 3)
    model.reset_class_head(2, keep_rows={1: 2})
    new = model.head.classification_head.cls_logits.weight.view(9, 2, 64, 3, 3)
    assert torch.equal(new[:, 1], old[:, 2])
    assert model.config.num_classes == 2
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).cls_logits.shape[-1] == 2


def test_pretrained_backbone_offline_fails_with_a_clear_message(monkeypatch, tmp_path):
    from urllib.error import URLError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError, match="could not get ImageNet weights for resnet18.*copy one of resnet18-.*pth into .*any version is used"):
        build_body("resnet18", pretrained=True)


def test_pretrained_mobilenet_v2_from_the_local_cache(monkeypatch, tmp_path, shared):
    import shutil

    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copy(shared / "weights" / "mobilenet_v2-b0353104.pth", checkpoints)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    body, channels = build_body("mobilenet_v2", pretrained=True)
    reference = torch.load(shared / "weights" / "mobilenet_v2-b0353104.pth", weights_only=True)
    assert torch.equal(body[0][0].weight, reference["features.0.0.weight"])
    assert channels == (32, 96, 1280)
