"""Predictions cached on disk beside the annotations, per model, so that reopening a folder shows
them at once. One ``.npz`` per image holding its :class:`~core.postprocess.Candidates` (so the
thresholds stay live), written atomically, under ``.retina-gui/predictions/<model key>/``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from core.atomic import atomic_path, write_json
from core.cancel import CancelToken
from core.detections import Candidates

FORMAT = 1


def model_key(weights: Path, settings: dict) -> str:
    """Identifies a model and the settings its candidates depend on (preset, input size, score
    floor): the file's content hash, so a retrained file with the same name gets a new key."""
    digest = hashlib.sha256()
    with open(weights, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps({"format": FORMAT, **settings}, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ImageFile:
    """An image file as it was when the model read it: its entry's path, and its bytes' digest."""

    entry: Path
    digest: str


def _digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PredictionCache:
    """The candidates of the images in ``images`` under one model key. An entry's name carries its
    image file's modification time and size (``a.jpg.<mtime ns>-<size>.npz``): an image replaced
    under the same name (another photo, or the same one resized) finds no entry and is predicted
    again; its old boxes and scale were shown on it. Checking costs two ``stat`` calls, no read.
    An entry also holds the digest of the image's bytes: a folder copied without its files' times
    (``cp -r``) keeps its predictions and their rejections (:meth:`names`)."""

    def __init__(self, root: Path, key: str, images: Path) -> None:
        self.folder = root / ".retina-gui" / "predictions" / key
        self.images = images
        self._outdated: set[str] = set()  # images names() found changed: their rejections were of other candidates

    def entry_path(self, file_name: str) -> Path | None:
        """The entry of the image as its file is now; None when the file cannot be found."""
        try:
            info = (self.images / file_name).stat()
        except OSError:
            return None
        return self.folder / f"{PurePosixPath(file_name).as_posix()}.{info.st_mtime_ns}-{info.st_size}.npz"

    def image_file(self, file_name: str) -> ImageFile | None:
        """The image as it is now, taken before the model reads it (see :meth:`put`); None when it
        cannot be found or read."""
        entry = self.entry_path(file_name)
        try:
            return None if entry is None else ImageFile(entry, _digest(self.images / file_name))
        except OSError:
            return None

    def names(self, cancel: CancelToken | None = None) -> list[str]:
        """Images with an entry for the file as it is now. An entry whose file has another time but
        the same size and bytes (the folder copied without times) is renamed for it. Entries of
        images changed since are deleted, and those images' rejections with them (their candidate
        numbers name other boxes now); an entry whose image cannot be found stays (a folder on a
        drive not mounted). Reading the bytes of a copied folder's images takes a while: ``cancel``
        stops it (raising :class:`~core.cancel.Cancelled`)."""
        if not self.folder.is_dir():
            return []
        current, changed = set(), set()
        try:
            for path in self.folder.rglob("*.npz"):
                name, _, stamp = path.relative_to(self.folder).as_posix()[: -len(".npz")].rpartition(".")
                stamped = _STAMP.fullmatch(stamp) is not None
                own = self.entry_path(name) if stamped else None
                if own == path:
                    current.add(name)
                elif own is not None and self._same_bytes(path, own, name, cancel):
                    if own.exists():  # (predicted again meanwhile: the same candidates)
                        _delete(path)
                        current.add(name)
                    else:
                        with contextlib.suppress(OSError):  # a read-only cache: the image is predicted again
                            os.replace(path, own)
                            current.add(name)
                elif own is not None or not stamped:  # the image changed, or an entry of a version without stamps
                    _delete(path)
                    changed.add(name)
        except OSError:  # a part of the cache that cannot be listed (a share's permissions): its images are predicted again
            pass
        finally:  # also when cancelled: an entry deleted takes its rejections along, or they would hide the new image's boxes
            if changed:
                self._outdated |= changed
                stored = self._rejected_file()
                if changed & stored.keys():  # (also when predicted again since: the numbers were of the old candidates)
                    with contextlib.suppress(OSError):  # a read-only cache: rejected() leaves them out all the same
                        self.put_rejected({name: indices for name, indices in stored.items() if name not in self._outdated})
        return sorted(current)

    def _same_bytes(self, path: Path, own: Path, file_name: str, cancel: CancelToken | None) -> bool:
        """Whether the entry ``path`` was of an image with the bytes the file has now (which has the
        entry ``own``): the same size, and the same digest."""
        if path.name.rpartition("-")[2] != own.name.rpartition("-")[2]:  # the size differs ("….<mtime>-<size>.npz")
            return False
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            with np.load(path) as data:
                stored = str(data["digest"]) if "digest" in data.files else None
            return stored is not None and stored == _digest(self.images / file_name)
        except Exception:  # damaged in any way (zlib.error, an unknown compression: they ended the prediction thread): not the same
            return False

    def __contains__(self, file_name: str) -> bool:
        path = self.entry_path(file_name)
        return path is not None and path.is_file()

    def get(self, file_name: str) -> Candidates | None:
        path = self.entry_path(file_name)
        if path is None:
            return None
        try:
            with np.load(path) as data:
                return Candidates(data["boxes"], data["scores"], data["labels"], data["anchor_index"], data["level"],
                                  (float(data["scale"][0]), float(data["scale"][1])), float(data["score_floor"]))
        except Exception:  # missing or damaged in any way (a zlib.error cut a folder's prediction short): predict again
            return None

    def put(self, file_name: str, candidates: Candidates, image: ImageFile | None = None) -> None:
        """``image``: what :meth:`image_file` gave before the image was read (the file as it was
        predicted, should it change meanwhile); else the image as it is now."""
        image = image or self.image_file(file_name)
        if image is None:
            raise FileNotFoundError(f"{self.images / file_name}: no such image")
        with atomic_path(image.entry) as tmp, open(tmp, "wb") as f:
            np.savez(f, boxes=candidates.boxes, scores=candidates.scores, labels=candidates.labels, anchor_index=candidates.anchor_index,
                     level=candidates.level, scale=np.array(candidates.scale), score_floor=np.array(candidates.score_floor),
                     digest=np.array(image.digest))

    def rejected(self) -> dict[str, set[int]]:
        """Per image, the candidates the user rejected (indices into that image's candidates,
        which is why they live beside this model's cache); empty when missing or damaged. Those
        of images :meth:`names` found changed are left out."""
        return {name: indices for name, indices in self._rejected_file().items() if name not in self._outdated}

    def _rejected_file(self) -> dict[str, set[int]]:
        try:
            data = json.loads((self.folder / "rejected.json").read_text(encoding="utf-8"))
            return {str(name): {int(i) for i in indices} for name, indices in data.items() if indices}
        except Exception:  # missing or damaged in any way ([1e999] ended the prediction thread): none
            return {}

    def put_rejected(self, rejected: dict[str, set[int]]) -> None:
        write_json(self.folder / "rejected.json", {name: sorted(indices) for name, indices in sorted(rejected.items()) if indices})
        self._outdated -= rejected.keys()  # rejections of the images as they are now


def _delete(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only cache: the entry stays, never matching the image as it is now
        path.unlink(missing_ok=True)


_STAMP = re.compile(r"-?\d+-\d+")  # (a time before 1970 is negative)
