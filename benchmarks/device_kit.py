"""Build `.device-kit/` (git-ignored): what the CUDA checks need on the lent GPU machine beside the
working tree, within its 64 MiB transfer limit.

    .venv/bin/python benchmarks/device_kit.py      # here, once; then see benchmarks/gpu_checks.sh

That machine's python3 has torch, torchvision, pytest and safetensors but no pycocotools, cannot
download, and does not get ../shared. The kit holds a pycocotools wheel for its Python 3.12 and a
copy of the shared files the checks read: sample_photos, the ImageNet MobileNetV2 weights, and
chess train and valid with their images downscaled to 768 px (boxes scaled to match). The recipes
train and evaluate at 512 px short side / 768 px long side, so they see nearly the same pixels;
it keeps kit + working tree inside the limit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
KIT = ROOT / ".device-kit"
MAX_SIDE = 768


def download_wheels(dest: Path) -> None:
    dest.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
         "--implementation", "cp", "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
         "-d", str(dest), "pycocotools>=2.0.7"],
        check=True,
    )


def downscale_coco_split(src: Path, dest: Path, max_side: int) -> None:
    dest.mkdir(parents=True)
    coco = json.loads((src / "_annotations.coco.json").read_text())
    factors = {}
    for image in coco["images"]:
        with Image.open(src / image["file_name"]) as im:
            scale = min(1.0, max_side / max(im.size))
            size = (round(im.width * scale), round(im.height * scale))
            im.resize(size, Image.Resampling.LANCZOS).save(dest / image["file_name"], quality=90)
        factors[image["id"]] = (size[0] / image["width"], size[1] / image["height"])
        image["width"], image["height"] = size
    for ann in coco["annotations"]:
        fx, fy = factors[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        ann["bbox"] = [x * fx, y * fy, w * fx, h * fy]
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    (dest / "_annotations.coco.json").write_text(json.dumps(coco))


def main() -> None:
    if KIT.exists():
        shutil.rmtree(KIT)
    download_wheels(KIT / "wheels")
    shared = KIT / "shared"
    shutil.copytree(SHARED / "datasets" / "sample_photos", shared / "datasets" / "sample_photos")
    for split in ("train", "valid"):
        downscale_coco_split(SHARED / "datasets" / "chess" / split, shared / "datasets" / "chess" / split, MAX_SIDE)
    shutil.copytree(SHARED / "weights", shared / "weights")
    size = sum(f.stat().st_size for f in KIT.rglob("*") if f.is_file())
    print(f"{KIT}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
