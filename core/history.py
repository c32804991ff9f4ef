"""A run's metrics.json, read for what it holds, and its train.log (no torch: the window lists runs with them)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.atomic import parse_json
from core.labels import is_number

_NUMBERS = ("epoch", "step", "cls_loss", "box_loss", "mAP", "AP50", "AP75")


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """The entries of a run's metrics.json (one per epoch; none when there is no file), with only
    numbers under its number keys: entries that are not objects or name no epoch, and values that
    are not numbers, are left out (a hand-edited file is read for what it holds: one stopped the
    window from opening the folder, and ``[{}]`` failed a resumed run at its end). Raises
    ValueError when the file is not JSON (truncated, say) or not a list: a resumed run must not
    write a new history over it."""
    path = run_dir / "metrics.json"
    if not path.exists():
        return []
    try:
        entries = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read it: {exc}") from None
    if not isinstance(entries, list):
        raise ValueError(f"it holds a {type(entries).__name__}, not a list of epochs")
    return [{k: v for k, v in entry.items() if k not in _NUMBERS or is_number(v)} for entry in entries
            if isinstance(entry, dict) and is_number(entry.get("epoch"))]


def append_log(run_dir: Path, message: str) -> None:
    """One timestamped line at the end of a run's train.log (a log grows line by line: each line
    written whole, none rewritten)."""
    with open(run_dir / "train.log", "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
