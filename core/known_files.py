"""The label files of other tools that retina-gui last read or wrote, by their content: before an
export writes over such a file (labelme's, beside the images), one changed since, edited in labelme,
or never read here, is told from one whose boxes retina-gui holds (its boxes would be replaced)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from core.atomic import parse_json, write_json

STATE = Path(".retina-gui") / "known-label-files.json"


def digest(path: Path) -> str | None:
    """The digest of a file's bytes; None when it cannot be read."""
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


class KnownFiles:
    """The files known to an image folder, by full path: kept in its ``.retina-gui`` folder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE

    def _load(self) -> dict[str, str]:
        try:
            data = parse_json(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):  # (none yet, or spoilt: every file is then one not known)
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}

    def record(self, digests: dict[Path, str | None]) -> None:
        """Remember these files as they are (``digests``, from :func:`digest`; None: gone, forgotten)."""
        if not digests:
            return
        known = self._load()
        for path, value in digests.items():
            key = str(Path(path).resolve())
            if value is None:
                known.pop(key, None)
            else:
                known[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, known)

    def unknown(self, paths: Iterable[Path]) -> list[Path]:
        """Those of ``paths`` that exist and are not as last read or written here."""
        known = self._load()
        return [p for p in paths if (now := digest(p)) is not None and known.get(str(Path(p).resolve())) != now]
