import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.boxes import BoxCoder, clip_boxes
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
