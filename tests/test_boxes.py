import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.boxes import BoxCoder, class_aware_nms, clip_boxes
from core.config import BoxCoderConfig

coords = st.floats(min_value=0, max_value=1000, allow_nan=False)
sides = st.floats(min_value=1, max_value=500, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(coords, coords, sides, sides, coords, coords, sides, sides)
def test_encode_decode_round_trip(x, y, w, h, ax, ay, aw, ah):
    coder = BoxCoder()
    box = torch.tensor([[x, y, x + w, y + h]], dtype=torch.float64)
    anchor = torch.tensor([[ax, ay, ax + aw, ay + ah]], dtype=torch.float64)
    back = coder.decode(coder.encode(box, anchor), anchor)
    torch.testing.assert_close(back, box, rtol=1e-9, atol=1e-6)


def test_encode_uses_seed_std():
    anchor = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    box = torch.tensor([[1.0, 0.0, 11.0, 20.0]])
    deltas = BoxCoder().encode(box, anchor)
    # dx = 1/10 / 0.1, dy = 5/10 / 0.1, dw = log(1) / 0.2, dh = log(2) / 0.2
    torch.testing.assert_close(deltas, torch.tensor([[1.0, 5.0, 0.0, math.log(2) / 0.2]]))


def test_decode_clamp_limits_growth_only_when_configured():
    anchor = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    huge = torch.tensor([[0.0, 0.0, 20.0, 20.0]])
    unclamped = BoxCoder(BoxCoderConfig(std=(1, 1, 1, 1))).decode(huge, anchor)
    clamped = BoxCoder(BoxCoderConfig(std=(1, 1, 1, 1), clamp=math.log(1000 / 16))).decode(huge, anchor)
    assert (unclamped[0, 2] - unclamped[0, 0]).item() > 1e9
    assert math.isclose((clamped[0, 2] - clamped[0, 0]).item(), 1000.0, rel_tol=1e-6)


def test_clip_image_and_seed_styles():
    boxes = torch.tensor([[-5.0, -5.0, 120.0, 90.0], [130.0, 95.0, 140.0, 99.0]])
    torch.testing.assert_close(clip_boxes(boxes, 80, 100), torch.tensor([[0.0, 0.0, 100.0, 80.0], [100.0, 80.0, 100.0, 80.0]]))
    # The seed only clamps x1, y1 at 0 and x2, y2 at the far edge: x1 may stay beyond W.
    torch.testing.assert_close(
        clip_boxes(boxes, 80, 100, seed_style=True), torch.tensor([[0.0, 0.0, 100.0, 80.0], [130.0, 95.0, 100.0, 80.0]])
    )


def _greedy_nms_reference(boxes, scores, labels, iou):
    """Greedy NMS per label in float64, scores descending, ties in index order."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        x1, y1, x2, y2 = boxes[i]
        suppressed = False
        for j in kept:
            if labels[j] != labels[i]:
                continue
            a1, b1, a2, b2 = boxes[j]
            inter = max(0.0, min(x2, a2) - max(x1, a1)) * max(0.0, min(y2, b2) - max(y1, b1))
            union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
            if inter / union > iou:
                suppressed = True
                break
        if not suppressed:
            kept.append(i)
    return kept


@pytest.mark.parametrize("n", [600, 4_500])  # one offset call; the loop over labels (past 1,000 boxes on a CPU)
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
def test_class_aware_nms_is_greedy_nms_per_label_with_ties_in_index_order(n, device):

    g = torch.Generator().manual_seed(n)
    xy = torch.rand(n, 2, generator=g) * 400
    boxes = torch.cat([xy, xy + 20 + torch.rand(n, 2, generator=g) * 60], 1)
    scores = (torch.rand(n, generator=g) * 4).round() / 4  # ties everywhere, as bf16 scores have many
    labels = torch.randint(0, 6 if n < 1000 else 40, (n,), generator=g)
    for iou in (0.5, 0.45):  # 0.45 is not a float32: compared as one on either device, as torchvision's CUDA kernel does
        keep = class_aware_nms(boxes.to(device), scores.to(device), labels.to(device), iou).tolist()
        expected = _greedy_nms_reference(boxes.double().tolist(), scores.tolist(), labels.tolist(), float(torch.tensor(iou)))
        assert keep == expected and len(keep) > 50
    on_edge = torch.tensor([[0.0, 0, 100, 10], [0, 0, 45, 10]], device=device)  # IoU 0.45 exactly: over float32's 0.45
    assert class_aware_nms(on_edge, torch.tensor([1.0, 0.5], device=device), torch.zeros(2, dtype=torch.long, device=device), 0.45).tolist() == [0]
    with_nan = torch.cat([boxes[:3], torch.full((1, 4), float("nan")), boxes[:3] + 1]).to(device)  # a NaN box left every box unsuppressed
    kept = class_aware_nms(with_nan, torch.arange(7.0, 0, -1, device=device), torch.zeros(7, dtype=torch.long, device=device), 0.5).tolist()
    assert 3 in kept and {4, 5, 6}.isdisjoint(kept)
    assert class_aware_nms(boxes[:0], scores[:0], labels[:0], 0.5).tolist() == []
