import numpy as np
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator as TorchvisionAnchors
from torchvision.models.detection.image_list import ImageList

from core.anchors import AnchorGenerator, base_anchors
from core.config import AnchorConfig

# The 9 base anchors of level 3 printed in the seed analysis (xyxy).
SEED_LEVEL3 = np.array([
    [-22.627417, -11.3137085, 22.627417, 11.3137085],
    [-28.50875898, -14.25437949, 28.50875898, 14.25437949],
    [-35.91878555, -17.95939277, 35.91878555, 17.95939277],
    [-16.0, -16.0, 16.0, 16.0],
    [-20.1587368, -20.1587368, 20.1587368, 20.1587368],
    [-25.39841683, -25.39841683, 25.39841683, 25.39841683],
    [-11.3137085, -22.627417, 11.3137085, 22.627417],
    [-14.25437949, -28.50875898, 14.25437949, 28.50875898],
    [-17.95939277, -35.91878555, 17.95939277, 35.91878555],
])
SEED_GRIDS = [(40, 40), (20, 20), (10, 10), (5, 5), (3, 3)]


def test_seed_base_anchors_match_the_reference_numbers():
    np.testing.assert_allclose(base_anchors(AnchorConfig(), 0).numpy(), SEED_LEVEL3, rtol=0, atol=1e-5)


def test_seed_anchor_count_for_320_input():
    gen = AnchorGenerator(AnchorConfig())
    anchors = gen((320, 320), SEED_GRIDS)
    assert gen.num_anchors_per_level(SEED_GRIDS) == [14400, 3600, 900, 225, 81]
    assert anchors.shape == (19206, 4)


def _seed_reference_level(stride: int, grid: tuple[int, int], base: np.ndarray) -> np.ndarray:
    # The seed's shift(): centres at (k + 0.5) * stride, location-major then anchor, float64.
    sx = (np.arange(grid[1]) + 0.5) * stride
    sy = (np.arange(grid[0]) + 0.5) * stride
    sx, sy = np.meshgrid(sx, sy)
    shifts = np.vstack((sx.ravel(), sy.ravel(), sx.ravel(), sy.ravel())).transpose()
    return (base.reshape((1, 9, 4)) + shifts.reshape((1, -1, 4)).transpose((1, 0, 2))).reshape((-1, 4))


def test_seed_anchor_positions_match_the_reference_shift():
    gen = AnchorGenerator(AnchorConfig())
    anchors = gen((320, 320), SEED_GRIDS).numpy()
    expected = [
        _seed_reference_level(2 ** (3 + i), g, base_anchors(AnchorConfig(), i).double().numpy())
        for i, g in enumerate(SEED_GRIDS)
    ]
    np.testing.assert_allclose(anchors, np.concatenate(expected).astype(np.float32), rtol=0, atol=1e-4)


def test_torchvision_style_equals_torchvision_anchor_generator():
    sizes = tuple((x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in [32, 64, 128, 256, 512])
    tv = TorchvisionAnchors(sizes, ((0.5, 1.0, 2.0),) * 5)
    padded = (800, 1088)
    grids = [(100, 136), (50, 68), (25, 34), (13, 17), (7, 9)]
    feats = [torch.zeros(1, 1, *g) for g in grids]
    expected = tv(ImageList(torch.zeros(1, 3, *padded), [padded]), feats)[0]
    ours = AnchorGenerator(AnchorConfig(style="torchvision"))(padded, grids)
    torch.testing.assert_close(ours, expected, rtol=0, atol=0)


def test_anchors_are_cached_per_shape_and_device():
    gen = AnchorGenerator()
    assert gen((320, 320), SEED_GRIDS) is gen((320, 320), SEED_GRIDS)
    assert gen((320, 320), SEED_GRIDS) is not gen((352, 320), [(44, 40), (22, 20), (11, 10), (6, 5), (3, 3)])
