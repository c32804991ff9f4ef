"""Equal-settings training: our trainer (fp32 and bf16 autocast) vs torchvision's RetinaNet training
step (fp32), then validation mAP of each by pycocotools on chess valid.

    .venv/bin/python benchmarks/train_equal_settings.py [--epochs 8] [--fpn-channels 128] [--runs torchvision,bf16,fp32] [--out FILE]

What is equal: the start weights (torchvision's ImageNet MobileNetV2 from ../shared/weights, then one
FPN P3-P7 and heads initialised once and copied into torchvision's model: our
parameter names are torchvision's), the batches (our dataset and grouped sampler, same seed, flip +
photometric augmentation, 512 short side so torchvision's own resize is the identity), SGD with
momentum, warm-up + cosine schedule, gradient clipping, frozen BatchNorm and frozen first stage.
What differs is each engine's own: anchors (torchvision's rounded ones vs the seed's), box coding,
assignment, losses, post-processing; that is what the comparison is about. Each model is evaluated
by its own inference on the 58 valid images at the training size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import print_table, scratch_dir, torchvision_mobilenet_retinanet  # noqa: E402
from core.dataset import AugmentConfig, collate  # noqa: E402
from core.evaluate import Detection, EvalResult, coco_evaluate  # noqa: E402
from core.formats.coco import read_coco  # noqa: E402
from core.images import load_image  # noqa: E402
from core.train import DataSource, TrainConfig, Trainer, _lr_factor, _optimizer  # noqa: E402

CHESS = ROOT.parent / "shared" / "datasets" / "chess"
IMAGENET_WEIGHTS = ROOT.parent / "shared" / "weights" / "mobilenet_v2-b0353104.pth"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def config_for(args: argparse.Namespace, precision: str) -> TrainConfig:
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, optimizer="sgd", lr=args.lr, warmup_iters=100, schedule="cosine",
        grad_clip=10.0, precision=precision, freeze_bn=True, frozen_stages=1, image_size=512, max_size=768,
        augment=AugmentConfig(hflip=0.5, scale_jitter=(1.0, 1.0), photometric=True), seed=0, validate=True,
    )


def make_trainer(args, train: DataSource, val: DataSource, precision: str, run_dir: Path, on_event=None) -> Trainer:
    return Trainer(train_data=train, val_data=val, run_dir=run_dir, config=config_for(args, precision), backbone="mobilenet_v2",
                   pretrained_backbone=True, fpn_channels=args.fpn_channels, device="cpu", on_event=on_event)


def run_ours(args, train: DataSource, val: DataSource, precision: str, run_dir: Path) -> dict:
    history: list[dict] = []
    step_seconds = [0.0]
    last = [time.perf_counter()]

    def on_event(event) -> None:
        now = time.perf_counter()
        if event.kind == "step":
            step_seconds[0] += now - last[0]
        elif event.kind == "epoch":
            history.append(event.metrics)
            print(f"  ours {precision} epoch {event.epoch}: mAP {event.metrics['mAP']:.3f} AP50 {event.metrics['AP50']:.3f}", flush=True)
        last[0] = now

    trainer = make_trainer(args, train, val, precision, run_dir, on_event)
    last[0] = time.perf_counter()
    trainer.run()
    return {"train_s": step_seconds[0], "images": trainer.total_steps * args.batch_size, "history": history}


@torch.no_grad()
def evaluate_torchvision(model: nn.Module, val: DataSource, classes) -> EvalResult:
    model.eval()
    detections = []
    for image in val.labels.images:
        pixels = torch.from_numpy(load_image(val.image_root / image.file_name)).permute(2, 0, 1).float() / 255
        out = model([pixels])[0]
        for box, score, label in zip(out["boxes"].tolist(), out["scores"].tolist(), out["labels"].tolist()):
            detections.append(Detection(image.id, *box, score, classes[label].id))
    return coco_evaluate(val.labels, detections)


def run_torchvision(args, train: DataSource, val: DataSource, run_dir: Path) -> dict:
    # Our trainer builds the start weights, the dataset and the sampler; torchvision trains from them.
    ours = make_trainer(args, train, val, "fp32", run_dir)
    config = ours.config
    model = torchvision_mobilenet_retinanet(len(ours.classes), args.fpn_channels)
    model.load_state_dict(ours.model.state_dict())
    trainable = {name for name, p in ours.model.named_parameters() if p.requires_grad}
    for name, p in model.named_parameters():
        p.requires_grad_(name in trainable)
    optimizer = _optimizer(model, config)
    history, train_s, step = [], 0.0, 0
    for epoch in range(config.epochs):
        ours.dataset.set_epoch(epoch)
        ours.sampler.set_epoch(epoch, 0)
        loader = torch.utils.data.DataLoader(ours.dataset, batch_sampler=ours.sampler, collate_fn=collate)
        model.train()
        start = time.perf_counter()
        for batch in loader:
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _lr_factor(step, ours.total_steps, config)
            images = [batch.images[i, :, :h, :w] * STD + MEAN for i, (h, w) in enumerate(batch.sizes)]
            targets = [{"boxes": b, "labels": lab} for b, lab in zip(batch.boxes, batch.labels)]
            losses = model(images, targets)
            optimizer.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
        train_s += time.perf_counter() - start
        metrics = evaluate_torchvision(model, val, ours.classes).to_json()
        history.append(metrics)
        print(f"  torchvision epoch {epoch + 1}: mAP {metrics['mAP']:.3f} AP50 {metrics['AP50']:.3f}", flush=True)
    return {"train_s": train_s, "images": ours.total_steps * args.batch_size, "history": history}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--fpn-channels", type=int, default=128)
    parser.add_argument("--runs", default="torchvision,bf16,fp32")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training and validation images (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    hub = scratch_dir("retina-equal-settings-") / "hub"  # torchvision's weights API reads the shared ImageNet file offline
    (hub / "checkpoints").mkdir(parents=True)
    shutil.copyfile(IMAGENET_WEIGHTS, hub / "checkpoints" / IMAGENET_WEIGHTS.name)
    torch.hub.set_dir(str(hub))

    def source(split: str) -> DataSource:
        labels = read_coco(CHESS / split / "_annotations.coco.json")
        if args.limit:
            labels = labels.subset({im.id for im in labels.images[: args.limit]})
        return DataSource(labels, CHESS / split)

    train, val = source("train"), source("valid")
    results: dict[str, dict] = {}
    for run in args.runs.split(","):
        print(f"{run}: {args.epochs} epochs", flush=True)
        run_dir = scratch_dir("retina-equal-settings-")
        results[run] = run_torchvision(args, train, val, run_dir) if run == "torchvision" else run_ours(args, train, val, run, run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)  # (its checkpoints: one run's on disk at a time)
    reference = results.get("torchvision")
    rows = []
    for run, r in results.items():
        final = r["history"][-1]
        rate = r["images"] / r["train_s"]
        speedup = rate / (reference["images"] / reference["train_s"]) if reference else float("nan")
        delta = 100 * (final["mAP"] - reference["history"][-1]["mAP"]) if reference else float("nan")
        name = "torchvision fp32" if run == "torchvision" else f"ours {run}"
        rows.append([name, r["train_s"] / 60, rate, speedup, final["mAP"], final["AP50"], max(h["mAP"] for h in r["history"]), delta])
    print_table(f"Equal settings, MobileNetV2-FPN ({args.fpn_channels} ch), chess train -> valid, {args.epochs} epochs, batch {args.batch_size}, 512 short side, CPU",
                ["run", "train min", "images/s", "speed-up", "final mAP", "final AP50", "best mAP", "mAP - torchvision (points)"], rows)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
