"""Where a CUDA training step and a batch-8 inference spend their time, for the GPU checks
(benchmarks/gpu_checks.sh runs it).

    python3 benchmarks/gpu_profile.py --device cuda      # on the lent GPU machine
    .venv/bin/python benchmarks/gpu_profile.py --device cpu --quick   # here: the script itself works

1. The first training step at an input shape not seen before, against the second at that shape,
   for bf16/fp32 and channels_last on/off (training with scale jitter meets dozens of shapes).
2. Steady training steps at batch 4 and 16: ours against torchvision's fp32 step, and a profile.
3. Inference, R50-FPN at 800x1333, batch 8: preprocess, network, candidates and filter apart.
(Part 1 is why training and inference run contiguous on CUDA: see core.device.channels_last_by_default.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import print_table, scratch_dir, torchvision_mobilenet_retinanet  # noqa: E402
from core.dataset import Sample, collate  # noqa: E402
from core.formats.coco import read_coco  # noqa: E402
from core.train import DataSource, TrainConfig, Trainer, set_train_mode  # noqa: E402

CHESS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "chess" / "train"


def synthetic_batch(size: int, h: int, w: int, num_classes: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(size):
        xy = torch.rand(6, 2, generator=gen) * torch.tensor([w * 0.7, h * 0.7])
        wh = 16 + torch.rand(6, 2, generator=gen) * min(h, w) * 0.25
        boxes = torch.cat([xy, xy + wh], 1)
        samples.append(Sample(torch.randn(3, h, w, generator=gen), boxes, torch.randint(0, num_classes, (6,), generator=gen), torch.zeros(0, 4), i))
    return collate(samples)


def top_ops(prof, key: str, limit: int = 12) -> str:
    return prof.key_averages().table(sort_by=key, row_limit=limit, max_name_column_width=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="small shapes and few steps (a CPU run of the script)")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    device = torch.device(args.device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    device_key = "self_cuda_time_total" if cuda else "self_cpu_time_total"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    labels = read_coco(CHESS / "_annotations.coco.json")
    data = DataSource(labels, CHESS)
    base = TrainConfig(epochs=1, batch_size=4, image_size=512, max_size=768, validate=False, freeze_bn=True, frozen_stages=1)
    shapes = [(128, 192), (160, 224), (192, 256)] if args.quick else [(512, 768), (544, 800), (576, 864)]

    def trainer(precision: str, channels_last: bool) -> Trainer:
        t = Trainer(train_data=data, val_data=None, run_dir=scratch_dir("retina-gpu-profile-"), backbone="mobilenet_v2", fpn_channels=128, device=args.device,
                    config=replace(base, precision=precision, channels_last=channels_last))
        set_train_mode(t.model, freeze_bn=t.freeze_bn, frozen_stages=t.frozen_stages)  # as run() does each epoch: BatchNorm frozen
        return t

    # 1. new shapes (after a step that starts CUDA, cuBLAS and cuDNN, at a shape none of them meets)
    trainer("fp32", False)._step(synthetic_batch(4, 64, 96, 13, seed=0))
    sync()
    rows = []
    cost: dict[tuple[str, bool], list[float]] = {}
    for precision, channels_last in (("bf16", True), ("bf16", False), ("fp32", True), ("fp32", False)):
        t = trainer(precision, channels_last)
        for h, w in shapes[:2]:
            batch = synthetic_batch(4, h, w, 13, seed=h)
            times = []
            for _ in range(2):
                start = time.perf_counter()
                t._step(batch)
                sync()
                times.append(time.perf_counter() - start)
            cost.setdefault((precision, channels_last), []).append(times[0])
            rows.append([precision, "channels_last" if channels_last else "contiguous", f"{h}x{w}", times[0], times[1]])
    print_table("Training step (MobileNetV2-FPN 128, batch 4): first at a new shape vs second", ["precision", "format", "shape", "first s", "second s"], rows)
    t = trainer("bf16", True)
    h, w = shapes[2]
    batch = synthetic_batch(4, h, w, 13, seed=h)
    with profile(activities=activities) as prof:
        t._step(batch)
        sync()
    print("Profile of a bf16 channels_last step at a new shape, by self CPU time:")
    print(top_ops(prof, "self_cpu_time_total"))

    # 2. steady steps
    rows = []
    steps = 2 if args.quick else 10
    for size in (4, 16):
        batch = synthetic_batch(size, *shapes[0], 13, seed=size)
        for precision, channels_last in (("bf16", False), ("bf16", True), ("fp32", False), ("fp32", True), ("fp16", False)):
            t = trainer(precision, channels_last)
            for _ in range(3):
                t._step(batch)
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                t._step(batch)
            sync()
            per = (time.perf_counter() - start) / steps
            rows.append([size, f"ours {precision} {'channels_last' if channels_last else 'contiguous'}", per, size / per])
            if size == 4 and precision == "bf16" and not channels_last:
                with profile(activities=activities) as prof:
                    for _ in range(3):
                        t._step(batch)
                    sync()
                print("Profile of 3 steady bf16 contiguous steps, batch 4, by self CPU time:")
                print(top_ops(prof, "self_cpu_time_total"))
                print("... and by device time:")
                print(top_ops(prof, device_key, 8))
        tv = torchvision_mobilenet_retinanet(14, 128).to(device).train()
        optimizer = torch.optim.SGD([p for p in tv.parameters() if p.requires_grad], lr=0.001, momentum=0.9)
        mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], device=device).view(3, 1, 1)
        images = [(im.to(device) * std + mean).clamp(0, 1) for im in batch.images]
        targets = [{"boxes": b.to(device), "labels": lab.to(device) + 1} for b, lab in zip(batch.boxes, batch.labels)]

        def tv_step() -> None:
            losses = tv(images, targets)
            optimizer.zero_grad()
            sum(losses.values()).backward()
            optimizer.step()

        for _ in range(3):
            tv_step()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            tv_step()
        sync()
        per = (time.perf_counter() - start) / steps
        rows.append([size, "torchvision fp32", per, size / per])
    print_table(f"Steady training steps at {shapes[0][0]}x{shapes[0][1]} ({args.device})", ["batch", "implementation", "s/step", "images/s"], rows)

    # 3. inference breakdown
    from benchmarks.bench_forward import build
    from core.detector import Detector
    from core.device import autocast
    from core.postprocess import make_candidates
    from core.preprocess import preprocess

    size = (256, 416) if args.quick else (800, 1333)
    tv, ckpt = build(scratch_dir("retina-gpu-profile-"), size)
    det = Detector(ckpt.build_model(), ckpt.spec, device=args.device, precision="bf16")
    det_cl = Detector(ckpt.build_model(), ckpt.spec, device=args.device, precision="bf16", channels_last=True)
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 255, (*size, 3), dtype=np.uint8) for _ in range(8)]
    parts: dict[str, list[float]] = {}

    def timed(name: str, fn):
        sync()
        start = time.perf_counter()
        out = fn()
        sync()
        parts.setdefault(name, []).append(time.perf_counter() - start)
        return out

    for _ in range(4):
        batch_in = timed("preprocess", lambda: preprocess(arrays, det.preprocess_config, det.device))
        x = batch_in.images.contiguous(memory_format=torch.channels_last) if det.channels_last else batch_in.images

        def network(detector: Detector, x: torch.Tensor):
            with torch.inference_mode(), autocast(detector.device, detector.dtype):
                return detector.network(x)

        timed("network, channels_last", lambda: network(det_cl, batch_in.images.contiguous(memory_format=torch.channels_last)))
        out = timed(f"network, {'channels_last' if det.channels_last else 'contiguous'} (the default)", lambda: network(det, x))
        padded = tuple(batch_in.images.shape[-2:])

        def candidates():
            anchors = det.anchor_generator(padded, out.feature_sizes, det.device)
            return make_candidates(out.cls_logits, out.box_deltas, anchors, det.anchor_generator.num_anchors_per_level(out.feature_sizes),
                                   batch_in.sizes, padded, batch_in.scales, coder=det.coder, config=det.postprocess_config,
                                   score_floor=det.postprocess_config.score_thresh)

        cands = timed("candidates", candidates)
        cfg = det.postprocess_config
        timed("filter", lambda: [c.filter(cfg.score_thresh, cfg.nms_thresh, cfg.max_detections) for c in cands])
    rows = [[name, statistics.median(times[1:]) * 1e3] for name, times in parts.items()]
    rows.append(["candidates per image", float(np.mean([len(c) for c in cands]))])
    tv_in = [torch.from_numpy(a).to(device).permute(2, 0, 1).float() / 255 for a in arrays]
    tv = tv.to(device)
    with torch.inference_mode():
        tv(tv_in)
        sync()
        start = time.perf_counter()
        tv(tv_in)
        sync()
    rows.append(["torchvision fp32 whole batch (inputs already on the device)", (time.perf_counter() - start) * 1e3])
    print_table(f"Inference, R50-FPN, batch 8 at {size[0]}x{size[1]}, ours bf16 (ms, median)", ["part", "ms"], rows)
    with profile(activities=activities) as prof:
        det.detect(arrays)
        sync()
    print("Profile of one batch-8 detect, by self CPU time:")
    print(top_ops(prof, "self_cpu_time_total"))

    first = {key: statistics.mean(v) for key, v in cost.items()}
    print(f"first step at a new shape, channels_last over contiguous: bf16 {first[('bf16', True)] / first[('bf16', False)]:.1f}x, "
          f"fp32 {first[('fp32', True)] / first[('fp32', False)]:.1f}x")


if __name__ == "__main__":
    main()
