import torch

from core.assign import IGNORED, NEGATIVE, assign
from core.config import AssignConfig

ANCHORS = torch.tensor([
    [0.0, 0.0, 10.0, 10.0],
    [0.0, 0.0, 10.0, 12.0],
    [20.0, 20.0, 30.0, 30.0],
    [100.0, 100.0, 140.0, 140.0],
    [0.0, 0.0, 10.0, 19.0],
])


def _one(boxes, config=AssignConfig()):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(1, -1, 4)
    return assign(ANCHORS, boxes, torch.ones(boxes.shape[:2], dtype=torch.bool), config)


def test_thresholds_positive_ignored_negative():
    m = _one([[0.0, 0.0, 10.0, 10.0]], AssignConfig(low_quality_matches=False)).matches[0]
    # IoUs: 1.0, 10/12=0.83, 0, 0, 100/190=0.526
    assert m.tolist() == [0, 0, NEGATIVE, NEGATIVE, 0]
    m = _one([[0.0, 0.0, 10.0, 22.0]], AssignConfig(low_quality_matches=False)).matches[0]
    # IoUs: 0.4545, 0.545, 0, 0, 0.8636
    assert m.tolist() == [IGNORED, 0, NEGATIVE, NEGATIVE, 0]


def test_box_whose_best_iou_is_below_half_still_gets_its_best_anchor():
    long_thin = [[100.0, 118.0, 200.0, 122.0]]  # best IoU with anchor 3 is 160/1840 < 0.4
    strict = _one(long_thin, AssignConfig(low_quality_matches=False)).matches[0]
    assert (strict >= 0).sum() == 0
    default = _one(long_thin).matches[0]
    assert default.tolist() == [NEGATIVE, NEGATIVE, NEGATIVE, 0, NEGATIVE]


def test_anchor_best_for_two_boxes_goes_to_the_larger_overlap():
    m = _one([[100.0, 100.0, 110.0, 110.0], [100.0, 100.0, 120.0, 120.0]]).matches[0]
    assert m[3].item() == 1


def test_images_without_boxes_are_all_negative():
    out = assign(ANCHORS, torch.zeros(2, 0, 4), torch.zeros(2, 0, dtype=torch.bool))
    assert (out.matches == NEGATIVE).all() and out.matches.shape == (2, 5)
    padded = torch.zeros(2, 1, 4)
    padded[0, 0] = torch.tensor([0.0, 0.0, 10.0, 10.0])
    valid = torch.tensor([[True], [False]])
    out = assign(ANCHORS, padded, valid)
    assert (out.matches[1] == NEGATIVE).all()
    assert out.matches[0, 0].item() == 0


def test_batched_equals_per_image():
    torch.manual_seed(0)
    anchors = torch.rand(300, 2) * 100
    anchors = torch.cat([anchors, anchors + torch.rand(300, 2) * 40 + 2], 1)
    boxes = torch.rand(3, 4, 2) * 100
    boxes = torch.cat([boxes, boxes + torch.rand(3, 4, 2) * 40 + 2], 2)
    valid = torch.tensor([[True] * 4, [True, True, False, False], [False] * 4])
    batched = assign(anchors, boxes, valid).matches
    for i in range(3):
        single = assign(anchors, boxes[i : i + 1, valid[i]], torch.ones(1, int(valid[i].sum()), dtype=torch.bool)).matches
        assert torch.equal(batched[i], single[0])
