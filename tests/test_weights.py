import json
import re

import pytest
import torch
from torchvision.models.detection import retinanet_resnet50_fpn

from core.config import ModelConfig, PreprocessConfig
from core.model import RetinaNet
from core.weights import CheckpointError, ClassInfo, ModelSpec, load_checkpoint, save_checkpoint


def test_our_checkpoint_round_trips_weights_and_metadata(tmp_path):
    config = ModelConfig(backbone="mobilenet_v2", num_classes=2, p6_from="p5")
    model = RetinaNet(config)
    spec = ModelSpec(preset="retinanet", model=config, classes=(ClassInfo(0, "pieces"), ClassInfo(7, "rook")), training={"epochs": 3})
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model, spec)
    loaded = load_checkpoint(path)
    assert loaded.spec == spec
    rebuilt = loaded.build_model()
    for (k, a), (k2, b) in zip(model.state_dict().items(), rebuilt.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


def _legacy_v1_keys(sd):
    """Key spellings of torchvision's published v1 COCO file: no `.0` in FPN blocks, heads' convs at 2i."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"(fpn\.(?:inner|layer)_blocks\.\d+)\.0\.", r"\1.", k)
        m = re.match(r"(head\.\w+_head\.conv)\.(\d+)\.0\.(\w+)$", k)
        if m:
            k = f"{m.group(1)}.{2 * int(m.group(2))}.{m.group(3)}"
        if not k.endswith("num_batches_tracked"):  # the published file has frozen BN
            out[k] = v
    return out


def test_torchvision_v1_legacy_keys_import_with_coco_names(tmp_path):
    tv = retinanet_resnet50_fpn(weights=None, weights_backbone=None)
    path = tmp_path / "retinanet_resnet50_fpn_coco-eeacb38b.pth"
    torch.save(_legacy_v1_keys(tv.state_dict()), path)
    ckpt = load_checkpoint(path)
    assert ckpt.spec.preset == "torchvision_v1"
    assert ckpt.spec.model.p6_from == "p5" and ckpt.spec.model.backbone_bn_eps == 0.0
    assert len(ckpt.spec.classes) == 91
    assert ckpt.spec.classes[1] == ClassInfo(1, "person") and ckpt.spec.classes[18] == ClassInfo(18, "dog")
    model = ckpt.build_model()
    torch.testing.assert_close(
        model.head.classification_head.conv[2][0].weight, tv.head.classification_head.conv[2][0].weight
    )


def test_missing_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x80\x02garbage" * 10)
    with pytest.raises(CheckpointError, match="not a weights file retina-gui reads"):
        load_checkpoint(bad)
    readme = tmp_path / "README.md"
    readme.write_text("# notes\n" * 50)
    with pytest.raises(CheckpointError, match=r"README.md: not a weights file retina-gui reads \(a retina-gui .safetensors, a torchvision"):
        load_checkpoint(readme)
    state = tmp_path / "run" / "train_state.pt"
    state.parent.mkdir()
    torch.save({"step": torch.tensor(3)}, state)
    with pytest.raises(CheckpointError, match="a run's training state .* its model weights are in .*last.safetensors"):
        load_checkpoint(state)
    foreign = tmp_path / "foreign.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, foreign)
    with pytest.raises(CheckpointError, match="unrecognised weights layout"):
        load_checkpoint(foreign)
    truncated = tmp_path / "t.safetensors"
    save_checkpoint(truncated, RetinaNet(ModelConfig(backbone="resnet18", num_classes=1)), ModelSpec(preset="retinanet", model=ModelConfig(backbone="resnet18", num_classes=1), classes=(ClassInfo(1, "a"),)))
    truncated.write_bytes(truncated.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(truncated)


def test_a_legacy_text_pickle_of_a_whole_model_is_not_called_text(tmp_path):
    """torch's legacy format at pickle protocol 0 is ASCII: it is a weights file, not a text."""
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Conv2d(1, 1, 1), path, pickle_protocol=0, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="not a weights file retina-gui reads") as refused:
        load_checkpoint(path)
    assert "holds text" not in str(refused.value)


@pytest.mark.parametrize("content, message", [
    (b"just some notes\n" * 20, r"not a weights file retina-gui reads \(.*\); it holds text$"),
    ("caf\u00e9 ".encode() * 200, "; it holds text$"),
    (b"abc", "not a"),
    (None, "is a folder"),
])
def test_files_that_are_not_weights_get_a_message_not_a_traceback(tmp_path, content, message):
    path = tmp_path / "w.pth"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_incomplete_torchvision_weights_and_inconsistent_metadata_are_refused(tmp_path):
    from safetensors.torch import save_file

    sd = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3).state_dict()
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in sd.items() if "extra_blocks" not in k}, partial)
    with pytest.raises(CheckpointError, match="incomplete RetinaNet weights .*extra_blocks"):
        load_checkpoint(partial)
    partial.unlink()  # each file is 80-125 MB: one at a time on disk
    config = ModelConfig(backbone="resnet18", num_classes=2)
    tensors = RetinaNet(config).state_dict()
    spec = ModelSpec(preset="retinanet", model=config, classes=(ClassInfo(1, "a"), ClassInfo(2, "b")))
    edited = {  # hand-edited metadata: tracebacks (ZeroDivisionError, a reshape), or no detections and no word
        "list": ("[1, 2]", "the metadata is a JSON list"),
        "three": (spec.to_json().replace('{"id": 2, "name": "b"}', '{"id": 2, "name": "b"}, {"id": 3, "name": "c"}'), "3 class names"),
        "null_name": (spec.to_json().replace('"name": "b"', '"name": null'), "class id 2 has name None, not a class name"),
        "same_id": (spec.to_json().replace('"id": 2', '"id": 1'), "class id 1 appears twice"),
    }
    for name, changes in (("divisible", {"size_divisible": 0}), ("mean", {"mean": [0.5]}), ("std", {"std": [0, 0, 0]}),
                          ("min_size", {"min_size": "abc"}), ("max_size", {"max_size": -5})):
        meta = json.loads(ModelSpec(preset="retinanet", model=config, classes=spec.classes, preprocess=PreprocessConfig()).to_json())
        meta["preprocess"].update(changes)
        edited[name] = (json.dumps(meta), f"preprocessing settings out of range: {next(iter(changes))}")
    # of the wrong kind: tracebacks deep in torch ("unhashable type: 'list'", "empty(): argument 'size'"), "math domain error"
    for name, changes in (("num_classes", {"num_classes": 2.0}), ("fpn_channels", {"fpn_channels": "96"}), ("prior_prob", {"prior_prob": 1}),
                          ("p6_from", {"p6_from": "p4"}), ("head_convs", {"head_convs": True}), ("prior_prob_huge", {"prior_prob": 10**400})):
        meta = json.loads(spec.to_json())
        meta["model"].update(changes)
        edited[name] = (json.dumps(meta), f"model settings out of range: {next(iter(changes))}")
    meta = json.loads(spec.to_json())
    meta["source"] = "[" * 100_000 + "]" * 100_000  # (RecursionError)
    edited["nested"] = (json.dumps(meta).replace(json.dumps(meta["source"]), meta["source"]), "its JSON is nested too deeply to read")
    for key, value, wanted in (("preset", ["x"], "a text"), ("training", [], "an object"), ("classes", {}, "a list")):
        meta = json.loads(spec.to_json())
        meta[key] = value
        edited[key] = (json.dumps(meta), f"the metadata's '{key}' is {value!r}, not {wanted}")
    diverged = RetinaNet(config)
    with torch.no_grad():
        diverged.head.classification_head.cls_logits.bias.fill_(float("nan"))
    save_checkpoint(tmp_path / "nan.safetensors", diverged, spec)
    with pytest.raises(CheckpointError, match=r"its weights hold NaN or infinite values \(first: head.classification_head.cls_logits.bias"):
        load_checkpoint(tmp_path / "nan.safetensors")
    for name, (metadata, message) in edited.items():
        path = tmp_path / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"retina_gui": metadata})
        with pytest.raises(CheckpointError, match=f"damaged metadata.*{re.escape(message)}"):
            load_checkpoint(path)
        path.unlink()


def test_metadata_is_plain_json(tmp_path):
    from safetensors import safe_open

    config = ModelConfig(backbone="resnet18", num_classes=1)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, RetinaNet(config), ModelSpec(preset="yhenon", model=config, classes=(ClassInfo(3, "x"),)))
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["retina_gui"])
    assert meta["format"] == "retina-gui/1" and meta["classes"] == [{"id": 3, "name": "x"}]


def test_half_precision_storage_loads_back_into_float32(tmp_path):
    config = ModelConfig(backbone="resnet18", num_classes=2, fpn_channels=32)
    model = RetinaNet(config)
    path = tmp_path / "half.safetensors"
    save_checkpoint(path, model, ModelSpec(preset="retinanet", model=config, classes=(ClassInfo(1, "a"), ClassInfo(2, "b"))), float_dtype=torch.float16)
    rebuilt = load_checkpoint(path).build_model()
    weight = rebuilt.head.classification_head.cls_logits.weight
    assert weight.dtype == torch.float32
    torch.testing.assert_close(weight, model.head.classification_head.cls_logits.weight, rtol=1e-3, atol=1e-4)


def test_weights_that_do_not_fit_their_metadata_are_named_in_a_line(tiny_checkpoint, tmp_path):
    """Hand-edited metadata (another backbone or FPN width): torch's error listed every key, 16,000
    characters naming no file."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(tiny_checkpoint), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    spec = json.loads(metadata["retina_gui"])
    spec["model"]["fpn_channels"] = 128
    edited = tmp_path / "edited.safetensors"
    save_file(tensors, str(edited), metadata={**metadata, "retina_gui": json.dumps(spec)})
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(edited).build_model()
    said = str(caught.value)
    assert said.startswith(f"{edited}: the weights do not fit the model its metadata describes (resnet18, 128 FPN channels, 3 classes): ")
    assert "have another shape (first: " in said and len(said) < 600
