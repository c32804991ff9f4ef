import numpy as np
import pytest
import torch
from torchvision.ops import nms

from core.boxes import BoxCoder
from core.config import PostprocessConfig
from core.detector import Detector
from core.images import load_image
from core.postprocess import make_candidates
from tests.conftest import PHOTOS


def _random_head(batch=3, per_level=(900, 225, 63), classes=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = sum(per_level)
    xy = torch.rand(a, 2, generator=g) * 300
    anchors = torch.cat([xy, xy + 10 + torch.rand(a, 2, generator=g) * 80], 1)
    logits = torch.randn(batch, a, classes, generator=g) * 2 - 2
    deltas = torch.randn(batch, a, 4, generator=g) * 0.5
    return logits, deltas, anchors, list(per_level)


def _candidates(logits, deltas, anchors, per_level, config, floor):
    n = logits.shape[0]
    return make_candidates(
        logits, deltas, anchors, per_level, [(300, 320)] * n, (320, 320), [(2.0, 2.5)] * n,
        coder=BoxCoder(), config=config, score_floor=floor,
    )


@pytest.mark.parametrize("config", [PostprocessConfig(), PostprocessConfig(topk_per_level=None, max_detections=None, clip="seed_padded")])
def test_batched_equals_per_image(config):
    logits, deltas, anchors, per_level = _random_head()
    batched = _candidates(logits, deltas, anchors, per_level, config, 0.05)
    for i in range(3):
        (single,) = _candidates(logits[i : i + 1], deltas[i : i + 1], anchors, per_level, config, 0.05)
        a = batched[i].filter(0.05, 0.5, config.max_detections)
        b = single.filter(0.05, 0.5, config.max_detections)
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_refiltering_cached_candidates_equals_a_fresh_run():
    logits, deltas, anchors, per_level = _random_head(seed=3)
    config = PostprocessConfig(topk_per_level=200)
    cached = _candidates(logits, deltas, anchors, per_level, config, 0.01)
    for score, iou in [(0.05, 0.5), (0.2, 0.3), (0.5, 0.7)]:
        fresh = _candidates(logits, deltas, anchors, per_level, config, score)
        for c, f in zip(cached, fresh):
            a, b = c.filter(score, iou, 300), f.filter(score, iou, 300)
            assert len(a) > 0
            np.testing.assert_array_equal(a.boxes, b.boxes)
            np.testing.assert_array_equal(a.scores, b.scores)


def test_class_aware_nms_equals_a_per_class_loop_and_scales_to_image_pixels():
    logits, deltas, anchors, per_level = _random_head(batch=1, seed=5)
    config = PostprocessConfig(topk_per_level=None, max_detections=None)
    (cand,) = _candidates(logits, deltas, anchors, per_level, config, 0.05)
    ours = cand.filter(0.05, 0.5, None)
    expected = []
    for k in range(logits.shape[2]):
        sel = np.flatnonzero(cand.labels == k)
        keep = nms(torch.from_numpy(cand.boxes[sel]), torch.from_numpy(cand.scores[sel]), 0.5).numpy()
        expected.extend(sel[keep].tolist())
    assert sorted(ours.candidate_index.tolist()) == sorted(expected)
    np.testing.assert_allclose(ours.boxes, cand.boxes[ours.candidate_index] * np.array([2.0, 2.5, 2.0, 2.5]), rtol=1e-6)
    assert np.all(np.diff(ours.scores) <= 0)


def test_detector_threshold_and_cap(tiny_checkpoint):
    det = Detector.from_file(tiny_checkpoint, device="cpu", precision="fp32")
    image = load_image(PHOTOS / "skimage" / "coffee.png")
    (cand,) = det.candidates([image], score_floor=0.01)
    loose = cand.filter(0.01, 0.9, None)
    capped = cand.filter(0.01, 0.9, 5)
    strict = cand.filter(0.3, 0.5, None)
    assert len(loose) > len(strict) and len(capped) == 5
    assert (strict.scores > 0.3).all()
    h, w = image.shape[:2]
    assert loose.boxes[:, [0, 2]].max() <= w + 1e-3 and loose.boxes[:, [1, 3]].max() <= h + 1e-3


def test_score_filtering_from_the_cached_nms_list_equals_thresholding_first():
    """Greedy NMS decides each box from higher-scoring boxes only, so the cached first-N kept list
    gives exactly threshold -> NMS -> cap at every score threshold."""
    import numpy as np
    from torchvision.ops import batched_nms

    from core.detections import Candidates

    rng = np.random.default_rng(3)
    n = 6000
    xy = rng.uniform(0, 300, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (n, 2))], 1).astype(np.float32)
    scores = rng.uniform(0.05, 1, n).astype(np.float32)
    labels = rng.integers(0, 4, n)
    cand = Candidates(boxes, scores, labels, np.arange(n), np.zeros(n, np.int64), (2.0, 2.0), 0.05)
    for nms_iou in (0.3, 0.5, 0.7):
        for thresh in (0.05, 0.2, 0.5, 0.9, 0.99):
            for cap in (50, 300):
                got = cand.filter(thresh, nms_iou, cap)
                keep = np.flatnonzero(scores > thresh)
                order = batched_nms(torch.from_numpy(boxes[keep]), torch.from_numpy(scores[keep]), torch.from_numpy(labels[keep]), nms_iou).numpy()
                expected = keep[order][:cap]
                assert got.candidate_index.tolist() == expected.tolist(), (nms_iou, thresh, cap)
                assert np.array_equal(got.boxes, boxes[expected] * 2)


# bf16 logits tie often: NMS orders tied scores by position, so the candidates' order must agree
# (with bf16, top-k may also take either of two entries tied at its k-th value: this seed has none)
@pytest.mark.parametrize("config, dtype", [(PostprocessConfig(), torch.float32), (PostprocessConfig(topk_per_level=200, max_detections=50), torch.float32),
                                           (PostprocessConfig(topk_per_level=None, max_detections=None, clip="seed_padded"), torch.float32),
                                           (PostprocessConfig(topk_per_level=200, max_detections=50), torch.bfloat16)])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
def test_the_gpu_path_selects_and_filters_as_the_cpu_path(config, dtype, device):
    """On a GPU the selection is one top-k per level for the batch and the NMS runs there; run on
    the CPU too (``on_device=True``), it gives the CPU path's candidates, in the same order, and
    detections."""
    logits, deltas, anchors, per_level = (t.to(device) if isinstance(t, torch.Tensor) else t for t in _random_head(seed=7))
    logits = logits.to(dtype)
    n = logits.shape[0]
    common = dict(coder=BoxCoder(), config=config, score_floor=0.05)
    args = (logits, deltas, anchors, per_level, [(300, 320)] * n, (320, 320), [(2.0, 2.5)] * n)
    cpu, gpu = make_candidates(*args, **common, on_device=False), make_candidates(*args, **common, on_device=True)
    for c, g in zip(cpu, gpu):
        assert len(c) > 200
        for field in ("boxes", "scores", "labels", "anchor_index", "level"):  # in the same order too
            np.testing.assert_array_equal(getattr(c, field), getattr(g, field))
        if config.max_detections:
            assert (config.nms_thresh, config.max_detections) in g._kept  # computed with the network, not on first filter
        for score, iou in [(0.05, config.nms_thresh), (0.3, config.nms_thresh), (0.05, 0.3)]:
            a, b = c.filter(score, iou, config.max_detections), g.filter(score, iou, config.max_detections)
            assert len(a) > 0
            np.testing.assert_array_equal(a.boxes, b.boxes)
            np.testing.assert_array_equal(a.scores, b.scores)
            np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
def test_nms_kept_with_the_network_equals_nms_after_a_reload_even_with_tied_bf16_scores(device):
    """The prediction cache stores the arrays, not the NMS result remembered with the network: the
    image must show the same detections when it comes back from the cache (ties made them differ)."""
    from core.detections import Candidates

    logits, deltas, anchors, per_level = (t.to(device) if isinstance(t, torch.Tensor) else t for t in _random_head(seed=11))
    config = PostprocessConfig(max_detections=100)
    n = logits.shape[0]
    with_network = make_candidates(logits.bfloat16(), deltas, anchors, per_level, [(300, 320)] * n, (320, 320), [(2.0, 2.5)] * n,
                                   coder=BoxCoder(), config=config, score_floor=0.05, on_device=True)
    for c in with_network:
        assert len(np.unique(c.scores)) < len(c.scores) / 2  # ties, plenty
        reloaded = Candidates(c.boxes, c.scores, c.labels, c.anchor_index, c.level, c.scale, c.score_floor)
        np.testing.assert_array_equal(reloaded.kept(config.nms_thresh, 100), c.kept(config.nms_thresh, 100))
