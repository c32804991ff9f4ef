"""`retina train` runs under torchrun with DistributedDataParallel; checked on the CPU with gloo."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.formats.coco import read_coco
from core.train import DataSource, TrainConfig, Trainer
from tests.conftest import DATASETS

CHESS = DATASETS / "chess" / "train"


def make_trainer(run_dir: Path, batch_size: int) -> Trainer:
    labels = read_coco(CHESS / "_annotations.coco.json")
    data = DataSource(labels.subset({im.id for im in labels.images[:4]}), CHESS)
    torch.manual_seed(0)
    # SGD: Adam would turn the last-bit differences of all-reduced tiny gradients into full-size steps
    config = TrainConfig(epochs=1, batch_size=batch_size, image_size=96, max_size=144, warmup_iters=1, optimizer="sgd", lr=0.01, precision="fp32",
                         augment=None, channels_last=False, validate=False, freeze_bn=True, frozen_stages=0)
    return Trainer(train_data=data, val_data=None, run_dir=run_dir, config=config, backbone="resnet18", fpn_channels=32, device="cpu")


def test_two_process_torchrun_matches_one_process_with_the_same_global_batch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    single = make_trainer(tmp_path / "single", batch_size=2)
    initial = {k: v.clone() for k, v in single.model.state_dict().items()}
    single.run()
    for name, value in single.model.state_dict().items():
        assert torch.equal(rank0[name], rank1[name]), name
        torch.testing.assert_close(rank0[name], value, rtol=1e-4, atol=1e-5, msg=name)
    assert not torch.equal(initial["head.classification_head.cls_logits.weight"], rank0["head.classification_head.cls_logits.weight"])
    assert (tmp_path / "run" / "last.safetensors").exists() and not (tmp_path / "single" / "rank1.pt").exists()
    log = (tmp_path / "run" / "train.log").read_text()
    assert "world size 2" in log and log.count("training resnet18") == 1  # rank 0 alone writes
    # the losses logged are the whole batch's (both ranks' halves), not the first rank's share
    (ddp,), (one,) = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("run", "single"))
    assert ddp["cls_loss"] == pytest.approx(one["cls_loss"], rel=1e-3) and ddp["box_loss"] == pytest.approx(one["box_loss"], rel=1e-3)


def test_under_torchrun_each_process_takes_the_gpu_of_its_local_rank(monkeypatch):
    """"cuda" (or "cuda:0") put every torchrun process on GPU 0, which NCCL refuses; the logic is
    checked here without a GPU (the process group is stood in for)."""
    import torch.distributed as dist

    import core.train

    chosen = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    for asked in ("cuda", "cuda:0"):
        group, device = core.train._dist_from_env(torch.device(asked))
        assert device == torch.device("cuda", 1) and chosen[-1] == device and (group.world_size, group.rank) == (2, 1)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # a launcher that shows each process its own GPU only
    assert core.train._dist_from_env(torch.device("cuda"))[1] == torch.device("cuda", 0)
    group, device = core.train._dist_from_env(torch.device("cpu"))  # gloo on the CPU: the device stays
    assert device == torch.device("cpu") and len(chosen) == 3


def test_torchrun_goes_on_past_an_image_one_process_cannot_decode(tmp_path):
    """The process whose whole batch could not be decoded raised; the other died in the step's
    all-reduce ("Connection closed by peer"), and its traceback buried the message."""
    labels = read_coco(CHESS / "_annotations.coco.json")
    two = labels.subset({im.id for im in labels.images[:2]})
    folder = tmp_path / "images"
    folder.mkdir()
    for k, im in enumerate(two.images):  # the second one's header reads, its pixels do not
        data = (CHESS / im.file_name).read_bytes()
        (folder / im.file_name).write_bytes(data if k == 0 else data[:3000])
    from core.formats.coco import write_coco

    write_coco(two, folder / "two.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "core.cli", "train",
           "--coco", str(folder / "two.json"), "--backbone", "resnet18", "--fpn-channels", "32", "--image-size", "96", "--epochs", "1",
           "--batch-size", "1", "--no-augment", "--device", "cpu", "--precision", "fp32", "--out", str(tmp_path / "run")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "1 image left out as unreadable" in done.stderr
    log = (tmp_path / "run" / "train.log").read_text()
    assert f"skipped training image: {folder / two.images[1].file_name}" in log and "1 epoch" in done.stderr
    # when no process has an image it can decode, nothing is learnt and the run says so (it "trained", exit 0)
    first = folder / two.images[0].file_name
    first.write_bytes(first.read_bytes()[:3000])
    done = subprocess.run([*cmd[:-1], str(tmp_path / "none")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "no image of the epoch could be decoded" in done.stderr
    assert not (tmp_path / "none" / "last.safetensors").exists()


def test_under_torchrun_every_process_stops_early_with_the_first(tmp_path):
    """The first process alone validates: the others, not told, went on into the next epoch's
    all-reduce and hung there."""
    labels = read_coco(CHESS / "_annotations.coco.json")
    from core.formats.coco import write_coco

    write_coco(labels.subset({im.id for im in labels.images[:3]}), tmp_path / "three.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "core.cli", "train",
           "--coco", str(tmp_path / "three.json"), "--images", str(CHESS), "--val-split", "0.3", "--patience", "1", "--backbone", "resnet18",
           "--fpn-channels", "32", "--image-size", "96", "--epochs", "4", "--batch-size", "1", "--lr", "1e-9", "--no-augment",
           "--device", "cpu", "--precision", "fp32", "--out", str(tmp_path / "run")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # a learning rate that changes nothing: epoch 2 scores as epoch 1, and the run stops after it
    assert [h["epoch"] for h in history] == [1, 2] and history[-1]["stopped_early"]
    assert "2 epochs (stopped early, of 4)" in done.stderr
