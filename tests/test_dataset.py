import json

import torch

from core.boxes import BoxCoder
from core.config import AssignConfig, LossConfig, PreprocessConfig
from core.dataset import AugmentConfig, DetectionDataset, GroupedBatchSampler, collate
from core.evaluate import coco_evaluate, ground_truth_as_detections
from core.formats.coco import read_coco
from core.labels import Box, Category, ImageEntry, LabelSet
from core.losses import retinanet_loss
from tests.conftest import DATASETS

CHESS = DATASETS / "chess" / "train"
SMALL = PreprocessConfig(min_size=128, max_size=192)


def test_crowd_regions_become_ignore_regions_and_big_ids_are_fine(tmp_path):
    big_id = 908400000643
    data = {
        "images": [{"id": big_id, "file_name": "x.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 0, "name": "thing"}],
        "annotations": [
            {"id": big_id + 1, "image_id": big_id, "category_id": 0, "bbox": [1, 1, 4, 4], "iscrowd": 1, "segmentation": {"counts": "ab", "size": [10, 10]}, "area": 9},
            {"id": big_id + 2, "image_id": big_id, "category_id": 0, "bbox": [5, 5, 3, 3], "iscrowd": 0, "unknown_field": True},
        ],
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    labels = read_coco(path)
    assert labels.images[0].id == big_id
    crowd, box = labels.images[0].boxes
    assert crowd.iscrowd and crowd.segmentation["counts"] == "ab" and not box.iscrowd
    assert labels.box_counts() == {0: 1}


def test_dataset_gives_resized_boxes_ignore_regions_and_keeps_empty_images():
    labels = read_coco(CHESS / "_annotations.coco.json")
    first = labels.images[0]
    crowd = Box(0, 0, 400, 400, first.boxes[0].category_id, iscrowd=True)
    sliver = Box(10, 10, 10.2, 300, first.boxes[0].category_id)  # degenerate once resized: dropped
    entries = [ImageEntry(first.id, first.file_name, first.width, first.height, [*first.boxes, crowd, sliver]),
               ImageEntry(99, labels.images[1].file_name, labels.images[1].width, labels.images[1].height, [])]
    ds = DetectionDataset(LabelSet(labels.categories, entries), CHESS, [c for c in labels.categories if c.id > 0], preprocess=SMALL)
    sample = ds[0]
    assert sample.image.shape[1:] == (128, 191)
    assert len(sample.boxes) == len(first.boxes) and len(sample.ignore) == 1
    scale = 128 / 1371
    torch.testing.assert_close(sample.boxes[0], torch.tensor([first.boxes[0].x1, first.boxes[0].y1, first.boxes[0].x2, first.boxes[0].y2]) * scale, atol=0.2, rtol=0)
    empty = ds[1]
    assert empty.boxes.shape == (0, 4) and empty.labels.shape == (0,)
    batch = collate([sample, empty])
    assert batch.images.shape == (2, 3, 128, 192)


def test_decoded_images_are_kept_in_memory_up_to_a_budget_and_give_the_same_samples():
    """The cache of decoded images had no bound: 10,000 images at 512 px took 17 GB."""
    labels = read_coco(CHESS / "_annotations.coco.json")
    labels = LabelSet(labels.categories, labels.images[:4])
    classes = [c for c in labels.categories if c.id > 0]
    one_image = 3 * 128 * 191  # bytes of a decoded image at SMALL's size (uint8)
    budget = DetectionDataset(labels, CHESS, classes, preprocess=SMALL, cache_bytes=2 * one_image)
    none = DetectionDataset(labels, CHESS, classes, preprocess=SMALL, cache_bytes=0)
    for k in range(4):
        assert torch.equal(budget[k].image, none[k].image) and torch.equal(budget[k].boxes, none[k].boxes)
    assert sorted(budget._cache) == [0, 1] and not none._cache
    assert torch.equal(budget[0].image, none[0].image)  # from the cache, the same


def test_augmentation_is_repeatable_per_epoch_and_keeps_boxes_on_the_image():
    labels = read_coco(CHESS / "_annotations.coco.json")
    ds = DetectionDataset(labels.subset({labels.images[0].id}), CHESS, [c for c in labels.categories if c.id > 0], preprocess=SMALL, augment=AugmentConfig(), seed=3)
    a, b = ds[0], ds[0]
    assert torch.equal(a.image, b.image) and torch.equal(a.boxes, b.boxes)
    ds.set_epoch(1)
    c = ds[0]
    assert not torch.equal(a.image, c.image) or not torch.equal(a.boxes, c.boxes)
    h, w = c.image.shape[1:]
    assert (c.boxes[:, [0, 2]] <= w).all() and (c.boxes[:, [1, 3]] <= h).all() and (c.boxes >= 0).all()


def test_grouped_batches_share_orientation_and_split_across_ranks():
    ratios = [1.5, 0.7, 1.5, 1.5, 0.7, 1.5, 0.7, 1.5]
    sampler = GroupedBatchSampler(ratios, 2, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(8))
    assert all(len({ratios[i] >= 1 for i in b}) == 1 for b in batches)
    ranks = [list(GroupedBatchSampler(ratios, 1, seed=1, world_size=2, rank=r)) for r in (0, 1)]
    global_batches = GroupedBatchSampler(ratios, 2, seed=1).global_batches()
    for g, r0, r1 in zip(global_batches, *ranks):
        assert r0 + (r1 if len(g) > 1 else []) == g


def test_anchors_inside_crowd_regions_are_not_negatives():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0], [100.0, 100.0, 110.0, 110.0]])
    logits = torch.zeros(1, 3, 2)
    args = dict(coder=BoxCoder(), assign_config=AssignConfig(), loss_config=LossConfig())
    boxes, labels = [torch.tensor([[0.0, 0.0, 10.0, 10.0]])], [torch.tensor([1])]
    plain = retinanet_loss(logits, torch.zeros(1, 3, 4), anchors, boxes, labels, **args)
    crowd = retinanet_loss(logits, torch.zeros(1, 3, 4), anchors, boxes, labels, ignore_boxes=[torch.tensor([[45.0, 45.0, 65.0, 65.0]])], **args)
    assert plain.num_positives == crowd.num_positives == 1
    # one negative anchor (of two) is now ignored: its focal loss no longer counts
    assert crowd.classification < plain.classification


def test_evaluation_of_an_image_with_more_than_100_boxes():
    boxes = [Box(x * 10.0, y * 10.0, x * 10.0 + 8, y * 10.0 + 8, 1) for x in range(15) for y in range(10)]
    labels = LabelSet([Category(1, "dot")], [ImageEntry(0, "a.jpg", 200, 200, boxes)])
    result = coco_evaluate(labels, ground_truth_as_detections(labels))
    assert len(boxes) == 150 and result.mAP == 1.0 and result.per_class == {"dot": 1.0}


def test_boxes_on_the_image_edge_or_a_little_outside_it_are_trained_on(tmp_path):
    """torchvision's SanitizeBoundingBoxes drops a box with a corner off the canvas: a box touching
    the bottom edge came out 1e-5 px below it (the cached copy's one factor for x and y) and was
    dropped, and so was a box drawn 0.4 px outside by another tool. They are clipped now."""
    import numpy as np
    from PIL import Image

    width, height = 1000, 750
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(tmp_path / "a.png")
    boxes = [Box(600, 100, 1000, 750, 1), Box(0, 0, 300, 200, 1), Box(-0.4, 300, 200, 500, 1), Box(400, 300, 600, 500, 1)]
    labels = LabelSet([Category(1, "x")], [ImageEntry(1, "a.png", width, height, boxes)])
    for preprocess in (PreprocessConfig(min_size=608, max_size=1024), PreprocessConfig(min_size=512, max_size=1333, size_rounding="floor")):
        for augment in (None, AugmentConfig(photometric=False)):
            dataset = DetectionDataset(labels, tmp_path, [Category(1, "x")], preprocess=preprocess, augment=augment)
            for epoch in range(3):
                dataset.set_epoch(epoch)
                sample = dataset[0]
                h, w = sample.image.shape[1:]
                assert len(sample.boxes) == 4, (preprocess, augment, epoch)
                assert sample.boxes[:, 0::2].min() >= 0 and sample.boxes[:, 2].max() <= w and sample.boxes[:, 3].max() <= h
