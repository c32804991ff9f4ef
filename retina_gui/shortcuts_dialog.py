"""Help ▸ Keyboard and Mouse: every shortcut of the menus, read from their actions (so the list
never falls behind them), and the keys and gestures of the image itself, which no menu holds."""

from __future__ import annotations

import html

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QMenuBar, QTextBrowser, QVBoxLayout, QWidget

# the image's own keys and gestures (no menu item stands for them)
PLAIN_NAME = "plain_name"  # an action's property: its name as created, for actions whose text follows what they act on

ON_THE_IMAGE = (
    ("click, Ctrl+click", "select a box; add it to the selection or take it out"),
    ("drag a box, a handle or corner, empty space", "move it (all selected), resize it, draw a box (edit tool)"),
    ("drag anywhere", "draw a box, also inside others (draw tool)"),
    ("Esc while dragging", "leave the box as it was"),
    ("Tab / Shift+Tab", "select the next / previous box in reading order (after a delete: the one after it); on an image "
                        "without boxes the keys stay on the image"),
    ("1 … 9", "choose that class for new boxes; with the edit tool, relabel the selected boxes too"),
    ("Delete in the Classes list", "delete the class chosen there (asked first when it has boxes; No is the default)"),
    ("arrow keys (Shift: ×10)", "nudge the selected boxes by an image pixel (a run of nudges is one undo step)"),
    ("right click", "relabel, copy or delete the selected boxes; on a prediction: accept or reject it"),
    ("double-click a prediction", "accept it as a label"),
    ("double-click a box", "choose its class (edit tool)"),
    ("wheel", "zoom at the cursor"),
    ("Space+drag, middle-drag", "pan"),
)


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, item, keys) of every menu item with a shortcut, in menu order (submenus included)."""
    rows: list[tuple[str, str, str]] = []

    def walk(menu: QMenu, title: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{title} ▸ {action.menu().title().replace('&', '')}")
            elif action.shortcuts():
                keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
                name = action.property(PLAIN_NAME) or action.text()
                rows.append((title, name.replace("&&", "\0").replace("&", "").replace("\0", "&"), keys))

    for action in bar.actions():
        if action.menu() is not None:
            walk(action.menu(), action.menu().title().replace("&", ""))
    return rows


def shortcuts_html(bar: QMenuBar) -> str:
    def table(rows) -> str:
        # (one width for the keys' column in both tables: their second columns stood at different places)
        cells = "".join(f"<tr><td width='34%' style='padding-right:18px'><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td></tr>"
                        for keys, what in rows)
        return f"<table width='100%' cellspacing=2>{cells}</table>"

    menus = [(keys, f"{item} ({menu})") for menu, item, keys in menu_shortcuts(bar)]
    return (f"<h3>On the image</h3>{table(ON_THE_IMAGE)}<h3>Menu shortcuts</h3>{table(menus)}"
            "<p>The one-key shortcuts give way where a key means something else: in the search box, the number fields "
            "and a drop-down list reached with Tab (after a mouse choice in one, the keys stay the window's); PageUp and "
            "PageDown on a clicked slider move it.</p>")


class ShortcutsDialog(QDialog):
    def __init__(self, bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse")
        self.text = QTextBrowser()
        self.text.setHtml(shortcuts_html(bar))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(640, 620)
