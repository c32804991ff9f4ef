"""The window's menu bar: each action with its keys and tip (the keys work while any panel has
focus), items greyed while their menu shows them with nothing to act on, the Classes menu naming
the classes its items act on, and Open Recent."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QMenu, QPlainTextEdit

from retina_gui.canvas import Tool
from retina_gui.convert import class_keys
from retina_gui.shortcuts_dialog import PLAIN_NAME

if TYPE_CHECKING:
    from retina_gui.main_window import MainWindow


class Menus(QObject):
    def __init__(self, window: MainWindow, *, recursive: bool) -> None:
        """``recursive``: whether File ▸ Include Subfolders starts checked."""
        super().__init__(window)
        self.window = window
        self._build(recursive)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        action.setProperty(PLAIN_NAME, text)  # (Undo, the Classes menu: their text follows what they act on)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.window.addAction(action)  # shortcuts work while any dock has focus
        return action

    def _build(self, recursive: bool) -> None:
        w = self.window
        bar = w.menuBar()
        a = w.annotator
        file = bar.addMenu("&File")
        self._action(file, "&Open Folder…", w.ask_open_folder, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        labels_file = self._action(file, "Open &Labels File…", w.ask_labels_file, tip="Use another COCO file for this folder's labels")
        self.recursive_action = QAction("Include &Subfolders", w, checkable=True, checked=recursive)
        self.recursive_action.toggled.connect(w.reopen)
        file.addAction(self.recursive_action)
        rescan = self._action(file, "Look for &New Images", w.listing.rescan, "F5", "List images added to the folder since it was opened")
        file.addSeparator()
        save = self._action(file, "&Save Now", w.save, QKeySequence.StandardKey.Save, "Labels are saved automatically after every edit")
        import_menu = file.addMenu("&Import Labels")
        formats = (("coco", "COCO JSON…"), ("voc", "Pascal VOC folder…"), ("yolo", "YOLO folder…"), ("csv", "RetinaNet CSV…"),
                   ("labelme", "labelme / X-AnyLabeling folder…"))
        imports = [self._action(import_menu, text, partial(w.label_files.ask_import, fmt), tip="Add the boxes of a label file to this folder (one undo step)")
                   for fmt, text in formats]
        export_tips = {"csv": "path,x1,y1,x2,y2,class_name lines and a class list, as yhenon/pytorch-retinanet and keras-retinanet train from",
                       "labelme": "A JSON file an image, as labelme writes them (beside the images: labelme opens the folder with its labels)"}
        export = file.addMenu("&Export Labels")
        exports = [self._action(export, text, partial(w.label_files.ask_export, fmt), tip=export_tips.get(fmt, "")) for fmt, text in formats]
        file.addSeparator()
        self._action(file, "&Quit", w.close, "Ctrl+Q")  # (Qt's standard Quit key is none on Linux and Windows)
        folder_open = self._folder_open
        self._greyed_while_open(file, {labels_file: folder_open, rescan: folder_open, save: folder_open})
        self._greyed_while_open(import_menu, dict.fromkeys(imports, self._editable_folder))
        self._greyed_while_open(export, dict.fromkeys(exports, self._has_labels))

        edit = bar.addMenu("&Edit")
        undo, redo = w.undo_steps.undo_action, w.undo_steps.redo_action
        for action in (undo, redo):
            edit.addAction(action)
            w.addAction(action)  # (as _action does: its key works while any panel has focus)
        edit.addSeparator()
        copy = self._action(edit, "&Copy Boxes", w.copy, QKeySequence.StandardKey.Copy)
        paste = self._action(edit, "&Paste Boxes", a.paste, QKeySequence.StandardKey.Paste)
        paste_previous = self._action(edit, "Paste Boxes of the Pre&vious Image", a.paste_previous, "Ctrl+Shift+V")
        delete = self._action(edit, "&Delete Boxes", w.delete_key, [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)])
        select_all = self._action(edit, "Select &All Boxes", a.select_all, QKeySequence.StandardKey.SelectAll)
        # from any panel, as Ctrl+A, the number keys and Delete work: a selection left standing while a list had focus
        # was relabelled by the next number key (so Esc there clears it, not only gives the keys back)
        clear = self._action(edit, "Clear Selection", w.escape, "Esc")
        edit.addSeparator()
        reviewed = self._action(edit, "Mark Image &Reviewed", w.toggle_reviewed, "R",
                                "Toggle: a reviewed image with no boxes is a negative example")
        rescale = self._action(edit, "Rescale Boxes to the Image &Size", a.rescale_to_image, None,
                               "The image file was resized since it was labelled: scale its boxes to match")
        selection = w.canvas.selected
        self._greyed_while_open(edit, {undo: w.undo_steps.can_undo, redo: w.undo_steps.can_redo, copy: self._copyable,
                                       paste: a.can_paste, paste_previous: a.can_paste_previous, delete: selection,
                                       select_all: a.has_boxes, clear: selection, reviewed: a.can_edit, rescale: a.needs_rescale})

        view = bar.addMenu("&View")
        self.tool_actions = {
            Tool.EDIT: self._action(view, "&Edit Tool", partial(w.canvas.set_tool, Tool.EDIT), "E",
                                    "Drag boxes to move, handles to resize, empty space to draw"),
            Tool.DRAW: self._action(view, "&Draw Tool", partial(w.canvas.set_tool, Tool.DRAW), "W",
                                    "Drag anywhere to draw, even inside other boxes")}
        tools = QActionGroup(w)
        tools.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)  # the anchor probe is neither
        for action in self.tool_actions.values():
            action.setCheckable(True)
            tools.addAction(action)
        self.tool_actions[w.canvas.tool].setChecked(True)
        w.canvas.tool_changed.connect(self._tool_changed)
        view.addSeparator()
        self._action(view, "Zoom &In", partial(w.canvas.zoom_by, 1.25), [QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])
        self._action(view, "Zoom &Out", partial(w.canvas.zoom_by, 0.8), "Ctrl+-")
        self._action(view, "&Fit Image", w.canvas.fit, [QKeySequence("F"), QKeySequence("Ctrl+0")])
        self._action(view, "Actual &Size (100 %)", w.canvas.actual_size, "Ctrl+1")
        view.addSeparator()
        for text, slot, key, tip in (("Box &Names", w.canvas.set_names_shown, "T", "Class names on the boxes (zoomed out they cover small boxes)"),
                                     ("P&redictions", w.canvas.set_predictions_shown, "H", "The model's predictions over the labels")):
            action = self._action(view, text, slot, key, tip)
            action.setCheckable(True)
            action.setChecked(True)
            action.triggered.connect(partial(self._said_shown, action, text.replace("&", "").lower(), key))  # (the key acted without a word)
        action.triggered.connect(w.model_panel.predictions_toggled)  # (Predictions, after the canvas: its counts and mark follow)
        view.addSeparator()
        self._action(view, "Anchors at a &Point", w.toggle_anchor_probe, "P", "Click the image to see the anchors of each level there")
        view.addSeparator()
        panels = view.addMenu("P&anels")
        for dock in w.docks.values():
            panels.addAction(dock.toggleViewAction())  # a closed panel comes back from here ...
            dock.toggleViewAction().triggered.connect(partial(w.panel_toggled, dock))
        panels.addSeparator()
        self._action(panels, "&Reset Panels", w.reset_panels, tip="Put every panel back where it was at first")

        model = bar.addMenu("&Model")
        self._action(model, "&Load Model…", w.model_panel.ask_model)
        predict_image = self._action(model, "&Predict Image", w.model_panel.predict_now, "Ctrl+P")
        predict_folder = self._action(model, "Predict &Folder", w.predict_folder, "Ctrl+Shift+P")
        accept_image = self._action(model, "&Accept Shown Predictions (image)", w.accepting.accept_image,
                                    [QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        accept_folder = self._action(model, "Accept Shown Predictions (&folder)", w.accepting.accept_folder)
        self._greyed_while_open(model, {predict_image: self._model_and_image, predict_folder: self._model_and_folder,
                                        accept_image: w.accepting.acceptable_here, accept_folder: self._model_and_editable_folder})

        go = bar.addMenu("&Go")
        self._action(go, "&Next Image", partial(w.step_image, 1), [QKeySequence("D"), QKeySequence(Qt.Key.Key_PageDown)])
        self._action(go, "&Previous Image", partial(w.step_image, -1), [QKeySequence("A"), QKeySequence(Qt.Key.Key_PageUp)])
        self._action(go, "Next &Unlabelled Image", w.next_unlabelled, "Shift+D")
        self._action(go, "&Search Images…", w.search_images, QKeySequence.StandardKey.Find,
                     "Type part of an image's path; Return shows the first found, Esc clears the search")
        go.addSeparator()
        errors = [self._action(go, "Next &Error", partial(w.step_error, 1), "F8", "The next missed label or false positive of the evaluation"),
                  self._action(go, "Previous E&rror", partial(w.step_error, -1), "Shift+F8")]
        self._greyed_while_open(go, dict.fromkeys(errors, w.evaluation_panel.errors.count))  # (the list F8 steps through)

        classes = bar.addMenu("&Classes")
        classes.aboutToShow.connect(self.name_class_actions)
        self._action(classes, "&Add Class…", w.classes.ask_add, "Ctrl+N")
        # (named as the menu opens: they act on the class chosen in the Classes panel, which may be out of sight)
        self.chosen_class_actions = [self._action(classes, "&Rename Class…", w.classes.ask_rename, "F2"),
                                     self._action(classes, "&Colour…", w.classes.ask_color),
                                     self._action(classes, "&Delete Class…", w.classes.ask_delete)]
        self._greyed_while_open(classes, dict.fromkeys(self.chosen_class_actions, self._class_chosen))
        classes.addSeparator()
        self._action(classes, "C&hoose Class…", w.class_choice.ask_class, "L", "Type part of a class name: any class, also past the ninth "
                     "(edit tool: relabels the selection)")
        self.number_actions = [self._action(classes, f"Class {number}", partial(w.class_choice.pick_class, number), str(number),
                                            "Choose it for new boxes (edit tool: and relabel the selected boxes)")
                               for number in range(1, 10)]

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard and Mouse…", w.show_keys, QKeySequence.StandardKey.HelpContents)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.window.recent_folders():
            self.recent_menu.addAction(folder, partial(self.window.open_folder, Path(folder)))
        if not self.window.recent_folders():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def name_class_actions(self) -> None:
        """The Classes menu names what its items act on: the class chosen in the Classes panel, and
        the class of each number key."""
        categories = self.window.workspace.store.categories if self.window.workspace is not None else []
        chosen_id = self.window.classes.chosen_id()
        chosen = next((c.name for c in categories if c.id == chosen_id), None)
        for action, text in zip(self.chosen_class_actions, ("&Rename Class", "&Colour of Class", "&Delete Class")):
            action.setText(f"{text} “{chosen.replace('&', '&&')}”…" if chosen else f"{text}…")
        keys = class_keys(categories)
        names = {key: c.name for c in categories if (key := keys.get(c.id)) is not None}
        for number, action in enumerate(self.number_actions, start=1):
            action.setText(f"{number}  {names[number].replace('&', '&&') if number in names else '(none)'}")
            # (Help ▸ Keyboard and Mouse said "Class 1" … "Class 9")
            action.setProperty(PLAIN_NAME, f"Class {names[number].replace('&', '&&')}" if number in names else f"Class {number} (none yet)")

    def _greyed_while_open(self, menu: QMenu, able: dict[QAction, Callable[[], object]]) -> None:
        """Each action of ``able`` greyed while ``menu`` shows it with nothing to act on (its
        predicate false: no selection, no model, no error listed). Enabled again as the menu
        closes: its key still works and says why it does nothing (greyed, F2 stayed dead after the
        Classes menu had been opened with no class chosen)."""
        menu.aboutToShow.connect(partial(self._grey, able))
        menu.aboutToHide.connect(partial(self._ungrey, able))

    @staticmethod
    def _grey(able: dict[QAction, Callable[[], object]]) -> None:
        for action, predicate in able.items():
            action.setEnabled(bool(predicate()))

    @staticmethod
    def _ungrey(able: dict[QAction, Callable[[], object]]) -> None:
        for action in able:
            action.setEnabled(True)

    def _class_chosen(self) -> bool:
        return self.window.classes.chosen_id() is not None  # (Roboflow's first class has id 0)

    def _folder_open(self) -> bool:
        return self.window.workspace is not None

    def _editable_folder(self) -> bool:
        return self.window.workspace is not None and not self.window.workspace.read_only

    def _has_labels(self) -> bool:
        return self.window.workspace is not None and self.window.workspace.store.has_labels()

    def _copyable(self) -> bool:
        focus = QApplication.focusWidget()
        return bool(self.window.canvas.selected()) or (isinstance(focus, QLineEdit) and focus.hasSelectedText()) or (
            isinstance(focus, QPlainTextEdit) and focus.textCursor().hasSelection())

    def _model_and_image(self) -> bool:
        return self.window.predictions.model is not None and self.window.annotator.size is not None

    def _model_and_folder(self) -> bool:
        return self.window.predictions.model is not None and self.window.workspace is not None

    def _model_and_editable_folder(self) -> bool:
        return self._model_and_folder() and self._editable_folder()

    def _said_shown(self, action: QAction, what: str, key: str) -> None:
        shown = action.isChecked()  # (a partial is called with no argument of the signal's)
        self.window.say(f"{what} {'shown' if shown else 'hidden'} ({key} {'hides' if shown else 'shows'} them)")

    def _tool_changed(self, tool: Tool) -> None:
        for kind, action in self.tool_actions.items():
            action.setChecked(kind is tool)
