"""Predictions cached on disk beside the annotations, per model, so that reopening a folder shows
them at once. One ``.npz`` per image holding its :class:`~core.postprocess.Candidates` (so the
thresholds stay live), written atomically, under ``.retina-gui/predictions/<model key>/``."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from core.atomic import atomic_path, write_json
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


class PredictionCache:
    """``images``: the folder the file names are of. Each entry then records its image file's
    modification time and size, and an image replaced under the same name (another photo, or the
    same one resized) is a miss: its old boxes and scale were shown on it."""

    def __init__(self, root: Path, key: str, images: Path | None = None) -> None:
        self.folder = root / ".retina-gui" / "predictions" / key
        self.images = images

    def _stamp(self, file_name: str) -> np.ndarray | None:
        if self.images is None:
            return None
        try:
            info = (self.images / file_name).stat()
        except OSError:
            return np.array([-1, -1], np.int64)
        return np.array([info.st_mtime_ns, info.st_size], np.int64)

    def _path(self, file_name: str) -> Path:
        return self.folder / (PurePosixPath(file_name).as_posix() + ".npz")

    def names(self) -> list[str]:
        """Images that have cached predictions."""
        if not self.folder.is_dir():
            return []
        return sorted(p.relative_to(self.folder).as_posix()[: -len(".npz")] for p in self.folder.rglob("*.npz"))

    def __contains__(self, file_name: str) -> bool:
        return self._path(file_name).is_file()

    def get(self, file_name: str) -> Candidates | None:
        path = self._path(file_name)
        stamp = self._stamp(file_name)
        try:
            with np.load(path) as data:
                if stamp is not None and ("image" not in data or not np.array_equal(data["image"], stamp)):
                    return None  # the image changed since (or an entry of a version that did not record it): predict again
                return Candidates(data["boxes"], data["scores"], data["labels"], data["anchor_index"], data["level"],
                                  (float(data["scale"][0]), float(data["scale"][1])), float(data["score_floor"]))
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing or damaged: predict again
            return None

    def put(self, file_name: str, candidates: Candidates) -> None:
        stamp = self._stamp(file_name)
        with atomic_path(self._path(file_name)) as tmp, open(tmp, "wb") as f:
            np.savez(f, boxes=candidates.boxes, scores=candidates.scores, labels=candidates.labels, anchor_index=candidates.anchor_index,
                     level=candidates.level, scale=np.array(candidates.scale), score_floor=np.array(candidates.score_floor),
                     **({} if stamp is None else {"image": stamp}))

    def rejected(self) -> dict[str, set[int]]:
        """Per image, the candidates the user rejected (indices into that image's candidates,
        which is why they live beside this model's cache); empty when missing or damaged."""
        try:
            data = json.loads((self.folder / "rejected.json").read_text(encoding="utf-8"))
            return {str(name): {int(i) for i in indices} for name, indices in data.items() if indices}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def put_rejected(self, rejected: dict[str, set[int]]) -> None:
        write_json(self.folder / "rejected.json", {name: sorted(indices) for name, indices in sorted(rejected.items()) if indices})
