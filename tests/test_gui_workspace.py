"""The annotation workspace driven as a user drives it: real mouse and key events at image
coordinates, the autosaved labels file checked after every edit, undo and redo of all of it."""

import json
import math
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu, QTabBar

from core.formats.coco import read_coco
from core.images import load_image
from retina_gui.canvas import Tool, reading_order
from retina_gui.class_choice import NO_CLASS_TEXT
from retina_gui.main_window import MainWindow
from tests.conftest import DATASETS, ROOT

DEMO = ROOT / "resources" / "demo"


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def open_window(qtbot, folder: Path, settings, *, arrange: bool = True, **kwargs) -> MainWindow:
    window = MainWindow(folder=folder, settings=settings, **kwargs)
    window.resize(1400, 900)  # the offscreen screen is 800x600, and the window fits itself to it
    if arrange:
        window.fit_panels()  # panel widths as a 1400-px screen gives them
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    if window.workspace is not None:
        qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    return window


def wait_image(qtbot, window: MainWindow, name: str | None = None) -> None:
    qtbot.waitUntil(lambda: window.annotator.size is not None and (name is None or window.annotator.current == name), timeout=5000)


def unlabelled_window(qtbot, tmp_path, settings) -> MainWindow:
    """A window on a copy of the demo images without their labels file, listed."""
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("*.json"))
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.files.model.rowCount() == 8, timeout=5000)
    return window


def demo_labels_edited(path: Path, edit) -> Path:
    """The demo labels with ``edit`` applied to each image entry, written to ``path``."""
    data = json.loads((DEMO / "annotations.coco.json").read_text())
    for image in data["images"]:
        edit(image)
    path.write_text(json.dumps(data))
    return path


def transferred(qtbot, window: MainWindow, started: bool) -> bool:
    """Waits for the background import or export ``started``; whether it went through."""
    if not started:
        return False
    with qtbot.waitSignal(window.transfer.finished, timeout=30_000) as blocker:
        pass
    return blocker.args[0]


@pytest.fixture
def demo(tmp_path, qtbot, settings):
    from PySide6.QtGui import QCursor

    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    QCursor.setPos(0, 0)  # (a test moving the mouse where the one before left it gets no move event: Qt skips it)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "chess_01.jpg")
    window.canvas.actual_size()  # 1 screen pixel = 1 image pixel: clicks land on exact image coordinates
    window.canvas.setFocus()
    yield window
    window.close()



@pytest.fixture
def unlabelled(tmp_path, qtbot, settings):
    """The demo folder without its labels, and one class, "piece"."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("annotations.coco.json"))
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "chess_01.jpg")
    window.workspace.add_category("piece")
    yield window
    window.close()

def view_point(window: MainWindow, x: float, y: float) -> QPoint:
    return window.canvas.mapFromScene(QPointF(x, y))


def image_point(window: MainWindow, p: QPoint) -> tuple[float, float]:
    s = window.canvas.mapToScene(p)
    return s.x(), s.y()


def drag(qtbot, window: MainWindow, start: tuple[float, float], end: tuple[float, float]) -> tuple[QPoint, QPoint]:
    vp = window.canvas.viewport()
    a, b = view_point(window, *start), view_point(window, *end)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    mid = (a + b) / 2
    qtbot.mouseMove(vp, mid)
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    return a, b


def saved_boxes(qtbot, window: MainWindow, predicate) -> list[dict]:
    """Wait for the autosave (<= 1 s) to write a file whose chess_01 annotations satisfy ``predicate``."""
    path = window.workspace.labels_file.path
    found = {}

    def check():
        data = json.loads(path.read_text())
        image_id = next(im["id"] for im in data["images"] if im["file_name"] == "chess_01.jpg")
        found["anns"] = [a for a in data["annotations"] if a["image_id"] == image_id]
        found["categories"] = {c["id"]: c["name"] for c in data["categories"]}
        return predicate(found["anns"])

    qtbot.waitUntil(check, timeout=1500)
    return found["anns"]


def box_xyxy(ann: dict) -> tuple[float, float, float, float]:
    x, y, w, h = ann["bbox"]
    return x, y, x + w, y + h


def close(a, b, tol=1e-6):
    return all(abs(p - q) <= tol for p, q in zip(a, b))


def test_draw_move_resize_relabel_delete_then_undo_and_redo_everything(qtbot, demo):
    window = demo
    store = window.workspace.store
    n0 = len(store.boxes("chess_01.jpg"))
    first_class, second_class = store.categories[0], store.categories[1]

    # draw (edit tool, empty area of the image: top-left corner of the board photo)
    a, b = drag(qtbot, window, (10, 10), (90, 70))
    drawn = (*image_point(window, a), *image_point(window, b))
    anns = saved_boxes(qtbot, window, lambda anns: len(anns) == n0 + 1)
    assert close(box_xyxy(anns[-1]), drawn) and anns[-1]["category_id"] == first_class.id
    assert window.canvas.selected() == [n0]

    # move by dragging the inside of the box
    a, b = drag(qtbot, window, (50, 40), (80, 60))
    dx, dy = image_point(window, b)[0] - image_point(window, a)[0], image_point(window, b)[1] - image_point(window, a)[1]
    moved = (drawn[0] + dx, drawn[1] + dy, drawn[2] + dx, drawn[3] + dy)
    anns = saved_boxes(qtbot, window, lambda anns: close(box_xyxy(anns[-1]), moved))

    # resize by dragging the bottom-right handle
    a, b = drag(qtbot, window, moved[2:], (moved[2] + 40, moved[3] + 25))
    resized = (moved[0], moved[1], *image_point(window, b))
    anns = saved_boxes(qtbot, window, lambda anns: close(box_xyxy(anns[-1]), resized))

    # with the draw tool, a number key chooses the next box's class and leaves the selected box as it is ...
    qtbot.keyClick(window.canvas, Qt.Key.Key_W)
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)
    assert window.workspace.current_category == second_class.id and window.canvas.selected() == [n0]
    assert window.workspace.store.boxes("chess_01.jpg")[n0].category_id == first_class.id
    assert window.statusBar().currentMessage() == f"new boxes: {second_class.name}"
    qtbot.keyClick(window.canvas, Qt.Key.Key_1)
    # ... and with the edit tool it relabels the selection too
    qtbot.keyClick(window.canvas, Qt.Key.Key_E)
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)
    anns = saved_boxes(qtbot, window, lambda anns: anns[-1]["category_id"] == second_class.id)

    # delete
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    saved_boxes(qtbot, window, lambda anns: len(anns) == n0)

    stack = window.workspace.undo_stack
    assert [stack.text(i) for i in range(stack.count())] == [f"{text} · chess_01.jpg" for text in (  # the history names the image
        f"Draw {first_class.name} box", "Move box", "Resize box", f"Relabel box as {second_class.name}", "Delete box")]

    states = [
        lambda anns: len(anns) == n0 + 1 and anns[-1]["category_id"] == second_class.id,  # delete undone
        lambda anns: anns[-1]["category_id"] == first_class.id and close(box_xyxy(anns[-1]), resized),
        lambda anns: close(box_xyxy(anns[-1]), moved),
        lambda anns: close(box_xyxy(anns[-1]), drawn),
        lambda anns: len(anns) == n0,
    ]
    for expected in states:
        qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        saved_boxes(qtbot, window, expected)
    for expected in [states[3], states[2], states[1], states[0], lambda anns: len(anns) == n0]:
        qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        saved_boxes(qtbot, window, expected)


def test_nudges_merge_into_one_undo_step_and_stay_inside_the_image(qtbot, demo):
    window = demo
    store = window.workspace.store
    original = store.boxes("chess_01.jpg")[0]
    window.canvas.select([0])
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Down):
        qtbot.keyClick(window.canvas, key)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    box = store.boxes("chess_01.jpg")[0]
    assert (box.x1 - original.x1, box.y1 - original.y1) == pytest.approx((-8, 1))
    assert window.workspace.undo_stack.count() == 1 and window.workspace.undo_stack.text(0) == "Nudge box · chess_01.jpg"
    saved_boxes(qtbot, window, lambda anns: close(box_xyxy(anns[0]), (box.x1, box.y1, box.x2, box.y2)))
    for _ in range(300):  # far past the left edge: the box stops at x = 0
        qtbot.keyClick(window.canvas, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert store.boxes("chess_01.jpg")[0].x1 == 0
    assert window.statusBar().currentMessage() == "the box is at the image's edge: nothing moves that way"  # (it said nothing)
    window.workspace.undo_stack.undo()
    assert store.boxes("chess_01.jpg")[0] == original


def test_copy_paste_and_paste_previous_image_boxes(qtbot, demo):
    window = demo
    store = window.workspace.store
    n1 = len(store.boxes("chess_01.jpg"))
    window.canvas.select([0, 1])
    qtbot.keyClick(window.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(store.boxes("chess_01.jpg")) == n1 + 2 and window.canvas.selected() == [n1, n1 + 1]
    assert window.workspace.undo_stack.text(0) == "Paste 2 boxes · chess_01.jpg"  # the history names the image
    copied, pasted = store.boxes("chess_01.jpg")[:2], store.boxes("chess_01.jpg")[n1:]
    shift = max(10, math.ceil(12 / window.canvas.zoom()))  # pasted where they came from, 12 screen px down and right (10 image px at least)
    for a, b in zip(copied, pasted):
        assert (b.x1 - a.x1, b.y1 - a.y1, b.x2 - a.x2, b.y2 - a.y2) == pytest.approx((shift,) * 4)
    qtbot.keyClick(window.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)  # again: further down and right (it went up and left)
    again = store.boxes("chess_01.jpg")[n1 + 2:]
    assert [v for a, b in zip(copied, again) for v in (b.x1 - a.x1, b.y1 - a.y1)] == pytest.approx([2 * shift] * 4)
    window.workspace.undo_stack.undo()
    qtbot.keyClick(window.canvas, Qt.Key.Key_D)  # next image
    wait_image(qtbot, window, "chess_02.jpg")
    n2 = len(store.boxes("chess_02.jpg"))
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(store.boxes("chess_02.jpg")) == n2 + n1 + 2
    assert window.workspace.undo_stack.text(1) == f"Paste {n1 + 2} boxes from chess_01.jpg · chess_02.jpg"
    qtbot.keyClick(window.canvas, Qt.Key.Key_A)  # back to chess_01, then undo the chess_02 paste
    wait_image(qtbot, window, "chess_01.jpg")
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(store.boxes("chess_02.jpg")) == n2
    assert window.annotator.current == "chess_02.jpg"  # undo brought the edited image on screen


def test_pastes_at_the_image_corner_keep_their_size_and_never_stack_and_say_so(qtbot, demo):
    """At the bottom-right corner each paste was shifted out of the image and clipped back to the
    same place: copies stacked unseen, each 10 px smaller, and nothing said it pasted."""
    from core.labels import Box
    from retina_gui.convert import same_place

    window = demo
    ws, store, name, (w, h) = window.workspace, window.workspace.store, window.annotator.current, window.annotator.size
    window.canvas.set_zoom(1.0)  # 100 %: a paste moves 12 px of screen, 12 image px here
    cat = store.categories[0].id
    ws.paste_boxes(name, (w, h), [Box(w - 100, h - 80, w, h, cat)])
    corner = len(store.boxes(name)) - 1
    window.canvas.select([corner])
    window.annotator.copy_selected()
    for _ in range(3):
        window.annotator.paste()
    pasted = store.boxes(name)[corner:]
    assert len({same_place(b) for b in pasted}) == 4  # four boxes in four places
    assert all((b.x2 - b.x1, b.y2 - b.y1) == pytest.approx((100, 80)) for b in pasted)  # whole, inside the image
    assert all(0 <= b.x1 and b.x2 <= w and 0 <= b.y1 and b.y2 <= h for b in pasted)
    assert (pasted[1].x1, pasted[1].y1) == pytest.approx((w - 112, h - 92))  # up and left, where it fits
    near = Box(w - 101.4, h - 81.4, w - 1.4, h - 1.4, cat)  # 1.4 px from the corner: not moved 1.4 px (it looked stacked)
    ws.paste_boxes(name, (w, h), [near])
    ws.clipboard = [near]
    window.annotator.paste()
    assert (store.boxes(name)[-1].x1, store.boxes(name)[-1].y1) == pytest.approx((w - 113.4, h - 93.4))
    assert window.statusBar().currentMessage() == "pasted 1 box"
    window.canvas.set_zoom(0.25)  # a photo fitted to the window: 12 screen px are 48 image px (10 were 2.5 on screen, stacked to the eye)
    ws.clipboard = [Box(100, 100, 200, 180, cat)]
    ws.paste_boxes(name, (w, h), ws.clipboard)
    window.annotator.paste()
    assert (store.boxes(name)[-1].x1, store.boxes(name)[-1].y1) == pytest.approx((148, 148))
    window.canvas.set_zoom(4.0)  # zoomed in: 10 image px still, not 3 (a copy 3 px off its original is hard to tell apart in the file)
    window.annotator.paste()
    assert {(b.x1, b.y1) for b in store.boxes(name)} >= {(110, 110)}
    # boxes that touch every edge together (Ctrl+A on a full image) cannot move whole: clipped, but never on the originals
    ws.paste_boxes(name, (w, h), [Box(0, 0, w, 30, cat), Box(0, h - 30, w, h, cat)])
    window.canvas.select(list(range(len(store.boxes(name)))))
    window.annotator.copy_selected()
    started = time.perf_counter()
    window.annotator.paste()
    assert time.perf_counter() - started < 0.5  # (it tried 4,000 places, one and the same: 3 s for 334 boxes)
    assert len({same_place(b) for b in store.boxes(name)}) == len(store.boxes(name))
    ws.clipboard = [Box(-50, -40, w + 60, h + 70, cat)]  # copied from a larger image: clipped to this one, each paste elsewhere
    for _ in range(3):
        window.annotator.paste()
    assert len({same_place(b) for b in store.boxes(name)}) == len(store.boxes(name))


def test_paste_previous_twice_adds_no_copies_of_the_boxes_already_there(qtbot, demo):
    window = demo
    store = window.workspace.store
    window.files.set_current("chess_02.jpg")
    wait_image(qtbot, window, "chess_02.jpg")
    n1, n2 = len(store.boxes("chess_01.jpg")), len(store.boxes("chess_02.jpg"))
    window.annotator.paste_previous()
    assert len(store.boxes("chess_02.jpg")) == n2 + n1
    assert window.statusBar().currentMessage() == f"pasted {n1} boxes from chess_01.jpg"
    steps = window.workspace.undo_stack.count()
    window.canvas.select([0])
    window.annotator.paste_previous()
    assert len(store.boxes("chess_02.jpg")) == n2 + n1 and window.workspace.undo_stack.count() == steps
    assert window.statusBar().currentMessage() == f"{n1} boxes already on this image"
    assert window.canvas.selected() == [0]  # nothing pasted: the selection stays (it was cleared)
    window.workspace.delete_boxes("chess_02.jpg", [n2])  # one of them deleted: only it comes back
    window.annotator.paste_previous()
    assert len(store.boxes("chess_02.jpg")) == n2 + n1
    assert window.statusBar().currentMessage() == f"pasted 1 box from chess_01.jpg; {n1 - 1} boxes already on this image"


def test_paste_previous_takes_the_nearest_earlier_image_with_boxes_in_list_order(qtbot, demo):
    """Not the image viewed last: coming back from chess_05 to chess_03, it is still chess_02's
    boxes, or chess_01's when chess_02 has none (a skipped frame)."""
    window = demo
    store = window.workspace.store
    window.workspace.delete_boxes("chess_02.jpg", list(range(len(store.boxes("chess_02.jpg")))))
    window.files.set_current("chess_05.jpg")
    wait_image(qtbot, window, "chess_05.jpg")
    window.files.set_current("chess_03.jpg")
    wait_image(qtbot, window, "chess_03.jpg")
    n1, n3 = len(store.boxes("chess_01.jpg")), len(store.boxes("chess_03.jpg"))
    window.annotator.paste_previous()
    assert len(store.boxes("chess_03.jpg")) == n3 + n1
    corners = lambda boxes: [(b.category_id, b.x1, b.y1, b.x2, b.y2) for b in boxes]  # noqa: E731
    assert corners(store.boxes("chess_03.jpg")[n3:]) == corners(store.boxes("chess_01.jpg"))
    assert window.workspace.undo_stack.text(window.workspace.undo_stack.index() - 1) == f"Paste {n1} boxes from chess_01.jpg · chess_03.jpg"
    window.files.set_current("chess_01.jpg")
    wait_image(qtbot, window, "chess_01.jpg")
    before = window.workspace.undo_stack.count()
    window.annotator.paste_previous()  # the first image has nothing before it
    assert window.workspace.undo_stack.count() == before
    assert "no image before this one has boxes" in window.statusBar().currentMessage()


def test_ctrl_c_in_a_text_report_copies_its_text_not_the_boxes(qtbot, demo):
    from PySide6.QtWidgets import QApplication

    window = demo
    report = window.anchor_panel.report
    report.setPlainText("best anchor IoU 0.42")
    window.findChild(QDockWidget, "Anchors").raise_()
    report.setFocus()
    report.selectAll()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is report, timeout=2000)
    window.workspace.clipboard = []
    window.copy()
    assert QApplication.clipboard().text() == "best anchor IoU 0.42" and window.workspace.clipboard == []


def test_pasting_boxes_whose_class_was_deleted_leaves_them_out_and_says_so(qtbot, demo):
    window = demo
    store, ws = window.workspace.store, window.workspace
    messages = []
    window.annotator.message.connect(messages.append)
    window.canvas.select([0])
    window.annotator.copy_selected()
    deleted = store.boxes("chess_01.jpg")[0].category_id
    ws.delete_category(deleted)
    n, steps = len(store.boxes("chess_01.jpg")), ws.undo_stack.count()
    window.annotator.paste()
    assert len(store.boxes("chess_01.jpg")) == n and ws.undo_stack.count() == steps  # no empty History entry
    assert messages[-1] == "1 of 1 boxes not pasted: 1 of a class deleted since they were copied"
    # a class added now does not take the deleted one's id: the copied box stays of no class (it was pasted as the new class)
    highest = max([deleted, *(c.id for c in store.categories)])
    assert ws.add_category("timer").id == highest + 1
    window.annotator.paste()
    assert len(store.boxes("chess_01.jpg")) == n and messages[-1] == "1 of 1 boxes not pasted: 1 of a class deleted since they were copied"
    ws.undo_stack.undo()  # the timer's adding undone: its id is nothing else's
    ws.delete_category(max(c.id for c in store.categories))  # the highest id now deleted: a class of accepted predictions is past it
    ws.accept_predictions([("chess_01.jpg", window.annotator.size, [(10.0, 10.0, 50.0, 50.0, "zebra")])], "Accept 1 prediction")
    assert store.category_named("zebra").id == highest + 1


def test_class_edits_are_undoable_and_saved(qtbot, demo):
    window = demo
    ws = window.workspace
    path = ws.labels_file.path
    before = json.loads(path.read_text())
    rook = next(c for c in ws.store.categories if c.name == "white-rook")
    n_rooks = ws.store.box_counts()[rook.id]
    ws.add_category("clock")
    ws.rename_category(rook.id, "white-castle")
    ws.recolor_category(rook.id, "#00ff00")
    ws.set_current_category(rook.id)  # the class new boxes get ...
    ws.delete_category(rook.id)
    assert ws.current_category != rook.id
    ws.undo_stack.undo()
    assert ws.current_category == rook.id  # ... is theirs again when its deletion is undone (class 1 drew them)
    ws.undo_stack.redo()
    assert [ws.undo_stack.text(i) for i in range(4)] == [
        "Add class clock", "Rename class white-rook to white-castle", "Recolour class white-castle",
        f"Delete class white-castle and its {n_rooks} boxes"]
    qtbot.waitUntil(lambda: "clock" in path.read_text() and "white-castle" not in path.read_text(), timeout=1500)
    assert rook.id not in {a["category_id"] for a in json.loads(path.read_text())["annotations"]}
    clock = json.loads(path.read_text())["categories"][-1]
    assert clock["name"] == "clock" and clock["id"] == max(c["id"] for c in before["categories"]) + 1
    for _ in range(4):
        ws.undo_stack.undo()
    qtbot.waitUntil(lambda: json.loads(path.read_text())["categories"] == before["categories"], timeout=1500)
    assert [(a["category_id"], a["bbox"]) for a in json.loads(path.read_text())["annotations"]] == [
        (a["category_id"], a["bbox"]) for a in before["annotations"]]
    assert window.classes.list.count() == len(before["categories"])
    with pytest.raises(ValueError, match="already a class"):
        ws.add_category("black-king")
    for look_alike in ("Black-King", "  black-king ", "cafe\u0301"):  # case, spaces, and a decomposed é next to a composed one
        if look_alike.startswith("cafe"):
            ws.add_category("caf\u00e9")
        with pytest.raises(ValueError, match="already a class"):
            ws.add_category(look_alike)
    for bad in ("", "   ", "a\nb", "x" * 101):
        with pytest.raises(ValueError, match="a class needs a name|one line of at most 100"):
            ws.add_category(bad)
    king = next(c for c in ws.store.categories if c.name == "black-king")
    ws.rename_category(king.id, "Black-King")  # a class may change its own name's case
    assert ws.store.category(king.id).name == "Black-King"
    asked = []
    window.confirm = lambda title, text, **_: asked.append(text) or False
    window.classes.list.setCurrentRow(next(i for i, c in enumerate(ws.store.categories) if c.id == king.id))
    window.classes.ask_delete()  # asks through the window (tests answer it), and "no" keeps the class
    assert asked and asked[0].startswith("Delete Black-King and its") and king.id in {c.id for c in ws.store.categories}


def test_draw_tool_draws_inside_an_existing_box(qtbot, demo):
    window = demo
    store = window.workspace.store
    box = store.boxes("chess_01.jpg")[0]
    n = len(store.boxes("chess_01.jpg"))
    qtbot.keyClick(window.canvas, Qt.Key.Key_W)
    cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    drag(qtbot, window, (cx - 5, cy - 5), (cx + 5, cy + 5))
    assert len(store.boxes("chess_01.jpg")) == n + 1 and store.boxes("chess_01.jpg")[0] == box
    drag(qtbot, window, (cx, cy), (cx + 1, cy + 1))  # a click, not a box
    assert len(store.boxes("chess_01.jpg")) == n + 1


def test_zoom_keeps_the_point_under_the_cursor_and_status_bar_shows_image_pixels(qtbot, demo):
    window = demo
    vp = window.canvas.viewport()
    p = view_point(window, 300, 200)
    qtbot.mouseMove(vp, p)
    assert window.status_fields.position_label.text().split() == ["x", "300.0", "y", "200.0"]
    from PySide6.QtCore import QPointF as P
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(P(p), P(vp.mapToGlobal(p)), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    window.canvas.wheelEvent(event)
    assert window.canvas.transform().m11() == pytest.approx(1.5625)
    after = window.canvas.mapToScene(p)
    assert abs(after.x() - 300) < 1 and abs(after.y() - 200) < 1
    assert window.status_fields.zoom_label.text() == "156 %"
    window.canvas.fit()
    assert window.canvas.transform().m11() < 1
    # a fitted image follows the window's size, both ways; a zoom the user chose stays
    size = window.size()
    for width, height in ((900, 650), (size.width() + 300, size.height() + 200)):
        window.resize(width, height)
        qtbot.waitUntil(lambda: window.canvas.transform().m11() == pytest.approx(window.canvas._fit_zoom()), timeout=3000)
    window.canvas.zoom_by(2)
    chosen = window.canvas.transform().m11()
    window.resize(size)
    qtbot.wait(50)
    assert window.canvas.transform().m11() == pytest.approx(chosen)


def test_wheel_zoom_near_the_image_edges_keeps_the_point_under_the_cursor(qtbot, demo):
    """From the fitted view (where the image is centred one way and fills the view the other), in
    and out again, at each corner: the view can be scrolled past the image's edges, so nothing
    slides away under the cursor; but never so far that the image leaves the view."""
    canvas = demo.canvas
    w, h = canvas.image_size
    for corner in ((3, 3), (w - 3, h - 3), (w - 3, 3), (3, h - 3)):
        canvas.fit()
        qtbot.wait(20)  # the scroll bars go
        at = canvas.mapFromScene(QPointF(*corner))
        assert canvas.viewport().rect().contains(at)
        for factor in (1.25,) * 6 + (0.8,) * 8:
            under = canvas.viewportTransform().inverted()[0].map(QPointF(at))
            canvas.zoom_by(factor, at)
            qtbot.wait(5)  # scroll bars come as the image outgrows the view: nothing may move then either
            off = canvas.viewportTransform().map(under) - QPointF(at)  # scroll positions are whole screen pixels
            assert abs(off.x()) <= 0.5 and abs(off.y()) <= 0.5, (corner, factor, off)
    canvas.fit()  # centred, with no scroll bars
    qtbot.wait(20)
    centre = canvas.mapFromScene(QPointF(w / 2, h / 2))
    assert abs(centre.x() - canvas.viewport().width() / 2) <= 1 and abs(centre.y() - canvas.viewport().height() / 2) <= 1
    assert canvas.horizontalScrollBar().maximum() == canvas.verticalScrollBar().maximum() == 0
    canvas.zoom_by(3)
    qtbot.wait(20)
    for bar in (canvas.horizontalScrollBar(), canvas.verticalScrollBar()):
        bar.setValue(bar.maximum())
    bottom_right = canvas.mapFromScene(QPointF(w, h))
    assert bottom_right.x() >= canvas.SCROLL_KEEP - 1 and bottom_right.y() >= canvas.SCROLL_KEEP - 1
    # the wheel over a scroll bar (they come up under a cursor at the edge) zooms as well; it does not scroll
    from PySide6.QtGui import QWheelEvent

    bar = canvas.verticalScrollBar()
    zoom = canvas.transform().m11()
    inside = QPointF(bar.width() / 2, bar.height() / 2)
    event = QWheelEvent(inside, QPointF(bar.mapToGlobal(inside.toPoint())), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(bar, event)
    assert canvas.transform().m11() == pytest.approx(zoom * 1.25)


@pytest.mark.parametrize("decoded", [True, False])
def test_switching_images_under_a_still_mouse_updates_the_cursor_readout(qtbot, demo, decoded):
    """Not decoded yet (a busy machine), the next image came fitted, the scroll bars went, the view
    fitted it again, and the position shown was of the fit before (CI's one flaky test)."""
    window = demo
    vp = window.canvas.viewport()
    p = view_point(window, 300, 200)
    qtbot.mouseMove(vp, p)
    window.canvas.zoom_by(2)  # the image moves under the mouse without a mouse event
    if decoded:
        qtbot.waitUntil(lambda: "chess_02.jpg" in window.annotator._cache, timeout=5000)
    else:
        window.annotator._cache.pop("chess_02.jpg", None)
    window.files.set_current("chess_02.jpg")
    wait_image(qtbot, window, "chess_02.jpg")
    under = window.canvas.mapToScene(p)
    assert window.status_fields.position_label.text().split() == ["x", f"{under.x():.1f}", "y", f"{under.y():.1f}"]
    assert (under.x(), under.y()) != (300.0, 200.0)


def test_prediction_tags_hang_under_their_box_at_every_zoom(qtbot, demo):
    from retina_gui.canvas_items import BoxView

    canvas = demo.canvas
    box = QRectF(100, 100, 200, 150)
    canvas.set_predictions([BoxView(box, "white-pawn 0.91", QColor("red"))])
    item = canvas._predictions[0]
    for zoom in (0.25, 1.0, 4.0):
        canvas.set_zoom(zoom)
        tag = item.label.deviceTransform(canvas.viewportTransform()).mapRect(item.label.boundingRect())  # view pixels
        corner = canvas.viewportTransform().map(box.bottomLeft())
        assert tag.top() == pytest.approx(corner.y(), abs=0.01) and tag.left() == pytest.approx(corner.x(), abs=0.01)
        assert tag.height() == pytest.approx(item.label.boundingRect().height())  # the same size on screen at every zoom


def test_file_list_search_filter_navigation_and_next_unlabelled(qtbot, tmp_path, settings):
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    shutil.copy(DATASETS / "sample_photos" / "skimage" / "astronaut.png", folder / "sub_astronaut.png")
    (folder / "nested").mkdir()
    shutil.copy(DEMO / "chess_01.jpg", folder / "nested" / "copy.jpg")
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.files.model.rowCount() == 10, timeout=5000)
    assert window.files.model.names[0] == "chess_01.jpg" and "nested/copy.jpg" in window.files.model.names
    wait_image(qtbot, window)
    assert window.files.next_unlabelled()
    assert window.files.current() == "sub_astronaut.png"  # a folder's files come before its subfolders
    assert window.files.next_unlabelled()
    assert window.files.current() == "nested/copy.jpg"
    wait_image(qtbot, window, "nested/copy.jpg")
    for text in ("C", "CH", "CHESS_0"):  # typing a search that hides the image on screen does not change the image
        window.files.search.setText(text)
    assert window.files.filter.rowCount() == 8 and window.files.count.text() == "8 of 10 images"
    assert window.annotator.current == "nested/copy.jpg" and window.files.current() is None
    window.files.search.setFocus()
    qtbot.keyClick(window.files.search, Qt.Key.Key_Return)  # Return: the first image found, and the keys go back to the image
    assert window.files.current() == "chess_01.jpg" and window.canvas.hasFocus()
    wait_image(qtbot, window, "chess_01.jpg")
    window.files.search.setFocus()
    qtbot.keyClick(window.files.search, Qt.Key.Key_Escape)  # Esc: the search goes, and so does the focus (D and A typed into the box)
    assert window.files.search.text() == "" and window.canvas.hasFocus()
    window.files.set_current("nested/copy.jpg")
    wait_image(qtbot, window, "nested/copy.jpg")
    window.files.search.setText("CHESS_0")
    window.files.search.clear()
    assert window.files.current() == "nested/copy.jpg"  # listed again: current again, the place in the list kept
    window.files.status_box.setCurrentIndex(window.files.status_box.findData("unlabelled"))
    assert window.files.filter.rowCount() == 2 and window.files.current() == "nested/copy.jpg"
    window.files.status_box.setCurrentIndex(window.files.status_box.findData("labelled"))
    assert window.files.current() is None and window.files.step(-1)  # D / A go on from where the hidden image would be
    assert window.files.current() == "chess_08.jpg"
    window.files.status_box.setCurrentIndex(0)
    assert window.settings.value("recent_folders")[0] == str(folder.resolve())
    window.files.set_current("nested/copy.jpg")
    wait_image(qtbot, window, "nested/copy.jpg")
    window.close()
    window2 = open_window(qtbot, folder, settings, recursive=False)
    qtbot.waitUntil(lambda: window2.files.model.rowCount() == 9, timeout=5000)
    wait_image(qtbot, window2, "chess_01.jpg")  # the last image is in a subfolder, not listed now: the first
    window2.close()


@pytest.mark.parametrize("one_name_a_batch", [False, True])
def test_file_list_comes_back_to_the_last_image_of_a_folder(qtbot, tmp_path, settings, monkeypatch, one_name_a_batch):
    """``one_name_a_batch``: as in a big or slow folder, the image left last time comes in a later
    part of the listing than the first; the first image was shown, and stayed."""
    from retina_gui.workers import FolderScanner

    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "chess_01.jpg")
    window.files.set_current("chess_05.jpg")
    wait_image(qtbot, window, "chess_05.jpg")
    window.close()
    if one_name_a_batch:
        monkeypatch.setattr(FolderScanner, "BATCH_SECONDS", -1.0)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "chess_05.jpg")
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    assert window.files.current() == "chess_05.jpg"
    window.close()


def test_exif_samples_display_and_export_in_the_orientation_the_user_sees(qtbot, tmp_path, settings):
    folder = tmp_path / "exif"
    shutil.copytree(DATASETS / "exif_orientation", folder, ignore=shutil.ignore_patterns("*.txt", "LICENSE"))
    window = open_window(qtbot, folder, settings)
    ws = window.workspace
    ws.add_category("thing")
    for name in window.files.model.names:
        window.files.set_current(name)
        wait_image(qtbot, window, name)
        expected = (1800, 1200) if name.startswith("Landscape") else (1200, 1800)
        assert window.annotator.size == expected, name
        shown = window.annotator._cache[name][0]
        pixels = load_image(folder / name)  # what training reads
        for x, y in ((5, 5), (expected[0] - 7, 9), (expected[0] // 2, expected[1] - 3)):
            assert QColor(shown.pixel(x, y)).getRgb()[:3] == tuple(int(v) for v in pixels[y, x]), (name, x, y)
        ws.draw_box(name, window.annotator.size, window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect().intersected(
            window.canvas.sceneRect()).adjusted(10, 10, -10, -10))
    out = tmp_path / "export.json"
    assert transferred(qtbot, window, window.label_files.export("coco", out))
    exported = {im.file_name: (im.width, im.height) for im in read_coco(out).images}
    assert exported == {n: ((1800, 1200) if n.startswith("Landscape") else (1200, 1800)) for n in window.files.model.names}
    window.close()


def test_an_image_pil_fails_on_with_an_unusual_error_is_marked_unreadable_and_the_loader_goes_on(qtbot, tmp_path, settings):
    """PIL raised TypeError on this TIFF: the image loader's thread ended, unseen, and every image
    after it stayed "Loading …" until the folder was opened again."""
    folder = tmp_path / "f"
    shutil.copytree(ROOT / "resources" / "demo", folder)
    shutil.copy(ROOT / "tests" / "data" / "pil_typeerror.tif", folder / "chess_00.tif")  # listed first: shown at opening
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: "chess_00.tif" in window.files.model.unreadable, timeout=10_000)
    assert window.files.model.unreadable["chess_00.tif"].startswith("corrupt: TypeError")
    window.step_image(1)
    qtbot.waitUntil(lambda: window.annotator.current == "chess_01.jpg" and window.annotator.size is not None, timeout=10_000)
    assert window.loader.isRunning()
    window.close()


def test_corrupt_pngsuite_files_are_marked_unreadable_and_the_others_load(qtbot, tmp_path, settings):
    folder = tmp_path / "png"  # a copy: opening a folder writes beside its labels (the lock), and ../shared stays as it is
    shutil.copytree(DATASETS / "pngsuite" / "png", folder)
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.files.model.rowCount() == 175, timeout=5000)
    shown = set()
    for name in window.files.model.names:
        window.files.set_current(name)
        qtbot.waitUntil(lambda: window.annotator.size is not None or name in window.files.model.unreadable, timeout=5000)
        if window.annotator.size is not None:
            shown.add(name)
    corrupt = {n for n in window.files.model.names if n.startswith("x")}
    assert set(window.files.model.unreadable) == corrupt and len(corrupt) == 14
    assert len(shown) == 175 - 14
    assert window.files.model.status("xc1n0g08.png") == "unreadable"
    window.files.set_current("basn0g01.png")
    qtbot.waitUntil(lambda: window.annotator.size is not None, timeout=5000)
    qtbot.mouseMove(window.canvas.viewport(), window.canvas.mapFromScene(QPointF(16, 16)))
    assert window.status_fields.position_label.text() and window.canvas._cursor is not None
    window.files.set_current("xc1n0g08.png")  # known to be unreadable by now: the status bar must not keep the last image
    assert "cannot be read" in window.canvas.message
    place = window.files.filter.mapFromSource(window.files.model.index(window.files.model.row("xc1n0g08.png"))).row() + 1
    assert window.status_fields.image_label.text() == f"{place}/175  xc1n0g08.png: unreadable"  # its place in the list stays said
    assert window.status_fields.position_label.text() == "" and window.canvas._cursor is None  # no pixels: no position, no crosshair
    assert window.status_fields.zoom_label.text() == ""  # (the last image's zoom stood there)
    window.annotator.toggle_reviewed()  # R on it: told why nothing happens
    assert window.statusBar().currentMessage() == "xc1n0g08.png cannot be read: it has nothing to edit"
    window.annotator._cache.clear()  # the next image decoded, not taken from the cache
    window.files.set_current("basn0g01.png")  # (that note stood under the next images, drawn on, for 10 s)
    qtbot.waitUntil(lambda: window.annotator.current == "basn0g01.png" and window.annotator.size is not None, timeout=5000)
    assert window.statusBar().currentMessage() == ""
    window.files.set_current("xc1n0g08.png")
    window.files.set_current("xc9n2c08.png")
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("xc9n2c08.png cannot be read"), timeout=5000)
    window.files.set_current("basn0g02.png")  # its note goes with it (it stood under the next image for 10 s)
    qtbot.waitUntil(lambda: window.annotator.current == "basn0g02.png" and window.annotator.size is not None, timeout=5000)
    assert window.statusBar().currentMessage() == ""
    assert not (folder / "annotations.coco.json").exists()  # nothing written: no edits were made
    reasons = dict(window.files.model.unreadable)
    window.close()
    # opened again: the files found unreadable are marked as the listing ends (the filter counted 0 until each was shown);
    # one changed since is not
    (folder / "xc1n0g08.png").write_bytes((folder / "xc1n0g08.png").read_bytes() + b"\0")
    time.sleep(0.01)
    os.chmod(folder / "xc9n2c08.png", 0o644)  # (a permission put right changes no size nor mtime: its ctime says so)
    again = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: again.listing.complete, timeout=5000)
    assert again.files.model.unreadable == {n: r for n, r in reasons.items() if n not in ("xc1n0g08.png", "xc9n2c08.png")}
    again.close()


def test_malformed_labels_file_is_reported_and_never_overwritten(qtbot, tmp_path, settings):
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    path = folder / "annotations.coco.json"
    path.write_text('{"images": [{"id": 1}')
    window = open_window(qtbot, folder, settings)
    assert any("could not be read" in r and "not valid JSON" in r for r in window.reports)
    wait_image(qtbot, window)
    window.canvas.setFocus()
    drag(qtbot, window, (10, 10), (300, 300))
    assert window.workspace.read_only and window.workspace.undo_stack.count() == 0
    window.close()
    assert path.read_text() == '{"images": [{"id": 1}'


def test_a_read_only_labels_file_or_folder_opens_read_only_with_its_labels_shown(qtbot, tmp_path, settings, monkeypatch):
    import os

    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    path = folder / "annotations.coco.json"
    before = path.read_bytes()
    path.chmod(0o444)  # "do not change this file"
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window)
    assert window.workspace.read_only and len(window.workspace.store.boxes("chess_01.jpg")) > 0  # the labels are there to see
    assert any(r.startswith("Labels read-only") and f"{path} is read-only" in r and "File ▸ Open Labels File" in r for r in window.reports)
    assert any(f"The folder can be written: to label these images, make the file writable (chmod u+w {path}" in r for r in window.reports)
    assert window.windowTitle().endswith("(read only)")
    window.canvas.setFocus()
    drag(qtbot, window, (10, 10), (300, 300))
    assert window.workspace.undo_stack.count() == 0 and f"Editing is off: {path} is read-only" in window.statusBar().currentMessage()
    window.save()  # Ctrl+S: it said "labels saved" with nothing written
    assert window.statusBar().currentMessage().startswith(f"nothing saved: {path} is read-only")
    window.close()
    assert path.read_bytes() == before and not (folder / ".annotations.coco.json.lock").exists()
    path.chmod(0o644)
    access = os.access  # a folder the user may read but not write (as root, permissions are not enforced: pretend)
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK and str(p) == str(folder) else access(p, mode))
    window = open_window(qtbot, folder, settings)
    assert window.workspace.read_only and f"The folder {folder} is read-only" in window.reports[-1]
    # nothing to add or change in the classes (Add asked for a name again and again), and Ctrl+N says why
    assert not any(button.isEnabled() for button in window.classes.buttons)
    window.classes.ask_add()
    assert window.statusBar().currentMessage().startswith("Editing is off:")
    # Train says where runs would go, and the way on (a raw "[Errno 30] Read-only file system" before)
    assert not window.training_panel.train()
    assert window.training_panel.status.text() == (
        f"Training keeps its runs in {folder / 'runs'}, and {folder} cannot be written (its permissions, or a read-only disk). Or "
        "File ▸ Open Labels File… keeps the labels, and the runs beside them, in a folder that can be written.")
    window.close()


def test_a_second_window_on_the_same_labels_file_is_refused(qtbot, demo, settings):
    second = open_window(qtbot, demo.workspace.folder, settings)
    assert second.workspace is None
    assert any("already open in another retina-gui window" in r for r in second.reports)
    second.close()


def test_missing_and_resized_images_are_reported_and_their_labels_kept(qtbot, tmp_path, settings):
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    path = folder / "annotations.coco.json"
    data = json.loads(path.read_text())
    data["images"][0]["width"] = 500  # chess_01 "changed size"
    gone = dict(data["images"][1], id=999, file_name="gone.jpg")
    data["images"].append(gone)
    data["annotations"].append(dict(data["annotations"][0], id=99999, image_id=999))
    path.write_text(json.dumps(data))
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: any("Images missing" in r for r in window.reports), timeout=5000)
    assert any("gone.jpg" in r for r in window.reports)
    wait_image(qtbot, window, "chess_01.jpg")
    assert window.annotator.size_warned == {"chess_01.jpg"}
    assert window.statusBar().currentMessage().startswith(f"chess_01.jpg: the labels were made on a 500×{data['images'][0]['height']} image")
    window.workspace.add_category("clock")  # an edit, so the file is rewritten
    qtbot.waitUntil(lambda: "clock" in path.read_text(), timeout=1500)
    assert "gone.jpg" in {im.file_name for im in read_coco(path).images}
    said = []
    window.statusBar().messageChanged.connect(said.append)
    window.open_folder(folder)  # the same images missing: said in the status bar, not in another box at every opening
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    assert sum("Images missing" in r for r in window.reports) == 1
    assert "1 labelled image not in the folder (their labels are kept)" in said
    window.close()


def test_new_folder_starts_an_annotations_file_on_the_first_edit(qtbot, tmp_path, settings, monkeypatch):
    from PySide6.QtWidgets import QDialog

    from retina_gui.class_picker import ClassPicker

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DATASETS / "sample_photos" / "skimage" / "astronaut.png", folder)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "astronaut.png")
    # no model yet: the Evaluation panel says what it needs (it was blank)
    assert window.evaluation_panel.metrics.text() == "Load a model to evaluate (Model ▸ Load Model…)."
    assert not window.evaluation_panel.run_button.isEnabled()
    window.canvas.setFocus()
    # a box drawn before any class: the picker asks for one (it was refused, and had to be drawn again)
    asked = []

    def answer(picker, typed):
        asked.append((picker.filter.placeholderText(), picker.list.count(), window.canvas._waiting))
        picker.filter.setText(typed)
        if typed:  # no classes: no empty list under the name, and the name typed is said to become the first class
            assert picker.list.isHidden() and picker.nothing.text() == f"Return adds “{typed}” as the first class"
        return QDialog.DialogCode.Accepted if typed else QDialog.DialogCode.Rejected

    monkeypatch.setattr(ClassPicker, "exec", lambda picker: answer(picker, ""))  # cancelled: no box
    drag(qtbot, window, (50, 50), (200, 200))
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=2000)
    placeholder, listed, waiting = asked[-1]
    assert placeholder.startswith("No classes yet") and listed == 0
    assert waiting is not None and waiting.width() > 100  # the box drawn stays in view while its class is asked
    assert window.workspace.undo_stack.count() == 0 and window.statusBar().currentMessage() == NO_CLASS_TEXT
    assert window.canvas._waiting is None
    window.workspace.add_category("person")
    assert window.statusBar().currentMessage() == ""  # (the advice followed: it stood 10 s over the boxes drawn next)
    window.workspace.undo_stack.undo()  # no class again
    window.canvas.actual_size()
    monkeypatch.setattr(ClassPicker, "exec", lambda picker: answer(picker, "person"))  # a name typed: added as a class, then the box
    drag(qtbot, window, (50, 50), (200, 200))
    path = folder / "annotations.coco.json"
    qtbot.waitUntil(lambda: path.exists() and len(json.loads(path.read_text())["annotations"]) == 1, timeout=1500)
    data = json.loads(path.read_text())
    assert data["images"] == [{"id": 1, "file_name": "astronaut.png", "width": 512, "height": 512}]
    assert data["categories"] == [{"id": 1, "name": "person", "supercategory": ""}]
    qtbot.keyClick(window.canvas, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: json.loads(path.read_text())["images"][0].get("reviewed") is True, timeout=1500)
    assert window.files.model.status("astronaut.png") == "reviewed"
    window.close()


def test_an_8000_px_image_is_shown_reduced_with_boxes_in_full_resolution_pixels(qtbot, tmp_path, settings):
    from PIL import Image, ImageDraw

    folder = tmp_path / "huge"
    folder.mkdir()
    image = Image.new("RGB", (8200, 6100), (40, 90, 160))
    ImageDraw.Draw(image).rectangle((6000, 4000, 7000, 5000), fill=(250, 250, 0))
    image.save(folder / "huge.jpg", quality=80)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "huge.jpg")
    assert window.annotator.size == (8200, 6100)
    shown = window.annotator._cache["huge.jpg"][0]
    assert (shown.width(), shown.height()) == (2050, 1525)  # decoded at 1/4 scale in the DCT (1/2 would exceed 4096)
    assert window.canvas.scene().sceneRect().getRect() == (0, 0, 8200, 6100)
    window.workspace.add_category("sign")
    window.canvas.actual_size()
    window.canvas.centerOn(6500, 4500)
    window.canvas.setFocus()
    drag(qtbot, window, (6000, 4000), (7000, 5000))
    (box,) = window.workspace.store.boxes("huge.jpg")
    assert (box.x1, box.y1, box.x2, box.y2) == (6000, 4000, 7000, 5000)
    window.close()


def test_a_coco_import_into_a_folder_without_labels_keeps_the_files_class_ids(qtbot, tmp_path, settings):
    """They came back renumbered (1..13 for 2..14), and every class without a colour of its own
    was drawn in another colour."""
    original = read_coco(DEMO / "annotations.coco.json")
    window = unlabelled_window(qtbot, tmp_path, settings)
    window.workspace.add_category("my own class")  # id 1, which the file does not use
    clash = window.workspace.add_category("another")  # id 2, which the file's black-bishop has: that class gets another
    assert transferred(qtbot, window, window.label_files.import_labels("coco", DEMO / "annotations.coco.json"))
    store = window.workspace.store
    got = {c.name: c.id for c in store.categories}
    want = {c.name: c.id for c in original.categories}
    moved = [name for name, cid in want.items() if cid == clash.id]
    assert all(got[name] == cid for name, cid in want.items() if name not in moved)
    assert moved == ["black-bishop"] and got["black-bishop"] not in want.values() and got["another"] == clash.id == 2
    window.close()


def test_a_coco_import_whose_file_names_carry_a_folder_finds_the_images_by_name(qtbot, tmp_path, settings):
    """Written with a prefix ("train/chess_01.jpg"), every image was skipped as not in the folder."""
    source = demo_labels_edited(tmp_path / "prefixed.json", lambda im: im.update(file_name=f"train/{im['file_name']}"))
    window = unlabelled_window(qtbot, tmp_path, settings)
    assert transferred(qtbot, window, window.label_files.import_labels("coco", source))
    store = window.workspace.store
    assert sum(len(store.boxes(n)) for n in store.file_names()) == len(json.loads(source.read_text())["annotations"])
    assert not any("not in this folder" in r for r in window.reports)
    window.close()


def test_an_import_does_not_put_an_unlisted_subfolder_images_labels_on_its_namesake(qtbot, tmp_path, settings):
    """Subfolders left out, the labels of sub/chess_01.jpg (another photo, on disk) went to the listed
    chess_01.jpg, as a prefix written by another tool does, and nothing was said."""
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("*.json"))
    (folder / "sub").mkdir()
    shutil.copy(folder / "chess_05.jpg", folder / "sub" / "chess_01.jpg")
    source = demo_labels_edited(tmp_path / "sub.json", lambda im: im.update(file_name=f"sub/{im['file_name']}") if
                                im["file_name"] == "chess_01.jpg" else None)
    window = open_window(qtbot, folder, settings, recursive=False)
    assert "sub/chess_01.jpg" not in window.files.model.names
    assert transferred(qtbot, window, window.label_files.import_labels("coco", source))
    store = window.workspace.store
    assert not store.boxes("chess_01.jpg") and store.boxes("chess_02.jpg")
    assert any("1 labelled image in the folder but not listed (File ▸ Include Subfolders is off?) skipped, e.g. sub/chess_01.jpg" in r
               for r in window.reports), window.reports
    assert not any("not in this folder" in r for r in window.reports)
    window.close()


def test_an_import_finds_an_image_by_the_end_of_its_path_and_names_those_that_could_be_several(qtbot, tmp_path, settings):
    """File names with another folder's prefix, two images of one file name in two subfolders: both
    were skipped as "not in this folder" (matched by the file name alone), and a name that could be
    either was said to be missing."""
    from PIL import Image

    folder = tmp_path / "f"
    for sub, source in (("a", "chess_01.jpg"), ("b", "chess_02.jpg")):
        (folder / sub).mkdir(parents=True)
        shutil.copy(DEMO / source, folder / sub / "x.jpg")
    width, height = Image.open(folder / "a" / "x.jpg").size
    entries = [("/mnt/old/set/a/x.jpg", 10), ("/mnt/old/set/b/x.jpg", 20), ("C:\\old\\x.jpg", 30)]
    source = tmp_path / "prefixed.json"
    source.write_text(json.dumps({
        "images": [{"id": k, "file_name": name, "width": width, "height": height} for k, (name, _) in enumerate(entries, 1)],
        "annotations": [{"id": k, "image_id": k, "category_id": 1, "bbox": [x, x, 50, 50]} for k, (_, x) in enumerate(entries, 1)],
        "categories": [{"id": 1, "name": "piece"}]}))
    window = open_window(qtbot, folder, settings)
    assert sorted(window.files.model.names) == ["a/x.jpg", "b/x.jpg"]
    assert transferred(qtbot, window, window.label_files.import_labels("coco", source))
    store = window.workspace.store
    assert [b.x1 for b in store.boxes("a/x.jpg")] == [10] and [b.x1 for b in store.boxes("b/x.jpg")] == [20]
    assert any("1 labelled image skipped that could be any of several images here, e.g. C:/old/x.jpg (a/x.jpg, b/x.jpg)" in r
               for r in window.reports), window.reports
    assert not any("not in this folder" in r for r in window.reports)
    window.close()


def test_a_labelme_folder_is_imported_beside_or_apart_from_its_images(qtbot, tmp_path, settings):
    """labelme's and X-AnyLabeling's files (a JSON per image) had no way in."""
    window = unlabelled_window(qtbot, tmp_path, settings)
    height, width = load_image(window.workspace.folder / "chess_01.jpg").shape[:2]
    source = tmp_path / "labelme"  # a folder of its own: imagePath leads out of it, to the images
    source.mkdir()
    for name, shapes in (("chess_01", [{"label": "rook", "points": [[10, 20], [60, 90]], "shape_type": "rectangle"},
                                       {"label": "pawn", "points": [[100, 100], [140, 100], [120, 150]], "shape_type": "polygon"},
                                       {"label": "pawn", "points": [[200, 200], [240, 240]], "shape_type": "rectangle", "difficult": True}]),
                         ("chess_02", [])):
        (source / f"{name}.json").write_text(json.dumps({"shapes": shapes, "imagePath": f"../f/{name}.jpg", "imageData": None,
                                                         "imageWidth": width, "imageHeight": height}))
    assert transferred(qtbot, window, window.label_files.import_labels("labelme", source))
    store = window.workspace.store
    names = {c.id: c.name for c in store.categories}
    assert [(names[b.category_id], b.x1, b.y1, b.x2, b.y2, b.iscrowd) for b in store.boxes("chess_01.jpg")] == [
        ("rook", 10, 20, 60, 90, False), ("pawn", 100, 100, 140, 150, False), ("pawn", 200, 200, 240, 240, True)]
    assert store.entry("chess_02.jpg").reviewed  # saved without shapes: a negative
    assert "imported 3 boxes, 1 image marked reviewed from" in window.statusBar().currentMessage()
    assert "1 box marked “difficult” read as a crowd region: training ignores the anchors on them" in window.reports[-1]
    window.close()


def test_a_folder_labelled_in_labelme_offers_to_import_its_files_as_it_opens(qtbot, tmp_path, settings):
    """A labelme user opening their folder saw no boxes, and no word on the files beside the images."""
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("*.json"))
    height, width = load_image(folder / "chess_01.jpg").shape[:2]
    (folder / "chess_01.json").write_text(json.dumps({"shapes": [{"label": "rook", "points": [[10, 20], [60, 90]],
                                                                  "shape_type": "rectangle"}],
                                                      "imagePath": "chess_01.jpg", "imageWidth": width, "imageHeight": height}))
    asked = []
    window = MainWindow(folder=folder, settings=settings, confirm=lambda title, text, undoable=False: asked.append(text) or True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.workspace.store.boxes("chess_01.jpg")), timeout=10_000)
    assert asked[0].startswith("1 image here has a labelme or X-AnyLabeling file beside it (the first: chess_01.json). Import its boxes?")
    assert [(b.x1, b.y1, b.x2, b.y2) for b in window.workspace.store.boxes("chess_01.jpg")] == [(10, 20, 60, 90)]
    window.workspace.undo_stack.undo()  # one step
    assert not window.workspace.store.has_labels()
    window.close()


def test_a_labelme_export_asks_before_replacing_the_boxes_of_files_edited_in_labelme_since_they_were_read(qtbot, tmp_path, settings):
    """A box drawn in labelme after the import was deleted by the next export, and one deleted
    there came back, without a word."""
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("*.json"))
    height, width = load_image(folder / "chess_01.jpg").shape[:2]
    labelme_file = folder / "chess_01.json"
    labelme_file.write_text(json.dumps({"shapes": [{"label": "rook", "points": [[10, 20], [60, 90]], "shape_type": "rectangle"}],
                                        "imagePath": "chess_01.jpg", "imageWidth": width, "imageHeight": height}))
    asked = []
    answer = [True]
    window = MainWindow(folder=folder, settings=settings, confirm=lambda title, text, undoable=False: asked.append(text) or answer[0])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.workspace.store.boxes("chess_01.jpg")), timeout=10_000)
    window.workspace.draw_box("chess_01.jpg", window.annotator.size, QRectF(100, 100, 50, 50))
    assert transferred(qtbot, window, window.label_files.export("labelme", folder))  # read here, unchanged since: no question
    assert len(asked) == 1 and len(json.loads(labelme_file.read_text())["shapes"]) == 2
    assert transferred(qtbot, window, window.label_files.export("labelme", folder)) and len(asked) == 1  # written here: none either
    data = json.loads(labelme_file.read_text())
    data["shapes"].append({"label": "pawn", "points": [[200, 200], [240, 260]], "shape_type": "rectangle"})  # drawn in labelme
    labelme_file.write_text(json.dumps(data))
    answer[0] = False
    assert not window.label_files.export("labelme", folder)
    assert asked[-1].startswith(f"1 labelme file in {folder} was changed since retina-gui read or wrote it, or never read here (the first: "
                                "chess_01.json): the export replaces its boxes with this folder's labels")
    assert len(json.loads(labelme_file.read_text())["shapes"]) == 3  # nothing written
    window.close()


def test_an_import_clips_boxes_to_their_image_and_says_what_it_left_out_and_merged(qtbot, tmp_path, settings):
    """A box wholly outside its image was added unseen (nor could it be deleted), a flat one made the
    next COCO export fail its check, and two classes of one name became one: nothing was said."""
    window = unlabelled_window(qtbot, tmp_path, settings)
    height, width = load_image(window.workspace.folder / "chess_01.jpg").shape[:2]
    source = tmp_path / "odd.json"
    source.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "chess_01.jpg", "width": width, "height": height}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1000, 600, 100, 100]},  # past the right and bottom edges
                        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [3000, 10, 50, 50]},  # wholly outside
                        {"id": 3, "image_id": 1, "category_id": 2, "bbox": [10, 10, 0, 40]},  # without width
                        {"id": 4, "image_id": 1, "category_id": 2, "bbox": [100, 100, 40, 40]}],
        "categories": [{"id": 1, "name": "Car"}, {"id": 2, "name": "car "}]}))
    assert transferred(qtbot, window, window.label_files.import_labels("coco", source))
    boxes = window.workspace.store.boxes("chess_01.jpg")
    assert [(b.x1, b.y1, b.x2, b.y2) for b in boxes] == [(1000, 600, 1024, 686), (100, 100, 140, 140)]
    assert [c.name for c in window.workspace.store.categories] == ["Car"]
    said = window.reports[-1]
    assert "1 box reaching outside its image clipped to it (the first in chess_01.jpg)" in said
    assert "2 boxes wholly outside their images, or without width or height, left out (the first in chess_01.jpg)" in said
    assert "categories 1 ('Car') and 2 ('car ') of the file have one name (as class names are compared): their boxes are one class " \
           "here" in said
    window.close()


def test_an_export_leaves_out_the_labels_of_images_gone_from_the_folder_and_says_what_the_format_drops(qtbot, demo, tmp_path):
    """A deleted image's labels were written (a CSV line leading nowhere, on which keras-retinanet
    stopped), and a CSV or YOLO export left crowd regions (VOC "difficult" boxes) out without a word."""
    window = demo
    store = window.workspace.store
    store.replace_boxes("chess_02.jpg", [(0, replace(store.boxes("chess_02.jpg")[0], iscrowd=True))])
    (window.workspace.folder / "chess_03.jpg").unlink()
    gone = len(store.boxes("chess_03.jpg"))
    total = sum(len(store.boxes(n)) for n in store.file_names())
    out = tmp_path / "out.csv"
    assert transferred(qtbot, window, window.label_files.export("csv", out))
    lines = out.read_text().splitlines()
    assert len(lines) == total - gone - 1 and not any("chess_03.jpg" in line for line in lines)
    assert window.reports[-1].startswith(f"Export: Exported to {out}. Notes:\n1 labelled image no longer in the folder left out "
                                         "(the first: chess_03.jpg); its labels stay here, in case it comes back")
    assert "(1 crowd region left out: RetinaNet CSV has no form for them; boxes marked “difficult” (VOC, X-AnyLabeling) are read as crowd regions)" in \
           window.statusBar().currentMessage()
    assert store.boxes("chess_03.jpg")  # kept in the window
    window.close()


def test_an_import_of_labels_made_at_another_size_scales_them_to_the_images_and_leaves_out_another_shape(qtbot, tmp_path, settings):
    """A "resize to 640" export imported onto the full-size images put its boxes in the top-left
    part of each image, and nothing was said."""
    data = json.loads((DEMO / "annotations.coco.json").read_text())
    ids = {im["file_name"]: im["id"] for im in data["images"]}
    original = {a["id"]: list(a["bbox"]) for a in data["annotations"]}
    for image in data["images"]:
        if image["file_name"] == "chess_01.jpg":
            assert (image["width"], image["height"]) == (1024, 686)
            image.update(width=640, height=429)
        if image["file_name"] == "chess_02.jpg":
            image.update(width=500, height=500)
    for a in data["annotations"]:
        if a["image_id"] == ids["chess_01.jpg"]:
            a["bbox"] = [v * 0.625 for v in a["bbox"]]
    source = tmp_path / "resized.json"
    source.write_text(json.dumps(data))
    window = unlabelled_window(qtbot, tmp_path, settings)
    assert transferred(qtbot, window, window.label_files.import_labels("coco", source))
    store = window.workspace.store
    want = sorted(original[a["id"]] for a in data["annotations"] if a["image_id"] == ids["chess_01.jpg"])
    got = sorted([b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1] for b in store.boxes("chess_01.jpg"))
    assert len(got) == len(want) > 0 and all(abs(g - w) < 1 for gb, wb in zip(got, want) for g, w in zip(gb, wb))
    assert (store.entry("chess_01.jpg").width, store.entry("chess_01.jpg").height) == (1024, 686)
    assert not store.boxes("chess_02.jpg") and len(store.boxes("chess_03.jpg")) > 0
    report = window.reports[-1]
    assert "1 image labelled at another size (the first: chess_01.jpg, 640×429 for 1024×686): its boxes scaled to the image" in report
    assert ("1 image labelled at a size of another shape than the image's (the first: chess_02.jpg, 500×500 for 1024×686: a crop, a pad "
            "or a stretch, which cannot be told apart): left out") in report
    window.close()


def test_an_import_puts_no_other_entrys_boxes_on_an_image_the_file_names_itself(qtbot, tmp_path, settings):
    """chess_01.jpg and train/chess_01.jpg (another image, of the file's train folder), without
    sizes: both entries' boxes went onto the folder's chess_01.jpg; as do two prefixed names of it."""
    source = tmp_path / "twice.json"
    names = ["chess_01.jpg", "train/chess_01.jpg", "a/chess_02.jpg", "b/chess_02.jpg"]
    source.write_text(json.dumps({"images": [{"id": k, "file_name": name} for k, name in enumerate(names, 1)],
                                  "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": k, "image_id": k, "category_id": 1, "bbox": [10 * k, 10, 20, 20]}
                                                  for k in range(1, 5)]}))
    window = unlabelled_window(qtbot, tmp_path, settings)
    assert transferred(qtbot, window, window.label_files.import_labels("coco", source))
    store = window.workspace.store
    assert [b.x1 for b in store.boxes("chess_01.jpg")] == [10] and not store.boxes("chess_02.jpg")
    assert window.reports[-1].endswith("3 labelled images skipped whose one image here the file names in another entry too, e.g. "
                                       "train/chess_01.jpg (chess_01.jpg)"), window.reports
    window.close()


def test_import_yolo_and_voc_labels_into_a_folder_as_one_undo_step(qtbot, tmp_path, settings):
    from core.cli import main as retina

    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("*.json"))
    assert retina(["convert", "--from", "coco", str(DEMO / "annotations.coco.json"), "--to", "yolo", str(tmp_path / "yolo")]) == 0
    assert retina(["convert", "--from", "coco", str(DEMO / "annotations.coco.json"), "--to", "voc", str(tmp_path / "voc")]) == 0
    original = read_coco(DEMO / "annotations.coco.json")
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.files.model.rowCount() == 8, timeout=5000)
    window.workspace.add_category("White-King")  # an existing class: imported boxes join it by name, as names are compared
    assert transferred(qtbot, window, window.label_files.import_labels("yolo", tmp_path / "yolo"))
    store = window.workspace.store
    assert sum(len(im.boxes) for im in original.images) == sum(len(store.boxes(n)) for n in store.file_names())
    assert store.categories[0].name == "White-King" and len(store.categories) == len(original.categories)
    stack = window.workspace.undo_stack
    assert stack.count() == 2 and stack.text(1).startswith("Import ") and stack.text(1).endswith("boxes from yolo")
    for entry in original.images:
        got = sorted((store.category(b.category_id).name, b.x1, b.y2) for b in store.boxes(entry.file_name))
        names = {**original.category_names(), **{c.id: "White-King" for c in original.categories if c.name == "white-king"}}
        want = sorted((names[b.category_id], b.x1, b.y2) for b in entry.boxes)
        assert [g[0] for g in got] == [w[0] for w in want] and got == [(w[0], pytest.approx(w[1], abs=1e-3), pytest.approx(w[2], abs=1e-3)) for w in want]
    stack.undo()
    assert not any(store.boxes(n) for n in store.file_names()) and len(store.categories) == 1
    assert transferred(qtbot, window, window.label_files.import_labels("voc", tmp_path / "voc"))
    assert sum(len(store.boxes(n)) for n in store.file_names()) == sum(len(im.boxes) for im in original.images)
    steps = stack.count()
    assert transferred(qtbot, window, window.label_files.import_labels("yolo", tmp_path / "yolo"))  # the same boxes again (another format, rounded): nothing doubles
    assert sum(len(store.boxes(n)) for n in store.file_names()) == sum(len(im.boxes) for im in original.images)
    assert stack.count() == steps and "boxes already there were not added again" in window.statusBar().currentMessage()
    # an empty label file is a negative: the image is marked reviewed (with no boxes), in the same undo step
    shutil.copy(folder / "chess_01.jpg", folder / "empty_board.jpg")
    (tmp_path / "yolo" / "empty_board.txt").write_text("")
    window.listing.rescan()
    qtbot.waitUntil(lambda: window.files.model.rowCount() == 9, timeout=5000)
    assert transferred(qtbot, window, window.label_files.import_labels("yolo", tmp_path / "yolo"))
    assert store.entry("empty_board.jpg").reviewed and not store.boxes("empty_board.jpg")
    assert stack.count() == steps + 1 and stack.text(steps) == "Import 1 reviewed image from yolo"
    assert "imported 0 boxes, 1 image marked reviewed" in window.statusBar().currentMessage()
    stack.undo()
    assert store.entry("empty_board.jpg") is None or not store.entry("empty_board.jpg").reviewed
    # an image without a label file keeps its labels; the status says which (the window said nothing, the CLI a line)
    (tmp_path / "yolo" / "empty_board.txt").unlink()
    assert transferred(qtbot, window, window.label_files.import_labels("yolo", tmp_path / "yolo"))
    assert "; left out, no label file: 1 image (empty_board.jpg)" in window.statusBar().currentMessage()
    window.close()


def test_the_window_opens_no_larger_than_its_screen(qtbot, settings):
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    screen = window.screen().availableGeometry()
    assert window.width() <= screen.width() and window.height() <= screen.height()


def test_a_failed_save_is_shown_in_the_title_and_quitting_asks_before_losing_the_edits(qtbot, demo, monkeypatch):
    window = demo
    asked = []
    window.confirm = lambda title, text, **_: asked.append(text) or answer
    path = window.workspace.labels_file.path
    before = path.read_bytes()

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.annotations.write_coco", disk_full)
    qtbot.keyClick(window.canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: any(r.startswith("Labels not saved") for r in window.reports), timeout=5000)
    assert window.status_fields.save_label.text() == "NOT SAVED" and window.windowTitle().endswith("LABELS NOT SAVED")
    for _ in range(3):  # each edit tries again: the title says it still fails, with no box per edit
        qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
        qtbot.wait(700)
    assert sum(r.startswith("Labels not saved") for r in window.reports) == 1 and window.windowTitle().endswith("LABELS NOT SAVED")
    answer = False  # "No": the window stays open with the edits
    window.close()
    assert window.isVisible() and window.workspace is not None and window.workspace.dirty
    assert "No space left on device" in asked[-1] and asked[-1].split("\n")[-1].startswith("Quit anyway and lose")
    assert not window.open_folder(window.workspace.folder)  # the same question before another folder opens
    assert asked[-1].split("\n")[-1].startswith("Open another labels file or folder anyway") and window.workspace.dirty
    assert path.read_bytes() == before
    monkeypatch.undo()  # space freed: File ▸ Save writes it, and quitting asks nothing
    window.save()
    assert not window.workspace.dirty and "NOT SAVED" not in window.windowTitle() and path.read_bytes() != before
    asked.clear()
    window.close()
    assert asked == [] and not window.isVisible()


def test_a_save_stopped_by_any_error_is_said_and_quitting_asks(qtbot, demo, monkeypatch):
    """A TypeError in the autosave thread ended it unseen: no later edit was saved, the title said
    nothing, and quitting lost them all."""
    window = demo
    asked = []
    window.confirm = lambda title, text, **_: asked.append(text) or False

    def broken(*_args):
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr("core.annotations.write_coco", broken)
    qtbot.keyClick(window.canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: any(r.startswith("Labels not saved") for r in window.reports), timeout=5000)
    assert "TypeError: unhashable type: 'list'" in window.reports[-1] and window.windowTitle().endswith("LABELS NOT SAVED")
    window.close()
    assert window.isVisible() and "TypeError: unhashable type: 'list'" in asked[-1]
    monkeypatch.undo()
    window.save()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)  # the autosave thread lives on: the next edit is saved
    qtbot.waitUntil(lambda: not window.workspace.dirty, timeout=5000)


def test_labels_that_no_utf8_file_could_hold_open_read_only_with_the_reason(qtbot, tmp_path, settings):
    """A file name json.dumps wrote from a Latin-1 name ("caf\\udce9.jpg") opened for editing, and every save failed."""
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    text = (folder / "annotations.coco.json").read_text().replace('"chess_02.jpg"', '"caf\\udce9.jpg"')
    (folder / "annotations.coco.json").write_text(text)
    window = open_window(qtbot, folder, settings)
    assert window.workspace.read_only and "holds text that is not valid Unicode ('caf\\udce9.jpg'" in window.reports[-1]
    window.close()


def test_an_import_that_fails_changes_nothing_and_leaves_the_history_working(qtbot, demo, tmp_path):
    window = demo
    store, stack = window.workspace.store, window.workspace.undo_stack
    data = json.loads((DEMO / "annotations.coco.json").read_text())
    data["categories"].append({"id": 99, "name": "two\nlines"})  # a name no class may have
    data["annotations"].append({**data["annotations"][0], "id": 10_000, "category_id": 99})
    (tmp_path / "bad.json").write_text(json.dumps(data))
    before = ([c.name for c in store.categories], {n: store.boxes(n) for n in store.file_names()}, stack.count())
    assert not transferred(qtbot, window, window.label_files.import_labels("coco", tmp_path / "bad.json"))
    assert "a class name is one line" in window.reports[-1]
    assert ([c.name for c in store.categories], {n: store.boxes(n) for n in store.file_names()}, stack.count()) == before
    n = len(store.boxes("chess_01.jpg"))
    window.workspace.delete_boxes("chess_01.jpg", [0])  # its own undo step, not swallowed by a half-open import
    assert stack.count() == before[2] + 1 and stack.canUndo()
    stack.undo()
    assert len(store.boxes("chess_01.jpg")) == n
    # a step that fails half-way (the second image's boxes) is taken back whole and leaves no redo behind
    import retina_gui.commands as commands

    data = json.loads((DEMO / "annotations.coco.json").read_text())
    data["categories"].append({"id": 77, "name": "new-class "})  # spaces around: the name "new-class"
    for annotation in data["annotations"]:  # other boxes than the folder has, so that they are imported
        annotation["bbox"][0] += annotation["bbox"][2] / 2
    (tmp_path / "good.json").write_text(json.dumps(data))
    redo, calls = commands.AddBoxes.redo, []

    def second_fails(command):
        calls.append(command)
        if len(calls) == 2:
            raise OSError("disk gone")
        redo(command)

    commands.AddBoxes.redo = second_fails
    try:
        assert not transferred(qtbot, window, window.label_files.import_labels("coco", tmp_path / "good.json"))
    finally:
        commands.AddBoxes.redo = redo
    assert "disk gone" in window.reports[-1] and len(calls) == 2
    assert ([c.name for c in store.categories], {n: store.boxes(n) for n in store.file_names()}, stack.count()) == before
    assert not stack.canRedo() and stack.index() == stack.count()
    assert transferred(qtbot, window, window.label_files.import_labels("coco", tmp_path / "good.json"))  # as it should have gone: "new-class " joins no class, one step
    assert [c.name for c in store.categories][-1] == "new-class" and stack.count() == before[2] + 1
    stack.undo()
    assert ([c.name for c in store.categories], {n: store.boxes(n) for n in store.file_names()}) == before[:2]
    # accepting a prediction of "White-Rook" onto a "white-rook" label set: the existing class, no error
    classes = len(store.categories)
    assert window.workspace.accept_predictions([("chess_01.jpg", window.annotator.size, [(1, 1, 30, 30, "White-Rook")])], "Accept") == 1
    assert len(store.categories) == classes and store.category(store.boxes("chess_01.jpg")[-1].category_id).name == "white-rook"


def test_the_folder_scan_skips_what_it_cannot_read_names_it_and_lists_the_rest(qtbot, tmp_path, settings, monkeypatch):
    import os

    folder = tmp_path / "f"
    for sub in ("a", "b_private", "c"):
        (folder / sub).mkdir(parents=True)
    for name in ("a/x.jpg", "b_private/secret.jpg", "c/late.jpg", "d.jpg"):
        shutil.copy(DEMO / "chess_01.jpg", folder / name)
    (folder / "a" / "loop").symlink_to(folder)  # a link back up: listed once, not forever
    (folder / "latest").symlink_to(folder / "c")  # a link to a sibling folder is no loop: listed under its name too
    shutil.copy(DEMO / "chess_02.jpg", os.fsencode(folder) + b"/caf\xe9.jpg")  # a Latin-1 name
    (folder / "b_self.jpg").symlink_to(folder / "b_self.jpg")  # a link to itself ended the listing: nothing after it was listed
    scandir = os.scandir

    def private(path):
        if str(path).endswith("b_private"):
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(os, "scandir", private)
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: any("were left out" in r for r in window.reports), timeout=5000)  # sent after the names
    assert window.files.model.names == ["d.jpg", "a/x.jpg", "c/late.jpg", "latest/late.jpg"]
    (report,) = [r for r in window.reports if "were left out" in r]
    assert "4 entries" in report and "b_private/ (Permission denied)" in report and "b_self.jpg (Too many levels of symbolic links)" in report
    assert "a/loop/ (a link back to a folder above it)" in report and "caf\ufffd.jpg (its name is not valid UTF-8" in report
    window.close()


def test_a_labels_file_changed_by_another_program_is_not_overwritten_without_asking(qtbot, demo):
    window = demo
    asked = []
    answers = [False, True]
    window.confirm = lambda title, text, **_: asked.append((title, text)) or answers.pop(0)
    path = window.workspace.labels_file.path
    other = json.loads(path.read_text())
    other["categories"].append({"id": 500, "name": "added-elsewhere", "supercategory": ""})
    path.write_text(json.dumps(other))  # an editor or a script saves the file while the window has it open
    qtbot.keyClick(window.canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)
    assert asked[0][0] == "Labels file changed" and "changed or removed by another program" in asked[0][1]
    assert "added-elsewhere" in path.read_text() and window.windowTitle().endswith("LABELS NOT SAVED")  # "No": nothing written
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)  # more edits: autosave waits, it does not ask every time
    qtbot.wait(1200)
    assert len(asked) == 1 and "added-elsewhere" in path.read_text()
    window.save()  # Ctrl+S asks again; "Yes": this window's labels replace the file
    assert len(asked) == 2 and "added-elsewhere" not in path.read_text() and not window.workspace.dirty
    assert "NOT SAVED" not in window.windowTitle()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Left)  # saving goes on as usual afterwards
    qtbot.waitUntil(lambda: not window.workspace.dirty, timeout=5000)
    assert len(asked) == 2


def test_labels_named_by_paths_outside_the_folder_open_read_only_with_the_reason(qtbot, tmp_path, settings):
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    path = folder / "annotations.coco.json"
    data = json.loads(path.read_text())
    data["images"][0]["file_name"] = "/data/chess/" + data["images"][0]["file_name"]
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    window = open_window(qtbot, folder, settings)
    assert window.workspace.read_only
    assert any("1 images of the labels file are named by paths outside the image folder" in r for r in window.reports)
    wait_image(qtbot, window)
    window.canvas.setFocus()
    drag(qtbot, window, (10, 10), (300, 300))  # refused at once, instead of every autosave failing until the edits are lost
    assert window.workspace.undo_stack.count() == 0 and "Editing is off" in window.statusBar().currentMessage()
    window.close()
    assert path.read_bytes() == before


def test_boxes_of_an_image_resized_on_disk_are_rescaled_in_one_undo_step(qtbot, tmp_path, settings):
    from PIL import Image

    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    with Image.open(folder / "chess_02.jpg") as im:
        old = im.size
        im.resize((old[0] // 2, old[1] // 2)).save(folder / "chess_02.jpg")
    window = open_window(qtbot, folder, settings)
    store = window.workspace.store
    before = store.boxes("chess_02.jpg")
    window.files.set_current("chess_02.jpg")
    wait_image(qtbot, window, "chess_02.jpg")
    assert "Rescale Boxes to the Image Size" in window.statusBar().currentMessage()
    edit = menu_named(window, "&Edit")
    rescale = next(a for a in edit.actions() if a.text().startswith("Rescale"))
    edit.aboutToShow.emit()
    assert rescale.isEnabled()
    edit.aboutToHide.emit()
    window.annotator.rescale_to_image()
    edit.aboutToShow.emit()
    assert not rescale.isEnabled()  # the sizes agree now: nothing to rescale
    edit.aboutToHide.emit()
    entry = store.entry("chess_02.jpg")
    assert (entry.width, entry.height) == (old[0] // 2, old[1] // 2)
    sx, sy = (old[0] // 2) / old[0], (old[1] // 2) / old[1]
    assert [(b.x1, b.y2, b.category_id) for b in store.boxes("chess_02.jpg")] == [(b.x1 * sx, b.y2 * sy, b.category_id) for b in before]
    assert window.workspace.undo_stack.text(window.workspace.undo_stack.count() - 1) == f"Rescale boxes to {old[0] // 2}×{old[1] // 2} · chess_02.jpg"
    window.workspace.undo_stack.undo()
    assert store.boxes("chess_02.jpg") == before and (store.entry("chess_02.jpg").width, store.entry("chess_02.jpg").height) == old
    window.close()


def test_imported_labels_without_image_sizes_take_them_from_the_files(qtbot, tmp_path, settings):
    sizeless = demo_labels_edited(tmp_path / "sizeless.json", lambda im: (im.pop("width"), im.pop("height")))
    window = unlabelled_window(qtbot, tmp_path, settings)
    assert transferred(qtbot, window, window.label_files.import_labels("coco", sizeless))
    original = read_coco(DEMO / "annotations.coco.json")
    for entry in original.images:
        got = window.workspace.store.entry(entry.file_name)
        assert (got.width, got.height) == (entry.width, entry.height)
    window.close()


def test_a_pasted_box_is_a_new_object_without_the_source_annotations_polygon_or_fields(qtbot, demo):
    from dataclasses import replace

    window = demo
    store, name, size = window.workspace.store, window.annotator.current, window.annotator.size
    source = replace(store.boxes(name)[0], segmentation=[[1, 2, 3, 4, 5, 6]], extra={"area": 5.0, "track_id": 7})
    window.workspace.paste_boxes(name, size, [source])
    index = len(store.boxes(name)) - 1
    window.workspace.copy_boxes(name, [index])
    (pasted,) = window.workspace.paste_boxes("chess_02.jpg", size, None)
    box = store.boxes("chess_02.jpg")[pasted]
    assert (box.x1, box.y2) == (source.x1, source.y2) and box.segmentation is None and box.extra is None and box.id is None


def test_an_edit_touches_only_the_items_of_the_boxes_it_changed(qtbot, demo):
    from core.labels import Box

    window = demo
    name, size, cat = window.annotator.current, window.annotator.size, window.workspace.store.categories[0].id
    window.workspace.paste_boxes(name, size, [Box(5 + k, 5, 40 + k, 40, cat) for k in range(200)])
    items = list(window.canvas._items)
    window.workspace.delete_boxes(name, [100])
    assert window.canvas._items == items[:100] + items[101:]  # the same items, none re-shown
    assert [item.index for item in window.canvas._items] == list(range(len(items) - 1))
    window.workspace.undo_stack.undo()
    assert window.canvas._items[:100] == items[:100] and window.canvas._items[101:] == items[101:]
    items = list(window.canvas._items)
    window.workspace.nudge_boxes(name, size, [7], 2, 0)
    assert window.canvas._items[:7] == items[:7] and window.canvas._items[8:] == items[8:]
    store_rects = [(b.x1, b.y1, b.x2, b.y2) for b in window.workspace.store.boxes(name)]
    shown = [item.rect() for item in window.canvas._items]
    assert [(r.left(), r.top(), r.right(), r.bottom()) for r in shown] == store_rects


def test_editing_an_image_renamed_on_disk_while_shown_says_so(qtbot, demo):
    window = demo
    folder = window.workspace.folder
    (folder / "chess_01.jpg").rename(folder / "renamed.jpg")
    qtbot.keyClick(window.canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    assert "chess_01.jpg is no longer in the folder (renamed or deleted?)" in window.statusBar().currentMessage()


def test_exporting_over_the_folders_own_labels_file_is_refused_and_predicting_without_a_model_says_so(qtbot, demo):
    window = demo
    path = window.workspace.labels_file.path
    before = path.read_bytes()
    assert not transferred(qtbot, window, window.label_files.export("coco", path))
    assert "is this folder's labels file, which is saved by itself" in window.reports[-1] and path.read_bytes() == before
    window.model_panel.predict_now()
    assert window.statusBar().currentMessage() == "no model loaded: Model ▸ Load Model… first"
    window.predictions.predict_folder()
    assert window.statusBar().currentMessage() == "no model loaded: Model ▸ Load Model… first"


def test_the_current_tool_is_checked_in_the_view_menu_and_named_in_the_status_bar_and_r_says_what_it_did(qtbot, demo):
    window = demo
    assert window.menus.tool_actions[Tool.EDIT].isChecked() and not window.menus.tool_actions[Tool.DRAW].isChecked()
    qtbot.keyClick(window.canvas, Qt.Key.Key_W)
    assert window.menus.tool_actions[Tool.DRAW].isChecked() and window.status_fields.tool_label.text() == "draw tool"
    window.docks["Model"].raise_()
    window.anchor_panel.toggle_probe()
    assert not any(a.isChecked() for a in window.menus.tool_actions.values()) and window.status_fields.tool_label.text() == "anchor probe"
    assert window.anchor_panel.isVisible()  # the panel that shows what the probe finds came forward
    window.anchor_panel.toggle_probe()  # the draw tool comes back (it was the edit tool: the next drag in a box moved it)
    assert window.menus.tool_actions[Tool.DRAW].isChecked() and window.status_fields.tool_label.text() == "draw tool"
    window.anchor_panel.toggle_probe()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)  # Esc ends the probe, as a tool picked for one job
    assert window.status_fields.tool_label.text() == "draw tool" and not window.anchor_panel.probe.isChecked()
    qtbot.keyClick(window.canvas, Qt.Key.Key_R)
    assert window.statusBar().currentMessage() == "marked reviewed: chess_01.jpg"
    qtbot.keyClick(window.canvas, Qt.Key.Key_R)
    assert window.statusBar().currentMessage() == "no longer marked reviewed: chess_01.jpg"


def test_tags_of_boxes_at_the_image_edge_go_inside_the_box_where_they_would_be_cut_off(qtbot, unlabelled):
    from retina_gui.canvas_items import BoxView, LabelItem

    window = unlabelled
    window.canvas.actual_size()
    size = width, height = window.canvas.image_size
    window.workspace.draw_box("chess_01.jpg", size, QRectF(300, 0, 60, 60))  # touching the top edge
    window.workspace.draw_box("chess_01.jpg", size, QRectF(500, 200, 60, 300))
    top, middle = window.canvas._items
    assert top.label.inside and not middle.label.inside  # a label's tag sits above its box
    assert top.label.boundingRect().top() == 0 and middle.label.boundingRect().bottom() == 0
    window.canvas.set_predictions([BoxView(QRectF(10, height - 50, 40, 50), "white-pawn 0.90", QColor("red"), 0.9),
                                   BoxView(QRectF(10, 10, 40, 50), "white-pawn 0.80", QColor("red"), 0.8)])
    bottom, free = window.canvas._predictions
    assert bottom.label.inside and bottom.label.boundingRect().bottom() == 0  # a prediction's tag sits below: flipped up
    assert free.zValue() < bottom.zValue() < min(i.zValue() for i in window.canvas._items)  # higher scores on top, labels above all
    assert not free.label.inside and free.label.boundingRect().top() == 0
    # zoomed out, a box a few image pixels from the edge leaves less than a tag's height of screen
    near = 0.9 * LabelItem.height() / middle.rect().top()
    window.canvas.set_zoom(near)
    assert middle.label.inside and not free.label.inside
    window.canvas.set_zoom(1.0)
    assert not middle.label.inside
    # zoomed out until a box is smaller than its tag, the tag goes (it would cover the box and its neighbours)
    window.canvas.set_zoom(0.9 * LabelItem.height() / middle.rect().height())
    assert not middle.label.isVisible() and middle.toolTip() == "piece"  # its name comes on hover
    window.canvas.set_zoom(1.0)
    assert middle.label.isVisible() and middle.toolTip() == ""
    # at the right edge the tag moves left, just far enough to end at the image's edge
    window.workspace.draw_box("chess_01.jpg", size, QRectF(width - 20, 300, 20, 40))
    right = next(i for i in window.canvas._items if i.rect().left() == width - 20)
    window.canvas.centerOn(width - 10, 320)  # tags are placed for the boxes in view: scrolled there, it gets one
    qtbot.waitUntil(lambda: right.label.isVisible(), timeout=2000)
    assert right.label.shift == right.label.tag_width - 20 and right.label.boundingRect().right() == 20
    assert middle.label.shift == 0
    # tags are placed for the boxes in view only (all of them cost 220 ms a zoom step at 20,000 boxes): scrolled away, it goes
    window.canvas.centerOn(0, 0)
    qtbot.waitUntil(lambda: not right.label.isVisible(), timeout=2000)


def test_tags_never_cover_each_other_labels_first_then_new_predictions_by_score(qtbot, unlabelled):
    """On a busy image the tags of neighbouring boxes and predictions overprinted into an unreadable
    heap: a tag whose place is taken goes inside its box, or is hidden (its text comes on hover)."""
    from retina_gui.canvas_items import BoxView

    window = unlabelled
    canvas = window.canvas
    canvas.actual_size()
    size = window.annotator.size
    for x in (100, 110, 120):  # three boxes, 10 px apart: room for one tag above and one inside
        window.workspace.draw_box("chess_01.jpg", size, QRectF(x, 100, 80, 80))
    first, second, third = canvas._items
    assert first.label.isVisible() and not first.label.inside
    assert second.label.isVisible() and second.label.inside
    assert not third.label.isVisible() and third.toolTip() == "piece"

    def screen_rects() -> list[QRectF]:
        items = [i for i in canvas._items + canvas._predictions if i.label.isVisible()]
        return [i.label.deviceTransform(canvas.viewportTransform()).mapRect(i.label.boundingRect()) for i in items]

    # a tag lies over every box: the outline of a smaller box (drawn over larger ones) crossed it
    centre = canvas.mapFromScene(first.label.mapToScene(first.label.boundingRect().center()))
    window.workspace.draw_box("chess_01.jpg", size, QRectF(canvas.mapToScene(centre).x() - 3, 60, 6, 60))
    assert canvas.items(centre)[0] is first.label and canvas.box_at(centre) == 3  # the click still picks the box under it
    window.workspace.delete_boxes("chess_01.jpg", [3])
    canvas.select([2])  # the selected box's tag comes first
    assert third.label.isVisible() and not third.label.inside and not second.label.isVisible()
    canvas.select([])
    # predictions yield to labels, faint ones (a label covers them) to new ones, and low scores to high ones
    canvas.set_predictions([BoxView(QRectF(100, 20, 80, 70), "white-pawn 0.95", QColor("red"), 0.95),
                            BoxView(QRectF(400, 300, 80, 80), "white-pawn 0.90", QColor("red"), 0.9, faint=True),
                            BoxView(QRectF(400, 300, 80, 80), "white-pawn 0.80", QColor("red"), 0.8),
                            BoxView(QRectF(405, 300, 80, 80), "white-pawn 0.70", QColor("red"), 0.7),
                            BoxView(QRectF(410, 300, 80, 80), "white-pawn 0.60", QColor("red"), 0.6)])
    under_labels, faint, high, middle, low = canvas._predictions
    assert not under_labels.label.isVisible()  # below and inside its box lie the first label's tag
    assert not faint.label.isVisible() and faint.toolTip() == "white-pawn 0.90"
    assert high.label.isVisible() and not high.label.inside and middle.label.inside and not low.label.isVisible()
    rects = screen_rects()
    assert not any(a.intersected(b).width() > 0.5 and a.intersected(b).height() > 0.5
                   for k, a in enumerate(rects) for b in rects[k + 1:])
    # zoomed in, the boxes ten image pixels apart are far enough apart on screen for their tags
    canvas.set_zoom(8.0)
    assert all(i.label.isVisible() and i.toolTip() == "" for i in [first, second, third, under_labels])
    assert not third.label.inside and not under_labels.label.inside


def test_panels_come_back_as_they_were_left_and_reset_puts_them_back(qtbot, tmp_path, settings):
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    window = open_window(qtbot, folder, settings)
    window.docks["History"].close()
    window.docks["Training"].raise_()
    window.close()
    again = open_window(qtbot, folder, settings, arrange=False)
    assert not again.docks["History"].isVisible() and again.docks["Classes"].isVisible()
    assert again.tabifiedDockWidgets(again.docks["Training"]) and not again.docks["Training"].visibleRegion().isEmpty()
    panels = next(a.menu() for a in again.menuBar().actions() if a.text() == "&View").findChild(QMenu)
    history = next(a for a in panels.actions() if a.text() == "History")
    history.trigger()  # View ▸ Panels brings a closed panel back, in front of its tab group
    assert again.docks["History"].isVisible()
    qtbot.waitUntil(lambda: not again.docks["History"].visibleRegion().isEmpty(), timeout=2000)
    again.docks["Model"].setFloating(True)
    next(a for a in panels.actions() if a.text() == "&Reset Panels").trigger()
    assert not again.docks["Model"].isFloating() and again.dockWidgetArea(again.docks["Model"]) == Qt.DockWidgetArea.RightDockWidgetArea
    # one tab bar per tab group on screen (Qt leaves a stale one of a group that grew over a panel); not a panel's own tabs
    qtbot.waitUntil(lambda: sorted(tuple(b.tabText(i) for i in range(b.count())) for b in again.findChildren(QTabBar)
                                   if b.isVisible() and b.parent() is again)
                    == [("Classes", "History"), ("Model", "Anchors", "Evaluation", "Training")], timeout=2000)
    again.close()


def test_a_small_window_keeps_most_of_its_width_for_the_image_and_no_panel_is_cut_off(qtbot, tmp_path, settings):
    from retina_gui.widgets import PanelScroll, PinnedPanel

    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    window = MainWindow(folder=folder, settings=settings)
    window.resize(1024, 740)
    window.fit_panels()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.canvas.width() >= 0.5 * window.width()
    assert window.docks["Model"].height() > 1.3 * window.docks["Classes"].height()  # the model's group, Training in it, is the taller
    for title, dock in window.docks.items():  # and no panel is cut off at the right: a dock is never narrower than its panel
        dock.raise_()
        qtbot.wait(20)
        area = dock.widget().findChild(PanelScroll) if isinstance(dock.widget(), PinnedPanel) else dock.widget()
        assert area.viewport().width() >= area.widget().minimumSizeHint().width(), title
        if isinstance(dock.widget(), PinnedPanel):  # (Training's buttons, above the part that scrolls)
            pinned = dock.widget().layout().itemAt(0).widget()
            assert pinned.width() >= pinned.minimumSizeHint().width(), title
    for bar in window.findChildren(QTabBar):  # and every tab's name is whole ("M…", "Anc…", "Evalua…" before)
        if bar.isVisible():
            assert all(bar.tabRect(i).width() >= bar.tabSizeHint(i).width() for i in range(bar.count())), bar.tabText(0)
    window.close()


def test_history_texts_name_the_image_by_its_path_in_the_folder_keeping_its_end():
    """The history view cuts what does not fit in the middle: cut there too, a name read "…e…de_board"."""
    from retina_gui.commands import image_text

    assert image_text("Delete box", "train/chess_01.jpg") == "Delete box · train/chess_01.jpg"
    long = "IMG_0159_JPG.rf.1d0d6f2d3b8c4e5f9a7b6c5d4e3f2a1b.jpg"
    assert image_text("Move box", long) == f"Move box · …{long[-39:]}" and image_text("Move box", long).count("…") == 1
    assert image_text("Add class clock", None) == "Add class clock"


def test_a_long_image_name_is_cut_in_the_middle_in_the_list_and_the_status_bar(qtbot, tmp_path, settings):
    """A long path pushed the status bar's messages out and lost its own end and the image size; in
    the list every long name showed its same first characters (with a sideways scroll bar)."""
    folder = tmp_path / "long"
    long = "2024-06-15_tournament_round_3_board_12/IMG_20240615_141516_HDR_portrait_mode_board_photo_1.jpg"
    (folder / long).parent.mkdir(parents=True)
    shutil.copy(DEMO / "chess_01.jpg", folder / long)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, long)
    label = window.status_fields.image_label
    assert label.fontMetrics().horizontalAdvance(label.text()) < 480 and "…" in label.text()
    assert label.text().endswith("photo_1.jpg  1024×686") and label.toolTip() == long
    view = window.files.view
    assert view.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff and view.textElideMode() == Qt.TextElideMode.ElideMiddle
    window.close()


def test_clicking_a_history_entry_shows_the_image_it_changed(qtbot, demo):
    window = demo
    size = window.canvas.image_size
    edit = menu_named(window, "&Edit")
    edit.aboutToShow.emit()  # nothing to take back yet: greyed in the menu (the keys say so, see test_undo_and_redo_…)
    assert not window.undo_steps.undo_action.isEnabled() and not window.undo_steps.redo_action.isEnabled()
    edit.aboutToHide.emit()
    window.workspace.draw_box("chess_01.jpg", size, QRectF(10, 10, 40, 40))
    edit.aboutToShow.emit()
    assert window.undo_steps.undo_action.isEnabled() and window.undo_steps.undo_action.text().startswith("&Undo Draw") and not window.undo_steps.redo_action.isEnabled()
    edit.aboutToHide.emit()
    n = len(window.workspace.store.boxes("chess_01.jpg"))
    window.files.set_current("chess_02.jpg")
    wait_image(qtbot, window, "chess_02.jpg")
    history = window.history
    assert history.model().index(0, 0).data() == "Opened demo"
    qtbot.mouseClick(history.viewport(), Qt.MouseButton.LeftButton, pos=history.visualRect(history.model().index(0, 0)).center())
    assert len(window.workspace.store.boxes("chess_01.jpg")) == n - 1  # the draw is undone ...
    assert window.statusBar().currentMessage().startswith("undone: Draw")  # (the message of the edit undone stood)
    wait_image(qtbot, window, "chess_01.jpg")  # ... and its image is on screen
    window.files.set_current("chess_03.jpg")
    wait_image(qtbot, window, "chess_03.jpg")
    qtbot.mouseClick(history.viewport(), Qt.MouseButton.LeftButton, pos=history.visualRect(history.model().index(1, 0)).center())
    assert len(window.workspace.store.boxes("chess_01.jpg")) == n
    wait_image(qtbot, window, "chess_01.jpg")
    window.files.set_current("chess_03.jpg")
    wait_image(qtbot, window, "chess_03.jpg")
    qtbot.mouseClick(history.viewport(), Qt.MouseButton.LeftButton, pos=history.visualRect(history.model().index(1, 0)).center())
    qtbot.wait(50)
    assert window.annotator.current == "chess_03.jpg"  # a click on the current entry changes nothing, so nothing is shown
    history.setFocus()  # the arrow keys step through the history as clicks do
    qtbot.keyClick(history, Qt.Key.Key_Up)
    assert len(window.workspace.store.boxes("chess_01.jpg")) == n - 1
    wait_image(qtbot, window, "chess_01.jpg")
    window.files.set_current("chess_03.jpg")
    wait_image(qtbot, window, "chess_03.jpg")
    history.setFocus()
    qtbot.keyClick(history, Qt.Key.Key_Down)
    assert len(window.workspace.store.boxes("chess_01.jpg")) == n
    wait_image(qtbot, window, "chess_01.jpg")
    # back past a class edit (no image of its own): the image of the edit before it comes back
    window.workspace.add_category("clock")
    window.files.set_current("chess_03.jpg")
    wait_image(qtbot, window, "chess_03.jpg")
    qtbot.mouseClick(history.viewport(), Qt.MouseButton.LeftButton, pos=history.visualRect(history.model().index(0, 0)).center())
    assert len(window.workspace.store.boxes("chess_01.jpg")) == n - 1
    wait_image(qtbot, window, "chess_01.jpg")


def test_view_menu_hides_box_names_and_predictions(qtbot, demo):
    from retina_gui.canvas_items import BoxView

    window = demo
    window.canvas.set_predictions([BoxView(QRectF(100, 100, 40, 50), "white-pawn 0.90", QColor("red"), 0.9)])
    assert sum(i.label.isVisible() for i in window.canvas._items) > 5
    qtbot.keyClick(window.canvas, Qt.Key.Key_T)
    assert not any(i.label.isVisible() for i in (*window.canvas._items, *window.canvas._predictions))
    assert window.statusBar().currentMessage() == "box names hidden (T shows them)"  # (the key acted without a word)
    window.workspace.draw_box("chess_01.jpg", window.canvas.image_size, QRectF(10, 10, 40, 40))
    assert not any(i.label.isVisible() for i in window.canvas._items)  # new boxes follow the choice
    window.canvas.set_predictions([BoxView(QRectF(100, 100, 40, 50), "white-pawn 0.90", QColor("red"), 0.9)])  # (no model: an edit cleared it)
    qtbot.keyClick(window.canvas, Qt.Key.Key_H)
    (prediction,) = window.canvas._predictions
    assert not prediction.isVisible() and window.canvas.prediction_at(window.canvas.mapFromScene(QPointF(120, 120))) is None
    assert window.accepting.accept_image() == 0 and "predictions are hidden" in window.statusBar().currentMessage()  # hidden: nothing accepted
    qtbot.keyClick(window.canvas, Qt.Key.Key_H)
    qtbot.keyClick(window.canvas, Qt.Key.Key_T)
    assert prediction.isVisible() and all(i.label.isVisible() or i.toolTip() for i in window.canvas._items)
    assert sum(i.label.isVisible() for i in window.canvas._items) > 5 and prediction.label.isVisible()
    qtbot.keyClick(window.canvas, Qt.Key.Key_H)
    assert not prediction.label.isVisible()  # its tag goes with it (a tag is not its box's child)


def test_panels_saved_too_wide_for_this_window_give_the_image_room_again(qtbot, tmp_path, settings):
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    window = open_window(qtbot, folder, settings)
    window.resizeDocks([window.docks["Model"]], [1000], Qt.Orientation.Horizontal)  # as a larger screen allowed
    qtbot.wait(20)
    assert window.canvas.width() < window.width() // 2
    window.close()
    again = open_window(qtbot, folder, settings, arrange=False)
    qtbot.waitUntil(lambda: again.canvas.width() >= again.width() // 2, timeout=2000)
    again.close()


def test_images_added_to_the_open_folder_are_listed_on_request(qtbot, demo, tmp_path):
    window = demo
    folder = window.workspace.folder
    shutil.copy(folder / "chess_02.jpg", folder / "zz_new.jpg")
    qtbot.keyClick(window.canvas, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.listing.complete and window.files.model.rowCount() == 9, timeout=5000)
    assert window.files.model.names[-1] == "zz_new.jpg" and "1 new image listed" in window.statusBar().currentMessage()
    assert window.status_fields.image_label.text().startswith(f"{window.files.model.row(window.annotator.current) + 1}/9 ")  # not ".../8"
    window.files.search.setText(window.annotator.current)  # the place in the list as filtered ("6/8" with one image listed)
    qtbot.waitUntil(lambda: window.status_fields.image_label.text().startswith("1/1 "), timeout=2000)
    window.files.search.setText("")
    qtbot.waitUntil(lambda: window.status_fields.image_label.text().startswith(f"{window.files.model.row(window.annotator.current) + 1}/9 "), timeout=2000)
    window.listing.rescan()
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    assert window.files.model.rowCount() == 9 and "no new images" in window.statusBar().currentMessage()


def test_showing_a_small_box_zooms_in_until_it_can_be_seen_and_centres_it(qtbot, demo):
    canvas = demo.canvas
    canvas.fit()
    fitted = canvas.transform().m11()
    small = QRectF(500, 340, 12, 10)
    canvas.show_rect(small)
    assert canvas.transform().m11() == pytest.approx(60 / 12) and canvas.transform().m11() > fitted
    centre = canvas.mapFromScene(small.center())
    assert abs(centre.x() - canvas.viewport().width() / 2) <= 2 and abs(centre.y() - canvas.viewport().height() / 2) <= 2
    canvas.show_rect(QRectF(0, 0, 100, 100))  # already large enough: the zoom stays
    assert canvas.transform().m11() == pytest.approx(60 / 12)
    # at the corner, the view stays on the image (the view can scroll past the edges, but showing a box should not)
    top_left = canvas.mapFromScene(QPointF(0, 0))
    assert abs(top_left.x()) <= 1 and abs(top_left.y()) <= 1
    canvas.fit()
    canvas.show_rect(QRectF(500, 340, 55 / fitted, 55 / fitted))  # 55 px on screen: zooming to 60 would only add scroll bars
    assert canvas.transform().m11() == pytest.approx(fitted)


def test_a_refused_class_name_comes_back_to_be_corrected(qtbot, demo, monkeypatch):
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    window = demo
    answers, asked, warnings = [("Black-Pawn", True), ("clock", True)], [], []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, text="": (asked.append(text), answers.pop(0))[1])
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    window.classes.ask_add()
    assert asked == ["", "Black-Pawn"] and "already a class called" in warnings[0]  # what was typed is offered again
    assert window.workspace.store.categories[-1].name == "clock"
    clock = window.workspace.store.categories[-1].id
    assert window.workspace.current_category == clock == window.classes.chosen_id()  # new boxes are clocks now
    assert window.statusBar().currentMessage() == "class clock added; new boxes: clock"  # (Ctrl+N said nothing; the 13th has no key)
    # a click on a class chooses it, and leaves the selected box as it is (the click may be on the way to Rename)
    window.canvas.select([0])
    list_ = window.classes.list
    store = window.workspace.store
    before = store.boxes(window.annotator.current)[0].category_id
    pawn = next(r for r in range(list_.count()) if "black-pawn" in list_.item(r).text())
    qtbot.mouseClick(list_.viewport(), Qt.MouseButton.LeftButton, pos=list_.visualItemRect(list_.item(pawn)).center())
    assert store.boxes(window.annotator.current)[0].category_id == before
    assert store.category(window.workspace.current_category).name == "black-pawn"


def test_relabel_menu_lists_classes_as_the_classes_panel_does_with_the_selection_class_checked(qtbot, demo, monkeypatch):
    window = demo
    shown = []
    monkeypatch.setattr(QMenu, "popup", lambda menu, *a: shown.append(menu))
    window.canvas.select([0])
    window._context_menu(QPoint(10, 10))
    relabel = next(a.menu() for a in shown[0].actions() if a.text() == "Relabel as")
    store = window.workspace.store
    box_class = store.boxes("chess_01.jpg")[0].category_id
    names = [a.text() for a in relabel.actions()]
    assert names[0] == f"1  {store.categories[0].name}" and len(names) == len(store.categories)
    assert [a.isChecked() for a in relabel.actions()] == [c.id == box_class for c in store.categories]
    assert all(not a.icon().isNull() for a in relabel.actions())


def test_a_delete_or_its_undo_clears_the_selection_instead_of_moving_it_to_another_box(qtbot, demo):
    window = demo
    store, name = window.workspace.store, "chess_01.jpg"
    window.canvas.select([0])
    window.annotator.delete_selected()  # box 0 goes: index 0 now names the box that was 1
    assert window.canvas.selected() == []
    window.canvas.select([1])
    window.workspace.undo_stack.undo()  # box 0 comes back: index 1 would name another box
    assert window.canvas.selected() == []
    window.canvas.select([2])
    window.workspace.nudge_boxes(name, window.annotator.size, [2], 1, 0)  # an edit in place keeps it
    assert window.canvas.selected() == [2]
    window.workspace.undo_stack.undo()
    assert window.canvas.selected() == [2] and len(store.boxes(name)) == len(window.canvas._items)


def test_labelling_an_image_under_the_unlabelled_filter_keeps_it_on_screen_until_the_next(qtbot, unlabelled):
    window = unlabelled
    files = window.files
    files.status_box.setCurrentIndex(files.status_box.findData("unlabelled"))
    files.set_current("chess_03.jpg")
    wait_image(qtbot, window, "chess_03.jpg")
    window.canvas.set_tool(Tool.DRAW)
    drag(qtbot, window, (20, 20), (120, 140))
    qtbot.wait(50)
    assert len(window.workspace.store.boxes("chess_03.jpg")) == 1 and window.canvas.selected() == [0]
    assert window.annotator.current == "chess_03.jpg" and files.current() == "chess_03.jpg"  # still listed while shown
    window.workspace.store.mark_predicted(["chess_05.jpg"])  # predictions alone are no labels: still "unlabelled"
    assert "chess_05.jpg" in [files.filter.index(r, 0).data() for r in range(files.filter.rowCount())]
    qtbot.keyClick(window.canvas, Qt.Key.Key_D)
    wait_image(qtbot, window, "chess_04.jpg")
    names = [files.filter.index(r, 0).data() for r in range(files.filter.rowCount())]
    assert "chess_03.jpg" not in names and "chess_04.jpg" in names  # labelled and left: filtered out now
    # the "Predicted" filter follows the images whose predictions wait for review, also through an undo
    # (marking one reviewed and undoing it left it out of the list: the store said so without an event)
    files.status_box.setCurrentIndex(files.status_box.findData("predicted"))
    listed = lambda: [files.filter.index(r, 0).data() for r in range(files.filter.rowCount())]  # noqa: E731
    assert "chess_05.jpg" in listed()
    window.workspace.set_reviewed("chess_05.jpg", (1024, 686), True)
    assert "chess_05.jpg" not in listed()
    window.workspace.undo_stack.undo()
    assert "chess_05.jpg" in listed() and window.workspace.store.status("chess_05.jpg").value == "predicted"


def test_another_folder_gets_nothing_of_the_last_one(qtbot, tmp_path, settings):
    """Not a late image of its loader (the same names: the old pixels would show), not its place in
    the list, and its labels are freed."""
    import gc
    import threading
    import weakref

    from PySide6.QtGui import QImage

    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(DEMO, a)
    shutil.copytree(DEMO, b)
    window = open_window(qtbot, a, settings)
    last = window.files.model.names[-1]
    window.files.set_current(last)
    wait_image(qtbot, window, last)
    old_loader, old_store = window.loader, weakref.ref(window.workspace.store)
    late = QImage(10, 10, QImage.Format.Format_RGB888)
    emitter = threading.Thread(target=old_loader.loaded.emit, args=("chess_05.jpg", late, 10, 10))
    emitter.start()  # from another thread, as the loader's results come: queued, not yet delivered
    emitter.join()
    assert window.open_folder(b)
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    wait_image(qtbot, window)  # an image is shown (the old folder's last image was the place to go on from)
    window.files.set_current("chess_05.jpg")
    wait_image(qtbot, window, "chess_05.jpg")
    assert window.annotator.size != (10, 10) and window.canvas.image_size != (10, 10)
    gc.collect()
    assert old_store() is None
    window.close()


def test_a_folder_whose_labels_are_open_elsewhere_is_refused_and_the_window_stays_on_its_folder(qtbot, tmp_path, settings):
    from core.annotations import AnnotationFile

    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(DEMO, a)
    shutil.copytree(DEMO, b)
    window = open_window(qtbot, a, settings)
    wait_image(qtbot, window, "chess_01.jpg")
    with AnnotationFile(b / "annotations.coco.json"):  # another window or process has b's labels open
        assert not window.open_folder(b)
    assert window.reports[-1].startswith("Labels file in use")
    assert window.workspace is not None and window.workspace.folder == a.resolve()
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    wait_image(qtbot, window)
    window.close()
    with AnnotationFile(b / "annotations.coco.json"):  # a window started on it has no folder to go back to: it says why
        second = open_window(qtbot, b, settings)
    assert second.workspace is None and "could not be opened" in second.canvas.message and "Open Folder" in second.canvas.message
    second.close()


def test_boxes_drawn_at_any_zoom_are_stored_to_a_hundredth_of_a_pixel(qtbot, demo):
    window = demo
    window.canvas.set_zoom(1.7)  # screen pixels land between image pixels
    window.canvas.set_tool(Tool.DRAW)
    drag(qtbot, window, (33.3, 41.1), (140.7, 170.9))
    box = window.workspace.store.boxes("chess_01.jpg")[-1]
    for value in (box.x1, box.y1, box.x2, box.y2):
        assert value == round(value, 2)


def test_a_click_inside_a_box_picks_that_box_even_where_a_neighbours_tag_lies_over_it(qtbot, unlabelled):
    window = unlabelled
    window.canvas.actual_size()
    size = window.annotator.size
    window.workspace.draw_box("chess_01.jpg", size, QRectF(60, 20, 300, 80))  # 0: a large box (drawn under smaller ones) ...
    window.workspace.draw_box("chess_01.jpg", size, QRectF(100, 100, 100, 100))  # 1: ... whose inside holds 1's tag, above 1
    tag = window.canvas._items[1].label
    inside_tag = window.canvas.mapFromScene(tag.mapToScene(tag.boundingRect().center()))
    assert window.canvas.box_at(inside_tag) == 0  # the box under the cursor, not the tag's
    outside = window.canvas.mapFromScene(QPointF(150, 150))
    assert window.canvas.box_at(outside) == 1


def test_an_export_runs_in_the_background_and_opening_another_folder_asks_then_cancels_it(qtbot, demo, tmp_path, monkeypatch):
    """10,000 images took 25 s to export as COCO, all of it on the GUI thread."""
    import threading
    import time

    import core.formats.convert as convert

    writing = threading.Event()

    def slow_write(labels, fmt, target, cancel=None, remove=(), images=None):
        writing.set()
        for _ in range(3000):  # 30 s unless cancelled
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        Path(target).write_text("written")

    monkeypatch.setattr(convert, "write_labels", slow_write)
    window, target = demo, tmp_path / "out.json"
    start = time.perf_counter()
    assert window.label_files.export("coco", target) and window.transfer.busy
    assert time.perf_counter() - start < 1 and writing.wait(5)
    other = tmp_path / "other"
    shutil.copytree(DEMO, other)
    asked, answers = [], [False, True]
    window.confirm = lambda title, text, **_: asked.append(text) or answers.pop(0)
    assert not window.open_folder(other) and window.transfer.busy  # asked first (it was cut short without a word): "no"
    assert asked[0] == f"The export to {target} is not finished: stopping it now, the file is left as it was. Stop it to open another folder?"
    start = time.perf_counter()
    assert window.open_folder(other)
    assert time.perf_counter() - start < 3 and not window.transfer.busy and not target.exists()


def test_esc_clears_the_selection_from_any_panel_as_ctrl_a_selects_from_any(qtbot, demo):
    window = demo
    window.files.view.setFocus()  # the image list has the keyboard, as after a click on a name
    qtbot.keyClick(window.files.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.canvas.selected()) == len(window.workspace.store.boxes("chess_01.jpg")) > 0
    qtbot.keyClick(window.files.view, Qt.Key.Key_Escape)
    assert window.canvas.selected() == []  # a number key now relabels nothing


@pytest.mark.parametrize("fmt", ["yolo", "voc", "labelme"])
def test_exporting_again_into_a_folder_asks_to_remove_the_label_files_of_images_that_lost_their_labels(qtbot, unlabelled, tmp_path, fmt):
    """The second export left the first one's file of an image whose boxes were all deleted since:
    the deleted boxes were back in the exported dataset, and the status said all was well."""
    window = unlabelled
    size = window.annotator.size
    for name in ("chess_01.jpg", "chess_02.jpg"):  # a folder with no labels file: only labelled images are written
        window.workspace.draw_box(name, size, QRectF(10, 10, 50, 50))
    out = tmp_path / fmt
    out.mkdir()
    suffix = {"yolo": ".txt", "voc": ".xml", "labelme": ".json"}[fmt]
    holds = f"{out} holds 1 labelme file of this folder's images that have no labels here now" if fmt == "labelme" else \
        f"{out} holds 1 {fmt.upper()} label file of this folder's images that have no labels now"
    (out / "notes.txt").write_text("mine")  # not a label file of this folder's images: never touched
    assert transferred(qtbot, window, window.label_files.export(fmt, out))
    emptied = out / f"chess_02{suffix}"
    assert emptied.is_file() and (out / f"chess_01{suffix}").is_file() and not (out / f"chess_03{suffix}").exists()
    store = window.workspace.store
    window.workspace.delete_boxes("chess_02.jpg", list(range(len(store.boxes("chess_02.jpg")))))
    asked = []
    window.confirm = lambda title, text, **_: asked.append(text) or False
    assert not transferred(qtbot, window, window.label_files.export(fmt, out))  # the user said no: nothing exported
    assert emptied.is_file() and len(asked) == 1
    assert asked[0].startswith(holds)
    window.confirm = lambda title, text, **_: asked.append(text) or True
    assert transferred(qtbot, window, window.label_files.export(fmt, out))
    assert not emptied.exists() and (out / f"chess_01{suffix}").is_file() and (out / "notes.txt").read_text() == "mine"
    assert window.statusBar().currentMessage().endswith("; the boxes of 1 labelme file of images with no labels now taken out" if fmt == "labelme"
                                                        else "; 1 label file of images with no labels now removed")
    assert transferred(qtbot, window, window.label_files.export(fmt, out)) and len(asked) == 2  # nothing stale left: no question
    # an image gone from the folder: its labels are not written, so its old label file is one to remove (counted as written
    # over, it stayed, and a YOLO classes.txt rewritten under it gave its numbers other classes)
    (window.workspace.folder / "chess_01.jpg").unlink()
    assert transferred(qtbot, window, window.label_files.export(fmt, out)) and len(asked) == 3
    assert asked[-1].startswith(holds) and f"(the first: chess_01{suffix})" in asked[-1]
    assert not (out / f"chess_01{suffix}").exists()


def test_labelme_files_exported_beside_the_images_open_in_labelme_and_never_over_the_labels_file(qtbot, demo, tmp_path):
    """labelme opens a folder with the JSON file beside each image; an image named after the
    folder's labels file (annotations.coco.jpg) would have had its labelme file written over it."""
    window = demo
    folder = window.workspace.folder
    store = window.workspace.store
    labelled = [name for name in window.files.model.names if store.boxes(name)]
    assert transferred(qtbot, window, window.label_files.export("labelme", folder))
    first = json.loads((folder / Path(labelled[0]).with_suffix(".json")).read_text())
    names = {c.id: c.name for c in store.categories}
    assert first["imagePath"] == Path(labelled[0]).name and first["imageData"] is None
    assert [(s["label"], s["points"]) for s in first["shapes"]] == [
        (names[b.category_id], [[b.x1, b.y1], [b.x2, b.y2]]) for b in store.boxes(labelled[0])]
    assert window.statusBar().currentMessage().startswith(f"exported {len(labelled)} images")
    labels_file = window.workspace.labels_path
    before = labels_file.read_bytes()
    shutil.copy(folder / labelled[0], labels_file.with_suffix(".jpg"))  # annotations.coco.jpg
    window.listing.rescan()
    qtbot.waitUntil(lambda: labels_file.with_suffix(".jpg").name in window.files.model.names)
    window.workspace.draw_box(labels_file.with_suffix(".jpg").name, window.annotator.size, QRectF(10, 10, 50, 50))
    assert not transferred(qtbot, window, window.label_files.export("labelme", folder))
    assert window.reports[-1] == (f"Export: The labelme file of {labels_file.with_suffix('.jpg').name} would be written over this folder's labels "
                                  f"file {labels_file.name}: nothing was exported. Export into another folder.")
    window.save()
    assert json.loads(labels_file.read_text())["images"] and labels_file.read_bytes() != before  # still the labels (one box more)


def test_a_yolo_export_into_a_folder_with_a_class_list_keeps_its_numbers(qtbot, demo, tmp_path):
    """It wrote its classes.txt over one in another order: the folder's other label files then
    named other classes (LabelImg's class of bug), and nothing was said."""
    window = demo
    out = tmp_path / "yolo"
    out.mkdir()
    store = window.workspace.store
    names = [c.name for c in sorted(store.categories, key=lambda c: c.id)]
    (out / "classes.txt").write_text("".join(f"{n}\n" for n in reversed(names)))
    (out / "other.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # an image of another folder
    assert transferred(qtbot, window, window.label_files.export("yolo", out))
    assert (out / "classes.txt").read_text().splitlines() == names[::-1]
    box = store.boxes("chess_01.jpg")[0]
    number = names[::-1].index({c.id: c.name for c in store.categories}[box.category_id])
    assert (out / "chess_01.txt").read_text().split()[0] == str(number)
    assert f"classes numbered as {out / 'classes.txt'} numbers them" in window.reports[-1]


def test_an_edit_that_fails_in_its_command_raises_the_commands_own_message_and_leaves_no_history(demo):
    """An exception raised in a command came out of QUndoStack.push reworded by PySide ("Error
    calling Python override of QUndoCommand::redo(): …", in the user's message boxes), or not at
    all when a slot of the stack's signals ran first: the failed edit then looked done."""
    from core.labels import Box
    from retina_gui import commands

    workspace = demo.workspace
    count, boxes = workspace.undo_stack.count(), workspace.store.boxes("chess_01.jpg")
    with pytest.raises(KeyError) as failed:
        workspace._push(commands.AddBoxes(workspace.store, "chess_01.jpg", (100, 100), [Box(1, 1, 9, 9, 999)], "Draw box"))
    assert failed.value.args == ("no class with id 999",)
    assert workspace.undo_stack.count() == count and workspace.store.boxes("chess_01.jpg") == boxes


def test_a_handle_grabbed_off_its_centre_keeps_that_offset_while_resizing(qtbot, unlabelled):
    """The corner jumped to the cursor: grabbed 4 px off, a drag of 40 px moved it 36 or 44."""
    window = unlabelled
    window.canvas.actual_size()
    size = window.annotator.size
    window.workspace.draw_box("chess_01.jpg", size, QRectF(100, 100, 100, 80))
    window.canvas.select([0])
    drag(qtbot, window, (203, 184), (243, 209))  # 3 and 4 image px off the bottom-right corner (200, 180)
    box = window.workspace.store.boxes("chess_01.jpg")[0]
    assert (box.x1, box.y1) == (100, 100) and (box.x2, box.y2) == pytest.approx((240, 205), abs=0.51)


def test_class_swatches_have_an_edge_and_keep_their_colour_when_chosen(qapp):
    """A pale class colour (#fffac8) vanished on the white list, and the chosen class's swatch took
    the selection's tint (an orange class looked tan)."""
    from PySide6.QtGui import QIcon

    from core.labels import Category
    from retina_gui.convert import category_icon

    icon = category_icon(Category(13, "white-rook", color="#fffac8"))
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected):
        image = icon.pixmap(14, 14, mode).toImage()
        assert QColor(image.pixel(0, 0)).name() == "#808080" and QColor(image.pixel(7, 7)).name() == "#fffac8"


def test_exporting_coco_over_a_file_asks_once_and_over_the_labels_file_only_refuses(qtbot, demo, tmp_path, monkeypatch):
    """Over the folder's own labels file the save dialog asked "replace it?", and a yes was then refused."""
    from PySide6.QtWidgets import QFileDialog

    window = demo
    asked = []
    window.confirm = lambda title, text, **_: asked.append(text) or False
    labels = window.workspace.labels_path
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(labels), "") if k.get("options") else pytest.fail("no option"))
    window.label_files.ask_export("coco")
    assert asked == [] and "is this folder's labels file" in window.reports[-1]
    other = tmp_path / "other.json"
    other.write_text("{}")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(other), ""))
    window.label_files.ask_export("coco")
    assert asked == [f"{other} exists. Replace it?"] and other.read_text() == "{}" and not window.transfer.busy
    # saved outside the image folder: said where its file names are (a file elsewhere did not say where its images are)
    window.confirm = lambda title, text, **_: True
    window.label_files.ask_export("coco")
    qtbot.waitUntil(lambda: not window.transfer.busy, timeout=10_000)
    assert window.statusBar().currentMessage().endswith(f"pycocotools self-check passed; its file names are paths in {window.workspace.folder}")


def test_only_files_that_read_as_an_earlier_exports_label_files_are_offered_for_removal(tmp_path):
    """A file was taken for an earlier export's by its name alone: a caption chess_02.txt beside the
    images would have been deleted."""
    from core.formats import LabelFormatError
    from core.formats.convert import stale_label_files
    from core.labels import Box, Category, ImageEntry, LabelSet

    labels = LabelSet([Category(1, "rook")], [ImageEntry(1, "a.jpg", 90, 90, [Box(1, 1, 9, 9, 1)])])
    names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    (tmp_path / "classes.txt").write_text("rook\n")
    (tmp_path / "b.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # an earlier export's
    (tmp_path / "c.txt").write_text("a rook on a table\n")  # a caption
    (tmp_path / "d.txt").write_text("3 0.5 0.5 0.1 0.1\n")  # class 3: not of this classes.txt
    assert stale_label_files(labels, "yolo", tmp_path, names) == [tmp_path / "b.txt"]
    (tmp_path / "b.xml").write_text("<annotation><filename>b.jpg</filename></annotation>")
    (tmp_path / "c.xml").write_text("<annotation><filename>other.jpg</filename></annotation>")
    (tmp_path / "d.xml").write_text("<config/>")
    assert stale_label_files(labels, "voc", tmp_path, names) == [tmp_path / "b.xml"]
    twice = LabelSet(labels.categories, [*labels.images, ImageEntry(2, "a.png", 90, 90, [Box(1, 1, 9, 9, 1)])])
    with pytest.raises(LabelFormatError, match="would both be written to a.txt"):
        stale_label_files(twice, "yolo", tmp_path, names)


def test_a_redo_that_fails_is_reported_and_leaves_the_history(demo):
    """A failed redo was silent: the history said the edit was done."""
    from core.labels import Box

    window = demo
    ws, store = window.workspace, window.workspace.store
    size = window.annotator.size
    ws.paste_boxes("chess_01.jpg", size, [Box(5, 5, 50, 50, store.categories[0].id)])
    count = ws.undo_stack.count()
    ws.undo_stack.undo()
    store._categories.remove(store.categories[0])  # the class went by a way the history does not know
    window.undo_steps.redo()
    assert ws.undo_stack.count() == count - 1 and ws.undo_stack.index() == count - 1
    assert window.reports[-1].startswith("Redo: Could not redo Paste") and "no class with id" in window.reports[-1]


def test_a_delete_gives_the_neighbours_tags_their_room_back(qtbot, unlabelled):
    """After a delete that kept the selection as it was, the other tags kept the places they had
    been pushed to (inside, or hidden) beside the box that was gone."""
    window = unlabelled
    canvas = window.canvas
    canvas.actual_size()
    size = window.annotator.size
    for x in (100, 110, 120):
        window.workspace.draw_box("chess_01.jpg", size, QRectF(x, 100, 80, 80))
    canvas.select([])
    assert not canvas._items[2].label.isVisible()
    window.workspace.delete_boxes("chess_01.jpg", [0])
    second, third = canvas._items
    assert second.label.isVisible() and not second.label.inside and third.label.isVisible() and third.label.inside


def test_select_all_on_a_labelled_image_that_cannot_be_read_selects_nothing_and_paints(qtbot, tmp_path, settings):
    """Ctrl+A selected every stored box of a damaged (or still loading) image while the canvas showed
    none of them: the next repaint indexed boxes that were not there and the process died."""
    folder = tmp_path / "demo"
    shutil.copytree(ROOT / "resources" / "demo", folder)
    (folder / "chess_08.jpg").write_bytes(b"not a jpeg")  # damaged after it was labelled
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window)
    window.files.set_current("chess_08.jpg")
    qtbot.waitUntil(lambda: "chess_08.jpg" in window.files.model.unreadable, timeout=5000)
    assert window.workspace.store.boxes("chess_08.jpg") and not window.canvas._items
    window.annotator.select_all()
    window.canvas.select([0, 3])  # nor can anything else select boxes that are not shown
    window.canvas.viewport().repaint()
    assert window.canvas.selected() == [] and window.workspace.store.boxes("chess_08.jpg")
    window.close()


def test_a_step_of_several_edits_whose_redo_fails_is_taken_back_whole_by_redo_and_by_the_history(demo):
    """Accepting the folder's predictions is one step of many commands: a failed redo of one of them
    went unnoticed (only a single command's failure was looked at), and a redo by a click in the
    History panel was never checked; the step stayed in the history half redone."""
    window = demo
    ws, store = window.workspace, window.workspace.store
    first, second = store.categories[0], ws.add_category("clock")  # a class no box has yet: taking it away breaks nothing else
    sizes = {n: (store.entry(n).width, store.entry(n).height) for n in ("chess_01.jpg", "chess_02.jpg")}
    counts = {n: len(store.boxes(n)) for n in sizes}
    entries = [("chess_01.jpg", sizes["chess_01.jpg"], [(5.0, 5.0, 50.0, 50.0, first.name)]),
               ("chess_02.jpg", sizes["chess_02.jpg"], [(5.0, 5.0, 50.0, 50.0, second.name)])]
    def by_the_history() -> None:  # a click on the next line of the History panel
        before = ws.undo_stack.index()
        ws.undo_stack.redo()
        window.history.moved.emit(before, ws.undo_stack.index())

    for redo in (window.undo_steps.redo, by_the_history):
        assert ws.accept_predictions(entries, "Accept predictions in the folder") == 2
        count = ws.undo_stack.count()
        ws.undo_stack.undo()
        store._categories.remove(second)  # the class went by a way the history does not know
        redo()
        assert ws.undo_stack.count() == count - 1 and ws.undo_stack.index() == count - 1  # out of the history
        assert {n: len(store.boxes(n)) for n in sizes} == counts  # the part that worked is taken back too
        assert window.reports[-1].startswith("Redo: Could not redo Accept predictions in the folder") and "no class with id" in window.reports[-1]
        store._categories.append(second)


def test_a_coco_import_without_image_sizes_takes_them_from_the_images_off_the_gui_thread(qtbot, tmp_path, settings):
    """The sizes were read from each image's header on the GUI thread, image by image (a second
    copy of what the import's reader does)."""
    from core.images import image_size

    unsized = demo_labels_edited(tmp_path / "unsized.json", lambda im: (im.pop("width"), im.pop("height")))
    window = unlabelled_window(qtbot, tmp_path, settings)
    assert transferred(qtbot, window, window.label_files.import_labels("coco", unsized))
    entry = window.workspace.store.entry("chess_01.jpg")
    assert (entry.width, entry.height) == image_size(window.workspace.folder / "chess_01.jpg") and window.workspace.store.boxes("chess_01.jpg")
    window.close()


def test_the_class_list_keeps_its_scroll_position_when_it_is_rebuilt(qtbot, demo):
    """After a class was deleted (or counts changed) the list was back at its top, and the next
    click landed on another class."""
    window = demo
    classes = window.classes.list
    for k in range(30):
        window.workspace.add_category(f"extra {k}")
    window.classes.refresh()
    bar = classes.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)
    bar.setValue(bar.maximum())
    window.workspace.delete_category(window.workspace.store.categories[-1].id)
    assert bar.value() > 0 and bar.value() >= bar.maximum() - 1


def test_next_unlabelled_on_the_only_unlabelled_image_says_so(qtbot, demo):
    """Shift+D there said nothing and stayed."""
    window = demo
    name = window.annotator.current
    window.workspace.delete_boxes(name, list(range(len(window.workspace.store.boxes(name)))))
    window.next_unlabelled()
    assert window.annotator.current == name and window.statusBar().currentMessage() == "no other image in the list is without labels"
    # from a later image, back at the list's start: said (it wrapped without a word)
    window.files.set_current("chess_05.jpg")
    window.say("no later image in the list")  # (D's note: it stood over the image Shift+D went to)
    window.next_unlabelled()
    assert window.files.current() == name
    assert window.statusBar().currentMessage() == "next image without labels: none after this one, so from the start of the list"
    later = "chess_06.jpg"
    window.workspace.delete_boxes(later, list(range(len(window.workspace.store.boxes(later)))))
    window.say("no later image in the list")
    window.next_unlabelled()  # forward, no wrap: the old note goes
    assert window.files.current() == later and window.statusBar().currentMessage() == ""


def test_tab_into_a_panel_behind_another_tab_brings_it_forward(qtbot, demo):
    """Tab went on into hidden panels: keys pressed in the unseen History list undid every edit."""
    from PySide6.QtWidgets import QApplication

    from retina_gui.widgets import PanelScroll

    window = demo
    history = window.docks["History"]
    window.bring_forward("Classes")
    assert history.visibleRegion().isEmpty()
    window.history.setFocus()
    qtbot.waitUntil(lambda: not history.visibleRegion().isEmpty(), timeout=2000)
    assert QApplication.focusWidget() is window.history
    qtbot.keyClick(window.history, Qt.Key.Key_Escape)  # Esc gives the keys back to the image
    assert QApplication.focusWidget() is window.canvas
    window.training_panel.recipe_form.epochs_spin.setFocus()
    qtbot.keyClick(window.training_panel.recipe_form.epochs_spin, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.canvas
    assert all(scroll.focusPolicy() == Qt.FocusPolicy.NoFocus for scroll in window.findChildren(PanelScroll))


def test_class_colours_stay_distinct_past_the_palette():
    """Ids past the 16 palette colours repeated them: with 25 classes, 9 pairs shared a colour."""
    import numpy as np

    from retina_gui.convert import PALETTE, palette_color

    assert [palette_color(i).name() for i in range(16)] == list(PALETTE)
    colors = [palette_color(i) for i in range(100)]
    assert len({c.name() for c in colors}) == 100
    rgb = np.array([c.getRgb()[:3] for c in colors], dtype=float)
    gaps = np.linalg.norm(rgb[:, None] - rgb[None], axis=2) + np.eye(100) * 1e9
    assert gaps[16:].min() > 40  # none a near copy of another (palette colours among themselves are as given)


def test_renaming_a_class_to_another_ones_name_merges_it_after_asking_and_undo_splits_them(qtbot, demo, monkeypatch):
    """It was refused ("there is already a class called …"): a stray class of an export had to be
    relabelled box by box."""
    from PySide6.QtWidgets import QInputDialog

    window = demo
    ws, store = window.workspace, window.workspace.store
    knight = next(c for c in store.categories if c.name == "black-knight")
    bishop = next(c for c in store.categories if c.name == "black-bishop")
    counts = store.box_counts()
    moved = {name: [i for i, b in enumerate(store.boxes(name)) if b.category_id == knight.id] for name in window.files.model.names}
    window.classes.list.setCurrentRow(store.categories.index(knight))
    ws.set_current_category(knight.id)
    asked, answers, questions = [], [("Black-Bishop ", True), ("horse", True)], []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, text="": (asked.append(text), answers.pop(0))[1])
    window.classes.confirm = lambda title, text, **_: questions.append(text) or False  # "Merge?" No: the name is asked again
    window.classes.ask_rename()
    assert asked == ["black-knight", "Black-Bishop "] and store.category(knight.id).name == "horse"
    assert questions[0].startswith("There is already a class called “black-bishop”. Merge black-knight into it? "
                                   f"Its {counts[knight.id]} boxes become black-bishop boxes")
    answers[:] = [("black-bishop", True)]
    window.classes.confirm = lambda title, text, **_: True
    window.classes.ask_rename()
    assert knight.id not in {c.id for c in store.categories}
    assert store.box_counts()[bishop.id] == counts[bishop.id] + counts[knight.id]
    assert ws.current_category == bishop.id  # new boxes: of the class it went into
    assert ws.undo_stack.text(ws.undo_stack.index() - 1) == f"Merge class horse into black-bishop ({counts[knight.id]} boxes)"
    ws.undo_stack.undo()
    assert store.category(knight.id).name == "horse" and store.categories.index(store.category(knight.id)) == \
        [c.id for c in store.categories].index(knight.id)
    assert {name: [i for i, b in enumerate(store.boxes(name)) if b.category_id == knight.id] for name in window.files.model.names} == moved
    assert store.box_counts() == counts


def test_the_class_picker_reaches_any_class_by_typing_part_of_its_name(qtbot, demo, monkeypatch):
    """Only classes 1-9 had a key: past the ninth, the keyboard reached none."""
    from PySide6.QtWidgets import QApplication, QDialog

    from retina_gui.class_picker import ClassPicker

    window = demo
    store = window.workspace.store
    names = [c.name for c in store.categories]
    typed = []

    def run(picker, text, keys=()):
        picker.show()
        assert picker.list.viewport().height() >= picker.list.sizeHintForRow(0) * picker.list.count()  # every class in view, none cut
        picker.filter.setText(text)
        for key in keys:
            qtbot.keyClick(picker.filter, key)
        typed.append([picker.list.item(r).text().split("  ")[0] for r in range(picker.list.count()) if not picker.list.item(r).isHidden()])
        return QDialog.DialogCode.Accepted

    window.canvas.select([0])
    monkeypatch.setattr(ClassPicker, "exec", lambda picker: run(picker, "KNIGHT", [Qt.Key.Key_Down]))
    qtbot.keyClick(window.canvas, Qt.Key.Key_L)
    assert typed[-1] == [n for n in names if "knight" in n]  # as class names compare: case does not count
    expected = typed[-1][1]  # Down in the filter moved to the second one
    assert store.category(store.boxes(window.annotator.current)[0].category_id).name == expected
    assert store.category(window.workspace.current_category).name == expected
    assert QApplication.focusWidget() is window.canvas
    monkeypatch.setattr(ClassPicker, "exec", lambda picker: run(picker, " zebra "))  # nothing matches: Return adds it as a class
    window.class_choice.ask_class()
    assert typed[-1] == [] and store.category(store.boxes(window.annotator.current)[0].category_id).name == "zebra"
    assert store.category(window.workspace.current_category).name == "zebra" and store.categories[-1].name == "zebra"
    window.workspace.undo_stack.undo()  # the relabel, then the class: two steps
    window.workspace.undo_stack.undo()
    assert store.category_named("zebra") is None and store.category(store.boxes(window.annotator.current)[0].category_id).name == expected
    monkeypatch.setattr(ClassPicker, "exec", lambda picker: run(picker, "wkni"))  # its letters in that order
    window.class_choice.ask_class()
    assert typed[-1] == ["white-knight"] and store.category(window.workspace.current_category).name == "white-knight"


def test_the_class_picker_says_when_nothing_matches_and_opens_beside_the_box(qapp):
    from PySide6.QtCore import QRect

    from core.labels import Category
    from retina_gui.class_picker import ClassPicker

    picker = ClassPicker([Category(1, "white-knight"), Category(2, "black-knight")], 1)
    assert picker.list.height() == 2 * picker.list.sizeHintForRow(0) + 2 * picker.list.frameWidth()  # (200 px taller than 4 classes)
    picker.filter.setText("zebra")
    assert picker.nothing.text() == "No class name has “zebra”: Return adds it as a new class" and not picker.nothing.isHidden()
    assert picker.new_name() == "zebra"
    picker.filter.setText("bkn")
    assert picker.nothing.isHidden() and picker.chosen() == 2 and picker.new_name() == ""
    screen = picker.screen().availableGeometry()
    box = QRect(screen.left() + 40, screen.top() + 30, 60, 50)
    picker.place_beside(box)
    assert not picker.geometry().intersects(box) and picker.x() > box.right()  # beside it, on its right where there is room
    box = QRect(screen.right() - 100, screen.top() + 30, 60, 50)
    picker.place_beside(box)
    assert not picker.geometry().intersects(box) and picker.geometry().right() < box.left()  # else on its left
    picker.deleteLater()


def test_passing_messages_keep_room_in_the_status_bar_of_a_narrow_window(qtbot, demo):
    """At 1024 px the fixed fields (image, position, zoom, tool, labels file) took the whole bar:
    "pasted 1 box", "undone: …" got no room and never showed."""
    window = demo
    window.statusBar().setSizeGripEnabled(False)
    window._saved("labels: annotations of the chess pieces, all of them, as labelled in November 2026.coco.json")
    for width in (1024, 800):
        window.resize(width, 700)
        qtbot.waitUntil(lambda: window.statusBar().width() <= width, timeout=2000)
        qtbot.wait(20)  # laid out
        bar = window.statusBar()
        fields = [window.status_fields.image_label, window.status_fields.position_label, window.status_fields.zoom_label, window.status_fields.tool_label, window.status_fields.save_label]
        used = sum(f.width() for f in fields)
        assert bar.width() - used >= max(bar.width() // 4, 200) - 30
        assert window.annotator.current.split("/")[-1][:5] in window.status_fields.image_label.text()  # the name, cut short, still there
        assert window.status_fields.image_label.text().endswith(f"{window.annotator.size[0]}×{window.annotator.size[1]}")
        assert window.status_fields.save_label.toolTip().endswith("2026.coco.json")  # the whole of what is cut short, in its tooltip
    long = "accepted 32 predictions; left out: 4 on a label or likelier prediction of the same class, 2 under the score threshold"
    window.say(long)  # longer than its room: cut with "…", the whole of it in the tooltip (it was cut mid-word)
    bar.repaint()
    assert bar.currentMessage() == long and bar.toolTip() == long and bar._shown_text().endswith("…")
    window.say("pasted 1 box")
    bar.repaint()
    assert bar.toolTip() == "" and bar._shown_text() == "pasted 1 box"
    bar.setLayoutDirection(Qt.LayoutDirection.RightToLeft)  # the fields on the left: the message beside them, on the right
    qtbot.waitUntil(lambda: window.status_fields.save_label.geometry().left() < bar.width() // 4, timeout=2000)
    rect = bar._message_rect()
    assert rect.left() > max(f.geometry().right() for f in fields if f.isVisible()) and rect.width() > 100


def test_a_half_screen_window_puts_the_panels_in_one_column(qtbot, tmp_path, settings):
    """At 683 px the image list on the left and the panels on the right left the image 192 px."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    window = MainWindow(folder=folder, settings=settings)
    window.resize(683, 600)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    docks = window.docks
    qtbot.waitUntil(lambda: window.dockWidgetArea(docks["Images"]) == window.dockWidgetArea(docks["Classes"]), timeout=3000)
    assert docks["Images"] in window.tabifiedDockWidgets(docks["Classes"])
    qtbot.waitUntil(lambda: window.canvas.width() > window.width() * 0.45, timeout=3000)
    window.close()  # reopened wide (its layout saved one-column): the list is back on the left
    window = MainWindow(folder=folder, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.dockWidgetArea(window.docks["Images"]) == Qt.DockWidgetArea.LeftDockWidgetArea, timeout=3000)
    window.resize(700, 600)  # narrowed while open: one column again
    qtbot.waitUntil(lambda: window.dockWidgetArea(window.docks["Images"]) == window.dockWidgetArea(window.docks["Classes"]), timeout=3000)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.docks["Images"])  # the user puts it back, narrow as it is
    window.resize(720, 600)
    qtbot.wait(400)  # (the columns are fitted once a resize ends)
    assert window.dockWidgetArea(window.docks["Images"]) == Qt.DockWidgetArea.LeftDockWidgetArea  # it stays where it was put
    window.close()


def test_tab_steps_through_the_boxes_of_the_image_in_reading_order(qtbot, demo):
    """Without the mouse, one box of many could not be picked to relabel, nudge or delete; in the
    order of the file (the order they were drawn) Tab jumped about the board."""
    from PySide6.QtWidgets import QApplication

    window = demo
    canvas = window.canvas
    order = reading_order([item.rect() for item in canvas._items])
    assert sorted(order) == list(range(len(canvas._items))) and order != sorted(order)  # (the demo's file order is not it)
    canvas.select([])
    qtbot.keyClick(canvas, Qt.Key.Key_Tab)
    assert canvas.selected() == [order[0]] and QApplication.focusWidget() is canvas
    qtbot.keyClick(canvas, Qt.Key.Key_Tab)
    assert canvas.selected() == [order[1]]
    qtbot.keyClick(canvas, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(canvas, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert canvas.selected() == [order[-1]]  # round to the last
    canvas.zoom_by(8)
    canvas.centerOn(canvas.image_size[0], canvas.image_size[1])
    qtbot.keyClick(canvas, Qt.Key.Key_Tab)  # back to the first, scrolled into view
    assert canvas.selected() == [order[0]]
    assert canvas.mapToScene(canvas.viewport().rect()).boundingRect().intersects(canvas._items[order[0]].sceneBoundingRect())


def test_keys_stay_on_the_image_after_tab_on_an_empty_one_and_a_click_on_a_panel_button(qtbot, demo):
    """Tab on an image without boxes moved the keys to the image search, and "da1" filtered the list
    away; a panel button clicked kept the keys, and Space (pan) accepted the next image's predictions."""
    from PySide6.QtWidgets import QAbstractButton, QApplication

    window = demo
    canvas = window.canvas
    window.workspace.delete_boxes("chess_01.jpg", list(range(len(window.workspace.store.boxes("chess_01.jpg")))))
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is canvas
    assert window.statusBar().currentMessage() == "no boxes on this image to step through with Tab (Ctrl+F: the image search)"
    buttons = [b for panel in (window.files, window.classes, window.model_panel, window.anchor_panel, window.evaluation_panel,
                               window.training_panel, window.training_panel.pinned) for b in panel.findChildren(QAbstractButton)]
    clicked_into = (Qt.FocusPolicy.StrongFocus, Qt.FocusPolicy.ClickFocus, Qt.FocusPolicy.WheelFocus)
    assert buttons and not any(b.focusPolicy() in clicked_into for b in buttons)
    assert window.model_panel.predict_button.focusPolicy() == Qt.FocusPolicy.TabFocus  # (Tab reaches it)
    clear = next(b for b in window.files.search.findChildren(QAbstractButton))  # the search box's clear button: Tab passes it over
    assert clear.focusPolicy() == Qt.FocusPolicy.NoFocus
    qtbot.mouseClick(window.model_panel.predict_button, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is canvas


def test_delete_in_the_classes_list_asks_with_no_as_the_default_and_says_why(qtbot, demo):
    """Meant for a box selected on the image, Delete in the Classes list asked to delete a class of
    5 boxes with Yes the default: Enter deleted them."""
    window = demo
    asked = []
    window.confirm = lambda title, text, undoable=False: asked.append((text, undoable)) or False
    window.classes.list.setCurrentRow(0)
    window.classes.list.setFocus()
    window.delete_key()
    ((text, undoable),) = asked
    assert not undoable and "Delete in the Classes list deletes its class; for boxes selected on the image, click the image" in text
    window.classes.ask_delete()  # the Delete button: Yes is the default, as before
    assert asked[-1][1] is True


def test_a_learning_rate_is_typed_as_a_power_of_ten(qtbot, demo):
    """ "1e-3" was read as 1, then the maximum, 1.0, without a word."""
    spin = demo.training_panel.recipe_form.lr_spin
    spin.lineEdit().setText("1e-3")
    spin.interpretText()
    assert spin.value() == pytest.approx(0.001) and spin.text() == "0.001"
    spin.setValue(2e-5)
    assert spin.text() == "2e-05"
    spin.lineEdit().setText("0,001")  # a decimal comma (it was dropped as typed: "0001", then the maximum)
    spin.interpretText()
    assert spin.value() == pytest.approx(0.001)


def test_clearing_the_search_takes_its_end_of_list_note_with_it(qtbot, demo):
    window = demo
    window.files.search.setText("chess_08")
    qtbot.waitUntil(lambda: window.files.filter.rowCount() == 1, timeout=3000)
    window.files.set_current("chess_08.jpg")
    wait_image(qtbot, window, "chess_08.jpg")
    window.step_image(1)
    assert window.statusBar().currentMessage().startswith("no later image in the list")
    window.files.search.setText("")
    assert not window.statusBar().currentMessage().startswith("no later image in the list")


def test_reading_order_takes_rows_top_to_bottom_and_each_row_left_to_right():
    from PySide6.QtCore import QRectF

    rects = [QRectF(300, 12, 40, 40),  # row 1, right
             QRectF(10, 110, 40, 40),  # row 2, left
             QRectF(160, 0, 40, 80),  # row 1, a tall one: its top is higher, its centre lower than the right one's
             QRectF(20, 20, 40, 30),  # row 1, left
             QRectF(200, 100, 40, 60)]  # row 2, right
    assert reading_order(rects) == [3, 2, 0, 1, 4]
    assert reading_order([]) == []
    # a large box is a row of its own, not a column for every box below its middle
    big = [QRectF(0, 0, 1000, 1000), QRectF(500, 600, 20, 20), QRectF(100, 800, 20, 20), QRectF(100, 600, 20, 20), QRectF(500, 800, 20, 20)]
    assert reading_order(big) == [0, 3, 1, 2, 4]
    assert reading_order([QRectF(100, 50, 20, 100), QRectF(10, 50, 20, 20)]) == [1, 0]  # same top, short and tall: one row


def test_a_drop_down_reached_with_tab_takes_letters_before_the_one_key_shortcuts(qtbot, demo):
    """A in the image filter went to the previous image instead of to its entry; after a mouse
    choice there the keys stay the window's."""
    window = demo
    box = window.files.status_box
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    window.files.set_current("chess_03.jpg")
    wait_image(qtbot, window, "chess_03.jpg")
    box.setCurrentIndex(box.count() - 1)
    window.canvas.setFocus()
    box.setFocus(Qt.FocusReason.TabFocusReason)  # reached with Tab
    qtbot.keyClick(box, "a")  # "All images", not Go ▸ Previous Image
    assert box.currentIndex() == 0 and window.annotator.current == "chess_03.jpg"
    qtbot.keyClick(box, "d", Qt.KeyboardModifier.ControlModifier)  # (keys with Ctrl stay the window's)
    assert box.currentIndex() == 0
    qtbot.keyClick(box, Qt.Key.Key_2)  # digits too: class 2
    assert window.workspace.current_category == window.workspace.store.categories[1].id
    window.canvas.setFocus()
    box.setFocus(Qt.FocusReason.MouseFocusReason)  # chosen with the mouse: the keys stay the window's
    qtbot.keyClick(box, "d")
    wait_image(qtbot, window, "chess_04.jpg")


def test_choosing_the_next_class_after_drawing_with_the_edit_tool_leaves_the_drawn_box_as_it_is(qtbot, demo):
    """1, draw, 2, draw: the first box became a 2 unseen (the fix was for the draw tool alone)."""
    window = demo
    store, name = window.workspace.store, window.annotator.current
    first, second = store.categories[0].id, store.categories[1].id
    window.canvas.set_tool(Tool.EDIT)
    qtbot.keyClick(window.canvas, Qt.Key.Key_1)
    drag(qtbot, window, (2, 2), (30, 30))  # empty space at the corner: a new box
    drawn = len(store.boxes(name)) - 1
    assert store.boxes(name)[drawn].category_id == first and window.canvas.selected() == [drawn]
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)
    assert store.boxes(name)[drawn].category_id == first and window.workspace.current_category == second
    assert window.statusBar().currentMessage() == f"new boxes: {store.category(second).name}"
    drag(qtbot, window, (15, 15), (15, 15))  # clicked: the box is picked now, and the number keys relabel it
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)
    assert store.boxes(name)[drawn].category_id == second
    # resized by a handle as soon as it is drawn: picked that way too
    qtbot.keyClick(window.canvas, Qt.Key.Key_1)
    drag(qtbot, window, (2, 40), (30, 70))
    again = len(store.boxes(name)) - 1
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)
    assert store.boxes(name)[again].category_id == first and window.canvas.just_drawn
    drag(qtbot, window, (30, 70), (36, 76))  # its bottom-right handle
    assert store.boxes(name)[again].x2 == pytest.approx(36, abs=1) and not window.canvas.just_drawn
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)
    assert store.boxes(name)[again].category_id == second


def test_deleting_a_class_says_which_number_keys_moved(qtbot, demo):
    window = demo
    store = window.workspace.store
    names = [c.name for c in store.categories]
    window.say("undone: Nudge box · chess_01.jpg")  # a message of before: not glued to this one
    window.workspace.delete_category(store.categories[5].id)
    # key 9 too: the class past the ninth moved up into it
    expected = "class keys now: " + ", ".join(f"{k} {names[k]}" for k in range(6, 10)) + f"; class {names[5]} removed"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == expected, timeout=2000)
    window.undo_steps.undo()  # the class back on its key, and the one past the ninth without one again
    boxes = store.box_counts()[store.categories[5].id]
    expected = ("class keys now: " + ", ".join(f"{k + 1} {names[k]}" for k in range(5, 9)) + f"; no key now: {names[9]} (L reaches it)"
                f"; undone: Delete class {names[5]} and its {boxes} boxes")
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == expected, timeout=2000)
    # two classes gone in one go: said as one ("class keys now" twice, the second class not named)
    first, second = store.categories[0], store.categories[1]
    window.say("")
    window.workspace.delete_category(first.id)
    window.workspace.delete_category(second.id)
    expected = "class keys now: " + ", ".join(f"{k - 1} {names[k]}" for k in range(2, 11)) + f"; class {first.name}, {second.name} removed"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == expected, timeout=2000)
    window.undo_steps.undo()
    window.undo_steps.undo()
    qtbot.wait(10)
    # deleted from the Classes panel: the keys, then what it did (its message went over the keys'; said first, its end was cut)
    window.classes.confirm = lambda *args, **kwargs: True
    window.classes.list.setCurrentRow(5)
    window.classes.ask_delete()
    expected = ("class keys now: " + ", ".join(f"{k} {names[k]}" for k in range(6, 10))
                + f"; deleted class {names[5]} and its {boxes} boxes (Edit ▸ Undo brings them back)")
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == expected, timeout=2000)


def test_on_a_hidpi_screen_outlines_keep_their_width_and_the_pointer_its_precision(qtbot, demo, monkeypatch):
    """At scale 2 box outlines were 1 widget pixel thin (cosmetic pens count device pixels), and
    the pointer's image position moved only every second screen pixel (it was rounded to a widget
    pixel before mapping)."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    from retina_gui.canvas_items import LINE_SCALE

    window = demo
    canvas = window.canvas
    item = canvas._items[0]
    assert item.pen().widthF() == 2 * LINE_SCALE.value
    monkeypatch.setattr(type(canvas), "devicePixelRatioF", lambda self: 2.0)
    try:
        canvas.event(QEvent(QEvent.Type.DevicePixelRatioChange))
        assert item.pen().widthF() == 4 and LINE_SCALE.value == 2
        canvas.select([0])
        assert item.pen().widthF() == 6  # selected: 3 widget pixels
        assert all(p.pen().widthF() in (2, 4) for p in canvas._predictions if p.view is not None)  # faint 1, else 2, times 2
        qtbot.keyClick(canvas, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)  # actual size: an image pixel to a screen pixel
        assert canvas.zoom() == 0.5 and window.status_fields.zoom_label.text() == "100 %"
    finally:
        monkeypatch.undo()
        canvas.event(QEvent(QEvent.Type.DevicePixelRatioChange))
    assert item.pen().widthF() == 3 and LINE_SCALE.value == 1
    canvas.set_zoom(2.0)
    at = QPointF(100.5, 80.5)  # half a widget pixel: one screen pixel at scale 2
    event = QMouseEvent(QEvent.Type.MouseMove, at, canvas.viewport().mapToGlobal(at), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    whole = canvas.mapToScene(QPoint(100, 80))
    assert canvas._scene_at(event) == QPointF(whole.x() + 0.25, whole.y() + 0.25)


def test_status_dots_have_a_white_rim_that_stands_out_on_the_selected_row(qtbot, demo):
    """A labelled image's blue square vanished into the blue of the selected row."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QColor

    model = demo.files.model
    icon = model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
    image = icon.pixmap(QSize(16, 16), 2.0).toImage()
    assert image.size() == QSize(32, 32)  # drawn for the screen, not a smaller drawing stretched
    assert image.pixelColor(16, 16) == QColor("#3c8dd8")  # the middle: labelled blue
    assert image.pixelColor(16, 4).lightness() > 200  # the rim: white
    assert image.pixelColor(0, 0).alpha() == 0  # round, on nothing


def test_a_box_small_on_screen_moves_when_dragged_from_inside_and_a_wide_tag_beside_it_is_free_to_draw_from(qtbot, unlabelled):
    """A 14 px box was all handles: a drag from its middle resized it from a corner. And the part
    of its class tag beside it took a drag meant to draw a box there: the small box moved."""
    window = unlabelled
    canvas, store = window.canvas, window.workspace.store
    window.workspace.add_category("a-class-with-a-long-name")
    window.workspace.set_current_category(window.workspace.store.category_named("a-class-with-a-long-name").id)
    side = 14 / canvas.zoom()  # 14 screen pixels
    window.workspace.draw_box("chess_01.jpg", window.annotator.size, QRectF(100, 100, side, side))
    canvas.select([0])
    drag(qtbot, window, (100 + side / 2, 100 + side / 2), (100 + side / 2 + 30 / canvas.zoom(), 100 + side / 2 + 20 / canvas.zoom()))
    box = store.boxes("chess_01.jpg")[0]
    assert (box.x2 - box.x1, box.y2 - box.y1) == pytest.approx((side, side), abs=0.01) and box.x1 > 100
    assert window.workspace.undo_stack.undoText().startswith("Move box")
    drag(qtbot, window, (box.x2, box.y2), (box.x2 + 6 / canvas.zoom(), box.y2 + 6 / canvas.zoom()))  # its corner handle still resizes
    assert window.workspace.undo_stack.undoText().startswith("Resize box")
    box = store.boxes("chess_01.jpg")[0]
    tag = canvas._items[0].label.sceneBoundingRect()
    assert tag.right() > box.x2 + 10 / canvas.zoom()  # the name runs far past the small box
    beside = (box.x2 + 8 / canvas.zoom(), tag.center().y())
    assert canvas.box_at(view_point(window, *beside)) is None
    assert canvas.box_at(view_point(window, (box.x1 + box.x2) / 2, tag.center().y())) == 0  # above the box, the tag is the box's
    drag(qtbot, window, beside, (beside[0] + 60, beside[1] + 50))
    assert len(store.boxes("chess_01.jpg")) == 2 and store.boxes("chess_01.jpg")[0] == box


def test_tab_after_a_delete_goes_on_from_the_deleted_box_and_ctrl_click_beside_the_boxes_keeps_the_selection(qtbot, demo):
    window = demo
    canvas = window.canvas
    order = reading_order([item.rect() for item in canvas._items])
    canvas.select([])
    for _ in range(3):
        qtbot.keyClick(canvas, Qt.Key.Key_Tab)
    assert canvas.selected() == [order[2]]
    before, after = canvas._items[order[1]].rect(), canvas._items[order[3]].rect()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.selected() == [] and window.statusBar().currentMessage() == "deleted 1 box (Edit ▸ Undo brings it back)"
    qtbot.keyClick(canvas, Qt.Key.Key_Tab)  # the box that followed the deleted one, not the first again
    assert [canvas._items[i].rect() for i in canvas.selected()] == [after]
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    qtbot.keyClick(canvas, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)  # backwards: the one before it
    assert [canvas._items[i].rect() for i in canvas.selected()] == [before]
    canvas.select([0, 1])
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, view_point(window, 2, 2))
    assert canvas.selected() == [0, 1]
    canvas.select([])
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)  # nothing to delete: said
    assert window.statusBar().currentMessage() == "no box selected to delete: click one, or Tab to it"


def test_undo_and_redo_select_the_boxes_they_bring_back(qtbot, demo):
    """A deleted box put back among many was hard to find: it came back unselected."""
    window = demo
    canvas, name = window.canvas, "chess_01.jpg"
    n = len(window.workspace.store.boxes(name))
    canvas.select([3, 5])
    window.annotator.delete_selected()
    assert canvas.selected() == []
    window.undo_steps.undo_action.trigger()
    assert canvas.selected() == [3, 5] and len(window.workspace.store.boxes(name)) == n
    window.undo_steps.redo_action.trigger()
    assert canvas.selected() == []
    window.undo_steps.undo_action.trigger()
    canvas.set_tool(Tool.DRAW)
    drag(qtbot, window, (10, 10), (60, 50))
    canvas.select([])
    window.undo_steps.undo_action.trigger()
    window.undo_steps.redo_action.trigger()  # the box drawn again is selected
    assert canvas.selected() == [n]


def test_the_delete_key_in_the_classes_list_deletes_the_class_and_the_menu_names_what_it_acts_on(qtbot, demo):
    """Delete there deleted the boxes selected on the image; the Classes menu said "Delete Class…"
    of a class out of sight, and "Class 7" of nothing."""
    window = demo
    store, classes = window.workspace.store, window.classes
    window.workspace.add_category("clock")
    clock = store.category_named("clock")
    window.canvas.select([0])
    n = len(store.boxes("chess_01.jpg"))
    classes.list.setFocus()
    classes.list.setCurrentRow(len(store.categories) - 1)
    assert classes.chosen_id() == clock.id
    qtbot.keyClick(classes.list, Qt.Key.Key_Delete)
    assert store.category_named("clock") is None and len(store.boxes("chess_01.jpg")) == n
    assert window.statusBar().currentMessage().startswith("deleted class clock (Edit ▸ Undo brings it back)")
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Classes")
    classes.list.setCurrentRow(0)
    menu.aboutToShow.emit()
    texts = [a.text() for a in menu.actions()]
    first = store.categories[0].name
    assert f"&Rename Class “{first}”…" in texts and f"&Delete Class “{first}”…" in texts
    assert f"1  {store.categories[0].name}" in texts and f"9  {store.categories[8].name}" in texts
    rename = next(a for a in menu.actions() if a.text().startswith("&Rename"))
    assert rename.shortcut().toString() == "F2"


def menu_named(window, text: str):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == text)


def test_menus_grey_what_has_nothing_to_act_on_while_open_and_its_keys_still_say_why(qtbot, demo):
    """Copy, Delete, Paste, Rescale, Predict, Accept and Next Error could be chosen with nothing to
    act on; greyed only while the menu is open, as a greyed action's key does nothing at all."""
    window = demo
    edit, go, model = menu_named(window, "&Edit"), menu_named(window, "&Go"), menu_named(window, "&Model")
    action = {a.property("plain_name"): a for menu in (edit, go, model) for a in menu.actions() if a.property("plain_name")}
    window.canvas.select([])
    edit.aboutToShow.emit()
    greyed = {name for name, a in action.items() if not a.isEnabled()}
    assert {"&Copy Boxes", "&Paste Boxes", "&Delete Boxes", "Clear Selection", "Rescale Boxes to the Image &Size",
            "Paste Boxes of the Pre&vious Image"} <= greyed  # chess_01 is the first image: none before it
    assert action["Select &All Boxes"].isEnabled() and action["Mark Image &Reviewed"].isEnabled()
    edit.aboutToHide.emit()
    assert all(a.isEnabled() for name, a in action.items() if name not in ("&Undo", "&Redo"))
    action["&Delete Boxes"].trigger()
    assert window.statusBar().currentMessage() == "no box selected to delete: click one, or Tab to it"
    action["&Paste Boxes"].trigger()
    assert window.statusBar().currentMessage() == "nothing to paste: copy boxes first (Ctrl+C)"
    window.canvas.setFocus()
    action["&Copy Boxes"].trigger()
    assert window.statusBar().currentMessage() == "no box selected to copy: click one, or Ctrl+A for all"
    window.canvas.select([0])
    action["&Copy Boxes"].trigger()
    edit.aboutToShow.emit()
    assert action["&Copy Boxes"].isEnabled() and action["&Paste Boxes"].isEnabled() and action["&Delete Boxes"].isEnabled()
    edit.aboutToHide.emit()
    go.aboutToShow.emit()
    assert not action["Next &Error"].isEnabled() and not action["Previous E&rror"].isEnabled()  # nothing evaluated
    go.aboutToHide.emit()
    model.aboutToShow.emit()
    assert window.predictions.model is None
    assert not action["&Predict Image"].isEnabled() and not action["Predict &Folder"].isEnabled()
    assert not action["&Accept Shown Predictions (image)"].isEnabled() and action["&Load Model…"].isEnabled()
    model.aboutToHide.emit()


def test_export_with_no_labels_says_so_and_writes_nothing(qtbot, tmp_path, settings, monkeypatch):
    """It wrote {"images":[],"annotations":[],"categories":[]} and said "self-check passed"."""
    from PySide6.QtWidgets import QFileDialog

    window = unlabelled_window(qtbot, tmp_path, settings)
    dialogs = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: dialogs.append(a) or ("", ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: dialogs.append(a) or "")
    export = menu_named(window, "&File").actions()
    export_menu = next(a.menu() for a in export if a.menu() is not None and a.text() == "&Export Labels")
    export_menu.aboutToShow.emit()
    assert not any(a.isEnabled() for a in export_menu.actions())
    export_menu.aboutToHide.emit()
    for fmt in ("coco", "voc", "yolo", "csv"):
        window.label_files.ask_export(fmt)
        assert window.statusBar().currentMessage() == "nothing to export: this folder has no labels yet (no classes, boxes or reviewed images)"
    assert dialogs == []
    # a box whose class went: the image it was on is written as nothing, so nothing is there to export still
    from core.labels import Box

    piece = window.workspace.add_category("piece")
    window.workspace.paste_boxes("chess_01.jpg", (1024, 686), [Box(5, 5, 60, 60, piece.id)])
    window.workspace.delete_category(piece.id)
    window.label_files.ask_export("coco")
    assert dialogs == [] and window.statusBar().currentMessage().startswith("nothing to export")
    window.workspace.add_category("piece")
    export_menu.aboutToShow.emit()
    assert all(a.isEnabled() for a in export_menu.actions())
    export_menu.aboutToHide.emit()
    window.close()


def test_f2_renames_the_chosen_class_after_the_menu_was_opened_with_none_chosen(qtbot, demo, monkeypatch):
    """The menu greyed Rename while no class was chosen, and F2 stayed dead after it closed."""
    from PySide6.QtWidgets import QInputDialog

    window = demo
    store, classes = window.workspace.store, window.classes
    menu = menu_named(window, "&Classes")
    rename = next(a for a in menu.actions() if a.text().startswith("&Rename"))
    classes.list.setCurrentRow(-1)
    menu.aboutToShow.emit()
    assert not rename.isEnabled() and rename.text() == "&Rename Class…"
    menu.aboutToHide.emit()
    rename.trigger()
    assert window.statusBar().currentMessage() == "no class chosen: click one in the Classes panel first"
    classes.list.setCurrentRow(0)
    old = store.categories[0].name
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("renamed", True))
    assert rename.isEnabled()
    rename.trigger()
    assert store.categories[0].name == "renamed" and store.category_named(old) is None
    assert window.statusBar().currentMessage() == f"renamed class {old} to renamed"


def test_a_number_key_past_the_last_class_says_so(qtbot, unlabelled):
    window = unlabelled
    for category in list(window.workspace.store.categories):
        window.workspace.delete_category(category.id)
    window.workspace.add_category("clock")
    qtbot.keyClick(window.canvas, Qt.Key.Key_7)
    assert window.statusBar().currentMessage() == "no class 7: the folder has 1 class (Classes ▸ Add Class… adds one)"
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Classes")
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions() if a.text()[:1].isdigit()][:2] == ["1  clock", "2  (none)"]


def test_help_lists_every_menu_shortcut_and_the_keys_of_the_image(qtbot, demo):
    from retina_gui.shortcuts_dialog import ShortcutsDialog, menu_shortcuts

    window = demo
    rows = menu_shortcuts(window.menuBar())
    assert ("Classes", "Rename Class…", "F2") in rows and ("File", "Look for New Images", "F5") in rows
    assert ("Edit", "Undo", "Ctrl+Z") in rows and ("Classes", "Class 1", "1") in rows  # not the texts of the moment
    assert any(menu == "Help" and keys == "F1" for menu, _, keys in rows)
    window.menus.name_class_actions()  # as F1 does first: the number keys by their classes (it listed "Class 1" … "Class 9")
    rows = menu_shortcuts(window.menuBar())
    first = min(window.workspace.store.categories, key=lambda c: c.id if c.id else 10**9)
    assert ("Classes", f"Class {first.name}", "1") in rows and ("Classes", "Class 9 (none yet)", "9") not in rows
    dialog = ShortcutsDialog(window.menuBar(), window)
    text = dialog.text.toPlainText()
    assert "Tab / Shift+Tab" in text and "Space+drag" in text and "Delete Boxes (Edit)" in text
    assert all(item in text for _, item, _ in rows)
    dialog.deleteLater()


def test_look_for_new_images_also_marks_the_images_gone_since_and_those_back(qtbot, demo):
    window = demo
    folder = window.workspace.folder
    (folder / "chess_08.jpg").rename(folder.parent / "aside.jpg")
    window.listing.rescan()
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    assert window.statusBar().currentMessage() == "no new images in the folder; 1 image gone from the folder (chess_08.jpg): its labels are kept"
    assert window.files.model.unreadable["chess_08.jpg"].startswith("no longer in the folder")
    assert window.workspace.store.boxes("chess_08.jpg")
    (folder.parent / "aside.jpg").rename(folder / "chess_08.jpg")
    window.listing.rescan()
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    assert "chess_08.jpg" not in window.files.model.unreadable and window.statusBar().currentMessage() == "no new images in the folder"


def test_a_box_being_drawn_shows_its_size_in_image_pixels(qtbot, unlabelled):
    window = unlabelled
    canvas = window.canvas
    canvas.actual_size()
    vp = canvas.viewport()
    a, b = view_point(window, 40, 40), view_point(window, 104, 88)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, b)
    drawn = vp.grab().toImage()
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    plain = vp.grab().toImage()
    # the badge, in the drawing's yellow, above the box's top-right corner while it is drawn, and gone after
    corner = view_point(window, 100, 36)
    assert QColor(drawn.pixel(corner)).name() == "#ffff00" and QColor(plain.pixel(corner)).name() != "#ffff00"


def test_export_and_import_retinanet_csv_from_the_window(qtbot, demo, tmp_path, monkeypatch):
    """The format yhenon/pytorch-retinanet trains from: exported beside the images, it reads back
    as the same boxes to the pixel; asked before replacing either of its two files."""
    from PySide6.QtWidgets import QFileDialog

    window = demo
    store = window.workspace.store
    target = window.workspace.folder / "train.csv"
    asked = []
    window.confirm = lambda title, text, **_: asked.append(text) or True
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.label_files.ask_export("csv")
    qtbot.waitUntil(lambda: not window.transfer.busy, timeout=10_000)
    assert asked == [] and window.statusBar().currentMessage().startswith("exported 8 images, ")
    assert window.statusBar().currentMessage().endswith(f"to {target}, class list train_classes.csv beside it (corners rounded outwards "
                                                        "to whole pixels)")
    assert target.read_text().splitlines()[0].startswith("chess_01.jpg,")
    window.label_files.ask_export("csv")  # both files there now: asked once, naming them
    qtbot.waitUntil(lambda: not window.transfer.busy, timeout=10_000)
    assert asked == [f"train.csv and train_classes.csv exist in {target.parent}. Replace them?"]
    before = {n: sorted((store.category(b.category_id).name, math.floor(b.x1), math.ceil(b.y2)) for b in store.boxes(n))
              for n in store.file_names()}
    assert not transferred(qtbot, window, window.label_files.import_labels("csv", target.with_name("train_classes.csv")))  # the wrong one of the two
    assert "this looks like a class list (class_name,id): choose the annotations file beside it" in window.reports[-1]
    assert window.statusBar().currentMessage() == "import failed"  # ("reading …" stood behind the message)
    copy = tmp_path / "copy"  # (its paths lead elsewhere now: the images are found by file name)
    copy.mkdir()
    for name in ("train.csv", "train_classes.csv"):
        shutil.copy(target.parent / name, copy / name)
    for source in (target, copy / "train.csv"):
        for name in store.file_names():
            window.workspace.delete_boxes(name, list(range(len(store.boxes(name)))))
        assert transferred(qtbot, window, window.label_files.import_labels("csv", source))
        after = {n: sorted((store.category(b.category_id).name, b.x1, b.y2) for b in store.boxes(n)) for n in store.file_names()}
        assert after == before


def test_double_clicking_a_box_asks_for_its_class_and_relabels_it_alone(qtbot, demo, monkeypatch):
    """As in labelme; the class for new boxes stays as it was."""
    from PySide6.QtWidgets import QDialog

    from retina_gui.class_picker import ClassPicker

    window = demo
    store, name = window.workspace.store, "chess_01.jpg"
    box = store.boxes(name)[4]
    other = next(c for c in store.categories if c.id != box.category_id and c.id != window.workspace.current_category)
    offered = []

    def pick(picker):
        offered.append(picker.chosen())  # it opens on the box's class
        picker.filter.setText(other.name)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ClassPicker, "exec", pick)
    current = window.workspace.current_category
    centre = view_point(window, (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2)
    qtbot.mouseDClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert offered == [box.category_id]
    assert store.boxes(name)[4].category_id == other.id and window.workspace.current_category == current
    assert (store.boxes(name)[4].x1, store.boxes(name)[4].y1) == (box.x1, box.y1)  # the click did not move it
    assert window.workspace.undo_stack.undoText().startswith(f"Relabel box as {other.name}")


def test_retina_gui_puts_its_window_on_screen_before_it_reads_the_folder(qtbot, tmp_path, monkeypatch):
    """A labels file of 100,000 boxes takes 1.4 s to read: the window appeared only after it."""
    import retina_gui.app as app

    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    seen, windows = [], []
    opening, asked = MainWindow.open_folder, MainWindow.open_folder_once_shown

    def watched(self, folder, labels=None):
        seen.append((self.isVisible(), self.windowHandle() is not None and self.windowHandle().isExposed(), self.canvas.message))
        return opening(self, folder, labels)

    def noted(self, folder, labels=None):
        windows.append(self)  # this one: an earlier test's window may still be among the top-level widgets
        return asked(self, folder, labels)

    def run_events(_app):
        window = windows[0]
        qtbot.waitUntil(lambda: window.workspace is not None and window.listing.complete, timeout=10_000)
        return 0

    monkeypatch.setattr(MainWindow, "open_folder", watched)
    monkeypatch.setattr(MainWindow, "open_folder_once_shown", noted)
    monkeypatch.setattr(QApplication, "exec", run_events)
    try:
        assert app.main([str(folder), "--model", str(tmp_path / "none.safetensors")]) == 0
        assert seen == [(True, True, f"opening {folder.name} …")]
        assert windows[0].workspace.folder == folder.resolve() and windows[0].files.model.rowCount() == 8
    finally:
        for window in windows:
            window.close()
            window.deleteLater()
        QSettings.setDefaultFormat(QSettings.Format.NativeFormat)


def test_new_boxes_get_a_class_the_labels_use_not_an_empty_first_class(qtbot, tmp_path, settings):
    """A Roboflow export's first class is its supercategory ("pieces"), with no boxes: it was the
    class new boxes got, when the folder opened and after importing such a file."""
    data = json.loads((DEMO / "annotations.coco.json").read_text())
    data["categories"].insert(0, {"id": 0, "name": "pieces", "supercategory": "none"})
    source = tmp_path / "_annotations.coco.json"
    source.write_text(json.dumps(data))
    window = unlabelled_window(qtbot, tmp_path, settings)
    assert window.workspace.current_category is None
    empty = window.classes.list.viewport().grab().toImage()  # no classes: the list says how they come (it was a white box)
    base = window.classes.list.palette().color(window.classes.list.viewport().backgroundRole()).rgb()
    assert any(empty.pixel(x, y) != base for x in range(0, empty.width(), 2) for y in range(0, min(40, empty.height())))
    assert transferred(qtbot, window, window.label_files.import_labels("coco", source))
    store = window.workspace.store
    first_used = next(c for c in store.categories if store.box_counts().get(c.id))
    assert store.categories[0].name == "pieces" and window.workspace.current_category == first_used.id != store.categories[0].id
    assert window.classes.chosen_id() == first_used.id
    folder = window.workspace.folder
    window.close()
    shutil.copy(source, folder / "annotations.coco.json")
    again = open_window(qtbot, folder, settings)
    assert again.workspace.current_category == first_used.id
    again.close()


def test_an_import_leaves_the_class_the_user_chose_for_new_boxes(qtbot, tmp_path, settings):
    window = unlabelled_window(qtbot, tmp_path, settings)
    car = window.workspace.add_category("car")
    assert window.workspace.current_category == car.id
    assert transferred(qtbot, window, window.label_files.import_labels("coco", DEMO / "annotations.coco.json"))
    assert window.workspace.store.box_counts() and window.workspace.current_category == car.id
    window.close()


def test_a_csv_import_reads_no_image_outside_the_folder(qtbot, tmp_path, settings, monkeypatch):
    """An absolute path the folder has no image of is skipped: its header was read first, anywhere on disk."""
    import core.images

    window = unlabelled_window(qtbot, tmp_path, settings)
    outside = DATASETS / "exif_orientation" / "Landscape_1.jpg"
    source = tmp_path / "a.csv"
    source.write_text(f"{outside},1,2,30,40,cat\nchess_01.jpg,10,20,30,40,cat\n")
    read, image_size = [], core.images.image_size
    monkeypatch.setattr(core.images, "image_size", lambda path: read.append(Path(path)) or image_size(path))
    shutil.copy(source, window.workspace.folder / "a.csv")
    assert transferred(qtbot, window, window.label_files.import_labels("csv", window.workspace.folder / "a.csv"))
    assert read and all(p.resolve().is_relative_to(window.workspace.folder) for p in read)
    assert len(window.workspace.store.boxes("chess_01.jpg")) == 1
    # no class list beside it: a note of the CLI (classes numbered as they come), no problem of an import that matches classes by name
    assert any("not in this folder" in r for r in window.reports) and not any("no class list" in r for r in window.reports), window.reports
    window.close()


def test_the_empty_window_says_how_to_start_and_a_dropped_folder_opens(qtbot, tmp_path, settings):
    """With no folder the window was a blank grey canvas, saying nothing of what to do first."""
    from PySide6.QtCore import QMimeData, QPoint, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    from retina_gui.main_window import NO_FOLDER_TEXT

    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.show()
    assert window.canvas.message == NO_FOLDER_TEXT and "Open Folder" in NO_FOLDER_TEXT
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    (folder / "model.safetensors").write_bytes(b"")

    def dropped(path: Path, event_type) -> bool:
        """Sent to the image area, as a file manager's drop lands: Qt passes it up to the window."""
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(path))])
        args = (QPoint(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        event = QDragEnterEvent(*args) if event_type == "enter" else QDropEvent(QPointF(10, 10), *args[1:])
        QApplication.sendEvent(window.canvas.viewport(), event)
        return event.isAccepted()

    assert not dropped(folder / "annotations.coco.json", "enter")  # (it opened the labels' folder as images)
    assert dropped(folder / "chess_03.jpg", "enter")  # an image of the folder: its folder opens, on that image
    assert dropped(folder / "chess_03.jpg", "drop")
    qtbot.waitUntil(lambda: window.workspace is not None and window.listing.complete, timeout=5000)
    assert window.workspace.folder == folder.resolve()
    wait_image(qtbot, window, "chess_03.jpg")
    opened = []
    window.open_folder = lambda *args: opened.append(args)
    assert dropped(folder / "chess_05.jpg", "enter") and dropped(folder / "chess_05.jpg", "drop")  # another of the folder open: shown
    wait_image(qtbot, window, "chess_05.jpg")
    assert opened == []
    del window.open_folder
    loaded = []
    window.predictions.load_model = lambda path, *args: loaded.append(path)
    assert dropped(folder / "model.safetensors", "enter") and dropped(folder / "model.safetensors", "drop") and loaded == [folder / "model.safetensors"]  # a weights file loads
    assert window.workspace.folder == folder.resolve()
    assert dropped(folder, "enter") and dropped(folder, "drop")  # the folder open: said so (nothing happened, silently)
    assert window.statusBar().currentMessage().startswith("f is open already")
    window.close()


def test_d_at_the_end_of_a_filtered_list_says_why_and_labelled_lists_reviewed_images_with_boxes(qtbot, demo):
    """D did nothing, silently, after a search left one image; "Labelled" left out an image with
    boxes once it was marked reviewed."""
    window = demo
    go = menu_named(window, "&Go")
    next_image = next(a for a in go.actions() if a.property("plain_name") == "&Next Image")
    previous_image = next(a for a in go.actions() if a.property("plain_name") == "&Previous Image")
    previous_image.trigger()  # chess_01, the first
    assert window.statusBar().currentMessage() == "no earlier image in the list"
    next_image.trigger()  # stepped on: the note of the end goes (it stood over the next image)
    assert window.files.current() == "chess_02.jpg" and window.statusBar().currentMessage() == ""
    window.files.search.setText("chess_05")
    window.files.set_current("chess_05.jpg")
    next_image.trigger()
    assert window.statusBar().currentMessage() == ("no later image in the list (search “chess_05”: Esc in the search box, or All images, "
                                                   "lists them all)")
    window.files.search.clear()
    window.files.set_current("chess_02.jpg")
    wait_image(qtbot, window, "chess_02.jpg")
    window.annotator.toggle_reviewed()
    assert window.files.model.status("chess_02.jpg") == "reviewed"
    window.files.status_box.setCurrentIndex(window.files.status_box.findData("labelled"))
    listed = [window.files.filter.index(r, 0).data() for r in range(window.files.filter.rowCount())]
    assert len(listed) == 8 and "chess_02.jpg" in listed
    window.files.status_box.setCurrentIndex(window.files.status_box.findData("reviewed"))
    assert window.files.filter.rowCount() == 1
    box = window.files.status_box
    box.showPopup()  # each entry says how many it lists, counted as the list opens
    assert [box.itemText(k) for k in range(box.count())] == ["All images", "Unlabelled (0)", "Labelled (8)", "Predicted (0)",
                                                              "Reviewed (1)", "Unreadable (0)"]
    box.hidePopup()
    assert box.itemText(2) == "Labelled"


def test_export_offers_the_home_folder_when_the_image_folder_cannot_be_written(qtbot, demo, monkeypatch):
    """A read-only share was offered as the place to export, where the export then failed."""
    from PySide6.QtWidgets import QFileDialog

    import retina_gui.label_files as label_files

    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda parent, title, path, *a, **k: offered.append(path) or ("", ""))
    demo.label_files.ask_export("coco")
    assert offered[-1] == str(demo.workspace.folder / "export.coco.json")
    monkeypatch.setattr(label_files.os, "access", lambda path, mode: Path(path) != demo.workspace.folder)
    demo.label_files.ask_export("coco")
    assert offered[-1] == str(Path.home() / "export.coco.json")


def test_a_pale_class_outline_has_a_dark_edge_seen_on_a_light_image(qapp):
    """A cream or lavender class (the palette's pale colours) all but vanished on a light photo."""
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QGraphicsScene

    from retina_gui.canvas_items import BoxItem, BoxView, PredictionItem

    scene = QGraphicsScene(0, 0, 100, 100)
    label = BoxItem(0)
    label.show_box(BoxView(QRectF(20, 20, 30, 60), "", QColor("#fffac8")), selected=False)
    prediction = PredictionItem(1)
    prediction.show_box(BoxView(QRectF(60, 20, 30, 60), "", QColor("#fffac8"), score=0.9))
    for item in (label, prediction):
        item.label.hide()  # (the tags are not what is looked at here)
        scene.addItem(item)
    image = QImage(100, 100, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    scene.render(painter)
    painter.end()

    def darkest(x0, x1, y):
        return min(QColor(image.pixel(x, y)).lightness() for x in range(x0, x1))

    assert darkest(17, 24, 50) < 160  # beside the label's left line, at mid-height
    # the prediction's edge is dashed as its line is: dark beside the dashes, light in the gaps (square caps closed them)
    beside = [darkest(57, 64, y) for y in range(22, 78)]
    assert min(beside) < 180 and max(beside) > 240
    assert darkest(30, 40, 50) == 255  # inside: nothing drawn


def test_a_click_on_one_of_several_selected_boxes_selects_it_alone_and_a_relabel_is_said(qtbot, demo):
    """Ctrl+A, then a click on one box and a number key relabelled every box of the image, silently."""
    window = demo
    store = window.workspace.store
    name = window.annotator.current
    boxes = store.boxes(name)
    window.canvas.select(list(range(len(boxes))))
    target = min(range(len(boxes)), key=lambda i: (boxes[i].x2 - boxes[i].x1) * (boxes[i].y2 - boxes[i].y1))
    box = boxes[target]
    window.canvas.centerOn((box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2)
    centre = view_point(window, (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2)
    assert window.canvas.box_at(centre) == target
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert window.canvas.selected() == [target]
    other = next(c for c in store.categories if c.id != box.category_id)
    key = [c.id for c in store.categories].index(other.id) + 1
    qtbot.keyClick(window.canvas, getattr(Qt.Key, f"Key_{key}"))
    assert [i for i, b in enumerate(store.boxes(name)) if b.category_id != boxes[i].category_id] == [target]
    assert window.statusBar().currentMessage() == f"1 box relabelled as {other.name}"
    qtbot.keyClick(window.canvas, getattr(Qt.Key, f"Key_{key}"))  # again: nothing to change, said so
    assert window.statusBar().currentMessage() == f"already {other.name}"
    window.canvas.select([])
    qtbot.keyClick(window.canvas, getattr(Qt.Key, f"Key_{key}"))  # nothing selected: the class of new boxes, said
    assert window.statusBar().currentMessage() == f"new boxes: {other.name}"


def test_a_class_the_picker_adds_is_said(qtbot, demo, monkeypatch):
    from PySide6.QtWidgets import QDialog

    from retina_gui.class_picker import ClassPicker

    window = demo

    def typed(picker):
        picker.filter.setText("zebra")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ClassPicker, "exec", typed)
    window.canvas.select([])
    qtbot.keyClick(window.canvas, Qt.Key.Key_L)
    assert window.statusBar().currentMessage() == "class zebra added; new boxes: zebra"  # (the 13th class: no key)


def test_entries_the_listing_leaves_out_are_said_in_a_box_once_then_in_the_status_bar(qtbot, tmp_path, settings):
    """A link back up came back as a box at every F5 ("1 entries of … were left out")."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DATASETS / "sample_photos" / "skimage" / "astronaut.png", folder)
    os.symlink(folder, folder / "again")  # a link back up
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    (report,) = [r for r in window.reports if "left out" in r]
    assert report.startswith(f"Folder: 1 entry of {folder} was left out (the rest is listed):\n\nagain/ ")
    assert window.files.count.text() == "1 image"  # ("1 images")
    said = []
    window.statusBar().messageChanged.connect(said.append)
    window.listing.rescan()
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    assert len([r for r in window.reports if "left out" in r]) == 1
    assert f"1 entry of {folder} was left out (the rest is listed)" in said
    window.close()


def test_undo_and_redo_with_nothing_to_take_back_say_so(qtbot, demo):
    """Ctrl+Z at the start of the history, or Ctrl+Y at its end, said nothing."""
    window = demo
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == "nothing to undo"
    window.canvas.select([0])
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == "nothing to redo"
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage().startswith("undone: Delete box")
    qtbot.keyClick(window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage().startswith("redone: Delete box")


def test_retina_gui_given_an_image_opens_its_folder_on_it_and_a_missing_path_is_said_so(qtbot, tmp_path, settings):
    """It said "…jpg is not a folder", as it did of a path that does not exist."""
    folder = tmp_path / "f"
    shutil.copytree(DEMO, folder)
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.open_folder_once_shown(folder / "chess_06.jpg")
    qtbot.waitUntil(lambda: window.workspace is not None and window.listing.complete, timeout=5000)
    assert window.workspace.folder == folder.resolve()
    wait_image(qtbot, window, "chess_06.jpg")
    assert not window.open_folder(tmp_path / "nowhere")
    assert window.reports[-1] == f"Open folder: {(tmp_path / 'nowhere').resolve()} does not exist."
    # one added since the listing: listed (as F5 lists it) and shown, the folder and its history kept
    window.workspace.add_category("thing")
    shutil.copy(DEMO / "chess_03.jpg", folder / "added.jpg")
    assert window.open_image(folder / "added.jpg")
    qtbot.waitUntil(lambda: window.listing.complete and window.files.current() == "added.jpg", timeout=5000)
    assert window.workspace.folder == folder.resolve() and window.workspace.undo_stack.count() == 1
    # one under the folder that its listing leaves out (a subfolder, Include Subfolders off): its own folder opens on it
    (folder / "sub").mkdir()
    shutil.copy(DEMO / "chess_02.jpg", folder / "sub" / "inner.jpg")
    window.menus.recursive_action.setChecked(False)
    qtbot.waitUntil(lambda: window.listing.complete and "sub/inner.jpg" not in window.files.model.names, timeout=5000)
    assert window.open_image(folder / "sub" / "inner.jpg")
    qtbot.waitUntil(lambda: window.workspace.folder == (folder / "sub").resolve() and window.listing.complete, timeout=5000)
    wait_image(qtbot, window, "inner.jpg")
    # a hidden one is never listed: said, also while the folder is being listed (it waited for the listing in vain)
    shutil.copy(DEMO / "chess_04.jpg", folder / "sub" / ".hidden.jpg")
    assert window.open_folder(folder / "sub") and not window.listing.complete
    assert not window.open_image(folder / "sub" / ".hidden.jpg")
    assert window.statusBar().currentMessage() == ".hidden.jpg is not listed: names starting with “.” are left out"
    window.close()


def test_the_search_ignores_accents_and_says_when_it_finds_nothing(qtbot, tmp_path, settings):
    """A search for "deja" found nothing in "déjà vu/", and Return then did nothing, silently."""
    folder = tmp_path / "f"
    (folder / "déjà vu").mkdir(parents=True)
    shutil.copy(DEMO / "chess_01.jpg", folder / "plain.jpg")
    shutil.copy(DEMO / "chess_02.jpg", folder / "déjà vu" / "Crème.jpg")
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.listing.complete and window.files.model.rowCount() == 2, timeout=5000)
    for text in ("deja", "DÉJÀ", "creme", "vu/cr"):
        window.files.search.setText(text)
        assert [window.files.filter.index(r, 0).data() for r in range(window.files.filter.rowCount())] == ["déjà vu/Crème.jpg"], text
    window.files.search.setText("zebra")
    window.files.search.setFocus()
    qtbot.keyClick(window.files.search, Qt.Key.Key_Return)
    assert window.statusBar().currentMessage() == "no image path has “zebra”"
    window.files.status_box.setCurrentIndex(window.files.status_box.findData("reviewed"))
    qtbot.keyClick(window.files.search, Qt.Key.Key_Return)
    assert window.statusBar().currentMessage() == "no image path has “zebra” among the reviewed images"
    qtbot.keyClick(window.files.search, Qt.Key.Key_Escape)  # the note goes with the search (it stood after Esc cleared it)
    assert window.files.search.text() == "" and window.statusBar().currentMessage() == ""
    # Ctrl+F from the image: the keys go to the search (Tab cycled the boxes, and no key led there)
    window.canvas.setFocus()
    window.files.search.setText("old")
    qtbot.keyClick(window.canvas, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.files.search.hasFocus() and window.files.search.selectedText() == "old"
    window.close()


def test_number_keys_skip_a_group_of_classes_such_as_roboflows_class_0(qtbot, tmp_path, settings):
    """A Roboflow export's class 0, "pieces", the supercategory of every class, with no boxes of its own, took key 1."""
    from core.formats.coco import read_coco
    from retina_gui.convert import class_keys

    keys = class_keys(read_coco(DATASETS / "chess" / "valid" / "_annotations.coco.json").categories)
    assert 0 not in keys and keys[1] == 1 and keys[2] == 2 and len(keys) == 9  # "bishop" is 1, "black-bishop" 2
    folder = tmp_path / "valid"
    shutil.copytree(DATASETS / "chess" / "valid", folder)
    (folder / "_annotations.coco.json").chmod(0o644)  # (../shared is read-only, and so was the copy)
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    assert window.classes.list.item(0).text().startswith("   pieces") and window.classes.list.item(1).text().startswith("1  bishop")
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_1)
    store = window.workspace.store
    assert store.category(window.workspace.current_category).name == "bishop"
    window.workspace.delete_category(window.workspace.current_category)  # new boxes then: a class with boxes, not the group
    assert store.category(window.workspace.current_category).name == "black-bishop"
    window.close()


def test_a_box_waiting_for_its_class_goes_with_its_folder(qtbot, tmp_path, settings):
    """Closed before the class was asked, the folder left the waiting box drawn over every image of the next."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DATASETS / "sample_photos" / "skimage" / "astronaut.png", folder)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "astronaut.png")
    window.canvas.setFocus()
    drag(qtbot, window, (50, 50), (200, 200))  # no class yet: the picker is to be asked, once the release is done
    assert window.canvas._waiting is not None
    window.close_folder()  # (before it is: the queued question goes with the folder)
    assert window.canvas._waiting is None
    qtbot.wait(20)
    window.close()


def test_a_box_drawn_without_a_class_whose_image_went_meanwhile_is_said_not_added(qtbot, tmp_path, settings, monkeypatch):
    from PySide6.QtWidgets import QDialog

    from retina_gui.class_picker import ClassPicker

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut.png", "coffee.png"):
        shutil.copy(DATASETS / "sample_photos" / "skimage" / name, folder)
    window = open_window(qtbot, folder, settings)
    wait_image(qtbot, window, "astronaut.png")

    def typed(picker):
        picker.filter.setText("person")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ClassPicker, "exec", typed)
    window.canvas.setFocus()
    drag(qtbot, window, (50, 50), (200, 200))
    window.files.set_current("coffee.png")  # before the question: the box's image is gone
    qtbot.waitUntil(lambda: "the box was not added" in window.statusBar().currentMessage(), timeout=2000)
    assert window.statusBar().currentMessage() == "class person added (key 1); the box was not added: astronaut.png is no longer on screen"
    assert window.workspace.store.boxes("astronaut.png") == () and window.workspace.store.boxes("coffee.png") == ()
    window.close()


def test_a_problem_reported_again_raises_its_open_box_and_another_replaces_or_joins_it(qtbot, demo, tmp_path):
    """Train pressed three times with nothing labelled stacked three alike boxes on one spot; a
    folder's scan failure and its skipped entries, both under "Folder", kept only the second."""
    from PySide6.QtWidgets import QMessageBox

    window = demo

    def boxes():
        return [w for w in window.findChildren(QMessageBox) if w.isVisible()]

    window.report("Training", "There are no labelled images")
    window.report("Training", "There are no labelled images")
    window.report("Training", "The class clock has no boxes")
    window.report("Import", "something else")
    assert sorted(box.windowTitle() for box in boxes()) == ["Import", "Training"]
    training = next(box for box in boxes() if box.windowTitle() == "Training")
    assert training.text() == "The class clock has no boxes" and len(window.reports) == 4  # (the refusal before: fixed since)
    for n in range(4):  # the folder's problems are kept together, the latest three, each once (a text with a blank line too)
        window.report("Folder", f"problem {n}.\n\nWhat to do.", keep_earlier=True)
    folder_box = next(box for box in boxes() if box.windowTitle() == "Folder")
    assert folder_box.text() == "\n\n".join(f"problem {n}.\n\nWhat to do." for n in (1, 2, 3))
    window.report("Folder", "problem 3.\n\nWhat to do.", keep_earlier=True)
    assert folder_box.text().count("problem 3.") == 1
    folder_box.close()
    training.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: len(boxes()) == 1)
    window.report("Training", "again")  # closed: a new box says it
    assert sorted(box.windowTitle() for box in boxes()) == ["Import", "Training"]
    shutil.copytree(DEMO, tmp_path / "other")
    assert window.open_folder(tmp_path / "other")  # the boxes of the folder closed go with it
    qtbot.waitUntil(lambda: not boxes())
    window.close_folder()  # one said with no folder open (a model that could not be loaded, a folder that could not be opened) stays
    window.report("Model", "model file not found: /nope/missing.pt")
    assert window.open_folder(tmp_path / "other")
    assert [box.windowTitle() for box in boxes()] == ["Model"]
    window.close()


def test_hand_edited_settings_of_the_wrong_kind_are_passed_over(qtbot, tmp_path):
    """geometry=hello stopped the window from starting (restoreGeometry(str)); a model path written
    "a, b" reads as a list, which left the opened folder unlisted. The settings kept as JSON hold a
    list, JSON nested too deep, or a number."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    ini = tmp_path / "settings.ini"
    written = QSettings(str(ini), QSettings.Format.IniFormat)
    for key in ("window/geometry", "window/panels", f"model/{folder}", f"last_image/{folder}", f"training_advanced/{folder}"):
        written.setValue(key, "EDITED")
    written.setValue("training/speeds", "[" * 100_000 + "]" * 100_000)
    written.setValue("training/models_before", "7")
    written.setValue(f"unreadable_images/{folder}", '["chess_01.jpg"]')
    written.sync()
    ini.write_text(ini.read_text().replace("geometry=EDITED", "geometry=hello").replace("=EDITED", "=a, b"))
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    assert isinstance(settings.value("window/geometry"), str)
    assert settings.value(f"model/{folder}") == ["a", "b"] and settings.value(f"last_image/{folder}") == ["a", "b"]
    window = open_window(qtbot, folder, settings, arrange=False)
    qtbot.waitUntil(lambda: window.listing.complete and window.annotator.current == "chess_01.jpg", timeout=10_000)
    assert window.files.model.rowCount() == 8 and window.predictions.model_path is None and not window.files.model.unreadable
    panel = window.training_panel
    assert not panel.recipe_form.advanced.isChecked() and panel.runs_list._saved_speeds() == {} and panel.model_history.before == []
    window.close()


def test_the_status_bar_names_the_image_being_loaded_not_the_one_before(qtbot, demo):
    """While the next image decoded (150 ms), "3/19 Landscape_6.jpg" of the image before stood there."""
    window = demo
    window.annotator._cache.clear()  # not decoded ahead: a cold step
    window.files.set_current("chess_05.jpg")
    assert window.status_fields.image_label.text() == "5/8  chess_05.jpg  loading…"
    qtbot.waitUntil(lambda: window.annotator.size is not None, timeout=5000)
    assert window.status_fields.image_label.text() == "5/8  chess_05.jpg  1024×686"


def test_a_drag_just_beside_the_box_just_drawn_draws_the_next_box_and_no_box_is_flattened(qtbot, demo):
    """Neighbours labelled one after the other: a drag begun 3 px beside the box just drawn grabbed
    its handle and flattened it to a line (kept, unseen, and then refused by the COCO export); a
    resize to under a pixel, and a drag too small for a box, are said."""
    window = demo
    store = window.workspace.store
    n = len(store.boxes("chess_01.jpg"))
    drag(qtbot, window, (20, 20), (60, 80))
    assert window.canvas.just_drawn and len(store.boxes("chess_01.jpg")) == n + 1
    drag(qtbot, window, (63, 52), (95, 90))  # 3 px right of the drawn box's right handle (60, 50)
    boxes = store.boxes("chess_01.jpg")
    assert len(boxes) == n + 2
    assert [(b.x1, b.y1, b.x2, b.y2) for b in boxes[n:]] == [pytest.approx((20, 20, 60, 80), abs=0.51),
                                                            pytest.approx((63, 52, 95, 90), abs=0.51)]
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, 40, 40))
    assert window.canvas.selected() == [n] and not window.canvas.just_drawn
    steps = window.workspace.undo_stack.count()
    drag(qtbot, window, (40, 80), (40, 20.2))  # its bottom edge onto its top
    assert window.workspace.undo_stack.count() == steps and (store.boxes("chess_01.jpg")[n].y2 == pytest.approx(80, abs=0.51))
    assert window.statusBar().currentMessage() == "box not resized: it would be under 1 pixel wide or high"
    drag(qtbot, window, (20, 200), (60, 202))
    assert window.workspace.undo_stack.count() == steps
    assert window.statusBar().currentMessage().startswith("no box drawn: it was under 4 screen pixels wide or high")
    drag(qtbot, window, (20, 200), (60, 240))  # the next box drawn: the refusal of the one before no longer stands beside it
    assert window.workspace.undo_stack.count() == steps + 1 and not window.statusBar().currentMessage().startswith("no box drawn")


def test_undoing_an_edit_on_an_image_the_filter_hides_keeps_the_filter(qtbot, unlabelled):
    """Undo brings the edited image back on screen; the filter and search stay as the user set
    them (they were cleared: a work queue of unlabelled images gone without a word)."""
    window, files = unlabelled, unlabelled.files
    files.search.setText("chess")
    files.status_box.setCurrentIndex(files.status_box.findData("unlabelled"))
    listed = files.filter.rowCount()
    first = files.current()
    window.workspace.draw_box(first, window.annotator.size, QRectF(10, 10, 50, 50))
    window.step_image(1)
    qtbot.waitUntil(lambda: files.current() != first and files.filter.rowCount() == listed - 1, timeout=5000)
    window.undo_steps.undo()
    assert files.current() == first and window.annotator.current == first
    assert files.status_box.currentData() == "unlabelled" and files.search.text() == "chess"
    assert files.filter.rowCount() == listed  # unlabelled again: listed by the filter itself
    window.undo_steps.redo()  # labelled: listed while it is on screen, and gone once another image is
    assert files.current() == first and files.filter.rowCount() == listed
    window.step_image(1)
    qtbot.waitUntil(lambda: files.filter.rowCount() == listed - 1, timeout=5000)


def test_a_narrow_image_list_puts_its_search_box_above_the_status_filter(qtbot):
    """At 1024x700 the list is ~170 px wide: beside the status filter the search box was 45 px ("Sear…")."""
    from retina_gui.file_list import FileListModel, FileListPanel

    files = FileListPanel(FileListModel())
    qtbot.addWidget(files)
    files.resize(170, 400)
    files.show()
    qtbot.waitUntil(lambda: files.search.width() > 150, timeout=2000)
    assert files.search.geometry().bottom() < files.status_box.geometry().top()
    files.resize(400, 400)
    qtbot.waitUntil(lambda: abs(files.search.geometry().center().y() - files.status_box.geometry().center().y()) < 6, timeout=2000)
    assert files.search.width() > 200


def test_an_unselected_box_dragged_by_its_corner_from_inside_is_resized(qtbot, demo):
    """As in LabelImg and labelme: handles show on the selected box only, and a drag from an
    unselected box's corner moved it."""
    window = demo
    store = window.workspace.store
    index = next(i for i, b in enumerate(store.boxes("chess_01.jpg")) if b.x1 == 110)
    before = store.boxes("chess_01.jpg")[index]
    window.canvas.select([])
    drag(qtbot, window, (before.x2 - 2, before.y2 - 2), (before.x2 + 20, before.y2 + 10))
    after = store.boxes("chess_01.jpg")[index]
    assert (after.x1, after.y1) == pytest.approx((before.x1, before.y1), abs=0.01)
    assert (after.x2, after.y2) == pytest.approx((before.x2 + 22, before.y2 + 12), abs=0.51)
    assert window.canvas.selected() == [index] and window.workspace.undo_stack.text(window.workspace.undo_stack.index() - 1).startswith("Resize")


def test_tags_are_measured_in_the_font_they_are_painted_in_whatever_was_imported_first(tmp_path):
    """The tags' font was made as canvas_items was imported, which the app does before the
    application exists: measured in a font without family, tags came out too tall and cut their
    names short ("black-roo") in a desktop's wider font."""
    import subprocess
    import sys

    script = (
        "import retina_gui.main_window\n"  # as retina_gui.app does: the window's modules first
        "from PySide6.QtGui import QFont, QFontMetricsF\n"
        "from PySide6.QtWidgets import QApplication, QGraphicsRectItem\n"
        "from retina_gui.canvas_items import LabelItem\n"
        "app = QApplication([])\n"
        "app.setFont(QFont('DejaVu Sans Mono'))\n"
        "tag = LabelItem(QGraphicsRectItem())\n"
        "tag.set_label('black-rook', QApplication.palette().text().color())\n"
        "font = QFont('DejaVu Sans Mono'); font.setPointSizeF(8.5)\n"
        "metrics = QFontMetricsF(font)\n"
        "print(tag.tag_width == metrics.horizontalAdvance('black-rook') + 6, LabelItem.height() == metrics.height() + 2)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_warnings_in_red_stay_readable_on_a_dark_palette(qtbot):
    """#c03030 on a dark desktop's window was 2.2:1, dim and hard to read."""
    from PySide6.QtGui import QPalette

    from retina_gui.widgets import WarningLabel

    label = WarningLabel()
    qtbot.addWidget(label)
    assert label.palette().color(QPalette.ColorRole.WindowText).name() == "#c03030"  # (the offscreen palette is light)
    dark = label.palette()
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    label.setPalette(dark)
    assert label.palette().color(QPalette.ColorRole.WindowText).name() == "#ff8080"


def test_an_image_decoded_reduced_is_shown_in_full_once_zoomed_in_past_its_pixels(qtbot, tmp_path, settings):
    """A 6000 px photo at Actual Size showed its 4096 px decode enlarged and smoothed: "100 %" was
    no image pixel to a screen pixel."""
    from PIL import Image

    folder = tmp_path / "big"
    folder.mkdir()
    stripes = Image.new("L", (5000, 40))
    stripes.putdata([255 * (x % 2) for _ in range(40) for x in range(5000)])  # one-pixel stripes: smoothed, all grey
    stripes.convert("RGB").save(folder / "stripes.png")
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.annotator.size == (5000, 40), timeout=10_000)
    pixmap = window.canvas._pixmap
    assert pixmap.pixmap().width() == 4096  # fitted: the reduced decode is all the screen shows
    window.canvas.actual_size()
    qtbot.waitUntil(lambda: pixmap.pixmap().width() == 5000, timeout=10_000)
    assert pixmap.scale() == 1.0 and not window.canvas.reduced()
    row = pixmap.pixmap().toImage()
    assert [row.pixelColor(x, 20).lightness() for x in range(4)] == [0, 255, 0, 255]
    window.canvas.fit()  # zoomed out again: the full image stays shown, nothing decoded again
    assert pixmap.pixmap().width() == 5000
    window.close()


def test_class_swatches_are_drawn_for_hidpi_screens(qapp):
    """A 14 px swatch enlarged on a screen of 2 device pixels a pixel was soft at its edges."""
    from PySide6.QtCore import QSize

    from core.labels import Category
    from retina_gui.convert import category_icon

    pixmap = category_icon(Category(1, "rook", color="#ff0000")).pixmap(QSize(14, 14), 2.0)
    assert (pixmap.width(), pixmap.devicePixelRatio()) == (28, 2.0)
    image = pixmap.toImage()
    assert image.pixelColor(0, 10).name() == "#808080" and image.pixelColor(1, 10).name() == "#ff0000"  # a one-device-pixel edge


def test_paging_on_drops_a_full_decode_asked_for_the_image_left(tmp_path):
    """Zoomed in on a large image, the next one waited for the full decode of the one left."""
    from retina_gui.workers import ImageLoader

    loader = ImageLoader(tmp_path)
    loader.request_detail("a.jpg")
    loader.request(["b.jpg", "c.jpg"])
    assert loader._take() == ("b.jpg", False)
    loader.request_detail("b.jpg")
    loader.request(["b.jpg", "c.jpg"])  # the same image asked for again: its full decode stays first
    assert loader._take() == ("b.jpg", True)


def test_a_see_through_prediction_tag_outlines_its_text_to_read_on_a_light_photo(qapp):
    """White text on a faint tan tag over light chess squares was hard to read: the tag's colour
    chose the text's, and the light photo showed through."""
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QGraphicsRectItem

    from retina_gui.canvas_items import LabelItem

    tag = LabelItem(QGraphicsRectItem())
    color = QColor("#c8a064")
    color.setAlpha(70)  # a faint prediction's
    tag.set_label("black-rook 0.42", color)
    image = QImage(140, 40, QImage.Format.Format_RGB32)
    image.fill(QColor("#f0e8d8"))
    painter = QPainter(image)
    painter.translate(10, 30)
    tag.paint(painter, None)
    painter.end()
    lightness = [image.pixelColor(x, y).lightness() for x in range(140) for y in range(40)]
    assert max(lightness) == 255 and min(lightness) < 100  # white text, a dark halo around it


def test_paging_back_to_a_large_image_zoomed_in_shows_it_in_full(qtbot, tmp_path, settings):
    """Shown from the decoded images kept, its full decode was asked for, then dropped by the
    request for its neighbours that came after it."""
    from PIL import Image

    folder = tmp_path / "big"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (5000, 40)).save(folder / name)
    window = open_window(qtbot, folder, settings)
    qtbot.waitUntil(lambda: window.annotator.size == (5000, 40), timeout=10_000)
    window.canvas.actual_size()
    pixmap = window.canvas._pixmap
    qtbot.waitUntil(lambda: pixmap.pixmap().width() == 5000, timeout=10_000)
    other = "b.png" if window.files.current() == "a.png" else "a.png"
    qtbot.waitUntil(lambda: other in window.annotator._cache, timeout=10_000)
    window.files.set_current(other)
    qtbot.waitUntil(lambda: window.annotator.current == other and pixmap.pixmap().width() == 5000, timeout=10_000)
    window.close()
