"""bf16 vs fp32 detections of a trained model on real photos: the share of fp32 detections that bf16
keeps (same class, IoU >= 0.9, score within 0.02), and the time of each.

    .venv/bin/python benchmarks/bench_precision.py [--weights resources/models/demo_chess_mobilenet_v2.safetensors]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import DEMO_MODEL, median_time, print_table  # noqa: E402
from core.detector import Detector  # noqa: E402
from core.images import list_images, load_image  # noqa: E402
from core.review import count_twins  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VALID = ROOT.parent / "shared" / "datasets" / "chess" / "valid"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=str(DEMO_MODEL))
    parser.add_argument("--images", default=str(VALID))
    parser.add_argument("--score-thresh", type=float, default=0.3, help="detections that matter to a user")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    fp32 = Detector.from_file(args.weights, device="cpu", precision="fp32")
    bf16 = Detector.from_file(args.weights, device="cpu", precision="bf16")
    for d in (fp32, bf16):
        d.postprocess_config = replace(d.postprocess_config, score_thresh=args.score_thresh)
    total = same = n_low = 0
    paths = list_images([args.images])
    for path in paths:
        image = load_image(path)
        ref, low = fp32.detect([image])[0], bf16.detect([image])[0]
        total += len(ref)
        n_low += len(low)
        same += count_twins(ref, low)
    image = load_image(paths[0])
    t32 = median_time(lambda: fp32.detect([image]), 5)
    t16 = median_time(lambda: bf16.detect([image]), 5)
    print_table(f"{Path(args.weights).name} on {len(paths)} photos of {args.images} (score > {args.score_thresh})",
                ["precision", "detections", "kept vs fp32", "ms per image", "speed-up"],
                [["fp32", total, 1.0, t32 * 1e3, 1.0], ["bf16", n_low, same / max(1, total), t16 * 1e3, t32 / t16]])


if __name__ == "__main__":
    main()
