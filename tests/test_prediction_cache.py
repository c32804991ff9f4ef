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


def test_an_image_replaced_under_the_same_name_is_predicted_again(tmp_path):
    """The cache went by file name alone: another photo (or the same one resized) saved as a.jpg was
    shown with the old photo's boxes, scaled for the old size."""
    import os

    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"first photo")
    cache = PredictionCache(tmp_path, "key", images)
    candidates = Candidates(np.array([[1, 2, 30, 40]], np.float32), np.array([0.9], np.float32), np.array([2]), np.array([7]),
                            np.array([3]), (2.0, 2.0), 0.05)
    cache.put("a.jpg", candidates)
    assert cache.get("a.jpg") is not None
    (images / "a.jpg").write_bytes(b"another photo, longer")
    assert cache.get("a.jpg") is None
    cache.put("a.jpg", candidates)
    stat = (images / "a.jpg").stat()
    os.utime(images / "a.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # rewritten in place, as long as it was
    assert cache.get("a.jpg") is None
    assert PredictionCache(tmp_path, "key").get("a.jpg") is not None  # without the folder: as it was written (the tests above)
    (images / "a.jpg").unlink()
    assert cache.get("a.jpg") is None
