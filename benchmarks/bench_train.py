"""Training throughput: our trainer's step vs torchvision's RetinaNet training step on the same
MobileNetV2-FPN backbone (P3-P7, 256 channels), input size and batch, on the same chess images.

    .venv/bin/python benchmarks/bench_train.py [--steps 6] [--device cpu] [--batch-size 4]

Both run forward, loss, backward and an optimizer step; torchvision in fp32 eager; ours in fp32 and
in bf16 autocast (and fp16 on CUDA). Frozen BatchNorm and the first backbone stage frozen in both.
On CUDA ours loads batches in 4 worker processes, as `retina train --workers` does: torchvision's
steps are timed on batches decoded beforehand, so loading on the main thread would count against
ours alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import print_table, scratch_dir, torchvision_mobilenet_retinanet  # noqa: E402
from core.config import PreprocessConfig  # noqa: E402
from core.dataset import DetectionDataset, collate  # noqa: E402
from core.formats.coco import read_coco  # noqa: E402
from core.train import DataSource, TrainConfig, Trainer, training_classes  # noqa: E402

CHESS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "chess" / "train"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=4, help="4: the CPU default of Train; 8: its GPU default")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    if args.device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    labels = read_coco(CHESS / "_annotations.coco.json")
    batch_size = args.batch_size
    steps = min(args.steps, len(labels.images) // batch_size - 2)  # (202 chess images: 23 timed steps at batch 8)
    data = DataSource(labels.subset({im.id for im in labels.images[: batch_size * (steps + 2)]}), CHESS)
    rows = []

    def timed_ours(precision: str) -> float:
        config = TrainConfig(epochs=1, batch_size=batch_size, image_size=512, max_size=768, precision=precision,
                             num_workers=4 if cuda else 0, augment=None, validate=False, freeze_bn=True, frozen_stages=1)
        times: list[float] = []
        trainer = Trainer(train_data=data, val_data=None, run_dir=scratch_dir("retina-bench-train-"), config=config, backbone="mobilenet_v2",
                          fpn_channels=256, device=args.device, on_event=lambda e: e.kind == "step" and times.append(time.perf_counter()))
        trainer.run()
        return (times[-1] - times[1]) / (len(times) - 2)  # the first two steps decode and warm up

    tv = torchvision_mobilenet_retinanet(14, 256)
    for block in (tv.backbone.body["0"], tv.backbone.body["1"]):  # the first stage frozen, as ours
        block.requires_grad_(False)
    tv = tv.to(args.device).train()
    optimizer = torch.optim.SGD([p for p in tv.parameters() if p.requires_grad], lr=0.001, momentum=0.9)
    ds = DetectionDataset(data.labels, data.image_root, training_classes(data.labels), preprocess=PreprocessConfig(min_size=512, max_size=768))
    step_times = []
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    for step in range(steps + 2):
        batch = collate([ds[i] for i in range(step * batch_size, (step + 1) * batch_size)])
        images = [(batch.images[i, :, : h, : w] * std + mean).to(args.device) for i, (h, w) in enumerate(batch.sizes)]
        targets = [{"boxes": b.to(args.device), "labels": lab.to(args.device) + 1} for b, lab in zip(batch.boxes, batch.labels)]
        start = time.perf_counter()
        losses = tv(images, targets)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()  # ours waits for its loss values each step
        if step >= 2:
            step_times.append(time.perf_counter() - start)
    t_tv = sum(step_times) / len(step_times)
    rows.append(["torchvision RetinaNet fp32", t_tv, batch_size / t_tv, 1.0])
    for precision in ("fp32", "bf16", "fp16") if cuda else ("fp32", "bf16"):
        t = timed_ours(precision)
        rows.append([f"ours {precision}", t, batch_size / t, t_tv / t])
    print_table(f"Training step, MobileNetV2-FPN (256 ch, P3-P7), batch {batch_size}, 512 short side ({args.device})",
                ["implementation", "s/step", "images/s", "speed-up"], rows)


if __name__ == "__main__":
    main()
