"""Atomic file writes: write a temporary file beside the target, fsync, then ``os.replace``.
A crash at any moment leaves either the old file or the new one, never a torn file. Also the
JSON text of the files written, and its reading back.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0o022)  # read once (os.umask can only be read by setting it), then restored
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces ``path``, on error it is removed.

    The new file keeps the old one's permissions (a new file gets the umask's, as ``open`` would
    give it; ``mkstemp`` alone makes it private), and a symbolic link keeps pointing at the file
    it names, which is the one replaced. A target that is not a regular file (a folder, a device
    such as /dev/null, a pipe) is refused with an OSError: renaming over it would replace the
    device node itself."""
    path = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    if path.exists() and not path.is_file():
        raise IsADirectoryError(f"{path} is a folder, not a file") if path.is_dir() else \
            OSError(f"{path} is not a regular file (a device or a pipe): give the path of a file to write")
    _make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except Exception as exc:
        # (safetensors' SafetensorError, torch.save's RuntimeError; measured before the half-written file goes)
        full = (isinstance(exc, RuntimeError) or type(exc).__name__ == "SafetensorError") and _disk_full(path.parent, exc)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if full:  # safetensors and torch.save say a full disk their own ways ("unexpected pos 15931456 vs 15931352")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _make_folder(folder: Path) -> None:
    """Makes ``folder`` and any missing folders above it; a file standing where one of them
    should be is named (mkdir said "[Errno 17] File exists" of the folder asked for)."""
    above = folder
    while not above.exists() and above.parent != above:
        above = above.parent
    if above.exists() and not above.is_dir():
        raise NotADirectoryError(f"{above} is a file, not a folder, so nothing can be written in {folder}")
    folder.mkdir(parents=True, exist_ok=True)


def _disk_full(folder: Path, exc: Exception) -> bool:
    if "No space left" in str(exc):
        return True
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def parse_json(text: str) -> Any:
    """``json.loads``; JSON nested too deeply to read (a hand-made file 100,000 levels deep raised
    RecursionError, which stopped a folder's opening) is a ValueError like any other bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("its JSON is nested too deeply to read") from None


def json_text(data: Any) -> str:
    """``data`` as the JSON files written are: indented a space a level, non-ASCII text as it is."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def write_json(path: Path | str, data: Any) -> None:
    write_text(path, json_text(data))
