"""Build resources/demo/ from the chess valid split: 8 images downscaled to <= 1024 px, with labels.

    .venv/bin/python resources/make_demo.py ../shared/datasets/chess/valid
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.formats.coco import read_coco, write_coco  # noqa: E402
from core.images import load_image  # noqa: E402
from core.labels import Box, ImageEntry, LabelSet  # noqa: E402

MAX_SIDE = 1024
COUNT = 8


def main(source: Path, target: Path) -> None:
    labels = read_coco(source / "_annotations.coco.json")
    # Greedy pick: each next image adds the most classes not yet shown.
    chosen: list[ImageEntry] = []
    seen: Counter = Counter()
    pool = sorted(labels.images, key=lambda im: im.file_name)
    while len(chosen) < COUNT:
        best = max(pool, key=lambda im: (len({b.category_id for b in im.boxes} - set(seen)), len(im.boxes)))
        pool.remove(best)
        chosen.append(best)
        seen.update(b.category_id for b in best.boxes)
    target.mkdir(parents=True, exist_ok=True)
    images = []
    for i, im in enumerate(chosen, start=1):
        pixels = Image.fromarray(load_image(source / im.file_name))
        scale = min(1.0, MAX_SIDE / max(pixels.size))
        size = (round(pixels.width * scale), round(pixels.height * scale))
        name = f"chess_{i:02d}.jpg"
        pixels.resize(size, Image.LANCZOS).save(target / name, quality=88)
        sx, sy = size[0] / pixels.width, size[1] / pixels.height
        boxes = [Box(b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy, b.category_id) for b in im.boxes]
        images.append(ImageEntry(i, name, size[0], size[1], boxes))
    used = {b.category_id for im in images for b in im.boxes}
    categories = [c for c in labels.categories if c.id in used]
    write_coco(LabelSet(categories, images), target / "annotations.coco.json")
    print(f"{len(images)} images, {sum(len(im.boxes) for im in images)} boxes, classes: {sorted(c.name for c in categories)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent / "demo")
