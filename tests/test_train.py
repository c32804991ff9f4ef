import json
import math
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.cancel import CancelToken
from core.cli import main
from core.config import ModelConfig, PreprocessConfig
from core.evaluate import Detection, coco_evaluate, ground_truth_as_detections
from core.formats.coco import read_coco
from core.labels import Box, Category, ImageEntry, LabelSet
from core.model import RetinaNet
from core.presets import get_preset
from core.train import DataSource, TrainConfig, Trainer, TrainingError, training_classes
from core.weights import ClassInfo, ModelSpec, load_checkpoint, save_checkpoint
from tests.conftest import DATASETS, DEMO_MODEL, valid_subset

CHESS = DATASETS / "chess"


@pytest.fixture(scope="module")
def chess_train():
    return read_coco(CHESS / "train" / "_annotations.coco.json")


@pytest.fixture(scope="module")
def four_images(chess_train):
    return DataSource(chess_train.subset({im.id for im in chess_train.images[:4]}), CHESS / "train")


def _config(**changes):
    base = dict(epochs=1, batch_size=2, image_size=96, max_size=144, warmup_iters=1, lr=0.01, precision="fp32",
                augment=None, channels_last=False, validate=False)
    return TrainConfig(**{**base, **changes})


def _trainer(data, tmp_path, config, val_data=None, **kwargs):
    return Trainer(train_data=data, val_data=val_data, run_dir=tmp_path, config=config, backbone="resnet18", fpn_channels=64, device="cpu", **kwargs)


def test_a_few_steps_lower_the_loss(four_images, tmp_path):
    losses = []
    trainer = _trainer(four_images, tmp_path, _config(epochs=10, batch_size=4, lr=1e-3), on_event=lambda e: e.kind == "step" and losses.append(e.cls_loss + e.box_loss))
    trainer.run()
    assert len(losses) == 10
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3


def test_a_torchvision_preset_run_resizes_as_torchvision_and_its_checkpoint_says_so(four_images, tmp_path):
    """The run's preprocessing was a default one at its input size: a torchvision preset's floor
    rounding and lack of antialiasing were dropped for training and in the checkpoint."""
    from core.weights import load_checkpoint

    trainer = _trainer(four_images, tmp_path, _config(), preset="torchvision_v2")
    assert trainer.dataset.preprocess == trainer.spec.preprocess
    assert (trainer.spec.preprocess.size_rounding, trainer.spec.preprocess.antialias) == ("floor", False)
    assert (trainer.spec.preprocess.min_size, trainer.spec.preprocess.max_size) == (96, 144)
    trainer.run()
    assert load_checkpoint(tmp_path / "last.safetensors").spec.preprocess == trainer.spec.preprocess


def test_batchnorm_and_frozen_stages_stay_frozen(four_images, tmp_path):
    trainer = _trainer(four_images, tmp_path, _config(epochs=1, frozen_stages=2, freeze_bn=True))
    body = trainer.model.backbone.body
    before = {k: v.clone() for k, v in body.state_dict().items()}
    trainer.run()
    after = body.state_dict()
    for name, value in before.items():
        frozen = "bn" in name or "downsample.1" in name or name.startswith(("conv1", "layer1"))
        assert torch.equal(value, after[name]) == frozen or not frozen, name
    assert not torch.equal(before["layer3.0.conv1.weight"], after["layer3.0.conv1.weight"])
    assert torch.equal(before["layer3.0.bn1.weight"], after["layer3.0.bn1.weight"])
    assert torch.equal(before["layer3.0.bn1.running_mean"], after["layer3.0.bn1.running_mean"])
    # BatchNorm left to learn: the frozen stages' layers keep their statistics all the same
    trainer = _trainer(four_images, tmp_path / "bn", _config(epochs=1, frozen_stages=2, freeze_bn=False))
    body = trainer.model.backbone.body
    before = {k: v.clone() for k, v in body.state_dict().items()}
    trainer.run()
    after = body.state_dict()
    assert torch.equal(before["bn1.running_mean"], after["bn1.running_mean"])
    assert torch.equal(before["layer1.0.bn1.running_var"], after["layer1.0.bn1.running_var"])
    assert not torch.equal(before["layer3.0.bn1.running_mean"], after["layer3.0.bn1.running_mean"])


def test_the_blank_image_that_stands_in_for_an_unreadable_batch_leaves_batchnorm_statistics_alone(four_images, tmp_path):
    """Under torchrun a process whose batch could not be decoded steps with a blank image (its loss
    weighted 0); in training mode its forward pulled the running statistics towards zero, and DDP
    hands rank 0's to every process."""
    from core.dataset import collate
    from core.train import set_train_mode

    trainer = _trainer(four_images, tmp_path, _config(frozen_stages=0, freeze_bn=False))
    set_train_mode(trainer.model, freeze_bn=False, frozen_stages=0)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items() if "running" in k}
    finite, *_, real = trainer._step(trainer._blank_batch(), 0.0)
    assert finite and real == 0
    after = trainer.model.state_dict()
    assert all(torch.equal(value, after[name]) for name, value in before.items())
    assert all(m.training for m in trainer.model.modules())  # the layers learn statistics again after it
    trainer._step(collate([trainer.dataset[0], trainer.dataset[1]]))
    assert not torch.equal(before["backbone.body.layer3.0.bn1.running_mean"], trainer.model.state_dict()["backbone.body.layer3.0.bn1.running_mean"])


def test_resume_keeps_the_fp16_loss_scale(four_images, tmp_path, monkeypatch):
    """fp16 on CUDA scales the loss; the scale it had grown to was not saved, so a resumed run began
    again at 65536 and skipped other steps than the run would have. (The scaler runs on the CPU here,
    doubling its scale after every step.)"""
    scaler = torch.amp.GradScaler
    monkeypatch.setattr(torch.amp, "GradScaler", lambda device, enabled: scaler(device, init_scale=1024.0, growth_interval=1))
    cancel = CancelToken()
    first = _trainer(four_images, tmp_path / "run", _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "epoch" and cancel.cancel())
    assert first.run().cancelled and first.scaler.get_scale() == 4096.0  # two steps
    resumed = _trainer(four_images, tmp_path / "run", _config(epochs=2), resume=True)
    assert resumed.scaler.get_scale() == 4096.0


def test_resume_continues_at_the_same_step_with_the_same_optimizer_state(four_images, tmp_path):
    straight = _trainer(four_images, tmp_path / "a", _config(epochs=2, augment=None))
    straight.run()

    cancel = CancelToken()
    first = _trainer(four_images, tmp_path / "b", _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "epoch" and cancel.cancel())
    result = first.run()
    assert result.cancelled and result.steps == 2
    moments_at_cancel = [s["exp_avg"].clone() for s in first.optimizer.state.values()]
    for changed in (dict(image_size=128), dict(batch_size=1)):  # the run goes on as it started, or not at all
        with pytest.raises(TrainingError, match="this run was started with (image size 96|batch size 2): resume it with the same settings"):
            _trainer(four_images, tmp_path / "b", _config(epochs=2, **changed), resume=True)
    state = torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)
    torch.save({**state, "world_size": 2}, tmp_path / "b" / "other_state.pt")
    (tmp_path / "b" / "train_state.pt").rename(tmp_path / "b" / "one_process.pt")
    (tmp_path / "b" / "other_state.pt").rename(tmp_path / "b" / "train_state.pt")
    with pytest.raises(TrainingError, match="this run was started on 2 processes, not 1: resume it on as many"):
        _trainer(four_images, tmp_path / "b", _config(epochs=2), resume=True)  # under torchrun: each process's share changes
    (tmp_path / "b" / "one_process.pt").replace(tmp_path / "b" / "train_state.pt")
    valid = read_coco(CHESS / "valid" / "_annotations.coco.json")
    other_images = DataSource(valid.subset({im.id for im in valid.images[:4]}), CHESS / "valid")
    trained, other = (re.escape(str((CHESS / name).resolve())) for name in ("train", "valid"))  # (said resolved: shared/ may be a link)
    with pytest.raises(TrainingError, match=f"this run trained on the images in {trained}, not {other}: resume it"):
        _trainer(other_images, tmp_path / "b", _config(epochs=2), resume=True)
    with pytest.raises(TrainingError, match=r"this run stopped in epoch 2: resume it with --epochs 2 or more"):
        _trainer(four_images, tmp_path / "b", _config(epochs=1), resume=True)  # it trained nothing and called the run done
    (tmp_path / "b" / "last.safetensors").rename(tmp_path / "b" / "last.moved")  # the state holds the model itself
    resumed = _trainer(four_images, tmp_path / "b", _config(epochs=2), resume=True)
    assert resumed.step == 2 and resumed.epoch == 1
    assert len(moments_at_cancel) == len(resumed.optimizer.state) > 0
    for moment, state in zip(moments_at_cancel, resumed.optimizer.state.values()):
        assert torch.equal(moment, state["exp_avg"])
    resumed.run()
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    # stopped mid-epoch: the epoch's mean losses still count the steps before the stop
    cancel = CancelToken()
    _trainer(four_images, tmp_path / "c", _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "step" and cancel.cancel()).run()
    _trainer(four_images, tmp_path / "c", _config(epochs=2), resume=True).run()
    by_epoch = {run: {h["epoch"]: h for h in json.loads((tmp_path / run / "metrics.json").read_text())} for run in ("a", "c")}
    assert by_epoch["c"][1]["cls_loss"] == pytest.approx(by_epoch["a"][1]["cls_loss"], rel=1e-4)
    # a run folder holds one run: a new run is refused there, and a finished one has nothing to resume
    log = (tmp_path / "a" / "train.log").read_text()
    with pytest.raises(TrainingError, match=r"holds a finished run: train into a new folder \(to train further, start from its weights"):
        _trainer(four_images, tmp_path / "a", _config(epochs=2))
    assert (tmp_path / "a" / "train.log").read_text() == log  # the refused run wrote nothing into it
    with pytest.raises(TrainingError, match=r"has finished: there is nothing to resume.*from its weights, .*last.safetensors"):
        _trainer(four_images, tmp_path / "a", _config(epochs=2), resume=True)


def test_a_new_run_leaves_a_folder_of_the_users_own_files_alone(four_images, tmp_path):
    """--out on a folder of one's own: its metrics.json was replaced, its train.log written into, and
    every hidden .tmp file in it (an editor's) deleted as a run's half-written file."""
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "metrics.json").write_text('{"my": "results"}')
    (mine / "train.log").write_text("notes\n")
    (mine / ".notes.swp.tmp").write_text("x")
    for _ in range(2):  # refused again: the lock file the first attempt left does not make the folder a run's
        with pytest.raises(TrainingError, match=r"holds metrics.json, train.log, which this run would overwrite or write into: train into a new"):
            _trainer(four_images, mine, _config())
    assert (mine / "metrics.json").read_text() == '{"my": "results"}' and (mine / "train.log").read_text() == "notes\n"
    assert (mine / ".notes.swp.tmp").exists()
    # a run of ours killed before its first checkpoint was committed: nothing to resume, and the same
    # command starts it over there (each pointed at the other before)
    killed = tmp_path / "killed"
    _trainer(four_images, killed, _config()).run()
    (killed / "train_state.pt").unlink(missing_ok=True)
    checkpoint = load_checkpoint(killed / "last.safetensors")
    save_checkpoint(killed / "last.safetensors", checkpoint.build_model(),
                    replace(checkpoint.spec, training={**checkpoint.spec.training, "epochs_done": 0}))
    with pytest.raises(TrainingError, match=r"stopped while saving its first checkpoint.*the same command without --resume starts it over"):
        _trainer(four_images, killed, _config(), resume=True)
    assert _trainer(four_images, killed, _config()).run().epochs_done == 1
    # a run past its first epoch whose train_state.pt was deleted is not such a run: its weights are kept
    checkpoint = load_checkpoint(killed / "last.safetensors")
    training = {**checkpoint.spec.training, "epochs_done": 1, "step": 2 * checkpoint.spec.training["step"],  # cancelled in epoch 2
                "recipe": {**checkpoint.spec.training["recipe"], "epochs": 3}}
    save_checkpoint(killed / "last.safetensors", checkpoint.build_model(), replace(checkpoint.spec, training=training))
    with pytest.raises(TrainingError, match=r"holds a run whose train_state.pt is gone: train into a new folder"):
        _trainer(four_images, killed, _config(epochs=3))
    with pytest.raises(TrainingError, match=r"has no train_state.pt \(deleted\?\), so it cannot go on from its step"):
        _trainer(four_images, killed, _config(epochs=3), resume=True)
    assert (killed / "last.safetensors").exists()


def _cancelled_by_validation(monkeypatch) -> CancelToken:
    """A cancel token that the next validation pass cancels, stopping there (``monkeypatch.undo()``
    lets validation run again)."""
    cancel = CancelToken()

    def cancelled_in_validation(self, data, preprocess=None):
        cancel.cancel()
        cancel.raise_if_cancelled()

    monkeypatch.setattr(Trainer, "evaluate", cancelled_in_validation)
    return cancel


def _scripted_validation(monkeypatch, maps: list[float]) -> None:
    """Validation that scores the epochs ``maps`` in turn (a cancelled one scores nothing)."""
    from core.evaluate import EvalResult

    scores = iter(maps)

    def scripted(self, data, preprocess=None):
        value = next(scores)
        return EvalResult(value, value, value, None, None, None)

    monkeypatch.setattr(Trainer, "evaluate", scripted)


def test_a_run_stops_early_once_validation_map_stops_rising_and_stays_stopped(four_images, tmp_path, monkeypatch):
    _scripted_validation(monkeypatch, [0.2, 0.5, 0.5, 0.4, 0.6])
    events = []
    result = _trainer(four_images, tmp_path, _config(epochs=5, validate=True, patience=2), val_data=four_images, on_event=events.append).run()
    # epoch 2 is the best; 3 (equal is no better) and 4 did not rise: the run ends after epoch 4, as finished
    assert result.stopped_early and not result.cancelled and result.epochs_done == 4 and result.best_map == 0.5
    assert "stopped early after epoch 4 of 5: validation mAP has not risen for 2 epochs (best 0.500, at epoch 2" in (
        tmp_path / "train.log").read_text()
    assert any(e.kind == "log" and e.message.startswith("stopped early") for e in events)
    history = json.loads((tmp_path / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4] and history[-1]["stopped_early"] is True
    assert load_checkpoint(tmp_path / "best.safetensors").spec.training["history"][-1]["epoch"] == 2
    assert not (tmp_path / "train_state.pt").exists()  # finished: nothing to resume
    with pytest.raises(TrainingError, match="has finished: there is nothing to resume"):
        _trainer(four_images, tmp_path, _config(epochs=5, validate=True, patience=2), val_data=four_images, resume=True)


def test_early_stopping_counts_the_epochs_before_a_resume(four_images, tmp_path, monkeypatch):
    cancel = CancelToken()
    _scripted_validation(monkeypatch, [0.5, 0.4])
    on_event = lambda e: e.kind == "epoch" and e.epoch == 2 and cancel.cancel()  # noqa: E731
    first = _trainer(four_images, tmp_path, _config(epochs=6, validate=True, patience=3), val_data=four_images, cancel=cancel,
                     on_event=on_event).run()
    assert first.cancelled and first.epochs_done == 2 and not first.stopped_early
    _scripted_validation(monkeypatch, [0.45])  # epoch 3: still below epoch 1's
    resumed = _trainer(four_images, tmp_path, _config(epochs=6, validate=True, patience=2), val_data=four_images, resume=True).run()
    assert resumed.stopped_early and resumed.epochs_done == 3
    assert "settings changed on resume, from here on: patience 3 → 2" in (tmp_path / "train.log").read_text()


def test_early_stopping_without_validation_trains_every_epoch_and_says_so(four_images, tmp_path):
    result = _trainer(four_images, tmp_path, _config(epochs=2, patience=1)).run()
    assert result.epochs_done == 2 and not result.stopped_early
    assert "no validation, so no early stop: all 2 epochs are trained" in (tmp_path / "train.log").read_text()


def _two_class_start(tmp_path) -> Path:
    config = ModelConfig(backbone="resnet18", num_classes=2, fpn_channels=64)
    path = tmp_path / "start.safetensors"
    save_checkpoint(path, RetinaNet(config), ModelSpec(preset="retinanet", model=config, classes=(ClassInfo(11, "white-pawn"), ClassInfo(13, "white-rook"))))
    return path


def test_a_run_cancelled_while_validating_an_epoch_validates_it_on_resume(four_images, tmp_path, monkeypatch):
    cancel = _cancelled_by_validation(monkeypatch)
    result = _trainer(four_images, tmp_path, _config(epochs=2, validate=True), val_data=four_images, cancel=cancel).run()
    assert result.cancelled and "cancelled while validating epoch 1" in (tmp_path / "train.log").read_text()
    assert result.epochs_done == 0  # its validation did not finish: not done, as the runs list counts it
    assert result.validation_pending  # (the window says so: "after 0 epochs" read as if nothing had been trained)
    monkeypatch.undo()
    resumed = _trainer(four_images, tmp_path, _config(epochs=2, validate=True), val_data=four_images, resume=True)
    assert "resumed at the validation of epoch" in (tmp_path / "train.log").read_text()
    assert resumed.run().epochs_done == 2
    history = json.loads((tmp_path / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all("mAP" in h for h in history)  # epoch 1 validated on resume
    # each epoch says how fast it trained (images loaded and trained on, then validation), for the window's estimates
    assert history[1]["images"] == 4 and history[1]["train_s"] > 0 and history[1]["val_s"] > 0 and history[1]["device"] == "cpu"
    assert not (tmp_path / "train_state.pt").exists()


def test_a_wrong_image_folder_is_said_once(four_images, tmp_path):
    with pytest.raises(TrainingError, match="training images: none of the 4 images of the labels is in .*is that their folder"):
        _trainer(DataSource(four_images.labels, tmp_path), tmp_path / "run", _config())
    with pytest.raises(TrainingError, match="validation images: none of the 4 .*is that their folder"):
        _trainer(four_images, tmp_path / "run", _config(), val_data=DataSource(four_images.labels, tmp_path))


def test_cancel_stops_within_one_step(four_images, tmp_path):
    cancel = CancelToken()
    steps = []

    def on_event(e):
        if e.kind == "step":
            steps.append(e.step)
            if e.step == 1:
                cancel.cancel()

    result = _trainer(four_images, tmp_path, _config(epochs=3), cancel=cancel, on_event=on_event).run()
    assert result.cancelled and steps == [1]
    assert load_checkpoint(tmp_path / "last.safetensors").spec.training["step"] == 1


@pytest.mark.parametrize("precision, way_on", [("fp32", r"\(try a lower learning rate\)"), ("bf16", r"\(try a lower learning rate, or --precision fp32\)")])
def test_injected_nan_is_reported_and_keeps_the_last_checkpoint(four_images, tmp_path, monkeypatch, precision, way_on):
    """``way_on``: bf16 on the CPU gives NaN gradients for the 1x1 maps of very small inputs: fp32 is named then."""
    import core.train

    trainer = _trainer(four_images, tmp_path, _config(epochs=3, max_consecutive_nan=2, precision=precision))
    real_loss = core.train.retinanet_loss
    events = []
    trainer.on_event = events.append

    def poisoned(*args, **kwargs):
        losses = real_loss(*args, **kwargs)
        if trainer.epoch >= 1:  # from the second epoch on
            return losses._replace(classification=losses.classification * float("nan"))
        return losses

    monkeypatch.setattr(core.train, "retinanet_loss", poisoned)
    with pytest.raises(TrainingError, match=f"not finite for 2 steps.*{way_on}$"):
        trainer.run()
    assert [e.kind for e in events].count("nan") == 2
    saved = load_checkpoint(tmp_path / "last.safetensors")
    assert saved.spec.training["epochs_done"] == 1
    assert all(torch.isfinite(v).all() for v in saved.state_dict.values() if v.is_floating_point())


def test_an_epoch_without_one_finite_step_stops_the_run(four_images, tmp_path, monkeypatch):
    """An epoch shorter than the streak that stops a run (5) counted as done with every step
    skipped: a run of lr 1e9 "finished" with exit 0 and weights of 1e33."""
    import core.train

    trainer = _trainer(four_images, tmp_path, _config(epochs=3))  # 2 steps an epoch
    real_loss = core.train.retinanet_loss
    monkeypatch.setattr(core.train, "retinanet_loss", lambda *a, **k: (lambda losses: losses._replace(
        classification=losses.classification * (float("nan") if trainer.epoch >= 1 else 1.0)))(real_loss(*a, **k)))
    with pytest.raises(TrainingError, match=r"^no step of epoch 2 had a finite loss and finite gradients: training stopped, the last checkpoint is kept"):
        trainer.run()
    assert "non-finite loss in epoch 2, batch 2: step skipped (2 in a row)" in (tmp_path / "train.log").read_text()
    assert load_checkpoint(tmp_path / "last.safetensors").spec.training["epochs_done"] == 1


def test_validation_labels_that_share_no_class_are_said_so_at_the_start(four_images, tmp_path):
    """It said "no validation data" at the end, though validation labels were given."""
    cats = [replace(c, name=f"other-{c.name}") for c in four_images.labels.categories]
    other = DataSource(LabelSet(cats, four_images.labels.images), four_images.image_root)
    _trainer(four_images, tmp_path, _config(), val_data=other)
    assert "the validation labels share no class with the ones trained (" in (tmp_path / "train.log").read_text()


def test_fine_tuning_onto_a_different_class_list(four_images, tmp_path):
    config = ModelConfig(backbone="resnet18", num_classes=3, fpn_channels=64)
    start_model = RetinaNet(config)
    names = ("white-pawn", "black-pawn", "zebra")
    path = tmp_path / "start.safetensors"
    save_checkpoint(path, start_model, ModelSpec(preset="retinanet", model=config, classes=tuple(ClassInfo(i, n) for i, n in enumerate(names))))
    classes = [Category(11, "White-Pawn "), Category(13, "white-rook")]  # names match as the class list compares them
    trainer = _trainer(four_images, tmp_path / "run", _config(), start=load_checkpoint(path), classes=classes)
    head = trainer.model.head.classification_head.cls_logits
    old = start_model.head.classification_head.cls_logits
    assert head.out_channels == 9 * 2
    assert torch.equal(head.weight.view(9, 2, -1)[:, 0], old.weight.view(9, 3, -1)[:, 0])
    trainer.run()
    spec = load_checkpoint(tmp_path / "run" / "last.safetensors").spec
    assert [c.name for c in spec.classes] == ["White-Pawn ", "white-rook"] and spec.model.num_classes == 2
    assert spec.source == "fine-tuned from retina-gui"
    again = _trainer(four_images, tmp_path / "again", _config(), start=load_checkpoint(tmp_path / "run" / "last.safetensors"), classes=classes)
    assert again.spec.source == "fine-tuned from retina-gui"  # a fine-tune of a fine-tune (it said "from fine-tuned from …")


def test_fine_tuning_scores_the_start_weights_first_for_comparison(four_images, tmp_path):
    events = []
    trainer = Trainer(train_data=four_images, val_data=four_images, run_dir=tmp_path / "run", config=_config(validate=True),
                      start=load_checkpoint(_two_class_start(tmp_path)), device="cpu", on_event=events.append)
    result = trainer.run()
    epochs = [e for e in events if e.kind == "epoch"]
    assert [(e.epoch, e.step) for e in epochs] == [(0, 0), (1, 2)]  # the start weights, before any step; then epoch 1
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1] and result.start_map == history[0]["mAP"] == epochs[0].metrics["mAP"]
    steps = [e for e in events if e.kind == "step"]  # each trained epoch keeps its mean losses (a resumed run's chart shows them)
    assert "cls_loss" not in history[0] and history[1]["cls_loss"] == pytest.approx(sum(e.cls_loss for e in steps) / len(steps))
    assert result.best_map == history[1]["mAP"]  # best is among the trained epochs only


def test_a_fine_tune_cancelled_while_scoring_its_start_weights_scores_them_on_resume(four_images, tmp_path, monkeypatch):
    cancel = _cancelled_by_validation(monkeypatch)
    run = tmp_path / "run"
    first = Trainer(train_data=four_images, val_data=four_images, run_dir=run, config=_config(validate=True),
                    start=load_checkpoint(_two_class_start(tmp_path)), device="cpu", cancel=cancel).run()
    assert first.cancelled and first.steps == 0 and first.start_map is None
    monkeypatch.undo()
    result = Trainer(train_data=four_images, val_data=four_images, run_dir=run, config=_config(validate=True), device="cpu", resume=True).run()
    history = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1] and result.start_map == history[0]["mAP"] is not None


def test_the_start_weights_are_scored_at_their_own_input_size_also_on_resume(four_images, tmp_path, monkeypatch):
    """As the window used them: a 128-px model scored at a 96-px run's size looks worse than it is."""
    import core.train
    from core.config import PreprocessConfig

    config = ModelConfig(backbone="resnet18", num_classes=2, fpn_channels=64)
    start = tmp_path / "start.safetensors"
    save_checkpoint(start, RetinaNet(config), ModelSpec(preset="retinanet", model=config, classes=(ClassInfo(11, "white-pawn"), ClassInfo(13, "white-rook")),
                                                         preprocess=PreprocessConfig(min_size=128, max_size=192)))
    sizes, real = [], core.train.evaluate_detector
    monkeypatch.setattr(core.train, "evaluate_detector", lambda detector, *a, **k: (sizes.append(detector.spec.preprocess.min_size), real(detector, *a, **k))[1])
    Trainer(train_data=four_images, val_data=four_images, run_dir=tmp_path / "run", config=_config(validate=True),
            start=load_checkpoint(start), device="cpu").run()
    assert sizes == [128, 96]  # the start weights at theirs, the trained epoch at the run's (image_size 96)
    assert "before training (at their input size 128, the run trains at 96)" in (tmp_path / "run" / "train.log").read_text()
    sizes.clear()
    cancel = CancelToken()
    monkeypatch.setattr(core.train, "evaluate_detector", lambda detector, *a, **k: (sizes.append(detector.spec.preprocess.min_size), cancel.cancel(),
                                                                                       real(detector, *a, **k))[2])
    first = Trainer(train_data=four_images, val_data=four_images, run_dir=tmp_path / "again", config=_config(validate=True),
                    start=load_checkpoint(start), device="cpu", cancel=cancel).run()
    assert first.cancelled and first.start_map is None
    monkeypatch.setattr(core.train, "evaluate_detector", lambda detector, *a, **k: (sizes.append(detector.spec.preprocess.min_size), real(detector, *a, **k))[1])
    Trainer(train_data=four_images, val_data=four_images, run_dir=tmp_path / "again", config=_config(validate=True), device="cpu", resume=True).run()
    assert sizes == [128, 128, 96]  # cancelled while scoring the start weights: scored again on resume, at their size
    sizes.clear()  # weights that name no input size (torchvision's, yhenon's): their preset's
    Trainer(train_data=four_images, val_data=four_images, run_dir=tmp_path / "preset", config=_config(validate=True, epochs=1),
            start=load_checkpoint(_two_class_start(tmp_path)), device="cpu").run()
    assert sizes == [get_preset("retinanet").preprocess.min_size, 96]


def test_validation_images_without_boxes_do_not_stop_training(four_images, tmp_path):
    first = four_images.labels.images[0]
    no_boxes = LabelSet(four_images.labels.categories, [replace(first, boxes=[], reviewed=True)])
    result = _trainer(four_images, tmp_path, _config(validate=True), val_data=DataSource(no_boxes, four_images.image_root)).run()
    assert result.epochs_done == 1 and result.best_map is None
    assert "val mAP –" in (tmp_path / "train.log").read_text()


def test_no_boxes_is_a_clear_error(four_images, tmp_path):
    empty = DataSource(four_images.labels.subset(set()), four_images.image_root)
    with pytest.raises(TrainingError):
        _trainer(empty, tmp_path, _config())


@pytest.mark.parametrize("own_area", [False, True])
def test_evaluation_matches_pycocotools_and_gt_scores_one(own_area, tmp_path):
    """``own_area``: the file gives each label an area of its own (a polygon's: half its box here),
    by which pycocotools sorts labels into small / medium / large; APs/APm/APl took the box's."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    valid = CHESS / "valid" / "_annotations.coco.json"
    if own_area:
        data = json.loads(valid.read_text())
        for a in data["annotations"]:
            a["area"] = a["bbox"][2] * a["bbox"][3] / 2
        valid = tmp_path / "polygons.json"
        valid.write_text(json.dumps(data))
    labels = read_coco(valid)
    assert coco_evaluate(labels, ground_truth_as_detections(labels)).mAP == 1.0
    g = torch.Generator().manual_seed(0)
    dets = [Detection(d.image_id, d.x1 + float(torch.randn(1, generator=g)) * 6, d.y1, d.x2, d.y2 + float(torch.randn(1, generator=g)) * 6,
                      float(torch.rand(1, generator=g)), d.category_id) for d in ground_truth_as_detections(labels)]
    ours = coco_evaluate(labels, dets)
    gt = COCO(str(valid))
    data = json.loads(valid.read_text())
    for i, a in enumerate(data["annotations"]):  # the id-0 trap, avoided the same way as ours
        a["id"] = i + 1
    gt.dataset = data
    gt.createIndex()
    dt = gt.loadRes([{"image_id": d.image_id, "category_id": d.category_id, "bbox": [d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1], "score": d.score} for d in dets])
    ev = COCOeval(gt, dt, "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ours.mAP == pytest.approx(ev.stats[0], abs=1e-12)
    assert ours.AP50 == pytest.approx(ev.stats[1], abs=1e-12)
    assert ours.AP75 == pytest.approx(ev.stats[2], abs=1e-12)
    for value, theirs in zip((ours.APs, ours.APm, ours.APl), ev.stats[3:6]):
        assert (-1.0 if value is None else value) == pytest.approx(theirs, abs=1e-12)
    assert 0.2 < ours.mAP < 1.0


def test_evaluation_keeps_coco_s_100_detections_per_image_however_many_there_are():
    """The detection limit followed the most detections an image had (300 with the detection cap):
    a true positive ranked 151st counted, where COCO's AP at 100 detections does not."""
    labels = LabelSet([Category(1, "rook")], [ImageEntry(1, "a.jpg", 1000, 1000, [Box(10, 10, 60, 60, 1)])])
    wrong = [Detection(1, 500 + k, 500, 540 + k, 540, 0.9 - k * 1e-4, 1) for k in range(150)]
    assert coco_evaluate(labels, [*wrong, Detection(1, 10, 10, 60, 60, 0.5, 1)]).mAP == 0.0
    assert coco_evaluate(labels, [*wrong[:99], Detection(1, 10, 10, 60, 60, 0.5, 1)]).mAP > 0.0


def test_retina_eval_cli_writes_json(tiny_checkpoint, tmp_path, capsys):
    data = valid_subset(tmp_path)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    command = ["eval", "--weights", str(tiny_checkpoint), "--coco", str(tmp_path / "ann.json"), "--device", "cpu", "--json", str(tmp_path / "m.json")]
    # the tiny model's classes (king, queen, rook) are not the chess labels' names: nothing can be scored, an error before predicting
    assert main(command) == 1 and not (tmp_path / "m.json").exists()
    err = capsys.readouterr().err
    assert "none of the model's 3 class names is a category of the labels" in err and "nothing to evaluate" in err and "eval:" not in err
    for category in data["categories"]:
        category["name"] = {"white-king": "king", "white-queen": "queen", "white-rook": "rook"}.get(category["name"], category["name"])
    (tmp_path / "ann.json").write_text(json.dumps(data))
    assert main(command) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert set(metrics) == {"mAP", "AP50", "AP75", "APs", "APm", "APl", "per_class", "best_f1", "images", "skipped"} and metrics["skipped"] == []
    assert set(metrics["per_class"]) <= {"king", "queen", "rook"} and metrics["per_class"] and 0 <= metrics["mAP"] <= 1
    out = capsys.readouterr()
    assert "mAP" in out.out and "label classes the model does not have (left out)" in out.err
    # a random tiny model finds no label at any threshold: no best F1 named (it named 0.000 at score > 0.99)
    assert metrics["best_f1"] is None and "best F1: none (at no score threshold does a detection find a label, at IoU 0.5)" in out.out


def test_dataloader_workers_give_the_same_batches(four_images, tmp_path):
    losses = {}
    for workers in (0, 1):
        seen = []
        _trainer(four_images, tmp_path / str(workers), _config(num_workers=workers), on_event=lambda e: e.kind == "step" and seen.append(round(e.cls_loss, 5))).run()
        losses[workers] = seen
    assert losses[0] == losses[1] and len(losses[0]) == 2


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_mixed_precision_training(four_images, tmp_path, precision):
    losses = []
    trainer = Trainer(train_data=four_images, val_data=None, run_dir=tmp_path, config=_config(epochs=4, batch_size=4, precision=precision),
                      backbone="resnet18", fpn_channels=64, device="cuda", on_event=lambda e: e.kind == "step" and losses.append(e.cls_loss + e.box_loss))
    trainer.run()
    assert len(losses) == 4 and all(map(math.isfinite, losses))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_batch_pins_its_tensors_for_the_gpu_copy(four_images):
    from core.dataset import DetectionDataset, collate

    dataset = DetectionDataset(four_images.labels, four_images.image_root, training_classes(four_images.labels),
                               preprocess=PreprocessConfig(min_size=96, max_size=144))
    batch = collate([dataset[0], dataset[1]])
    pinned = batch.pin_memory()
    assert pinned.images.is_pinned() and all(t.is_pinned() for t in (*pinned.boxes, *pinned.labels, *pinned.ignore))
    assert torch.equal(pinned.images, batch.images) and pinned.image_ids == batch.image_ids


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
def test_memory_format_by_default_is_channels_last_on_the_cpu_only_and_the_recipe_says_which(four_images, tmp_path, device):
    """On CUDA, cuDNN rebuilt its channels_last convolutions at every new input shape (seconds a step)."""
    trainer = Trainer(train_data=four_images, val_data=None, run_dir=tmp_path, config=_config(channels_last=None),
                      backbone="resnet18", fpn_channels=64, device=device)
    on_cpu = device == "cpu"
    assert trainer.config.channels_last is on_cpu
    conv = trainer.model.backbone.body.layer1[0].conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) is on_cpu and conv.is_contiguous() is not on_cpu
    trainer.run()
    assert load_checkpoint(tmp_path / "last.safetensors").spec.training["recipe"]["channels_last"] is on_cpu


def _chess_copy(tmp_path, split, count):
    """``count`` images of a chess split copied into tmp_path with their COCO file."""
    import shutil

    data = json.loads((CHESS / split / "_annotations.coco.json").read_text())
    data["images"] = [im for im in data["images"] if any(a["image_id"] == im["id"] for a in data["annotations"])][:count]
    keep = {im["id"] for im in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    for im in data["images"]:
        shutil.copy(CHESS / split / im["file_name"], tmp_path / im["file_name"])
    return data


def test_training_skips_missing_and_truncated_images_and_names_them(tmp_path):
    data = _chess_copy(tmp_path, "train", 4)
    missing, truncated = data["images"][0]["file_name"], data["images"][1]["file_name"]
    (tmp_path / missing).unlink()
    whole = (tmp_path / truncated).read_bytes()
    (tmp_path / truncated).write_bytes(whole[: len(whole) // 3])  # the header reads; decoding fails
    (tmp_path / "ann.json").write_text(json.dumps(data))
    events = []
    result = Trainer(train_data=DataSource(read_coco(tmp_path / "ann.json"), tmp_path), val_data=None, run_dir=tmp_path / "run",
                     config=_config(epochs=2), backbone="resnet18", fpn_channels=64, device="cpu", on_event=events.append).run()
    assert result.epochs_done == 2 and not result.cancelled
    log = (tmp_path / "run" / "train.log").read_text()
    assert f"skipped training image: {tmp_path / missing}: cannot read image (no such file)" in log
    assert log.count(f"skipped training image: {tmp_path / truncated}") == 1  # once, not every epoch
    assert result.steps >= 2  # the readable images still trained


def test_retina_eval_matches_classes_by_name_and_reports_unreadable_images(tmp_path, capsys):
    data = _chess_copy(tmp_path, "valid", 3)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    assert main(["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "ann.json"), "--device", "cpu", "--json", str(tmp_path / "a.json")]) == 0
    original = json.loads((tmp_path / "a.json").read_text())
    assert original["mAP"] > 0.5
    # the score threshold to predict at: the best F1 at IoU 0.5, at a hundredth the window's slider can take
    best = original["best_f1"]
    assert 0.5 < best["f1"] <= 1 and 0.05 <= best["score"] <= 0.99 and round(best["score"] * 100) == pytest.approx(best["score"] * 100)
    assert best["f1"] == pytest.approx(2 * best["precision"] * best["recall"] / (best["precision"] + best["recall"]))
    assert f"best F1 {best['f1']:.3f} at score > {best['score']:.2f}" in capsys.readouterr().out
    # the errors as CSV, at the best F1's threshold or one given (the window's Export list… columns)
    import csv

    from core.review import ERROR_COLUMNS

    base = ["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "ann.json"), "--device", "cpu"]
    assert main([*base, "--errors", str(tmp_path / "errors.csv")]) == 0
    rows = list(csv.reader((tmp_path / "errors.csv").open(newline="")))
    misses = sum(r[0] == "FN" for r in rows[1:])
    assert tuple(rows[0]) == ERROR_COLUMNS and (f"{misses} missed label" in capsys.readouterr().err)
    assert main([*base, "--errors", str(tmp_path / "strict.csv"), "--errors-score", "0.99"]) == 0
    strict = list(csv.reader((tmp_path / "strict.csv").open(newline="")))
    assert sum(r[0] == "FN" for r in strict[1:]) > misses and "at score > 0.99 written to" in capsys.readouterr().err
    assert main([*base, "--errors-score", "0.5"]) == 2 and "give --errors too" in capsys.readouterr().err
    assert main([*base, "--errors", str(tmp_path / "x.json"), "--json", str(tmp_path / "x.json")]) == 2
    assert "--errors and --json are both" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    assert main([*base, "--errors", str(tmp_path / "low.csv"), "--errors-score", "0.01"]) == 2
    assert "--errors-score 0.01 is below the score threshold 0.05" in capsys.readouterr().err and not (tmp_path / "low.csv").exists()
    # the same labels with other category ids (as a VOC -> COCO round trip gives) score the same
    for c in data["categories"]:
        c["id"] += 100
    for a in data["annotations"]:
        a["category_id"] += 100
    (tmp_path / data["images"][0]["file_name"]).unlink()  # and one image is gone
    (tmp_path / "renumbered.json").write_text(json.dumps(data))
    capsys.readouterr()
    code = main(["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "renumbered.json"), "--device", "cpu", "--json", str(tmp_path / "b.json")])
    err = capsys.readouterr().err
    assert code == 3 and f"{data['images'][0]['file_name']}: cannot read image (no such file)" in err and "1 unreadable image left out" in err
    written = json.loads((tmp_path / "b.json").read_text())  # the file says which images its metrics are of
    assert written["images"] == 2 and len(written["skipped"]) == 1 and data["images"][0]["file_name"] in written["skipped"][0]
    assert json.loads((tmp_path / "a.json").read_text())["skipped"] == []
    gone = data["images"].pop(0)["id"]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != gone]
    (tmp_path / "two.json").write_text(json.dumps(data))
    assert main(["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "two.json"), "--device", "cpu", "--json", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["mAP"] == json.loads((tmp_path / "c.json").read_text())["mAP"] > 0.5
    # names that differ only in case and surrounding spaces are the same classes, as in the window's class list
    spelled = json.loads(json.dumps(data))
    for c in spelled["categories"]:
        c["name"] = f" {c['name'].upper()} "
    (tmp_path / "spelled.json").write_text(json.dumps(spelled))
    capsys.readouterr()
    assert main(["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "spelled.json"), "--device", "cpu", "--json", str(tmp_path / "s.json")]) == 0
    assert "left out" not in capsys.readouterr().err
    assert json.loads((tmp_path / "s.json").read_text())["mAP"] == json.loads((tmp_path / "c.json").read_text())["mAP"]
    # a label class the model does not have is named and left out, not scored as AP 0
    for c in data["categories"]:
        if c["name"] == "white-rook":
            c["name"] = "clock"
    (tmp_path / "clock.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "clock.json"), "--device", "cpu", "--json", str(tmp_path / "d.json")]) == 0
    assert "label classes the model does not have (left out): clock" in capsys.readouterr().err
    assert "clock" not in json.loads((tmp_path / "d.json").read_text())["per_class"]


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--batch-size", "0"], ["--image-size", "0"], ["--lr", "-1"], ["--val-split", "1.5"]])
def test_retina_train_refuses_impossible_settings(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--coco", str(CHESS / "train" / "_annotations.coco.json"), "--out", str(tmp_path / "run"), *args])
    assert exit_.value.code == 2 and args[0] in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_full_disk_while_saving_a_checkpoint_is_said_so_not_a_traceback(tmp_path, capsys, monkeypatch):
    """safetensors and torch.save report a full disk in their own ways (SafetensorError, or a
    RuntimeError "unexpected pos 15931456 vs 15931352"): the command ended in a traceback."""
    import shutil as shutil_module
    from collections import namedtuple

    import core.weights

    data = _chess_copy(tmp_path, "train", 4)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    command = ["train", "--coco", str(tmp_path / "ann.json"), "--backbone", "resnet18", "--fpn-channels", "64", "--epochs", "1",
               "--batch-size", "2", "--image-size", "96", "--no-augment", "--device", "cpu", "--precision", "fp32"]

    def full(*args, **kwargs):
        raise RuntimeError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: \"No space left on device\" })")

    monkeypatch.setattr(core.weights, "save_file", full)
    assert main([*command, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert "retina: [Errno 28] No space left on device: " in err and "last.safetensors" in err and "Traceback" not in err
    monkeypatch.undo()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: usage(1 << 30, 1 << 30, 0))  # nothing left, as torch.save found
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")))
    assert main([*command, "--out", str(tmp_path / "b")]) == 1
    assert "retina: [Errno 28] No space left on device: " in capsys.readouterr().err
    assert not list((tmp_path / "b").glob(".*.tmp"))  # nothing half-written left
    from core.atomic import write_json

    with pytest.raises(TypeError):  # a program's own error stays itself, full disk or not
        write_json(tmp_path / "x.json", {"a": object()})


def test_retina_train_names_fpn_channels_that_group_norm_cannot_take(tmp_path, capsys):
    """It printed GroupNorm's own "num_channels (16) must be divisible by num_groups (32)", exit 1."""
    assert main(["train", "--coco", str(CHESS / "train" / "_annotations.coco.json"), "--out", str(tmp_path / "run"),
                 "--preset", "torchvision_v2", "--fpn-channels", "16"]) == 2
    assert "--fpn-channels 16: the torchvision_v2 heads' GroupNorm takes a multiple of 32" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_ctrl_c_while_torch_imports_takes_effect_once_the_imports_are_done():
    """An interrupt inside a library's import was swallowed there (the run went on to the end), or
    left numpy half-imported (a traceback at the first checkpoint)."""
    import os
    import signal

    from core.cli import _interrupt_after

    done = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupt_after():
            os.kill(os.getpid(), signal.SIGINT)  # during the imports
            done.append("the imports went on")
    assert done and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):  # a second one stops an import that hangs at once
        with _interrupt_after():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            done.append("not reached")
    assert len(done) == 1


def test_ctrl_c_during_retina_train_saves_the_step_and_the_run_resumes_there(tmp_path, monkeypatch, capsys):
    import os
    import signal

    data = _chess_copy(tmp_path, "train", 6)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    real_step = Trainer._step

    def step_then_ctrl_c(self, batch, weight=1.0):
        out = real_step(self, batch, weight)
        if self.step == 1:  # the step being counted now is the 2nd
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(Trainer, "_step", step_then_ctrl_c)
    command = ["train", "--coco", str(tmp_path / "ann.json"), "--backbone", "resnet18", "--fpn-channels", "64", "--epochs", "2",
               "--batch-size", "2", "--image-size", "96", "--no-augment", "--device", "cpu", "--precision", "fp32", "--out", str(tmp_path / "run")]
    assert main(command) == 130
    assert "add --resume" in capsys.readouterr().err
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)
    assert state["step"] == 2 and state["epoch"] == 0  # mid-epoch, where it stopped
    monkeypatch.setattr(Trainer, "_step", real_step)
    # it goes on as it started: another seed (the order of every epoch) or validation is refused
    # settings other than the run's are the command's fault, as another validation is: exit 2 both
    assert main([*command, "--resume", "--seed", "7"]) == 2 and "retina train: error: this run was started with seed 0" in capsys.readouterr().err
    assert main([*command, "--resume", "--val-split", "0.5"]) == 2
    assert "this run was started with no validation option, and these options validate it on other images" in capsys.readouterr().err
    assert main([*command, "--resume", "--val-coco", str(tmp_path / "ann.json")]) == 2  # (only the flag's presence was compared)
    assert "this run was started with no validation option" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "run" / "last.safetensors").spec.training["validation"] == "none"
    # a run from before the digest was recorded: its command's options are compared (as argparse reads them)
    from safetensors import safe_open
    from safetensors.torch import save_file

    last = tmp_path / "run" / "last.safetensors"
    with safe_open(str(last), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    spec = json.loads(metadata["retina_gui"])
    del spec["training"]["validation"]
    save_file(tensors, str(last), metadata={**metadata, "retina_gui": json.dumps(spec)})
    assert main([*command, "--resume", "--val-split", "0.5"]) == 2
    assert "this run was started with no validation option" in capsys.readouterr().err
    # the options of a new run's model are said to be ignored; a setting that applies from here on is logged
    augmented = [c for c in command if c != "--no-augment"]
    assert main([*augmented, "--resume", "--weights", str(DEMO_MODEL), "--warmup", "7", "--frozen-stages", "3"]) == 0
    err = capsys.readouterr().err
    assert "note: --weights, --backbone, --fpn-channels ignored: a resumed run goes on with its own model and weights" in err
    assert "settings changed on resume, from here on: augment off → on (hflip 0.5, scale jitter [0.8, 1.2], photometric True), warmup iters" in err
    assert "→ 7" in err
    assert "frozen stages 3 ignored: a resumed run keeps its own, 0" in err  # (it went without a word)
    spec = load_checkpoint(tmp_path / "run" / "last.safetensors").spec
    assert spec.training["step"] == 6 and spec.training["epochs_done"] == 2
    assert not (tmp_path / "run" / "train_state.pt").exists()  # finished: no optimizer state left to resume from
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_boxes_too_small_to_learn_at_the_training_size_are_named(four_images, tmp_path):
    first = four_images.labels.images[0]
    tiny = Box(first.width / 2, first.height / 2, first.width / 2 + 5, first.height / 2 + 5, first.boxes[0].category_id)
    labels = replace(four_images.labels, images=[replace(first, boxes=[*first.boxes, tiny]), *four_images.labels.images[1:]])
    messages = []
    trainer = _trainer(DataSource(labels, four_images.image_root), tmp_path, _config(), on_event=lambda e: e.kind == "log" and messages.append(e.message))
    assert trainer.dataset.boxes_under_one_pixel() == [first.file_name]
    assert any(m.startswith("1 labelled box is under 1 px at image size 96") and "too small to learn" in m and first.file_name in m for m in messages)
    assert len(trainer.dataset[0].boxes) == len(first.boxes)  # the sanitising step drops it: the message tells the truth


def test_a_resumed_run_keeps_the_classes_of_its_head_when_the_labels_changed(four_images, tmp_path):
    cancel = CancelToken()
    first = _trainer(four_images, tmp_path, _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "epoch" and cancel.cancel())
    assert first.run().cancelled
    copies = {name: tmp_path.parent / f"{tmp_path.name}-{name}" for name in ("shifted", "renamed", "merged")}
    for copy in copies.values():
        shutil.copytree(tmp_path, copy)
    gone = first.classes[0].id  # every box of the first class deleted since, and a new class labelled
    labels = four_images.labels
    new = Category(999, "clock")
    images = [replace(im, boxes=[b for b in im.boxes if b.category_id != gone]) for im in labels.images]
    images[0] = replace(images[0], boxes=[*images[0].boxes, Box(10, 10, 60, 60, new.id)])
    changed = DataSource(LabelSet([*labels.categories, new], images), four_images.image_root)
    messages = []
    resumed = _trainer(changed, tmp_path, _config(epochs=2), resume=True, on_event=lambda e: e.kind == "log" and messages.append(e.message))
    assert [c.id for c in resumed.classes] == [c.id for c in first.classes]  # by position, class k is still the head's row k
    assert resumed.dataset.class_index == first.dataset.class_index
    assert any("classes added since this run started are not learnt by it: clock" in m for m in messages)
    # a re-export that renumbered the classes (ids + 1, names as they were): matched by name, each
    # class's boxes still go to its own rows (by id, every class trained on another's boxes)
    shifted = LabelSet([replace(c, id=c.id + 1) for c in labels.categories],
                       [replace(im, boxes=[replace(b, category_id=b.category_id + 1) for b in im.boxes]) for im in labels.images])
    again = _trainer(DataSource(shifted, four_images.image_root), copies["shifted"], _config(epochs=2), resume=True)
    assert [(c.id, c.name) for c in again.classes] == [(c.id + 1, c.name) for c in first.classes]
    # a class renamed in the window (which keeps its id) is the same class
    renamed = LabelSet([replace(c, name="castle") if c.id == first.classes[1].id else c for c in labels.categories], labels.images)
    messages.clear()
    kept = _trainer(DataSource(renamed, four_images.image_root), copies["renamed"], _config(epochs=2), resume=True,
                    on_event=lambda e: e.kind == "log" and messages.append(e.message))
    assert [c.id for c in kept.classes] == [c.id for c in first.classes]
    assert any(f"classes renamed since this run started (the same class ids): {first.classes[1].name} → castle" in m for m in messages)
    assert kept.classes[1].name == "castle" and kept.spec.classes[1].name == "castle"  # validated, and saved, by its name now
    result = resumed.run()
    # the class whose boxes were all deleted, still listed, is as good as gone, and said so (it went unsaid)
    assert result.epochs_done == 2 and result.classes_gone == (first.classes[0].name,)
    # a class merged into another since (its category gone): kept by the head, learnt from negatives only, and the result says so
    merged_id = first.classes[2].id
    merged = LabelSet([c for c in labels.categories if c.id != merged_id],
                      [replace(im, boxes=[replace(b, category_id=first.classes[0].id) if b.category_id == merged_id else b for b in im.boxes])
                       for im in labels.images])
    assert _trainer(DataSource(merged, four_images.image_root), copies["merged"], _config(epochs=2), resume=True).run().classes_gone == (
        first.classes[2].name,)


def test_a_run_folder_takes_one_run_at_a_time_and_a_damaged_state_is_named(four_images, tmp_path):
    from filelock import FileLock

    run = tmp_path / "run"
    run.mkdir()
    with FileLock(run / ".run.lock"):  # another process training there: refused before writing anything into its folder
        with pytest.raises(TrainingError, match="another training is running in"):
            _trainer(four_images, run, _config())
    assert not (run / "train.log").exists()
    trainer = _trainer(four_images, run, _config())  # free again; held until run() ends, then free for the next
    with pytest.raises(TrainingError, match="another training is running in"):
        _trainer(four_images, run, _config())
    trainer.run()
    with pytest.raises(TrainingError, match="holds a finished run"):  # the lock went with the run
        _trainer(four_images, run, _config())
    cancel = CancelToken()
    _trainer(four_images, tmp_path / "stopped", _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "step" and cancel.cancel()).run()
    with pytest.raises(TrainingError, match=r"already holds a run: continue it \(retina train --resume; Resume in the window\)"):
        _trainer(four_images, tmp_path / "stopped", _config(epochs=2))
    (tmp_path / "stopped" / "train_state.pt").write_bytes(b"")
    with pytest.raises(TrainingError, match="train_state.pt is damaged .*start a new run from its weights"):
        _trainer(four_images, tmp_path / "stopped", _config(epochs=2), resume=True)


def test_images_whose_pixels_cannot_be_decoded_stop_the_run_instead_of_training_nothing(four_images, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for im in four_images.labels.images:  # the headers read (sizes check out), the pixels do not
        (folder / im.file_name).write_bytes((four_images.image_root / im.file_name).read_bytes()[:3000])
    with pytest.raises(TrainingError, match="no image of the epoch could be decoded"):
        _trainer(DataSource(four_images.labels, folder), tmp_path / "run", _config()).run()


class _Killed(BaseException):
    """A kill -9 at that point: nothing after it runs (not an Exception, so nothing catches it)."""


def test_a_run_killed_between_its_checkpoint_files_resumes_whole(four_images, tmp_path, monkeypatch):
    """Killed after last.safetensors and before train_state.pt: at epoch 1 the run read as finished
    and could not be resumed; at epoch 2 --resume trained epoch 2 again on weights that had it."""
    import core.train as train

    straight = _trainer(four_images, tmp_path / "a", _config(epochs=2))
    straight.run()
    save = torch.save
    for kill_at in (1, 2):  # the commit of epoch 1, then of epoch 2
        calls = []

        def killed_save(obj, path, *args, kill_at=kill_at, calls=calls, **kwargs):
            calls.append(path)
            if len(calls) == kill_at:
                raise _Killed
            return save(obj, path, *args, **kwargs)

        run = tmp_path / f"killed{kill_at}"
        monkeypatch.setattr(train.torch, "save", killed_save)
        with pytest.raises(_Killed):
            _trainer(four_images, run, _config(epochs=2)).run()
        monkeypatch.setattr(train.torch, "save", save)
        (run / ".train_state.pt.k1ll3d.tmp").write_bytes(b"half")  # what a real kill -9 leaves of the state being written
        if kill_at == 1:
            with pytest.raises(TrainingError, match="was stopped while saving its first checkpoint, so there is no state to go on from"):
                _trainer(four_images, run, _config(epochs=2), resume=True)
            continue
        resumed = _trainer(four_images, run, _config(epochs=2), resume=True)
        assert resumed.epoch == 1 and not list(run.glob(".*.tmp"))  # the half-written file is cleared away
        resumed.run()
        for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_an_epoch_killed_before_its_commit_is_trained_again_and_recorded_once(four_images, tmp_path, monkeypatch):
    """Killed after the epoch's checkpoint but before best.safetensors and metrics.json were written,
    the resumed run claimed a best mAP with no best.safetensors, and metrics.json had lost the epoch.
    Now the history and best weights come first and the checkpoint last: the epoch is done again."""
    save = Trainer._save

    def killed(self, reason):
        if reason == "epoch 2":
            raise _Killed
        return save(self, reason)

    monkeypatch.setattr(Trainer, "_save", killed)
    with pytest.raises(_Killed):
        _trainer(four_images, tmp_path, _config(epochs=2, validate=True), val_data=four_images).run()
    monkeypatch.setattr(Trainer, "_save", save)
    assert [h["epoch"] for h in json.loads((tmp_path / "metrics.json").read_text())] == [1, 2]
    result = _trainer(four_images, tmp_path, _config(epochs=2, validate=True), val_data=four_images, resume=True).run()
    history = json.loads((tmp_path / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]  # epoch 2 trained again, recorded once
    assert result.best_map == max(h["mAP"] for h in history) and (tmp_path / "best.safetensors").exists()


def test_eval_and_training_say_when_images_are_not_the_size_their_labels_give(tmp_path, capsys):
    """Labels made on a resized copy, or by a tool that ignores EXIF orientation: eval printed mAP
    0.000 with no word, and training learnt the wrong boxes. Boxes without width or reaching out of
    their image passed unsaid too (retina convert said so)."""
    from tests.conftest import DEMO_MODEL

    data = valid_subset(tmp_path)
    first = data["images"][0]
    true_size = first["width"], first["height"]
    first["width"], first["height"] = 2 * first["width"], 2 * first["height"]  # labelled on a copy twice as large
    data["annotations"][0]["bbox"][2] = 0.0
    (tmp_path / "ann.json").write_text(json.dumps(data))
    assert main(["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "ann.json"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert (f"1 image is not the size the labels give, e.g. {first['file_name']}: the labels give {2 * true_size[0]}×{2 * true_size[1]}, "
            f"the image is {true_size[0]}×{true_size[1]}: labelled on a resized copy, or by a tool that ignores EXIF orientation?") in err
    assert "1 box without width or height (the first in" in err
    labels = read_coco(tmp_path / "ann.json")
    trainer = _trainer(DataSource(labels, tmp_path), tmp_path / "run", _config())
    log = (tmp_path / "run" / "train.log").read_text()
    assert "training labels: 1 image is not the size the labels give" in log and "training labels: 1 box without width or height" in log
    trainer._release_run_folder()


def test_a_run_resumes_after_its_folder_moved_along_with_the_images(four_images, tmp_path):
    """The window keeps its runs inside the image folder: renamed or moved, every stopped run was
    refused as "trained on other images"."""
    import shutil

    project = tmp_path / "project"
    (project / "images").mkdir(parents=True)
    for im in four_images.labels.images:
        shutil.copy(four_images.image_root / im.file_name, project / "images" / im.file_name)
    cancel = CancelToken()
    data = DataSource(four_images.labels, project / "images")
    _trainer(data, project / "runs" / "r", _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "epoch" and cancel.cancel()).run()
    project.rename(tmp_path / "renamed")
    moved = DataSource(four_images.labels, tmp_path / "renamed" / "images")
    resumed = _trainer(moved, tmp_path / "renamed" / "runs" / "r", _config(epochs=2), resume=True)
    assert resumed.epoch == 1
    resumed._release_run_folder()


def test_a_run_killed_before_its_first_checkpoint_can_be_started_again_in_its_folder(four_images, tmp_path, monkeypatch):
    """Killed after the first epoch's metrics.json, before any checkpoint: --resume said "nothing to
    resume" and a new run was refused as "already holds a run": a circle."""
    save = Trainer._save

    def killed(self, reason):
        raise _Killed

    monkeypatch.setattr(Trainer, "_save", killed)
    with pytest.raises(_Killed):
        _trainer(four_images, tmp_path, _config(epochs=1, validate=True), val_data=four_images).run()
    monkeypatch.setattr(Trainer, "_save", save)
    assert (tmp_path / "metrics.json").exists() and (tmp_path / ".best.pending.safetensors").exists()
    with pytest.raises(TrainingError, match="nothing to resume"):
        _trainer(four_images, tmp_path, _config(epochs=1), resume=True)
    result = _trainer(four_images, tmp_path, _config(epochs=1, validate=True), val_data=four_images).run()  # starts clean
    assert [h["epoch"] for h in json.loads((tmp_path / "metrics.json").read_text())] == [1]
    assert result.best_checkpoint == tmp_path / "best.safetensors" and not list(tmp_path.glob(".*.tmp"))
    assert not (tmp_path / ".best.pending.safetensors").exists()
    # a fresh run never overwrites a best.safetensors that no run of this folder wrote (start weights kept there, say)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "best.safetensors").write_bytes(b"mine")
    with pytest.raises(TrainingError, match="holds best.safetensors, which this run would overwrite"):
        _trainer(four_images, tmp_path / "elsewhere", _config(epochs=1))
    assert (tmp_path / "elsewhere" / "best.safetensors").read_bytes() == b"mine"


def test_best_weights_left_pending_by_a_kill_after_the_commit_go_into_place_on_resume(four_images, tmp_path, monkeypatch):
    import core.train

    real_replace = core.train.os.replace

    def killed_replace(src, dst):
        if Path(dst).name == "best.safetensors" and not killed:  # epoch 1: committed, its best weights not yet in place
            killed.append(1)
            raise _Killed
        return real_replace(src, dst)

    killed = []
    monkeypatch.setattr(core.train.os, "replace", killed_replace)
    with pytest.raises(_Killed):
        _trainer(four_images, tmp_path, _config(epochs=2, validate=True), val_data=four_images).run()
    monkeypatch.setattr(core.train.os, "replace", real_replace)
    assert not (tmp_path / "best.safetensors").exists() and (tmp_path / ".best.pending.safetensors").exists()
    resumed = _trainer(four_images, tmp_path, _config(epochs=2, validate=True), val_data=four_images, resume=True)
    assert (tmp_path / "best.safetensors").exists() and not (tmp_path / ".best.pending.safetensors").exists()
    assert load_checkpoint(tmp_path / "best.safetensors").spec.training["epochs_done"] == 1
    resumed._release_run_folder()


def test_resume_refuses_a_damaged_history_instead_of_writing_a_new_one_over_it(four_images, tmp_path):
    cancel = CancelToken()
    _trainer(four_images, tmp_path, _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "epoch" and cancel.cancel()).run()
    (tmp_path / "metrics.json").write_text('[{"epoch": 1, "cls_loss"')  # truncated
    with pytest.raises(TrainingError, match="metrics.json is damaged .*: the run's history cannot go on"):
        _trainer(four_images, tmp_path, _config(epochs=2), resume=True)
    assert (tmp_path / "metrics.json").read_text() == '[{"epoch": 1, "cls_loss"'
    (tmp_path / "metrics.json").write_text('{"my": "results"}')  # no list of epochs: it was replaced by the resumed run's
    with pytest.raises(TrainingError, match="metrics.json is damaged .*not a list of epochs"):
        _trainer(four_images, tmp_path, _config(epochs=2), resume=True)
    (tmp_path / "metrics.json").write_text("[{}, {}]")  # entries naming no epoch are left out (the run failed at its end with KeyError)
    result = _trainer(four_images, tmp_path, _config(epochs=2), resume=True).run()
    assert result.epochs_done == 2 and [h["epoch"] for h in json.loads((tmp_path / "metrics.json").read_text())] == [2]


def test_resume_refuses_a_folder_where_the_run_writes_a_file_before_training(four_images, tmp_path):
    """Found only when the epoch's best weights were moved into place, it failed the run after
    the epoch's work and left them pending."""
    cancel = CancelToken()
    _trainer(four_images, tmp_path, _config(epochs=2), cancel=cancel, on_event=lambda e: e.kind == "step" and cancel.cancel()).run()
    (tmp_path / "best.safetensors").mkdir()
    steps = []
    with pytest.raises(TrainingError, match=r"holds folders named best.safetensors, where the run writes its files: move them away"):
        _trainer(four_images, tmp_path, _config(epochs=2), resume=True, on_event=steps.append).run()
    assert steps == [] and not (tmp_path / ".best.pending.safetensors").exists()


def test_retina_train_records_which_images_it_learns_from(tmp_path):
    """Only a run of the window's Train wrote split.json: an evaluation of a model trained with the
    command could not leave out the images it had learnt from."""
    from core.finetune import SPLIT_FILE, trained_on

    data = _chess_copy(tmp_path, "train", 4)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    run = tmp_path / "runs" / "cli"
    assert main(["train", "--coco", str(tmp_path / "ann.json"), "--backbone", "resnet18", "--fpn-channels", "64", "--epochs", "1",
                 "--batch-size", "2", "--image-size", "64", "--no-augment", "--device", "cpu", "--precision", "fp32",
                 "--val-split", "0.5", "--out", str(run)]) == 0
    split = json.loads((run / SPLIT_FILE).read_text())
    names = sorted(im["file_name"] for im in data["images"])
    assert sorted(split["train"] + split["validation"]) == names and split["train"] and split["validation"]
    assert trained_on(run / "best.safetensors", tmp_path) == set(split["train"])


def test_auto_precision_trains_small_inputs_in_fp32_on_a_cpu_and_a_nonfinite_gradient_is_named(four_images, tmp_path, monkeypatch):
    """At --image-size 32, bf16 gave NaN gradients (P7's weights) in most steps, and the run stopped
    with "no step had a finite loss" while every loss was finite."""
    import core.train

    monkeypatch.setattr(core.train, "resolve_precision", lambda spec, device: torch.bfloat16 if spec in ("auto", "bf16") else torch.float32)
    small = _trainer(four_images, tmp_path / "a", _config(image_size=64, max_size=96, precision="auto"))
    assert small.dtype == torch.float32
    assert _trainer(four_images, tmp_path / "b", _config(image_size=128, max_size=192, precision="auto")).dtype == torch.bfloat16
    assert _trainer(four_images, tmp_path / "c", _config(image_size=64, max_size=96, precision="bf16")).dtype == torch.bfloat16  # asked for
    events = []
    small.on_event = events.append
    small.run()
    assert any("precision fp32 (bf16 gives NaN gradients for images under 128 px on a CPU)" in e.message for e in events if e.kind == "log")
    from core.dataset import AugmentConfig

    wide = LabelSet([], [ImageEntry(1, "wide.jpg", 1600, 400, []), ImageEntry(2, "square.jpg", 500, 500, [])])
    assert core.train._smallest_short_side(wide, _config(image_size=160, max_size=240)) == 60  # its long side held back
    assert core.train._smallest_short_side(wide, _config(image_size=160, max_size=240, augment=AugmentConfig())) == 48  # jitter 0.8
    real_clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: real_clip(*a, **k) * float("inf"))
    events.clear()
    broken = _trainer(four_images, tmp_path / "d", _config(epochs=1, grad_clip=1.0), on_event=events.append)
    with pytest.raises(TrainingError, match="no step of epoch 1 had a finite loss and finite gradients"):
        broken.run()
    assert any(e.kind == "nan" and e.message.startswith("non-finite gradient in epoch 1") for e in events)


def test_retina_train_says_when_its_best_checkpoint_scores_below_the_start_weights(tmp_path, monkeypatch, capsys):
    """The summary line gave both numbers, and a best.safetensors of 0.000 against the start
    weights' 0.826 read as an improvement."""
    from core.train import TrainResult

    data = _chess_copy(tmp_path, "train", 4)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    run = tmp_path / "run"
    monkeypatch.setattr(Trainer, "run", lambda self: TrainResult(run, 1, 2, False, 0.0, run / "last.safetensors", run / "best.safetensors",
                                                                 start_map=0.826, start_input_size=512, input_size=64))
    assert main(["train", "--coco", str(tmp_path / "ann.json"), "--weights", str(DEMO_MODEL), "--epochs", "1", "--image-size", "64",
                 "--device", "cpu", "--val-split", "0.5", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "best val mAP 0.000 (start weights: 0.826)" in err
    assert ("note: best.safetensors is the best epoch of this run, and it scores below the start weights (the start weights were scored at "
            f"512 px, the run at 64 px): keep using the start weights ({DEMO_MODEL})") in err


def test_images_per_second_count_the_images_trained_on_and_the_time_left_the_steps(chess_train, tmp_path, monkeypatch):
    """An epoch's short last batch was counted whole (7 images as 8): the window's speed disagreed
    with the one its runs keep for estimates."""
    import core.train

    three = DataSource(chess_train.subset({im.id for im in chess_train.images[:3]}), CHESS / "train")
    clock = [0.0]
    monkeypatch.setattr(core.train.time, "perf_counter", lambda: clock[0])  # a second a step, nothing else takes time
    step = Trainer._step

    def timed_step(self, *args, **kwargs):
        clock[0] += 1.0
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_step", timed_step)
    events = []
    _trainer(three, tmp_path, _config(epochs=2, batch_size=2), on_event=lambda e: e.kind == "step" and events.append(e)).run()
    trained = [round(e.images_per_s * seconds) for seconds, e in enumerate(events, 1)]  # images so far
    assert trained[1] == 3 and trained[3] == 6 and sorted({trained[0], trained[2] - 3}) in ([1], [2], [1, 2])  # 3 an epoch, not 4
    assert [e.eta_s for e in events] == [3.0, 2.0, 1.0, 0.0]


def test_a_run_that_fails_before_it_starts_leaves_no_run_folder_it_made(four_images, tmp_path):
    """A failure while the model was built (the start weights' download, say) left a folder with
    only the run's marks in it, which looked like a run."""
    with pytest.raises(ValueError):
        Trainer(train_data=four_images, val_data=None, run_dir=tmp_path / "new" / "a" / "run", config=_config(), backbone="no_such_backbone",
                device="cpu")
    assert not (tmp_path / "new").exists()  # (the folders above the run's, made with it, stayed)
    (tmp_path / "mine").mkdir()  # a folder of the user's own stays
    with pytest.raises(ValueError):
        Trainer(train_data=four_images, val_data=None, run_dir=tmp_path / "mine", config=_config(), backbone="no_such_backbone", device="cpu")
    assert (tmp_path / "mine").is_dir()


def test_the_log_says_the_validation_images_and_a_warm_up_longer_than_half_the_run(four_images, tmp_path):
    messages = []
    held_out = DataSource(four_images.labels.subset({four_images.labels.images[0].id}), four_images.image_root)
    trainer = _trainer(four_images, tmp_path, _config(warmup_iters=100, validate=True), val_data=held_out,
                       on_event=lambda e: e.kind == "log" and messages.append(e.message))
    trainer.run()
    assert any(m.startswith("training resnet18 (retinanet) on 4 images (1 validation image), ") for m in messages), messages
    # (a 3-step fine-tune peaked at 1/60 of its lr, without a word)
    assert any(m.startswith("note: the warm-up (100 steps) takes over half of the run (2): the learning rate peaks at 0.011×") for m in messages), messages


def test_a_fine_tune_keeps_the_rows_of_a_class_renamed_since_by_its_id():
    """Renamed in the window, a class started from the prior in the next fine-tune (Resume kept it)."""
    from core.config import ModelConfig
    from core.model import RetinaNet
    from core.train import adapt_classes
    from core.weights import ClassInfo

    model = RetinaNet(ModelConfig(backbone="resnet18", num_classes=2, fpn_channels=64))
    kept = adapt_classes(model, (ClassInfo(1, "king"), ClassInfo(2, "queen")), [Category(2, "queen"), Category(1, "monarch")])
    assert kept == {"queen": "queen", "monarch": "king"}


def test_the_validation_digest_names_the_images_not_their_order():
    from core.train import validation_digest

    a, b, c = (ImageEntry(i, f"{i}.jpg", 10, 10) for i in (1, 2, 3))
    assert validation_digest(LabelSet([], [a, b])) == validation_digest(LabelSet([], [b, a])) != validation_digest(LabelSet([], [a, c]))
    assert validation_digest(None) == validation_digest(LabelSet([], [])) == "none"
