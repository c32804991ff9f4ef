"""One-click fine-tuning in the window, on the demo folder with the demo model at a tiny input size."""

import errno
import json
import re
import shutil
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt

import core.train
from retina_gui.main_window import MainWindow
from tests.conftest import DEMO_MODEL, ROOT

DEMO = ROOT / "resources" / "demo"


@pytest.fixture
def window(qtbot, tmp_path):
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(folder=folder, model=DEMO_MODEL, settings=settings,
                        confirm=lambda title, text, **_: window.asked.append(text) or window.answer)
    window.answer, window.asked = True, []  # "stop the training?" at the end of a test: yes
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.predictions.visible is not None and window.annotator.size is not None, timeout=60_000)
    window.docks["Training"].raise_()  # in front, as when the user trains
    qtbot.waitUntil(lambda: window.listing.complete and window.training_panel._on_screen, timeout=5_000)
    yield window
    window.close()


def small_recipe(panel, epochs: int) -> None:
    panel.recipe_form.advanced.setChecked(True)
    panel.recipe_form.size_spin.setValue(128)
    panel.recipe_form.epochs_spin.setValue(epochs)
    panel.recipe_form.batch_spin.setValue(4)


def test_train_shows_progress_and_chart_points_then_swaps_the_model_and_predictions_change(qtbot, window, tiny_checkpoint, tmp_path):
    panel = window.training_panel
    before = window.predictions.visible.boxes.copy()
    small_recipe(panel, 2)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert panel.worker is not None and not panel.train_button.isEnabled()
    assert not panel.recipe_form.recipe_box.isVisibleTo(panel) and panel.recipe_form.advanced.isChecked()  # folded while it runs: the progress comes up
    qtbot.waitUntil(lambda: panel.progress.value() > 0 and panel.chart.points() > 0, timeout=60_000)
    assert panel.progress.isVisibleTo(panel)
    rook = next(c for c in window.workspace.store.categories if c.name == "white-rook")
    window.workspace.rename_category(rook.id, "castle")  # class edits while it trains on its snapshot ...
    window.workspace.add_category("clock")
    pawn = next(c for c in window.workspace.store.categories if c.name == "white-pawn")
    window.workspace.rename_category(pawn.id, "White-Pawn")  # the same class to the model: not named below
    window.docks["Model"].raise_()  # the user looks at predictions meanwhile
    qtbot.waitUntil(lambda: panel.worker is None, timeout=180_000)
    assert panel.recipe_form.recipe_box.isVisibleTo(panel)  # back, as the user left it
    # the new model takes over: the Training panel comes forward with its scores (behind the Model tab, there was no sign)
    qtbot.waitUntil(lambda: not window.docks["Training"].visibleRegion().isEmpty(), timeout=2000)
    # the whole of the run's chart in view, under the Advanced fields (it was scrolled to with its top at the panel's foot)
    qtbot.waitUntil(lambda: panel.chart.viewport().visibleRegion().boundingRect().height() == panel.chart.viewport().height(), timeout=2000)
    assert window.statusBar().currentMessage().startswith("training done: 2 epochs, best validation mAP 0.")
    # validation mAP of the start weights (at step 0), then after each epoch
    assert panel.chart.map.count() == 3 and panel.chart.map.at(0).x() == 0
    assert "Done: 2 epochs" in panel.status.text() and "(start weights 0." in panel.status.text()
    assert "The classes changed while it trained (new since: castle, clock; renamed or deleted since: white-rook)" in panel.status.text()
    assert panel.log.toPlainText().rstrip().endswith(panel.status.text())  # the outcome in full, where the log is
    # 2 epochs at 128 px score below the start weights: its model is offered, beside the run's bar, and taken with a click
    assert panel.use_run_button.isVisible() and panel.status.text().startswith("The current model stays, and “Use its model” switches to this run's")
    outcome = panel.status.text()
    qtbot.mouseClick(panel.use_run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.predictions.model is not None and "runs" in window.predictions.model.path.parts, timeout=60_000)
    # the run's log, read back as the list follows the model to its run, still ends with its outcome (it was gone)
    assert outcome in panel.log.toPlainText() and panel.chart.points() > 3
    assert outcome in (panel.runs_list.runs[0].path / "train.log").read_text(encoding="utf-8")  # and in its file, for a later look
    qtbot.waitUntil(lambda: window.predictions.visible is not None, timeout=60_000)
    after = window.predictions.visible.boxes
    assert after.shape != before.shape or not np.allclose(after, before)
    assert panel.runs_list.table.rowCount() == 1 and panel.runs_list.table.item(0, 3).text() == "finished"
    assert "\n(0." in panel.runs_list.table.item(0, 2).text() and panel.runs_list.table.item(0, 1).text() == "2/2"  # best mAP (start)
    run = panel.runs_list.runs[0]  # its classes' AP at its best epoch beside the start's, weakest first, in the mAP cell's tooltip
    weakest = min((ap, name) for name, ap in run.per_class.items() if ap is not None)
    assert f"AP per class at epoch {run.best_epoch} (its best), weakest first:\n{weakest[1]} {weakest[0]:.3f}" in panel.runs_list.table.item(0, 2).toolTip()
    assert "(start 0." in panel.runs_list.table.item(0, 2).toolTip() and "per class" not in panel.runs_list.table.item(0, 1).toolTip()
    assert panel.runs_list.table.item(0, 0).font().bold()  # the run in use stands out
    assert panel.runs_list.table.textElideMode() == Qt.TextElideMode.ElideLeft  # a narrow panel keeps the run's time, not its month
    # the next Train's time is estimated from this run's speed, for the recipe as the Advanced fields set it
    qtbot.waitUntil(lambda: " on the CPU (at the speed of the run " in panel.plan.text(), timeout=3000)
    estimate = panel.plan.text()
    panel.recipe_form.epochs_spin.setValue(panel.recipe_form.epochs_spin.value() * 100)
    qtbot.waitUntil(lambda: panel.plan.text() != estimate, timeout=3000)
    assert " on the CPU (at the speed of the run " in panel.plan.text() and "About" in panel.plan.text()  # 100 times as many epochs
    panel.recipe_form.backbone_box.setCurrentText("resnet101")  # a new model of another backbone: no run to go by (the start box says "new")
    panel.recipe_form.start_box.setCurrentIndex(panel.recipe_form.start_box.findData("new"))
    qtbot.waitUntil(lambda: " on the CPU (at the speed of the run " not in panel.plan.text(), timeout=3000)
    qtbot.mouseClick(panel.model_history.back_button, Qt.MouseButton.LeftButton)  # undo the switch
    qtbot.waitUntil(lambda: window.predictions.model is not None and window.predictions.model.path == DEMO_MODEL, timeout=60_000)
    assert not panel.model_history.back_button.isEnabled() and not panel.runs_list.table.item(0, 0).font().bold()
    assert panel.status.text().startswith("back to ")
    # the run stays chosen in the list, and its model can be used again from there (the button stayed greyed)
    assert panel.runs_list.table.currentRow() == 0 and panel.runs_list.use_button.isEnabled()
    panel.log.clear()
    panel.chart.clear()
    rect = panel.runs_list.table.visualItemRect(panel.runs_list.table.item(0, 0))
    qtbot.mouseClick(panel.runs_list.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a click shows the run's log and chart
    assert "epoch 2/2 done" in panel.log.toPlainText() and panel.chart.map.count() == 3  # the start weights and 2 epochs
    panel.runs_list.use_selected()  # a run chosen in the list: "Previous model" goes back from it too
    qtbot.waitUntil(lambda: window.predictions.model is not None and "runs" in window.predictions.model.path.parts, timeout=60_000)
    assert panel.model_history.back_button.isEnabled()
    assert panel.status.text() == ""  # "back to demo …" no longer stood for the model in use
    # and from a model loaded by Model ▸ Load Model…, one model at a time (it went back one step only,
    # and kept pointing at a model from two switches before)
    run_model = window.predictions.model.path
    panel.runs_list.table.setCurrentCell(-1, -1)
    window.predictions.load_model(tiny_checkpoint)
    qtbot.waitUntil(lambda: window.predictions.model.path == tiny_checkpoint, timeout=60_000)
    assert f"Back to {run_model.parent.name}/{run_model.name}" in panel.model_history.back_button.toolTip()
    qtbot.mouseClick(panel.model_history.back_button, Qt.MouseButton.LeftButton)
    assert panel.status.text() == f"back to {run_model.parent.name}/{run_model.name}"
    qtbot.waitUntil(lambda: window.predictions.model.path == run_model, timeout=60_000)
    # the list follows the model to its run, with its log (the run clicked before stayed chosen and shown; the run shown
    # already is not read back again)
    assert panel.runs_list.table.currentRow() == 0 and "epoch 2/2 done" in panel.log.toPlainText()
    qtbot.mouseClick(panel.model_history.back_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.predictions.model.path == DEMO_MODEL, timeout=60_000)
    assert not panel.model_history.back_button.isEnabled()
    # a folder with no run yet: its first Train's time from the speed of this folder's run (it went unsaid)
    run_name = panel.runs_list.runs[0].path.name
    other = tmp_path / "other"
    shutil.copytree(DEMO, other)
    assert window.open_folder(other)
    qtbot.waitUntil(lambda: window.listing.complete and panel.runs_list.table.rowCount() == 0, timeout=10_000)
    qtbot.waitUntil(lambda: f" on the CPU (at the speed of the run {run_name} of demo: " in panel.plan.text(), timeout=5000)


def test_a_run_that_scores_below_its_start_weights_takes_over_only_if_the_user_says_so(qtbot, window):
    """It became the current model unasked: the predictions on screen got visibly worse. Then a modal
    question asked, in the middle of labelling (Enter answered it): now its model is offered under its result."""
    panel = window.training_panel
    window.resize(1024, 700)
    small_recipe(panel, 1)
    assert panel.train()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=180_000)
    assert not window.asked  # nothing modal
    assert panel.status.text().startswith(
        "The current model stays, and “Use its model” switches to this run's: it scores below the weights it started from on the same "
        "validation images (the start weights were scored at their input size, 512 px, the new model at 128 px). Done: 1 epoch")
    assert "(start weights 0." in panel.status.text() and panel.use_run_button.isVisible()
    # the Advanced form came back above it, at 1024x700: the result is scrolled into view, not below the fold
    qtbot.waitUntil(lambda: not panel.status.visibleRegion().isEmpty(), timeout=2000)
    assert not panel.resume_button.visibleRegion().isEmpty()  # and so are the buttons above it (Resume, after a Cancel)
    assert window.predictions.model.path == DEMO_MODEL and not panel.model_history.back_button.isEnabled()
    assert panel.runs_list.table.rowCount() == 1 and not panel.runs_list.table.item(0, 0).font().bold()
    window.answer = False  # "Train without clock?" No
    window.workspace.add_category("clock")  # Train refused meanwhile: the offer stays, and is said to (its reason went)
    assert not panel.train()
    assert panel.status.text() == ("The class clock has no boxes: label some, or delete the class, before training. (The last run's "
                                   "model is still offered: “Use its model”.)") and panel.use_run_button.isVisible()
    window.workspace.undo_stack.undo()
    qtbot.mouseClick(panel.use_run_button, Qt.MouseButton.LeftButton)  # the run's model is one click away
    qtbot.waitUntil(lambda: "runs" in window.predictions.model.path.parts, timeout=60_000)
    assert not panel.use_run_button.isVisible() and panel.model_history.back_button.isEnabled()
    assert "now using " in panel.status.text() and "“Previous model” switches back" in panel.status.text()


def test_the_training_buttons_stay_in_view_as_the_panel_scrolls(qtbot, window):
    """At 1024x700 with the recipe open, Train and Cancel scrolled away under it."""
    from retina_gui.widgets import enclosing_scroll_area

    panel = window.training_panel
    window.resize(1024, 700)
    window.bring_forward("Training")
    panel.recipe_form.advanced.setChecked(True)
    area = enclosing_scroll_area(panel)
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0, timeout=2000)  # the panel is taller than its dock
    area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
    assert not panel.runs_list.table.visibleRegion().isEmpty()  # scrolled to the end
    for widget in (panel.train_button, panel.cancel_button, panel.resume_button):
        assert enclosing_scroll_area(widget) is None and not widget.visibleRegion().isEmpty()
    assert enclosing_scroll_area(panel.status) is None and enclosing_scroll_area(panel.progress) is None
    # a long status stays five lines high, scrolling inside itself (it took 288 of the dock's 372 px, the panel 68), all of it in its tooltip
    long = "; ".join(f"a long line of a run's result, part {k}" for k in range(40))
    panel.status.setText(long)
    line = panel.status.fontMetrics().lineSpacing()
    qtbot.waitUntil(lambda: 4 * line < panel.status.height() <= 5 * line + 2 * panel.status.document().documentMargin() + 1, timeout=2000)
    assert panel.status.verticalScrollBar().maximum() > 0 and panel.status.toolTip() == long
    qtbot.waitUntil(lambda: area.viewport().height() > 200, timeout=2000)  # of the dock's 372 px
    panel.status.setText("one line")
    qtbot.waitUntil(lambda: panel.status.height() < 2 * line + 2 * panel.status.document().documentMargin() + 1, timeout=2000)


def test_previous_model_keeps_its_place_when_going_back_fails(qtbot, window, tiny_checkpoint, tmp_path):
    """The model went off the list before it had loaded: a failed load lost it, and the next load
    of that file was not counted as a switch."""
    panel, p = window.training_panel, window.predictions
    copy = tmp_path / "a.safetensors"
    shutil.copy(DEMO_MODEL, copy)
    for path in (copy, tiny_checkpoint):
        p.load_model(path)
        qtbot.waitUntil(lambda path=path: p.model.path == path, timeout=60_000)
    moved = copy.rename(tmp_path / "moved.safetensors")
    failures = []
    p.load_failed.connect(failures.append)
    panel.model_history.go_back()
    qtbot.waitUntil(lambda: bool(failures), timeout=60_000)
    assert p.model.path == tiny_checkpoint and panel.model_history.back_button.isEnabled() and copy.name in panel.model_history.back_button.toolTip()
    moved.rename(copy)
    panel.model_history.go_back()
    qtbot.waitUntil(lambda: p.model.path == copy, timeout=60_000)
    assert f"Back to {DEMO_MODEL.parent.name}/{DEMO_MODEL.name}" in panel.model_history.back_button.toolTip()


def test_previous_model_goes_back_across_a_restart(qtbot, window, tiny_checkpoint, tmp_path):
    """After a restart, Previous model was greyed: the fine-tuned model's start weights were out of reach."""
    p = window.predictions
    p.load_model(tiny_checkpoint)
    qtbot.waitUntil(lambda: p.model.path == tiny_checkpoint, timeout=60_000)
    folder = window.workspace.folder
    window.close()
    window.settings.setValue(window.training_panel.model_history.KEY, json.dumps(  # one whose file is gone, and one of a hand edit
        [[str(tmp_path / "missing.safetensors"), None], "nonsense", *json.loads(window.settings.value(window.training_panel.model_history.KEY))]))
    again = MainWindow(folder=folder, settings=window.settings, confirm=lambda *a, **k: True)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.predictions.model is not None and again.predictions.model.path == tiny_checkpoint, timeout=60_000)
    panel = again.training_panel
    assert panel.model_history.back_button.isEnabled() and f"Back to {DEMO_MODEL.parent.name}/{DEMO_MODEL.name}" in panel.model_history.back_button.toolTip()
    assert panel.model_history.before == [(DEMO_MODEL, None)]  # (its own preset)
    qtbot.mouseClick(panel.model_history.back_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.predictions.model.path == DEMO_MODEL, timeout=60_000)
    assert not panel.model_history.back_button.isEnabled()
    again.close()


def test_advanced_opens_before_any_folder_with_the_defaults_of_no_labels(qtbot, tmp_path):
    """It raised AttributeError (no workspace) and left the fields empty."""
    from core.finetune import default_recipe
    from core.labels import LabelSet

    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    panel = window.training_panel
    panel.recipe_form.advanced.setChecked(True)
    expected = default_recipe(LabelSet([], []), None, cuda=False)
    assert (panel.recipe_form.size_spin.value(), panel.recipe_form.epochs_spin.value(), panel.recipe_form.batch_spin.value()) == (expected.image_size, expected.epochs, expected.batch_size)
    window.close()


def test_opening_advanced_shows_the_default_recipe_and_trains_with_it(qtbot, window):
    panel = window.training_panel
    default = panel.recipe_form.default_recipe()
    panel.recipe_form.advanced.setChecked(True)
    assert (panel.recipe_form.size_spin.value(), panel.recipe_form.epochs_spin.value(), panel.recipe_form.batch_spin.value()) == (default.image_size, default.epochs, default.batch_size)
    assert panel.recipe_form.lr_spin.value() == pytest.approx(default.lr) and panel.recipe_form.frozen_spin.text() == "auto"
    recipe = panel.recipe_form.recipe()
    assert (recipe.image_size, recipe.epochs, recipe.lr, recipe.batch_size, recipe.hflip, recipe.frozen_stages) == (
        default.image_size, default.epochs, pytest.approx(default.lr), default.batch_size, default.hflip, default.frozen_stages)
    panel.recipe_form.epochs_spin.setValue(3)  # an edit stays when Advanced is closed and opened again
    panel.recipe_form.advanced.setChecked(False)
    assert panel.recipe_form.recipe().epochs == default.epochs
    panel.recipe_form.advanced.setChecked(True)
    assert panel.recipe_form.recipe().epochs == 3


def test_cancel_stops_within_five_seconds_keeps_a_checkpoint_and_the_run_resumes(qtbot, window):
    from core.finetune import split

    panel = window.training_panel
    small_recipe(panel, 50)
    # an image whose labels come back before Resume, chosen so that splitting again would hold out other images
    labels, recipe = window.workspace.store.to_labelset(), panel.recipe_form.recipe()

    def held_out(names):
        val = split(labels.with_files(names), recipe.val_fraction, recipe.seed)[1]
        return {im.file_name for im in val.images} if val else set()

    every = [im.file_name for im in labels.images]
    later = next(n for n in every if held_out([m for m in every if m != n]) not in (set(), held_out(every)))
    window.workspace.delete_boxes(later, list(range(len(window.workspace.store.boxes(later)))))
    assert panel.train()
    assert panel.progress.isVisibleTo(panel) and panel.progress.maximum() == 0  # busy until the first step (the start weights scored)
    # the mAP line drawn last, over the losses, with hollow points (under them, its first points were hidden; filled, they
    # covered the box loss where the two met)
    assert [series.name() for series in panel.chart.chart().series()] == ["class loss", "box loss", "val mAP"]
    assert panel.chart.map.brush().style() == Qt.BrushStyle.NoBrush
    qtbot.waitUntil(lambda: panel.progress.value() >= 3, timeout=60_000)
    assert re.search(r"images/s, [\d.]+ (s|min) left", panel.status.text())
    start = time.perf_counter()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.worker is None, timeout=5_000)
    assert time.perf_counter() - start < 5
    assert "cancelled" in panel.status.text() and (panel.run_dir / "last.safetensors").exists()
    assert panel.resume_button.isEnabled()
    done = [e for e in json.loads((panel.run_dir / "metrics.json").read_text()) if e["epoch"] > 0]
    panel.chart.clear()
    panel._show_history(panel.run_dir)  # what Resume shows first: each finished epoch's mean losses
    assert done and panel.chart.cls.count() == panel.chart.box.count() == len(done)
    log = panel.log.toPlainText()  # no timestamps; the cancel lands in a step or in validation, as the clock falls
    assert log.startswith("start weights") and re.search(r"^cancelled (at|while validating) epoch \d", log, re.MULTILINE)
    trained_before = json.loads((panel.run_dir / "split.json").read_text())["train"]
    held_before = json.loads((panel.run_dir / "split.json").read_text())["validation"]
    window.workspace.undo_stack.undo()  # the image labelled again: it joins the resumed run's training images
    clock = window.workspace.add_category("clock")  # a class added after the run started, no boxes yet: the run resumes without it
    qtbot.waitUntil(lambda: "No boxes yet: clock" in panel.plan.text(), timeout=3000)
    panel.recipe_form.lr_spin.setValue(0.0001)  # an Advanced edit a resumed run does not take: said (it went unused without a word)
    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert "resumed with the run's own recipe (lr 0.0003), not Advanced's" in panel.log.toPlainText()
    qtbot.waitUntil(lambda: re.search(r"resumed at (epoch|the validation of epoch) \d", panel.log.toPlainText()), timeout=60_000)
    assert panel.runs_list.table.item(0, 3).text() == "training"  # not "stopped" while it goes on
    # the resumed run shows what came before: the log and the start weights' validation point
    assert re.search(r"^cancelled (at|while validating) epoch \d", panel.log.toPlainText(), re.MULTILINE) and panel.chart.map.count() >= 1
    panel.cancel()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=10_000)
    first = panel.run_dir
    learnt = set(json.loads((first / "split.json").read_text())["train"])  # resumed: what it learnt from before, and since
    assert learnt >= set(trained_before) and not learnt & set(json.loads((first / "split.json").read_text())["validation"])
    assert json.loads((first / "split.json").read_text())["validation"] == held_before  # validated on the same images throughout
    assert later in learnt
    window.answer = False  # a new run leaves out a class without boxes only if the user says so
    assert not panel.train() and "clock has no boxes" in panel.status.text()
    window.answer = True
    window.workspace.delete_category(clock.id)
    assert panel.train()  # a second run, stopped too: Resume offers the newest, or the one selected in the list
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60_000)
    panel.cancel()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=10_000)
    assert re.fullmatch(r"cancelled (in epoch 1|in epoch \d+, after \d+ epochs?|while validating epoch \d+ \(its steps done\)); "
                        "the last checkpoint is kept and the run can be resumed", panel.status.text())
    assert panel.runs_list.resumable == panel.run_dir != first and panel.runs_list.table.rowCount() == 2
    panel.runs_list.table.selectRow(1)
    assert panel.runs_list.resumable == first and panel.resume_button.isEnabled()


def test_labelling_goes_on_while_the_model_trains(qtbot, window):
    panel = window.training_panel
    small_recipe(panel, 50)
    assert panel.train()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60_000)
    ws = window.workspace
    n = len(ws.store.boxes(window.annotator.current))
    ws.paste_boxes(window.annotator.current, window.annotator.size, [ws.store.boxes(window.annotator.current)[0]])
    assert len(ws.store.boxes(window.annotator.current)) == n + 1 and panel.worker is not None
    panel.cancel()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=10_000)


def _still_usable(window) -> None:
    panel = window.training_panel
    assert panel.worker is None and panel.train_button.isEnabled()
    ws = window.workspace
    n = len(ws.store.boxes(window.annotator.current))
    ws.paste_boxes(window.annotator.current, window.annotator.size, [ws.store.boxes(window.annotator.current)[0]])
    assert len(ws.store.boxes(window.annotator.current)) == n + 1


def test_no_labelled_images_is_reported(qtbot, tmp_path):
    folder = tmp_path / "empty"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("*.json"))
    window = MainWindow(folder=folder, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.annotator.size is not None, timeout=10_000)
    assert not window.training_panel.train()
    assert any("no labelled images" in r for r in window.reports)
    window.close()


def test_a_class_without_boxes_is_left_out_of_the_run_only_if_the_user_says_so(qtbot, window):
    """A class without boxes refused every run (a Roboflow export's rare class, on a part of it):
    now Train asks to leave it out; No refuses, as before."""
    panel = window.training_panel
    window.workspace.add_category("clock")
    window.answer = False
    assert not panel.train() and panel.worker is None
    assert window.asked[-1].startswith("clock has no boxes yet. Train without it? This run learns the other classes, and its model "
                                       "does not detect it; the class stays in your labels.")
    assert any("The class clock has no boxes" in r for r in window.reports)
    assert "clock has no boxes" in panel.status.text()
    window.workspace.undo_stack.undo()  # the class goes: so does the panel's note that it has no boxes
    assert panel.status.text() == ""
    _still_usable(window)
    window.workspace.add_category("clock")
    window.answer = True
    small_recipe(panel, 1)
    panel.recipe_form.val_spin.setValue(0)
    assert panel.train()
    assert panel.log.toPlainText().startswith("left out of this run, having no boxes: clock")
    qtbot.waitUntil(lambda: panel.worker is None, timeout=180_000)
    assert "clock was left out (no boxes): its model does not detect it" in panel.status.text()
    assert "left out of this run, having no boxes: clock" in (panel.runs_list.runs[0].path / "train.log").read_text(encoding="utf-8")
    assert "new since: clock" not in panel.status.text()  # (it was there all along)
    qtbot.waitUntil(lambda: window.predictions.model.path.parent.parent.name == "runs", timeout=60_000)
    assert "clock" not in window.predictions.model.class_names


def test_a_diverging_loss_stops_with_a_message(qtbot, window, monkeypatch):
    real = core.train.retinanet_loss

    def nan_loss(*args, **kwargs):
        out = real(*args, **kwargs)
        return out._replace(classification=out.classification * float("nan"))

    monkeypatch.setattr(core.train, "retinanet_loss", nan_loss)
    small_recipe(window.training_panel, 3)
    assert window.training_panel.train()
    qtbot.waitUntil(lambda: any("no step of epoch 1 had a finite loss and finite gradients: training stopped" in r for r in window.reports), timeout=60_000)
    assert not any("--precision" in r for r in window.reports)  # a command-line option the window does not have
    _still_usable(window)


def test_out_of_gpu_memory_offers_a_smaller_batch(qtbot, window, monkeypatch):
    def oom(self, batch, weight=1.0):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(core.train.Trainer, "_step", oom)
    panel = window.training_panel
    small_recipe(panel, 1)
    panel.recipe_form.batch_spin.setValue(8)
    assert panel.train()
    qtbot.waitUntil(lambda: any("ran out of memory at batch size 8" in r for r in window.reports), timeout=60_000)
    assert panel.recipe_form.batch_spin.value() == 4 and "press Train again" in panel.status.text()
    _still_usable(window)


def test_a_full_disk_is_reported(qtbot, window, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core.train, "save_checkpoint", full)
    small_recipe(window.training_panel, 1)
    assert window.training_panel.train()
    qtbot.waitUntil(lambda: any("The disk is full" in r for r in window.reports), timeout=60_000)
    _still_usable(window)


def test_a_folder_that_cannot_be_written_is_named_not_a_temporary_file(qtbot, window, monkeypatch):
    def refused(path, *args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted", str(path.parent / f".{path.name}.agt6woum.tmp"))

    monkeypatch.setattr(core.train, "save_checkpoint", refused)
    panel = window.training_panel
    small_recipe(panel, 1)
    assert panel.train()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=60_000)
    assert panel.status.text() == (f"Could not read or write in {panel.run_dir}: Operation not permitted. Of the run, no checkpoint had "
                                   "been written yet, so train again once it can be.")  # (not "the last checkpoint is kept")
    _still_usable(window)


def test_a_run_that_fails_after_a_checkpoint_is_listed_and_resumes(qtbot, window, monkeypatch):
    """The disk fills in the second epoch: the message says the last checkpoint is kept, and the
    runs list (not refreshed after a failure before) offers the run to Resume."""
    save = core.train.save_checkpoint

    def full_after_the_first_epoch(path, *args, **kwargs):
        if (path.parent / "train_state.pt").exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(path, *args, **kwargs)

    monkeypatch.setattr(core.train, "save_checkpoint", full_after_the_first_epoch)
    panel = window.training_panel
    small_recipe(panel, 2)
    assert panel.train()
    qtbot.waitUntil(lambda: any("The disk is full" in r for r in window.reports), timeout=120_000)
    assert "the last checkpoint is kept, and Resume goes on once it can be written" in window.reports[-1]
    assert panel.runs_list.table.rowCount() == 1 and panel.runs_list.table.item(0, 3).text() == "stopped"
    assert panel.runs_list.resumable == panel.run_dir and panel.resume_button.isEnabled()
    assert panel.run_dir.name in panel.resume_button.toolTip()
    _still_usable(window)


def test_closing_the_window_while_training_asks_first(qtbot, window):
    panel = window.training_panel
    small_recipe(panel, 50)
    assert panel.train()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60_000)
    window.answer = False  # "Stop the training to quit?" No: the window and the run stay
    window.close()
    assert window.isVisible() and panel.worker is not None
    assert not window.open_folder(window.workspace.folder)  # the same question guards opening another folder
    window.answer = True
    window.close()
    assert not window.isVisible() and panel.worker is None


def test_opening_another_folder_while_training_does_not_wait_for_the_step(qtbot, window, monkeypatch, tmp_path):
    """The window froze for a whole training step (8-9 s on a busy CPU) after "Stop the training?":
    the run is cancelled and let go of; it ends its step and keeps its checkpoint by itself."""
    step = core.train.Trainer._step

    def slow_step(self, batch, weight=1.0):
        time.sleep(1.5)
        return step(self, batch, weight)

    panel = window.training_panel
    small_recipe(panel, 50)
    assert panel.train()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60_000)
    monkeypatch.setattr(core.train.Trainer, "_step", slow_step)
    time.sleep(0.2)  # inside a slow step now
    run = panel.run_dir
    other = tmp_path / "other"
    shutil.copytree(DEMO, other)
    start = time.monotonic()
    assert window.open_folder(other)
    assert time.monotonic() - start < 1.0 and panel.ending and panel.worker is None
    assert not panel.log.toPlainText() and panel.runs_list.table.rowCount() == 0  # nothing of the run in the other folder
    qtbot.waitUntil(lambda: not panel.ending, timeout=30_000)
    assert (run / "train_state.pt").exists() and "cancelled" in (run / "train.log").read_text()
    assert not panel.log.toPlainText() and panel.train_button.isEnabled()


def test_opening_advanced_shows_its_fields_and_no_window_of_its_own(qtbot, window):
    from PySide6.QtWidgets import QApplication

    shown = {w for w in QApplication.topLevelWidgets() if w.isVisible()}
    panel = window.training_panel
    panel.recipe_form.advanced.setChecked(True)
    assert panel.recipe_form.epochs_spin.isVisible() and panel.recipe_form.backbone_box.isVisible()
    assert not panel.recipe_form.backbone_box.isEnabled()  # the current model is fine-tuned: its backbone is its own
    panel.recipe_form.start_box.setCurrentIndex(panel.recipe_form.start_box.findData("new"))
    assert panel.recipe_form.backbone_box.isEnabled()
    assert {w for w in QApplication.topLevelWidgets() if w.isVisible()} == shown  # a drop-down's list stays closed
    panel.recipe_form.advanced.setChecked(False)
    assert not panel.recipe_form.epochs_spin.isVisible()


def test_the_panel_says_what_train_would_use(qtbot, window):
    panel = window.training_panel
    qtbot.waitUntil(lambda: window.predictions.model is not None, timeout=30_000)
    store = window.workspace.store
    classes = len(store.categories)
    assert not panel.progress.isVisibleTo(panel) and not panel.runs_list.use_button.isEnabled()  # no empty bar, no run to use yet
    qtbot.waitUntil(lambda: panel.plan.text() != "", timeout=3000)  # (said once the opening is done)
    recipe = panel.recipe_form.recipe()
    assert recipe.batch_size == 4 and recipe.image_size == window.predictions.model.preprocess.min_size
    assert panel.plan.text() == (f"Train uses 8 labelled images and {classes} classes.\nThe model's classes without boxes here are left "
                                 "out of the new one: bishop.\n1 image held out for validation, so few that its mAP is a rough guide.\n"
                                 f"{recipe.epochs} epochs at {recipe.image_size} px, 4 images a step.")
    clock = window.workspace.add_category("clock")
    window.workspace.paste_boxes("chess_01.jpg", (1024, 686), [__import__("core.labels").labels.Box(5, 5, 60, 60, clock.id)])
    qtbot.waitUntil(lambda: "New to the model (learnt from scratch): clock." in panel.plan.text(), timeout=3000)
    assert f"and {classes + 1} classes" in panel.plan.text()
    # behind another tab the plan waits (~100 ms per burst of edits at 100,000 boxes), and is said when the panel comes forward
    window.docks["Model"].raise_()
    qtbot.waitUntil(lambda: not panel._on_screen, timeout=3000)
    window.workspace.add_category("table")
    qtbot.waitUntil(lambda: panel._plan_stale, timeout=3000)  # (its 300 ms timer: a fixed 400 ms wait left 0.1 s under load)
    assert "table" not in panel.plan.text()
    window.docks["Training"].raise_()
    qtbot.waitUntil(lambda: "No boxes yet: table. Train asks to leave it out of the run (label some first to learn it)." in panel.plan.text(),
                    timeout=3000)
    window.workspace.delete_category(next(c.id for c in window.workspace.store.categories if c.name == "table"))
    # a file where the runs go: said in the plan, and Train refuses before starting (it failed in the worker: "Not a directory")
    (window.workspace.folder / "runs").write_text("not a folder")
    panel.describe()  # (the plan is said again after an edit; a file appearing is no edit)
    qtbot.waitUntil(lambda: f"Training keeps its runs in the folder {window.workspace.folder / 'runs'}, but that is a file (move or rename "
                            "it): Train cannot start." in panel.plan.text(), timeout=3000)
    log = panel.log.toPlainText()
    assert not panel.train() and panel.worker is None and panel.status.text().endswith("but that is a file (move or rename it).")
    assert panel.log.toPlainText() == log  # said in the status and a box, not in the log, which is the run's


def test_a_stopped_run_resumes_only_in_its_own_folder_and_a_broken_recipe_is_reported(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog, QStyleOptionViewItem

    from core.finetune import RUNS_FOLDER

    panel = window.training_panel
    run = window.workspace.labels_path.parent / RUNS_FOLDER / "20240101-000000"
    run.mkdir(parents=True)
    shutil.copy(DEMO_MODEL, run / "last.safetensors")
    (run / "train_state.pt").write_bytes(b"")
    (run / "recipe.json").write_text('{"epochs": 3, "image_siz')  # torn
    older_stopped, finished = run.parent / "20231230-000000", run.parent / "20231231-000000"
    for older in (older_stopped, finished):
        older.mkdir()
        shutil.copy(DEMO_MODEL, older / "last.safetensors")
        (older / "recipe.json").write_text('{"epochs": 1}')
    (older_stopped / "train_state.pt").write_bytes(b"")
    (finished / "metrics.json").write_text('[{"epoch": 1, "step": 1, "mAP": 0.5}]')
    panel.runs_list.refresh()
    assert [panel.runs_list.table.item(r, 3).text() for r in range(3)] == ["stopped", "finished", "stopped"]
    assert panel.runs_list.resumable == run and panel.resume_button.isEnabled()  # the newest
    panel.runs_list.table.selectRow(2)
    assert panel.runs_list.resumable == older_stopped and older_stopped.name in panel.resume_button.toolTip()
    newer = run.parent / "20240102-000000"  # a run appears (another one's first checkpoint): the choice stays on its run
    newer.mkdir()
    shutil.copy(DEMO_MODEL, newer / "last.safetensors")
    panel.runs_list.refresh()
    assert panel.runs_list.resumable == older_stopped and panel.runs_list.table.currentRow() == 3
    shutil.rmtree(newer)
    panel.runs_list.refresh()
    panel.runs_list.table.selectRow(1)  # a finished run chosen afterwards: Resume goes back to the newest (it kept the older one)
    assert panel.runs_list.resumable == run
    assert panel.runs_list.note_button.isEnabled()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("more flips", True))
    panel.runs_list.ask_note()  # (its row stays chosen, now three lines high)
    assert panel.runs_list.table.item(1, 0).text().endswith("\nmore flips") and panel.runs_list.table.item(1, 2).toolTip().startswith("more flips\n")
    assert panel.runs_list.table.currentRow() == 1 and (finished / "note.txt").read_text() == "more flips\n"
    for row, mode in ((1, Qt.TextElideMode.ElideRight), (0, Qt.TextElideMode.ElideLeft)):  # a note is cut at its end, a date at its start
        option = QStyleOptionViewItem()
        option.textElideMode = panel.runs_list.table.textElideMode()
        panel.runs_list.table.itemDelegate().initStyleOption(option, panel.runs_list.table.model().index(row, 0))
        assert option.textElideMode == mode
    window.answer = False  # "Delete the run …?" No
    panel.runs_list.delete_selected()
    assert finished.exists()
    window.answer = True
    panel.runs_list.delete_selected()
    assert not finished.exists() and panel.runs_list.table.rowCount() == 2 and panel.runs_list.resumable == run
    assert panel.log.toPlainText() == "" and not panel.chart.map.count()  # (a deleted run's log and chart stood)
    assert panel.status.text() == f"deleted the run {finished.name}"  # (a deleted run's "… can be resumed" stood)
    assert not panel.progress.isVisibleTo(panel)  # (its 50 % stood under the message)
    panel.resume()
    assert panel.worker is None and "recipe.json is unreadable" in panel.status.text()
    small_recipe(panel, 3)  # Advanced settings chosen for this folder's data
    other = tmp_path / "other"
    shutil.copytree(DEMO, other)
    assert window.open_folder(other)
    qtbot.waitUntil(lambda: window.listing.complete, timeout=5000)
    # the other folder has no runs: nothing of the first folder's run is offered or shown there
    assert panel.runs_list.table.rowCount() == 0 and panel.runs_list.resumable is None and not panel.resume_button.isEnabled()
    assert panel.status.text() == "" and panel.log.toPlainText() == ""
    assert not panel.recipe_form.advanced.isChecked() and panel.recipe_form.recipe() == panel.recipe_form.default_recipe()
    panel.recipe_form.advanced.setChecked(True)  # opened again: this folder's defaults, not the 3 epochs of the other
    assert panel.recipe_form.epochs_spin.value() == panel.recipe_form.default_recipe().epochs != 3


def test_the_step_axis_ticks_fall_on_whole_steps(qapp):
    """An empty chart's step axis read "0 0 1" (0 to 1 in 3 ticks, as whole numbers)."""
    from retina_gui.loss_chart import LossChart

    chart = LossChart()
    assert (chart.x_axis.min(), chart.x_axis.max()) == (0, 2)
    chart.add_step(1, 7, 1.0, 0.5)
    assert chart.x_axis.max() == 8 and chart.x_axis.tickCount() == 3  # ticks at 0, 4, 8


def test_a_run_without_validation_says_so_and_that_its_quality_is_unknown(qtbot, tmp_path):
    """It said "no validation images (held out from 7 labelled images on)" whatever the reason, and
    the new model took over with no word of caution."""
    folder = tmp_path / "two"
    shutil.copytree(DEMO, folder)
    data = json.loads((folder / "annotations.coco.json").read_text())
    kept = {im["id"] for im in data["images"][:2]}
    data["images"] = [im for im in data["images"] if im["id"] in kept]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    used = {a["category_id"] for a in data["annotations"]}
    data["categories"] = [c for c in data["categories"] if c["id"] in used]
    (folder / "annotations.coco.json").write_text(json.dumps(data))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(folder=folder, model=DEMO_MODEL, settings=settings, confirm=lambda title, text, **_: True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.predictions.model is not None and window.listing.complete, timeout=60_000)
    panel = window.training_panel
    small_recipe(panel, 1)
    assert panel.train()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=180_000)
    assert "done: 1 epoch, not validated (no images were held out)" in panel.status.text()
    assert "Nothing compared it with the model it replaced: “Previous model” switches back" in panel.status.text()
    window.close()


def test_without_a_model_the_plan_says_to_load_one_first(qtbot, tmp_path):
    """It gave the plan and an estimate, and Train then said "Load a model first"."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    window = MainWindow(folder=folder, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.docks["Training"].raise_()
    qtbot.waitUntil(lambda: "First load a model (Model ▸ Load Model…), or start from a new one in Advanced." in window.training_panel.plan.text(),
                    timeout=5000)
    window.close()


def test_a_new_model_takes_over_only_if_the_user_says_so_and_its_recipe_names_its_backbone(qtbot, window, tiny_checkpoint, monkeypatch, tmp_path):
    """A new model scoring 0.000 replaced the working one unasked; a fine-tune chosen after picking
    resnet18 for a new model recorded "resnet18" in recipe.json while it trained mobilenet_v2. Without
    ImageNet weights on the computer, it started from random weights unsaid: now it asks first."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_weights"))
    panel = window.training_panel
    small_recipe(panel, 1)
    panel.recipe_form.start_box.setCurrentIndex(panel.recipe_form.start_box.findData("new"))
    panel.recipe_form.backbone_box.setCurrentText("resnet18")
    panel.recipe_form.start_box.setCurrentIndex(panel.recipe_form.start_box.findData("current"))
    assert panel.recipe_form.backbone_box.currentText() == "mobilenet_v2" and panel.recipe_form.recipe().backbone == "mobilenet_v2"
    window.predictions.load_model(tiny_checkpoint)  # another backbone: the fine-tune's is that model's, not the default's
    qtbot.waitUntil(lambda: window.predictions.model.path == tiny_checkpoint, timeout=60_000)
    assert panel.recipe_form.backbone_box.currentText() == "resnet18" and panel.recipe_form.recipe().backbone == "resnet18"
    window.predictions.load_model(DEMO_MODEL)
    qtbot.waitUntil(lambda: window.predictions.model.path == DEMO_MODEL, timeout=60_000)
    panel.recipe_form.start_box.setCurrentIndex(panel.recipe_form.start_box.findData("new"))
    panel.recipe_form.backbone_box.setCurrentText("mobilenet_v2")
    window.answer = False  # "Train from random weights?" No: nothing starts
    assert not panel.train() and panel.worker is None
    assert window.asked[-1].startswith("ImageNet weights for mobilenet_v2 are not on this computer")
    assert f"copy mobilenet_v2-b0353104.pth or mobilenet_v2-7ebf99e0.pth into {tmp_path / 'no_weights' / 'hub' / 'checkpoints'}/" in window.asked[-1]
    window.answer = True  # Yes
    assert panel.train()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=180_000)
    assert ("The current model stays, and “Use its model” switches to this run's: it trained a new model, and the model in use "
            "(models/demo_chess_mobilenet_v2.safetensors) was not scored on the same images.") in panel.status.text()
    assert window.predictions.model.path == DEMO_MODEL and panel.use_run_button.isVisible()
    window.close_folder()  # the offer goes with its folder
    assert not panel.use_run_button.isVisibleTo(panel)


def test_a_model_chosen_while_a_run_trains_is_not_replaced_unasked_at_its_end(qtbot, window, tiny_checkpoint):
    """The user went back to another model mid-run; the run, better than its own start weights, took
    over from it without a word at its end."""
    panel = window.training_panel
    small_recipe(panel, 1)
    panel.recipe_form.val_spin.setValue(0)  # not validated: nothing says it is worse than its start, so it took over
    assert panel.train()
    window.predictions.load_model(tiny_checkpoint)  # chosen while it trains
    qtbot.waitUntil(lambda: window.predictions.model.path == tiny_checkpoint, timeout=60_000)
    qtbot.waitUntil(lambda: panel.worker is None, timeout=180_000)
    assert panel.status.text().startswith("The current model stays, and “Use its model” switches to this run's: ")
    assert f"was chosen while it trained (it started with models/{DEMO_MODEL.name})." in panel.status.text()
    assert window.predictions.model.path == tiny_checkpoint and panel.use_run_button.isVisible()
    panel.runs_list.table.selectRow(0)
    panel.runs_list.use_selected()  # taken in the runs list: the offer goes, and the status says it is in use
    qtbot.waitUntil(lambda: "runs" in window.predictions.model.path.parts, timeout=60_000)
    assert not panel.use_run_button.isVisible() and "now using" in panel.status.text() and "“Use its model”" not in panel.status.text()


def test_advanced_sets_optimizer_precision_validation_and_seed_and_the_folder_reopens_with_them(qtbot, window):
    """Advanced lacked them, and a reopened folder showed the defaults again, not what its last run used."""
    panel = window.training_panel
    small_recipe(panel, 1)
    assert panel.recipe_form.optimizer_box.currentData() == "adamw" and panel.recipe_form.precision_box.currentText() == "auto"
    assert panel.recipe_form.val_spin.value() == round(panel.recipe_form.default_recipe().val_fraction * 100)
    assert [panel.recipe_form.precision_box.itemText(i) for i in range(panel.recipe_form.precision_box.count())] == ["auto", "fp32", "bf16", "fp16"]
    panel.recipe_form.precision_box.setCurrentText("fp16")  # without a GPU: said at Train, nothing started
    assert not panel.train() and panel.status.text().startswith("fp16 trains on a GPU only")
    panel.recipe_form.optimizer_box.setCurrentIndex(panel.recipe_form.optimizer_box.findData("sgd"))
    assert panel.recipe_form.lr_spin.value() == pytest.approx(0.01)  # AdamW's default rate became SGD's
    panel.recipe_form.lr_spin.setValue(0.005)
    panel.recipe_form.optimizer_box.setCurrentIndex(panel.recipe_form.optimizer_box.findData("adamw"))
    assert panel.recipe_form.lr_spin.value() == pytest.approx(0.005)  # one the user set stays
    panel.recipe_form.optimizer_box.setCurrentIndex(panel.recipe_form.optimizer_box.findData("sgd"))
    panel.recipe_form.val_spin.setValue(0)
    panel.recipe_form.precision_box.setCurrentText("fp32")
    panel.recipe_form.seed_spin.setValue(7)
    assert panel.train()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=120_000)
    run = panel.run_dir
    saved = json.loads((run / "recipe.json").read_text())
    assert (saved["optimizer"], saved["lr"], saved["precision"], saved["val_fraction"], saved["seed"]) == ("sgd", 0.005, "fp32", 0.0, 7)
    log = (run / "train.log").read_text()
    assert "precision fp32" in log and "SGD" in panel.runs_list.table.item(0, 0).toolTip()
    split = json.loads((run / "split.json").read_text())  # what the run learnt from, for Evaluation to leave out
    assert split["validation"] == [] and len(split["train"]) == len(window.workspace.store.file_names())
    window.close_folder()
    assert window.open_folder(run.parents[1])
    assert panel.recipe_form.advanced.isChecked()
    recipe = panel.recipe_form.recipe()
    assert (recipe.optimizer, recipe.lr, recipe.precision, recipe.val_fraction, recipe.seed, recipe.epochs, recipe.image_size) == (
        "sgd", pytest.approx(0.005), "fp32", 0.0, 7, 1, 128)
    inner = run.parents[1] / "inner"  # a folder inside this one keeps its own, whatever this one's become
    window.settings.setValue(f"training_advanced/{inner}", window.settings.value(panel.recipe_form.settings_key()))
    panel.recipe_form.epochs_spin.setValue(4)  # typed in and left, no run started: kept too
    window.close_folder()
    assert window.open_folder(run.parents[1])
    assert panel.recipe_form.advanced.isChecked() and panel.recipe_form.recipe().epochs == 4
    panel.recipe_form.advanced.setChecked(False)  # closed: the next opening shows the defaults
    window.close_folder()
    assert window.open_folder(run.parents[1])
    assert not panel.recipe_form.advanced.isChecked()
    assert window.settings.value(f"training_advanced/{inner}")
    assert json.loads(window.settings.value(f"training_advanced/{inner}"))["optimizer"] == "sgd"
    for wrong in ('"2"', "true", "2.5"):  # a value of another type (another version's, edited by hand): the defaults
        window.settings.setValue(panel.recipe_form.settings_key(), f'{{"start": "current", "frozen_stages": {wrong}}}')
        assert panel.recipe_form._remembered() is None
    window.settings.setValue(panel.recipe_form.settings_key(), '{"start": "current", "frozen_stages": 2}')
    assert panel.recipe_form._remembered()[1].frozen_stages == 2


def test_opening_advanced_alone_keeps_nothing_and_an_edit_keeps_only_itself(qtbot, window):
    """Opened to look, it kept every default as a choice: a 0 % validation share of a folder with
    6 labelled images stood after it had 8."""
    panel = window.training_panel
    panel.recipe_form.advanced.setChecked(True)
    assert not window.settings.value(panel.recipe_form.settings_key())
    panel.recipe_form.epochs_spin.setValue(panel.recipe_form.default_recipe().epochs + 2)
    assert json.loads(window.settings.value(panel.recipe_form.settings_key())) == {"epochs": panel.recipe_form.default_recipe().epochs + 2, "start": "current"}


def test_a_reopened_advanced_follows_the_model_once_it_has_loaded(qtbot, window, tmp_path):
    """Opened before the model had loaded, Advanced showed the image size of no model (672 px for a
    512-px model), and the next edit kept it as the user's choice."""
    panel = window.training_panel
    panel.recipe_form.advanced.setChecked(True)
    panel.recipe_form.epochs_spin.setValue(panel.recipe_form.epochs_spin.value() + 3)
    model_size = panel.recipe_form.default_recipe().image_size
    folder, settings = window.workspace.folder, window.settings
    window.close()
    again = MainWindow(folder=folder, model=DEMO_MODEL, settings=settings, confirm=lambda *a, **k: True)
    qtbot.addWidget(again)
    again.show()
    reopened = again.training_panel
    assert reopened.recipe_form.advanced.isChecked()
    qtbot.waitUntil(lambda: again.predictions.model is not None, timeout=60_000)
    assert reopened.recipe_form.size_spin.value() == model_size
    reopened.recipe_form.seed_spin.setValue(3)
    assert "image_size" not in json.loads(settings.value(reopened.recipe_form.settings_key()))
    again.close()


def test_runs_of_one_minute_are_told_apart_by_their_seconds():
    from retina_gui.runs_list import _when

    assert _when("20261127-101447") == "11-27\n10:14" and _when("20261127-101447", seconds=True) == "11-27\n10:14:47"
    assert _when("20261127-101447-2", seconds=True) == "11-27\n10:14:47-2" and _when("my run") == "my run"


def test_a_run_cancelled_before_its_first_step_is_not_kept(qtbot, window, monkeypatch):
    """It left a "0/n stopped" run of 60+ MB: the start weights saved again, nothing learnt."""
    from PySide6.QtWidgets import QApplication

    alerts = []
    monkeypatch.setattr(QApplication, "alert", lambda widget, msec=0: alerts.append(widget))
    panel = window.training_panel
    small_recipe(panel, 50)
    assert panel.train()
    run = panel.run_dir
    panel.cancel()  # while the start weights are scored, before any step
    qtbot.waitUntil(lambda: panel.worker is None, timeout=30_000)
    assert panel.status.text() == "cancelled before its first step: nothing was learnt, and the run is not kept"
    assert not run.exists() and panel.runs_list.table.rowCount() == 0 and not panel.progress.isVisibleTo(panel)
    assert alerts == [window]  # a run's end asks for attention (the taskbar entry, when the window is behind others)


def test_remembered_speeds_that_are_no_speeds_are_passed_over(window):
    """A settings file edited by hand: a speed of 0 divided the estimate by zero on every plan refresh."""
    panel = window.training_panel
    good = {"images_per_s": 2.0, "validation_share": 0.1, "device": "cpu", "backbone": "mobilenet_v2", "image_size": 512,
            "started": "20261127-101447", "run": "20261127-101447 of elsewhere"}
    for bad in ({**good, "images_per_s": 0}, {**good, "image_size": 0}, {**good, "images_per_s": "fast"}, {**good, "images_per_s": None},
                {**good, "validation_share": float("nan")}, {**good, "device": None, "images_per_s": True}):
        panel.runs_list.settings.setValue(panel.runs_list.SPEEDS_KEY, json.dumps({"cpu/mobilenet_v2": bad}))
        panel.describe()
        assert "at the speed of the run" not in panel.plan.text()
    panel.runs_list.settings.setValue(panel.runs_list.SPEEDS_KEY, ["not", "json"])
    panel.describe()
    panel.runs_list.settings.setValue(panel.runs_list.SPEEDS_KEY, json.dumps({"cpu/mobilenet_v2": good}))
    panel.describe()
    assert "on the CPU (at the speed of the run 20261127-101447 of elsewhere: 2.0 images/s at 512 px)" in panel.plan.text()


def test_a_run_set_to_stop_early_stops_once_validation_stops_rising_and_says_so(qtbot, window, monkeypatch):
    from core.evaluate import EvalResult

    scores = iter([0.3, 0.5, 0.4])  # the start weights, then epochs 1 and 2

    def scripted(self, data, preprocess=None):
        value = next(scores)
        return EvalResult(value, value, value, None, None, None)

    monkeypatch.setattr(core.train.Trainer, "evaluate", scripted)
    panel = window.training_panel
    small_recipe(panel, 4)
    assert panel.recipe_form.patience_spin.text() == "never" and panel.recipe_form.recipe().patience is None
    panel.recipe_form.val_spin.setValue(0)  # no validation, nothing to stop on: the field is greyed and not used
    panel.recipe_form.patience_spin.setValue(1)
    assert not panel.recipe_form.patience_spin.isEnabled() and panel.recipe_form.recipe().patience is None
    panel.recipe_form.val_spin.setValue(20)
    assert panel.recipe_form.patience_spin.isEnabled() and panel.recipe_form.recipe().patience == 1
    assert panel.train()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=120_000)
    assert panel.status.text().startswith("done: 2 epochs of 4 (stopped early: validation mAP had stopped rising), "
                                          "best validation mAP 0.500 (start weights 0.300); now using ")
    assert panel.runs_list.table.item(0, 1).text() == "2/4" and panel.runs_list.table.item(0, 3).text() == "finished early"
    assert "early stop after 1" in panel.runs_list.table.item(0, 0).toolTip()
    assert panel.runs_list.resumable is None and not panel.resume_button.isEnabled()  # finished: nothing to resume


def test_the_end_of_a_run_that_kept_a_class_the_labels_lost_says_so(qtbot, window, tmp_path):
    """A class merged into another before Resume stayed in the model, learnt from negatives only; a
    log line alone said so."""
    from core.train import TrainResult

    panel = window.training_panel
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    shutil.copy(DEMO_MODEL, run / "last.safetensors")
    panel._finished(TrainResult(run, 2, 20, False, None, run / "last.safetensors", None, classes_gone=("black-pawn",)))
    assert not window.asked  # no model was chosen while it trained: nothing to ask
    assert ("Resumed, it kept its own classes: black-pawn has no boxes now (merged, deleted or emptied since it started), and learnt "
            "from none: a new run leaves them out, or asks to") in panel.status.text()
    qtbot.waitUntil(lambda: window.predictions.model is not None and window.predictions.model.path == run / "last.safetensors", timeout=60_000)


def test_a_fine_tune_from_a_model_whose_file_went_is_refused_and_said_in_the_plan(qtbot, window, tiny_checkpoint, tmp_path):
    """The model's file deleted after it loaded: the worker said "…: no such file" and left an empty runs folder."""
    panel = window.training_panel
    gone = tmp_path / "gone.safetensors"
    shutil.copy(tiny_checkpoint, gone)
    window.predictions.load_model(gone)
    qtbot.waitUntil(lambda: window.predictions.model is not None and window.predictions.model.path == gone, timeout=60_000)
    gone.unlink()
    said = (f"The model in use, {gone}, is no longer on disk (deleted or moved since it was loaded): load it again (Model ▸ Load "
            "Model…), or start from a new model in Advanced.")
    panel.describe()
    assert said in panel.plan.text()
    assert not panel.train() and panel.worker is None and panel.status.text() == said
    assert any(said in r for r in window.reports) and not (window.workspace.folder / "runs").exists()
