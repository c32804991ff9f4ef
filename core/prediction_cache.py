"""Predictions cached on disk beside the annotations, per model, so that reopening a folder shows
them at once. One ``.npz`` per image holding its :class:`~core.postprocess.Candidates` (so the
thresholds stay live), written atomically, under ``.retina-gui/predictions/<model key>/``."""

from __future__ import annotations

import hashlib
import json
import re
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
    """The candidates of the images in ``images`` under one model key. An entry's name carries its
    image file's modification time and size (``a.jpg.<mtime ns>-<size>.npz``): an image replaced
    under the same name (another photo, or the same one resized) finds no entry and is predicted
    again; its old boxes and scale were shown on it. Checking costs two ``stat`` calls, no read."""

    def __init__(self, root: Path, key: str, images: Path) -> None:
        self.folder = root / ".retina-gui" / "predictions" / key
        self.images = images

    def entry_path(self, file_name: str) -> Path | None:
        """The entry of the image as its file is now; None when the file cannot be found."""
        try:
            info = (self.images / file_name).stat()
        except OSError:
            return None
        return self.folder / f"{PurePosixPath(file_name).as_posix()}.{info.st_mtime_ns}-{info.st_size}.npz"

    def names(self) -> list[str]:
        """Images with an entry for the file as it is now. Entries of images changed since are
        deleted, and those images' rejections with them (their candidate numbers name other boxes
        now); an entry whose image cannot be found stays (a folder on a drive not mounted)."""
        if not self.folder.is_dir():
            return []
        current, changed = set(), set()
        for path in self.folder.rglob("*.npz"):
            name, _, stamp = path.relative_to(self.folder).as_posix()[: -len(".npz")].rpartition(".")
            stamped = _STAMP.fullmatch(stamp) is not None
            own = self.entry_path(name) if stamped else None
            if own == path:
                current.add(name)
            elif own is not None or not stamped:  # the image changed, or an entry of a version without stamps
                path.unlink(missing_ok=True)
                changed.add(name)
        if changed:
            rejected = self.rejected()
            if changed & set(rejected):  # (also when predicted again since: the numbers were of the old candidates)
                self.put_rejected({name: indices for name, indices in rejected.items() if name not in changed})
        return sorted(current)

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
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing or damaged: predict again
            return None

    def put(self, file_name: str, candidates: Candidates, path: Path | None = None) -> None:
        """``path``: the entry :meth:`entry_path` gave before the image was read (the file as it
        was predicted, should it change meanwhile); else the image as it is now."""
        path = path or self.entry_path(file_name)
        if path is None:
            raise FileNotFoundError(f"{self.images / file_name}: no such image")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, boxes=candidates.boxes, scores=candidates.scores, labels=candidates.labels, anchor_index=candidates.anchor_index,
                     level=candidates.level, scale=np.array(candidates.scale), score_floor=np.array(candidates.score_floor))

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


_STAMP = re.compile(r"-?\d+-\d+")  # (a time before 1970 is negative)
