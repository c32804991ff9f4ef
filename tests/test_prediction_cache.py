"""The on-disk prediction cache: a damaged file means "predict again", never an exception; an
image replaced under its name is predicted again."""

import os

import numpy as np

from core.detections import Candidates
from core.prediction_cache import PredictionCache

CANDIDATES = Candidates(np.array([[1, 2, 30, 40]], np.float32), np.array([0.9], np.float32), np.array([2]), np.array([7]),
                        np.array([3]), (2.0, 2.0), 0.05)


def _images(tmp_path, *names):
    images = tmp_path / "images"
    for name in names:
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(b"a photo")
    return images


def test_a_damaged_or_empty_cache_file_reads_as_missing(tmp_path):
    cache = PredictionCache(tmp_path, "key", _images(tmp_path, "sub/a.jpg"))
    cache.put("sub/a.jpg", CANDIDATES)
    back = cache.get("sub/a.jpg")
    assert back is not None and np.array_equal(back.boxes, CANDIDATES.boxes) and back.scale == (2.0, 2.0)
    assert "sub/a.jpg" in cache and cache.names() == ["sub/a.jpg"]
    path = cache.entry_path("sub/a.jpg")
    whole = path.read_bytes()
    for damaged in (whole[: len(whole) // 2], b""):
        path.write_bytes(damaged)
        assert cache.get("sub/a.jpg") is None
    assert cache.get("never.jpg") is None and "never.jpg" not in cache


def test_an_image_replaced_under_the_same_name_is_predicted_again_and_its_rejections_go(tmp_path):
    """The cache went by file name alone: another photo (or the same one resized) saved as a.jpg was
    shown with the old photo's boxes, scaled for the old size, and its rejections hid new boxes."""
    images = _images(tmp_path, "a.jpg", "b.jpg")
    cache = PredictionCache(tmp_path, "key", images)
    cache.put("a.jpg", CANDIDATES)
    cache.put("b.jpg", CANDIDATES)
    cache.put_rejected({"a.jpg": {0}, "b.jpg": {0}})
    assert "a.jpg" in cache and cache.get("a.jpg") is not None
    (images / "a.jpg").write_bytes(b"another photo, longer")
    assert "a.jpg" not in cache and cache.get("a.jpg") is None  # as Evaluate and the window ask: both say "predict it"
    stat = (images / "b.jpg").stat()
    (images / "b.jpg").write_bytes(b"A PHOTO")  # rewritten in place, as long as it was
    os.utime(images / "b.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache.get("b.jpg") is None
    # the next model load lists what is current; the stale entries and their rejections go
    assert cache.names() == [] and not list(cache.folder.rglob("*.npz")) and cache.rejected() == {}
    cache.put("a.jpg", CANDIDATES)
    cache.put_rejected({"a.jpg": {0}})
    (images / "a.jpg").unlink()  # an image not found (a drive not mounted): its entry and rejections stay
    assert cache.names() == [] and len(list(cache.folder.rglob("*.npz"))) == 1 and cache.rejected() == {"a.jpg": {0}}


def test_an_entry_written_for_the_image_as_it_was_read_is_not_taken_for_a_newer_file(tmp_path):
    images = _images(tmp_path, "a.jpg")
    cache = PredictionCache(tmp_path, "key", images)
    image = cache.image_file("a.jpg")  # taken before the model reads the image ...
    (images / "a.jpg").write_bytes(b"saved again while it was predicted")
    cache.put("a.jpg", CANDIDATES, image)  # ... so the new file is predicted again
    assert cache.get("a.jpg") is None
    assert cache.names() == []  # (also not taken for it by its bytes)


def test_a_folder_copied_without_its_files_times_keeps_its_predictions_and_rejections(tmp_path):
    """Keyed by the files' times, a `cp -r` copy lost every cached prediction and rejection."""
    import shutil

    images = _images(tmp_path, "a.jpg", "sub/b.jpg", "c.jpg")
    cache = PredictionCache(tmp_path, "key", images)
    for name in ("a.jpg", "sub/b.jpg", "c.jpg"):
        cache.put(name, CANDIDATES)
    cache.put_rejected({"a.jpg": {0}, "sub/b.jpg": {0}, "c.jpg": {0}})
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path, copy, copy_function=shutil.copyfile)  # bytes only: every file gets the time of the copy
    for path in (copy / "images").rglob("*.jpg"):
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    (copy / "images" / "c.jpg").write_bytes(b"a phot0")  # edited since: the same size, other bytes
    copied = PredictionCache(copy, "key", copy / "images")
    assert copied.get("a.jpg") is None  # before the model's load looks: another time
    assert copied.names() == ["a.jpg", "sub/b.jpg"]
    assert copied.get("sub/b.jpg") is not None and copied.rejected() == {"a.jpg": {0}, "sub/b.jpg": {0}}
    assert len(list(copied.folder.rglob("*.npz"))) == 2  # renamed for the files as they are, c.jpg's gone


def test_a_long_look_at_a_copied_folder_stops_when_cancelled(tmp_path):
    import pytest

    from core.cancel import Cancelled, CancelToken

    images = _images(tmp_path, "a.jpg", "b.jpg")
    cache = PredictionCache(tmp_path, "key", images)
    cache.put("a.jpg", CANDIDATES)
    cache.put("b.jpg", CANDIDATES)
    cache.put_rejected({"a.jpg": {0}, "b.jpg": {0}})
    (images / "a.jpg").write_bytes(b"another photo, longer")  # changed: its entry goes at once (no bytes to read)
    stat = (images / "b.jpg").stat()
    os.utime(images / "b.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # its bytes must be read: cancelled there
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        cache.names(cancel)
    # (the entries are met in the file system's order) a changed image's entry gone takes its rejections along
    assert ("a.jpg" in cache.rejected()) == any(p.name.startswith("a.jpg.") for p in cache.folder.rglob("*.npz"))
    assert cache.names() == ["b.jpg"] and cache.rejected() == {"b.jpg": {0}}


def test_a_changed_image_predicted_again_before_the_next_load_loses_its_old_rejections(tmp_path):
    images = _images(tmp_path, "a.jpg")
    cache = PredictionCache(tmp_path, "key", images)
    cache.put("a.jpg", CANDIDATES)
    cache.put_rejected({"a.jpg": {0}})
    (images / "a.jpg").write_bytes(b"another photo, longer")
    cache.put("a.jpg", CANDIDATES)  # shown, and predicted again, before a model loads next
    assert cache.names() == ["a.jpg"] and cache.rejected() == {}  # the numbers were of the old photo's candidates


def test_an_image_dated_before_1970_keeps_its_entry(tmp_path):
    images = _images(tmp_path, "old.jpg")
    os.utime(images / "old.jpg", ns=(0, -1_000_000_000))
    cache = PredictionCache(tmp_path, "key", images)
    cache.put("old.jpg", CANDIDATES)
    cache.put_rejected({"old.jpg": {0}})
    assert cache.names() == ["old.jpg"] and cache.rejected() == {"old.jpg": {0}} and cache.get("old.jpg") is not None


def test_a_read_only_cache_lists_what_it_can_and_forgets_outdated_rejections(tmp_path, monkeypatch):
    """On a read-only cache (a copied folder on a share) names() raised OSError from its rename,
    which ended the prediction worker's thread after the model showed as loaded: no prediction came."""
    import errno

    import core.prediction_cache as prediction_cache

    images = _images(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    cache = PredictionCache(tmp_path, "key", images)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        cache.put(name, CANDIDATES)
    cache.put_rejected({"a.jpg": {0}, "b.jpg": {0}, "c.jpg": {0}})
    stat = (images / "a.jpg").stat()
    os.utime(images / "a.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # copied without its time: a rename
    (images / "b.jpg").write_bytes(b"another photo, longer")  # changed: a delete, and its rejections rewritten

    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    for name in ("replace", "unlink"):
        monkeypatch.setattr(prediction_cache.os, name, read_only)
    monkeypatch.setattr(prediction_cache.Path, "unlink", read_only)
    monkeypatch.setattr(prediction_cache, "write_json", read_only)
    fresh = PredictionCache(tmp_path, "key", images)
    assert fresh.names() == ["c.jpg"]  # a.jpg's entry could not be renamed for it: predicted again
    assert fresh.rejected() == {"a.jpg": {0}, "c.jpg": {0}}  # b.jpg's were of the old photo's candidates, though still in the file
    assert len(list(fresh.folder.rglob("*.npz"))) == 3
    # a part that cannot be listed: what was found before it is kept
    listed = prediction_cache.Path.rglob

    def stops(self, pattern):
        found = listed(self, pattern)
        yield next(found)
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(prediction_cache.Path, "rglob", stops)
    assert fresh.names() in ([], ["c.jpg"])  # (the OSError ended the prediction thread)


def test_an_entry_or_rejection_file_damaged_in_any_way_reads_as_missing(tmp_path):
    """A zip member of an unknown compression (NotImplementedError; zlib.error alike) and
    rejections of [1e999] (OverflowError) escaped the cache and ended the prediction thread."""
    import shutil
    import struct

    images = _images(tmp_path, "a.jpg", "b.jpg")
    cache = PredictionCache(tmp_path, "key", images)
    cache.put("a.jpg", CANDIDATES)
    cache.put("b.jpg", CANDIDATES)
    entry = cache.entry_path("a.jpg")
    data = bytearray(entry.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # every member's compression method: 99, unknown
        at = 0
        while (at := data.find(signature, at)) >= 0:
            data[at + offset:at + offset + 2] = struct.pack("<H", 99)
            at += 4
    entry.write_bytes(bytes(data))
    assert cache.get("a.jpg") is None and cache.get("b.jpg") is not None
    copied = tmp_path / "copied"  # its entry's bytes compared too (a copy without times): damaged, no match
    shutil.copytree(tmp_path / ".retina-gui", copied / ".retina-gui")
    shutil.copytree(images, copied / "images")
    for path in (copied / "images").iterdir():
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert PredictionCache(copied, "key", copied / "images").names() == ["b.jpg"]
    (cache.folder / "rejected.json").write_text('{"a.jpg": [1e999], "b.jpg": [0]}')
    assert cache.rejected() == {}
