"""The open folder's list of images: its first scan, F5's rescan, and what the listing remembers
between openings of the folder (the images found unreadable, the problems already reported)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from core.text import count as count_of
from retina_gui.file_list import FileListPanel
from retina_gui.widgets import json_setting
from retina_gui.workers import FolderScanner
from retina_gui.workspace import Workspace

GONE_TEXT = "no longer in the folder (deleted, moved or renamed since it was listed)"


class FolderListing(QObject):
    """Fills ``files`` with the images of the folder ``start`` is given, in parts as the scanner
    finds them, and shows the image to come back to when the listing reaches it."""

    message = Signal(str)  # a passing word for the status bar
    problem = Signal(str, str, bool)  # (title, text, under what the box of that title said before): said in a box
    listed = Signal(int)  # the first scan has ended, having found that many images
    relisted = Signal()  # a rescan has ended

    def __init__(self, files: FileListPanel, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.files, self.settings = files, settings
        self.workspace: Workspace | None = None
        self.scanner: FolderScanner | None = None
        self.recursive = True
        self.complete = False  # the open folder's list is complete
        self._restore: str | None = None  # the image to show when the listing reaches it
        self._shown_meanwhile: str | None = None  # the first image, shown while the listing had not reached it
        self._new_images = 0  # found by the running rescan
        self._found_on_rescan: set[str] = set()  # every image the running rescan found: those listed and not found are gone
        self._known_unreadable: dict[str, list] = {}  # the folder's images found unreadable (see _remember_unreadable)

    def start(self, workspace: Workspace, *, recursive: bool, restore: str | None) -> None:
        """List ``workspace``'s folder, showing ``restore`` (the image left last time) when the
        listing reaches it: its first part may not hold it."""
        self.stop()
        self.workspace, self.recursive, self.complete = workspace, recursive, False
        self._restore, self._shown_meanwhile = restore, None
        self.files.model.store = workspace.store
        self._known_unreadable = self._saved_unreadable()  # (read before any image is shown: one found meanwhile joins them)
        self.files.model.marked_unreadable.connect(self._remember_unreadable)
        self._scan(self._found, self._scan_done)

    def stop(self) -> None:
        if self.scanner is not None:
            self.scanner.stop()  # (a finished scan's thread too: waited for before it is let go)
        self.scanner = None
        self.workspace = None

    def show_when_listed(self, name: str) -> None:
        """``name`` on screen when the listing reaches it; a listing done is done again (F5), for
        an image added since."""
        self._restore = name
        if self.complete:
            self.rescan()

    def rescan(self) -> None:
        """Lists the images added to the folder since it was opened (at the end of the list), and
        marks those gone since."""
        if self.workspace is None or not self.complete:
            return
        self._new_images = 0
        self._found_on_rescan = set()
        self.scanner.stop()
        self._scan(self._found_again, self._rescanned)

    def _scan(self, found, done) -> None:
        self.complete = False
        self.scanner = FolderScanner(self.workspace.folder, recursive=self.recursive)
        self.scanner.found.connect(found)
        self.scanner.done.connect(done)
        self.scanner.failed.connect(self._scan_failed)
        self.scanner.skipped.connect(self._scan_skipped)
        self.scanner.start()

    def _found(self, names: list) -> None:
        """A part of the listing: the image left last time is shown when it comes (in a big or
        slow folder, after the first part: meanwhile the first image is shown, unless the user has
        moved on from it)."""
        self.files.model.append(names)
        if self._restore is not None and self.files.current() in (None, self._shown_meanwhile) and self.files.set_current(self._restore):
            self._restore = None
        elif self.files.current() is None:
            self.files.step(1)
            self._shown_meanwhile = self.files.current()

    def _scan_done(self, total: int) -> None:
        if self.workspace is None:
            return
        self.complete = True
        self._restore = None  # not in the folder any more
        self.listed.emit(total)
        self._mark_known_unreadable()
        if missing := self.workspace.store.missing(self.files.model.names):
            self._report_once(f"missing_images/{self.workspace.labels_path}", missing, "Images missing",
                              f"{len(missing)} labelled images are not in the folder. Their labels are kept in the labels file:",
                              f"{count_of(len(missing), 'labelled image')} not in the folder (their labels are kept)", keep_earlier=False)

    def _found_again(self, names: list) -> None:
        self._found_on_rescan.update(names)
        new = [n for n in names if self.files.model.row(n) is None]
        self._new_images += len(new)
        if new:
            self.files.model.append(new)

    def _rescanned(self, _total: int) -> None:
        self.complete = True
        self.relisted.emit()
        n = self._new_images
        said = [f"{n} new image{'' if n == 1 else 's'} listed at the end" if n else "no new images in the folder"]
        model = self.files.model
        back = [name for name, reason in model.unreadable.items() if reason == GONE_TEXT and name in self._found_on_rescan]
        if back:  # (back since: readable again)
            for name in back:
                del model.unreadable[name]
            model.refresh(back)
        gone = [name for name in model.names if name not in self._found_on_rescan and name not in model.unreadable]
        for name in gone:  # (listed as before, it read as there until it was opened: "cannot be read: no such file")
            model.mark_unreadable(name, GONE_TEXT)
        if gone:
            named = ", ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
            said.append(f"{count_of(len(gone), 'image')} gone from the folder ({named}): {'its' if len(gone) == 1 else 'their'} "
                        "labels are kept")
        self.message.emit("; ".join(said))
        if self._restore is not None:  # an image given (opened, or dropped) that the listing had not met before
            self.files.set_current(self._restore)
            self._restore = None

    def _scan_failed(self, message: str) -> None:
        self.problem.emit("Folder", message, True)  # (with its skipped entries)

    def _scan_skipped(self, entries: list) -> None:
        """Entries the listing left out, with why (a link back up, a name not UTF-8)."""
        folder = self.scanner.folder
        text = f"{count_of(len(entries), 'entry')} of {folder} {'was' if len(entries) == 1 else 'were'} left out (the rest is listed)"
        self._report_once(f"skipped_entries/{folder}", entries, "Folder", f"{text}:", text, keep_earlier=True)

    def _report_once(self, key: str, names: list[str], title: str, text: str, again: str, *, keep_earlier: bool) -> None:
        """``text`` and ``names`` in a box; while the names are the same ones, ``again`` in the
        status bar instead (the box came back at every opening, and at every F5)."""
        seen = hashlib.sha1("\n".join(names).encode()).hexdigest()
        if self.settings.value(key) == seen:
            self.message.emit(again)
            return
        listing = "\n".join(names[:15]) + (f"\n… and {len(names) - 15} more" if len(names) > 15 else "")
        self.problem.emit(title, f"{text}\n\n{listing}", keep_earlier)
        self.settings.setValue(key, seen)

    def _unreadable_key(self) -> str:
        return f"unreadable_images/{self.workspace.folder}"

    def _saved_unreadable(self) -> dict[str, list]:
        """The folder's images found unreadable before: name -> [why, size, mtime_ns, ctime_ns]."""
        return {k: v for k, v in json_setting(self.settings, self._unreadable_key(), dict).items() if isinstance(v, list) and len(v) == 4}

    @staticmethod
    def _file_state(path: Path) -> list | None:
        """Size and times of a file: unchanged, it is as unreadable as it was (a chmod changes its ctime)."""
        try:
            info = path.stat()
        except OSError:
            return None
        return [info.st_size, info.st_mtime_ns, info.st_ctime_ns]

    def _remember_unreadable(self, name: str, reason: str) -> None:
        """An image found unreadable, kept with its file's state: marked again at the next opening
        while the file is unchanged (after a reopen the Unreadable filter counted 0 until each bad
        file had been shown again)."""
        if self.workspace is None or reason == GONE_TEXT or (state := self._file_state(self.workspace.folder / name)) is None:
            return
        if self._known_unreadable.get(name) != [reason, *state]:
            self._known_unreadable[name] = [reason, *state]
            self.settings.setValue(self._unreadable_key(), json.dumps(self._known_unreadable))

    def _mark_known_unreadable(self) -> None:
        """The images found unreadable before, unchanged since, marked as the listing ends (at once:
        a mark each, telling the settings file each time, took seconds for thousands); those
        changed or gone are forgotten."""
        listed, model, saved = set(self.files.model.names), self.files.model, self._known_unreadable
        self._known_unreadable = {name: entry for name, entry in saved.items()
                                  if name in listed and self._file_state(self.workspace.folder / name) == entry[1:]}
        if self._known_unreadable != saved:
            self.settings.setValue(self._unreadable_key(), json.dumps(self._known_unreadable))
        model.mark_known_unreadable({name: entry[0] for name, entry in self._known_unreadable.items() if name not in model.unreadable})
