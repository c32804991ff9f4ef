"""The on-disk prediction cache: a damaged file means "predict again", never an exception."""

import numpy as np

from core.detections import Candidates
from core.prediction_cache import PredictionCache


def test_a_damaged_or_empty_cache_file_reads_as_missing(tmp_path):
    cache = PredictionCache(tmp_path, "key")
    candidates = Candidates(np.array([[1, 2, 30, 40]], np.float32), np.array([0.9], np.float32), np.array([2]), np.array([7]),
                            np.array([3]), (2.0, 2.0), 0.05)
    cache.put("sub/a.jpg", candidates)
    back = cache.get("sub/a.jpg")
    assert back is not None and np.array_equal(back.boxes, candidates.boxes) and back.scale == (2.0, 2.0)
    path = cache.folder / "sub" / "a.jpg.npz"
    whole = path.read_bytes()
    for damaged in (whole[: len(whole) // 2], b""):
        path.write_bytes(damaged)
        assert cache.get("sub/a.jpg") is None
    assert cache.get("never.jpg") is None
