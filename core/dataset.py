"""Training data: a torch Dataset over a :class:`~core.labels.LabelSet` and its image folder.

Pixels come from :func:`core.images.load_image` (EXIF-oriented RGB, any mode), exactly what the GUI
shows and exports. Crowd boxes become ignore regions; images without boxes stay as negatives.
Augmentation uses ``torchvision.transforms.v2`` on ``tv_tensors.BoundingBoxes``, seeded per
(seed, epoch, image) so that every process of a distributed run makes the same choices.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset, Sampler
from torchvision import tv_tensors
from torchvision.transforms import v2

from core.config import PreprocessConfig
from core.images import ImageReadError, image_size, load_image
from core.labels import Category, LabelSet
from core.preprocess import resized_size


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    hflip: float = 0.5
    scale_jitter: tuple[float, float] = (0.8, 1.2)  # factor on the target short side
    photometric: bool = True


@dataclass
class Sample:
    """image [3, h, w] normalised float; boxes [G, 4] xyxy and labels [G] class indices in the
    resized image's pixels; ignore [C, 4] crowd regions."""

    image: Tensor
    boxes: Tensor
    labels: Tensor
    ignore: Tensor
    image_id: int


@dataclass(frozen=True)
class Unreadable:
    """What the dataset gives for an image that fails to decode: the batch goes on without it."""

    message: str


@dataclass
class Batch:
    images: Tensor  # [B, 3, H, W], zero-padded to a multiple of 32 (B may be 0: every image unreadable)
    boxes: list[Tensor]
    labels: list[Tensor]
    ignore: list[Tensor]
    image_ids: list[int]
    sizes: list[tuple[int, int]]  # (h, w) of each image before padding (the benchmarks crop them for torchvision's model)
    unreadable: list[Unreadable] = field(default_factory=list)

    def pin_memory(self) -> Batch:
        """The batch in page-locked memory (the DataLoader's ``pin_memory``): copied to a GPU without
        holding up the step that queues the copy (a pageable copy waits for it, 2 ms a step at batch 4)."""
        return replace(self, images=self.images.pin_memory(), boxes=[b.pin_memory() for b in self.boxes],
                       labels=[lab.pin_memory() for lab in self.labels], ignore=[r.pin_memory() for r in self.ignore])


CACHE_BYTES = 2 << 30  # decoded training images kept in memory


class DetectionDataset(Dataset):
    def __init__(
        self,
        labels: LabelSet,
        image_root: Path | str,
        classes: list[Category],
        *,
        preprocess: PreprocessConfig,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.entries = labels.images
        self.root = Path(image_root)
        self.class_index = {c.id: i for i, c in enumerate(classes)}
        self.preprocess = preprocess
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        # decoded images, shrunk to the largest size training uses, kept up to ``cache_bytes`` (the
        # first ones decoded stay: epochs visit every image, so evicting would only churn). Unbounded,
        # 10,000 images at 512 px took 17 GB.
        self._cache: dict[int, tuple[Tensor, float]] = {}
        self._cache_left = cache_bytes
        self._mean = torch.tensor(preprocess.mean).view(3, 1, 1)
        self._std = torch.tensor(preprocess.std).view(3, 1, 1)
        high = augment.scale_jitter[1] if augment else 1.0
        self._cache_config = replace(preprocess, min_size=math.ceil(preprocess.min_size * high), max_size=math.ceil(preprocess.max_size * high))

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def boxes_under_one_pixel(self) -> list[str]:
        """One file name per learnt box (a file twice for two boxes) that comes out under 1 px wide
        or high at the training size without scale jitter: the sanitising step drops such boxes, so
        they teach nothing (jitter may keep the largest of them in some epochs)."""
        small = []
        for e in self.entries:
            if not e.width or not e.height:
                continue
            nh, nw = resized_size(e.height, e.width, self.preprocess)
            fx, fy = nw / e.width, nh / e.height
            small += [e.file_name for b in e.boxes
                      if not b.iscrowd and b.category_id in self.class_index and min((b.x2 - b.x1) * fx, (b.y2 - b.y1) * fy) < 1.0]
        return small

    def aspect_ratios(self) -> list[float]:
        return [e.width / e.height if e.height else 1.0 for e in self.entries]

    def _decoded(self, index: int) -> tuple[Tensor, tuple[float, float]]:
        """uint8 [3, H, W] at the largest size training can use, and its factors (x, y) from original
        pixels (one for both put a box on the bottom edge below it: the sizes round apart)."""
        if index in self._cache:
            return self._cache[index]
        array = load_image(self.root / self.entries[index].file_name)
        h, w = array.shape[:2]
        image = torch.from_numpy(array).permute(2, 0, 1)
        nh, nw = resized_size(h, w, self._cache_config)
        factor = (1.0, 1.0)
        if nh < h:  # shrink once; never upscale the cached copy
            image = v2.functional.resize(image, [nh, nw], antialias=self.preprocess.antialias)
            factor = (nw / w, nh / h)
        size = image.numel() * image.element_size()
        if size <= self._cache_left:
            self._cache[index] = (image, factor)
            self._cache_left -= size
        return image, factor

    def __getitem__(self, index: int) -> Sample | Unreadable:
        entry = self.entries[index]
        try:
            image, factor = self._decoded(index)
        except ImageReadError as exc:  # e.g. truncated after the header: found only when decoded
            return Unreadable(str(exc))
        boxes, labels = [], []
        fx, fy = factor
        for box in entry.boxes:
            if box.iscrowd:
                label = -1
            elif box.category_id in self.class_index:
                label = self.class_index[box.category_id]
            else:
                continue  # a category the model does not learn
            boxes.append([box.x1 * fx, box.y1 * fy, box.x2 * fx, box.y2 * fy])
            labels.append(label)
        h, w = image.shape[-2:]
        target = {
            "boxes": tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), format="XYXY", canvas_size=(h, w)),
            "labels": torch.tensor(labels, dtype=torch.long),
        }
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(hash((self.seed, self.epoch, index)) & 0x7FFFFFFF)
            image, target = self._transform(tv_tensors.Image(image), target)
        x = (image.float() / 255 - self._mean) / self._std
        crowd = target["labels"] < 0
        return Sample(
            x.as_subclass(Tensor),
            target["boxes"][~crowd].as_subclass(Tensor),
            target["labels"][~crowd],
            target["boxes"][crowd].as_subclass(Tensor),
            entry.id,
        )

    def _transform(self, image: tv_tensors.Image, target: dict) -> tuple[Tensor, dict]:
        config = self.preprocess
        if self.augment is not None:
            low, high = self.augment.scale_jitter
            f = torch.empty(()).uniform_(low, high).item()
            config = replace(config, min_size=round(config.min_size * f), max_size=round(config.max_size * f))
        size = resized_size(image.shape[-2], image.shape[-1], config)
        steps: list = [v2.Resize(size, antialias=config.antialias)]
        if self.augment is not None:
            if self.augment.hflip > 0:
                steps.append(v2.RandomHorizontalFlip(self.augment.hflip))
            if self.augment.photometric:
                steps.append(v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02))
        # clipped first: SanitizeBoundingBoxes drops a box with a corner off the image, and labels drawn a
        # fraction of a pixel outside it (other tools, accepted predictions) would teach nothing
        steps += [v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=1.0)]
        return v2.Compose(steps)(image, target)


def collate(items: list[Sample | Unreadable], size_divisible: int = 32) -> Batch:
    samples = [s for s in items if isinstance(s, Sample)]
    unreadable = [s for s in items if isinstance(s, Unreadable)]
    if not samples:
        return Batch(torch.zeros(0, 3, size_divisible, size_divisible), [], [], [], [], [], unreadable)
    ph = math.ceil(max(s.image.shape[1] for s in samples) / size_divisible) * size_divisible
    pw = math.ceil(max(s.image.shape[2] for s in samples) / size_divisible) * size_divisible
    images = torch.stack([F.pad(s.image, (0, pw - s.image.shape[2], 0, ph - s.image.shape[1])) for s in samples])
    return Batch(
        images,
        [s.boxes for s in samples],
        [s.labels for s in samples],
        [s.ignore for s in samples],
        [s.image_id for s in samples],
        [tuple(s.image.shape[1:]) for s in samples],
        unreadable,
    )


def check_image_folder(labels: LabelSet, image_root: Path | str, flag: str = "") -> None:
    """A ValueError when none of the images of ``labels`` is in ``image_root``: the folder is the
    wrong one (said once, instead of "no such file" for every image). ``flag``: the command-line
    option that names the folder."""
    root = Path(image_root)
    if labels.images and not any((root / entry.file_name).exists() for entry in labels.images):
        fix = f"give their folder with {flag}" if flag else "is that their folder?"
        raise ValueError(f"none of the {len(labels.images)} images of the labels is in {root} "
                         f"(the first would be {root / labels.images[0].file_name}): {fix}")


def readable(labels: LabelSet, image_root: Path | str) -> tuple[LabelSet, list[str], list[tuple[str, tuple[int, int], tuple[int, int]]]]:
    """``labels`` without the images whose file is missing or not an image (read from the header
    only, so it is fast), a message for each one left out, and (file_name, the labels' (w, h), the
    image's (w, h)) of each image kept whose size (EXIF orientation applied) is not the one its
    labels give (:func:`core.evaluate.size_notes` words them)."""
    root = Path(image_root)
    kept, problems, resized = [], [], []
    for entry in labels.images:
        try:
            width, height = image_size(root / entry.file_name)
        except ImageReadError as exc:
            problems.append(str(exc))
        else:
            kept.append(entry)
            if entry.width > 0 and (entry.width, entry.height) != (width, height):
                resized.append((entry.file_name, (entry.width, entry.height), (width, height)))
    return LabelSet(labels.categories, kept, labels.extra), problems, resized


class GroupedBatchSampler(Sampler[list[int]]):
    """Batches of images with the same orientation (landscape / portrait), so padding wastes little.

    The order depends only on (seed, epoch). With ``world_size`` > 1 each global batch of
    ``batch_size * world_size`` images is split across ranks, so N processes see exactly the images
    of a one-process run with the same global batch. ``skip`` drops the first batches of the epoch
    (resuming mid-epoch).
    """

    def __init__(self, aspect_ratios: list[float], batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 world_size: int = 1, rank: int = 0) -> None:
        self.groups = [[i for i, r in enumerate(aspect_ratios) if (r >= 1) == landscape] for landscape in (True, False)]
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.world_size, self.rank = world_size, rank
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def global_batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        size = self.batch_size * self.world_size
        batches = []
        for group in self.groups:
            order = list(group)
            if self.shuffle:
                rng.shuffle(order)
            batches += [order[i : i + size] for i in range(0, len(order), size)]
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches()[self.skip :]:
            part = batch[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
            yield part or batch[-1:]  # a short last batch still gives every rank an image

    def __len__(self) -> int:
        return len(self.global_batches()) - self.skip
