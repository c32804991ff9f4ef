import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from core.cli import EXIT_SKIPPED, main
from tests.conftest import DATASETS, DEMO_MODEL, PHOTOS, ROOT, valid_subset

CHESS = DATASETS / "chess" / "valid"


def test_predict_numbers_images_in_order_and_writes_coco_results(tiny_checkpoint, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("coffee.png", "astronaut.png"):
        shutil.copy(PHOTOS / "skimage" / name, folder / name)
    single = PHOTOS / "sklearn" / "china.jpg"
    out = tmp_path / "r.json"
    assert main(["predict", str(single), str(folder), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--score-thresh", "0.1", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    by_id = {r["image_id"]: r["file_name"] for r in results}
    assert by_id == {1: "china.jpg", 2: "astronaut.png", 3: "coffee.png"}
    assert {r["category_id"] for r in results} <= {1, 2, 5}
    assert all(r["score"] > 0.1 for r in results)
    for r in results:
        x, y, w, h = r["bbox"]
        assert w >= 0 and h >= 0 and x >= 0 and y >= 0


def test_predict_takes_ids_from_coco_file_and_reports_bad_images(tiny_checkpoint, tmp_path, capsys):
    ann = json.loads((CHESS / "_annotations.coco.json").read_text())
    images = ann["images"][:2]
    folder = tmp_path / "set"
    folder.mkdir()
    for im in images:
        shutil.copy(CHESS / im["file_name"], folder / im["file_name"])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    coco = folder / "ann.json"
    coco.write_text(json.dumps({"images": images + [{"id": 99, "file_name": "broken.jpg"}], "annotations": [], "categories": ann["categories"]}))
    out = tmp_path / "r.json"
    code = main(["predict", str(folder), "--weights", str(tiny_checkpoint), "--device", "cpu", "--coco", str(coco), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_SKIPPED
    assert "broken.jpg" in err and "cannot read image" in err
    ids = {r["image_id"] for r in json.loads(out.read_text())}
    assert ids <= {im["id"] for im in images}  # 0-based Roboflow ids are kept as they are
    # ids the file writes as strings are written so in the results: pycocotools refused them as integers
    spelled = [{**im, "id": str(im["id"] + 10)} for im in images]
    coco.write_text(json.dumps({"images": spelled, "annotations": [], "categories": ann["categories"]}))
    assert main(["predict", str(folder / images[0]["file_name"]), "--weights", str(DEMO_MODEL), "--device", "cpu", "--coco", str(coco),
                 "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results and {r["image_id"] for r in results} == {spelled[0]["id"]}
    from pycocotools.coco import COCO

    gt = COCO(str(coco))
    gt.loadRes(str(out))  # the check that failed


def test_predict_with_a_coco_file_writes_its_category_ids_matched_by_name(tiny_checkpoint, tmp_path, capsys):
    """The checkpoint's ids were written: against a file that numbers its classes otherwise (0-based
    Roboflow ids), pycocotools scored them as other classes (mAP 0.05 where eval said 0.78)."""
    ann = json.loads((CHESS / "_annotations.coco.json").read_text())
    image = ann["images"][0]
    coco = tmp_path / "ann.json"
    coco.write_text(json.dumps({"images": [image], "annotations": [],
                                "categories": [{"id": 0, "name": "rook"}, {"id": 7, "name": "King"}, {"id": 5, "name": "pawn"}]}))
    out = tmp_path / "r.json"
    assert main(["predict", str(CHESS / image["file_name"]), "--weights", str(tiny_checkpoint), "--device", "cpu", "--coco", str(coco),
                 "--out", str(out)]) == 0
    found = {r["category_id"] for r in json.loads(out.read_text())}
    assert found == {0, 7}  # rook (5 in the checkpoint) is 0 there, king (1) is 7 ("King": names match as class names compare)
    assert "has no class named queen: those detections are left out" in capsys.readouterr().err


def test_bad_weights_and_usage_errors(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(tmp_path / "none.pt"), "--out", str(out)]) == 1
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["predict", "--out", str(out)])
    assert info.value.code == 2
    assert not out.exists()


def test_input_and_output_mistakes_are_errors_before_any_work_and_overwrite_nothing(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("[1]")
    photo = str(PHOTOS / "skimage" / "coffee.png")
    weights = ["--weights", str(tiny_checkpoint), "--device", "cpu"]
    assert main(["predict", str(tmp_path / "typo_dir"), *weights, "--out", str(out)]) == 1
    assert "no such file or folder: " in capsys.readouterr().err and out.read_text() == "[1]"
    assert main(["predict", photo, *weights, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"--out {tmp_path} is a folder: give the file to write, e.g. {tmp_path / 'results.json'}" in err and "predict (" not in err
    assert main(["predict", photo, *weights, "--out", str(tmp_path / "missing" / "r.json")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", *weights, "--coco", str(CHESS)]) == 1  # the folder, not its JSON file
    assert f"{CHESS} is a folder: give the COCO JSON file (it has _annotations.coco.json)" in capsys.readouterr().err
    assert main(["eval", *weights, "--coco", str(CHESS / "_annotations.coco.json"), "--images", str(PHOTOS)]) == 1
    assert "none of the 58 images of the labels is in" in capsys.readouterr().err  # said once, not 58 times


def test_a_file_name_that_matches_several_coco_images_is_named_as_ambiguous(tiny_checkpoint, tmp_path, capsys):
    coco = tmp_path / "ann.json"
    coco.write_text(json.dumps({"images": [{"id": 1, "file_name": "a/coffee.png"}, {"id": 2, "file_name": "b/coffee.png"}],
                                "annotations": [], "categories": []}))
    code = main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--coco", str(coco), "--out", str(tmp_path / "r.json")])
    assert code == 1 and "its name matches 2 images of the COCO file (a/coffee.png, b/coffee.png)" in capsys.readouterr().err


def test_outputs_never_replace_an_input_a_device_or_an_image(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(CHESS / "_annotations.coco.json", folder / "ann.json")
    labels_before = (folder / "ann.json").read_bytes()
    image = folder / "coffee.png"
    shutil.copy(PHOTOS / "skimage" / "coffee.png", image)
    weights = ["--weights", str(tiny_checkpoint), "--device", "cpu"]
    for out in (folder / "ann.json", image):  # the labels file given with --coco, an image of the inputs
        assert main(["predict", str(image), *weights, "--coco", str(folder / "ann.json"), "--out", str(out)]) == 1
        assert "is one of the inputs: it would be overwritten" in capsys.readouterr().err
    assert main(["eval", *weights, "--coco", str(folder / "ann.json"), "--images", str(CHESS), "--json", str(folder / "ann.json")]) == 1
    assert "is one of the inputs" in capsys.readouterr().err
    assert main(["convert", "--from", "coco", str(folder / "ann.json"), "--to", "coco", str(image)]) == 1
    assert (folder / "ann.json").read_bytes() == labels_before and image.read_bytes() == (PHOTOS / "skimage" / "coffee.png").read_bytes()
    import core.predict

    monkeypatch.setattr(core.predict, "predict_files", lambda *a, **k: pytest.fail("predicted before checking the output"))
    assert main(["predict", str(image), *weights, "--out", "/dev/null"]) == 1
    assert "not a regular file" in capsys.readouterr().err


def test_an_unwritable_output_folder_is_refused_before_predicting(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)  # as in an immutable folder, where even root cannot write
    import core.predict

    monkeypatch.setattr(core.predict, "predict_files", lambda *a, **k: pytest.fail("predicted before checking the output"))
    assert main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(tiny_checkpoint), "--out", str(tmp_path / "r.json")]) == 1
    assert "cannot be written to (Operation not permitted)" in capsys.readouterr().err


def test_results_name_images_as_the_coco_file_does_and_never_two_alike(tiny_checkpoint, tmp_path):
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        shutil.copy(PHOTOS / "skimage" / "coffee.png", tmp_path / side / "coffee.png")
    weights = ["--weights", str(tiny_checkpoint), "--device", "cpu", "--score-thresh", "0.0"]
    out = tmp_path / "r.json"
    assert main(["predict", str(tmp_path / "a"), str(tmp_path / "b"), *weights, "--out", str(out)]) == 0
    assert {(r["image_id"], r["file_name"]) for r in json.loads(out.read_text())} == {(1, "a/coffee.png"), (2, "b/coffee.png")}
    coco = tmp_path / "ann.json"
    coco.write_text(json.dumps({"images": [{"id": 7, "file_name": "b/coffee.png", "width": 400, "height": 300}], "annotations": [],
                                "categories": [{"id": 1, "name": "king"}]}))
    assert main(["predict", str(tmp_path / "b"), *weights, "--coco", str(coco), "--out", str(out)]) == 0
    assert {(r["image_id"], r["file_name"]) for r in json.loads(out.read_text())} == {(7, "b/coffee.png")}


def test_nothing_readable_writes_nothing(tiny_checkpoint, tmp_path, capsys):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not an image")
    out = tmp_path / "r.json"
    assert main(["predict", str(tmp_path / "bad.jpg"), "--weights", str(tiny_checkpoint), "--device", "cpu", "--out", str(out)]) == 1
    assert "retina: the image could not be read: nothing written" in capsys.readouterr().err and not out.exists()


def test_an_empty_weights_file_and_usage_mistakes_found_late_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(empty), "--out", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("retina: ") and "an empty file (0 bytes): no weights in it" in err and "Traceback" not in err
    coco = str(CHESS / "_annotations.coco.json")
    assert main(["train", "--coco", coco, "--backbone", "resnet9", "--out", str(tmp_path / "run")]) == 2
    assert "--backbone resnet9: choose from resnet18" in capsys.readouterr().err
    assert main(["train", "--coco", coco, "--image-size", "128", "--max-size", "64", "--out", str(tmp_path / "run")]) == 2
    assert "--max-size 64 is below --image-size 128" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "--coco", coco, "--device", "foo", "--out", str(tmp_path / "run")])
    assert info.value.code == 2 and not (tmp_path / "run").exists()


def test_two_categories_of_one_name_are_refused_by_train_and_eval(tiny_checkpoint, tmp_path, capsys):
    coco = tmp_path / "ann.json"
    coco.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "A "}]}))
    assert main(["eval", "--weights", str(tiny_checkpoint), "--coco", str(coco)]) == 1
    assert "categories 1 ('a') and 2 ('A ') have the same name" in capsys.readouterr().err
    assert main(["train", "--coco", str(coco), "--backbone", "resnet18", "--out", str(tmp_path / "run")]) == 1
    assert "have the same name" in capsys.readouterr().err
    assert main(["convert", "--from", "coco", str(coco), "--to", "coco", str(tmp_path / "out.json")]) == 3  # converted, and said (it was 0)
    assert "have the same name (as class names are compared): merge or rename one; written as they are, but retina train" in capsys.readouterr().err


def test_train_output_and_option_mistakes_are_found_before_training(tmp_path, capsys, monkeypatch):
    coco = str(CHESS / "_annotations.coco.json")
    (tmp_path / "afile").write_text("x")
    assert main(["train", "--coco", coco, "--backbone", "resnet18", "--out", str(tmp_path / "afile")]) == 1
    assert "is a file: give the folder for the run" in capsys.readouterr().err
    assert main(["train", "--coco", coco, "--backbone", "resnet18", "--out", str(tmp_path / "none"), "--resume"]) == 1
    assert "nothing to resume: " in capsys.readouterr().err and not (tmp_path / "none").exists()  # (it was made, a lock file in it)
    notes = tmp_path / "notes"  # a folder of the user's, without a run: refused, and left as it was (a .run.lock stayed in it)
    notes.mkdir()
    (notes / "notes.txt").write_text("x")
    assert main(["train", "--coco", coco, "--backbone", "resnet18", "--out", str(notes), "--resume"]) == 1
    assert "nothing to resume in " in capsys.readouterr().err and [p.name for p in notes.iterdir()] == ["notes.txt"]
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"")
    assert main(["train", "--coco", coco, "--backbone", "resnet18", "--out", str(images)]) == 1  # a run's files among the images
    assert f"--out {images} holds images (a.jpg): give a folder of its own for the run" in capsys.readouterr().err
    assert [p.name for p in images.iterdir()] == ["a.jpg"]
    with pytest.raises(SystemExit) as info:
        main(["train", "--coco", coco, "--lr", "inf", "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    # an output named through a link is checked where the link points: that folder is the one written
    import tempfile

    real_dir = tmp_path / "locked"
    real_dir.mkdir()
    (tmp_path / "link.json").symlink_to(real_dir / "r.json")
    made = tempfile.TemporaryFile

    def refuse_in_locked(*args, dir=None, **kwargs):
        if Path(dir) == real_dir:
            raise PermissionError(1, "Operation not permitted")
        return made(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse_in_locked)
    assert main(["eval", "--weights", "unused.safetensors", "--coco", coco, "--json", str(tmp_path / "link.json")]) == 1
    assert f"the folder {real_dir} cannot be written to" in capsys.readouterr().err


def test_convert_to_yolo_says_which_crowd_regions_it_leaves_out(tmp_path, capsys):
    source = tmp_path / "crowd.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}], "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 20, 20]},
                                                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [30, 30, 20, 20], "iscrowd": 1}]}))
    assert main(["convert", "--from", "coco", str(source), "--to", "yolo", str(tmp_path / "yolo")]) == 0
    assert "1 image, 1 box (1 crowd region left out: YOLO has no form for them; boxes marked “difficult” (VOC, X-AnyLabeling) are read as crowd regions), 1 category written to" in capsys.readouterr().err


def test_train_names_the_option_of_a_wrong_image_folder_and_refuses_val_images_alone(tmp_path, capsys):
    coco = str(CHESS / "_annotations.coco.json")
    base = ["train", "--coco", coco, "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main([*base, "--val-images", str(tmp_path / "nowhere")]) == 2  # ignored before, even a folder that does not exist
    assert "--val-images is the folder of --val-coco's images: give --val-coco too" in capsys.readouterr().err
    assert main([*base, "--images", str(PHOTOS)]) == 1
    assert "give their folder with --images" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_eval_takes_the_model_options_predict_takes(tmp_path, capsys):
    """eval had no --preset, --nms-thresh or --batch-size, which predict has."""
    from tests.conftest import DEMO_MODEL

    data = valid_subset(tmp_path)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    base = ["eval", "--weights", str(DEMO_MODEL), "--coco", str(tmp_path / "ann.json"), "--device", "cpu", "--precision", "fp32"]
    assert main([*base, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*base, "--preset", "retinanet", "--nms-thresh", "0.5", "--batch-size", "1", "--json", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads((tmp_path / "b.json").read_text())  # the defaults, named
    assert main([*base, "--nms-thresh", "0.9", "--batch-size", "2", "--json", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["mAP"] != json.loads((tmp_path / "a.json").read_text())["mAP"]


def test_ctrl_c_says_whether_the_run_can_be_resumed(tmp_path, capsys, monkeypatch):
    """Before the first checkpoint it said "--resume goes on from the last checkpoint", and --resume
    then found nothing to resume."""
    import core.cli

    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(core.cli, "_train", interrupted)
    run = tmp_path / "run"
    args = ["train", "--coco", str(CHESS / "_annotations.coco.json"), "--out", str(run)]
    assert main(args) == 130
    assert "interrupted (before its first checkpoint: the same command starts it over)" in capsys.readouterr().err
    run.mkdir()
    (run / "train_state.pt").write_bytes(b"x")
    assert main(args) == 130
    assert "interrupted (--resume goes on from the last checkpoint" in capsys.readouterr().err


def test_predict_names_the_images_it_cannot_list_or_name_and_still_writes_the_rest(tiny_checkpoint, tmp_path, capsys):
    """A name that is not UTF-8 in a folder was dropped without a word (exit 0); given as a file it
    was predicted, then nothing was written; a link to itself ended with an error, nothing written."""
    import os

    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(PHOTOS / "skimage" / "coffee.png", folder / "good.png")
    latin1 = os.fsencode(folder) + b"/caf\xe9.png"
    shutil.copy(PHOTOS / "skimage" / "coffee.png", latin1)
    (folder / "a_loop.jpg").symlink_to(folder / "a_loop.jpg")
    out = tmp_path / "r.json"
    args = ["--weights", str(tiny_checkpoint), "--device", "cpu", "--score-thresh", "0.1", "--out", str(out)]
    assert main(["predict", str(folder), *args]) == EXIT_SKIPPED
    err = capsys.readouterr().err
    assert "skipped " + str(folder / "a_loop.jpg") + " (Too many levels of symbolic links)" in err
    assert "caf\ufffd.png (its name is not valid UTF-8: rename it)" in err
    assert {r["file_name"] for r in json.loads(out.read_text())} == {"good.png"}
    out.unlink()
    assert main(["predict", str(folder / "good.png"), os.fsdecode(latin1), *args]) == EXIT_SKIPPED
    assert "caf\ufffd.png (its name is not valid UTF-8: rename it)" in capsys.readouterr().err
    assert {r["file_name"] for r in json.loads(out.read_text())} == {"good.png"}


def test_fp16_on_the_cpu_is_said_to_be_slow_at_predict_and_refused_at_train(tiny_checkpoint, tmp_path, capsys):
    """Both went by without a word: predicting took 7 times fp32's time, training ran without loss scaling."""
    out = tmp_path / "r.json"
    assert main(["predict", str(PHOTOS / "skimage" / "astronaut.png"), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--precision", "fp16", "--out", str(out)]) == 0
    assert "note: fp16 on the CPU is slow" in capsys.readouterr().err and out.exists()
    assert main(["predict", str(PHOTOS / "skimage" / "astronaut.png"), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--precision", "fp32", "--out", str(out)]) == 0
    assert "note: fp16" not in capsys.readouterr().err
    (tmp_path / "ann.json").write_text(json.dumps(valid_subset(tmp_path)))
    assert main(["train", "--coco", str(tmp_path / "ann.json"), "--weights", str(tiny_checkpoint), "--device", "cpu", "--precision", "fp16",
                 "--epochs", "1", "--image-size", "128", "--out", str(tmp_path / "run")]) == 1
    assert "fp16 trains on a CUDA GPU only" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_two_images_of_one_name_never_share_a_coco_entry(tiny_checkpoint, tmp_path, capsys):
    """dup/a/chess_01.jpg and dup/b/chess_01.jpg both took the file's chess_01.jpg id: its results
    held both images' detections."""
    ann = json.loads((CHESS / "_annotations.coco.json").read_text())
    image = ann["images"][0]
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(CHESS / image["file_name"], tmp_path / sub / image["file_name"])
    coco = tmp_path / "ann.json"
    coco.write_text(json.dumps({"images": [image], "annotations": [], "categories": ann["categories"]}))
    out = tmp_path / "r.json"
    code = main(["predict", str(tmp_path / "a"), str(tmp_path / "b"), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--coco", str(coco), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_SKIPPED
    assert (f"skipped {tmp_path / 'b' / image['file_name']}: matches {image['file_name']} of the COCO file, as "
            f"{tmp_path / 'a' / image['file_name']} does") in err
    # an image at the entry's own path takes it, whatever the order given
    shutil.copy(CHESS / image["file_name"], tmp_path / image["file_name"])
    code = main(["predict", str(tmp_path / "a"), str(tmp_path / image["file_name"]), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--coco", str(coco), "--out", str(out)])
    assert code == EXIT_SKIPPED and f"skipped {tmp_path / 'a' / image['file_name']}: matches" in capsys.readouterr().err


def test_predict_writes_to_standard_output_and_says_when_the_coco_file_has_other_sizes(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    ann = json.loads((CHESS / "_annotations.coco.json").read_text())
    image = {**ann["images"][0]}
    image.update(width=image["width"] // 2, height=image["height"] // 2)  # a "resize to half" export's sizes
    coco = tmp_path / "ann.json"
    coco.write_text(json.dumps({"images": [image], "annotations": [], "categories": ann["categories"]}))
    shutil.copy(CHESS / image["file_name"], tmp_path / image["file_name"])
    assert main(["predict", str(tmp_path / image["file_name"]), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--coco", str(coco), "--out", "-"]) == 0
    captured = capsys.readouterr()
    assert isinstance(json.loads(captured.out), list) and "written to standard output" in captured.err
    assert f"gives 1 image another size than the image has, e.g. {image['file_name']}" in captured.err
    assert "The results are in the images' pixels: scored against that file, they would not lie on its boxes" in captured.err
    assert not (Path.cwd() / "-").exists()
    # UTF-8 whatever the terminal's encoding: an ASCII one failed on a name with an accent, after predicting
    accented = tmp_path / "café.jpg"
    shutil.copy(CHESS / image["file_name"], accented)
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    assert main(["predict", str(accented), "--weights", str(tiny_checkpoint), "--device", "cpu", "--out", "-"]) == 0
    ascii_out.flush()
    assert {r["file_name"] for r in json.loads(ascii_out.buffer.getvalue().decode("utf-8"))} == {"café.jpg"}
    print("eval's table of the class café")  # what retina eval prints of a class name goes out escaped there, after the work
    ascii_out.flush()
    assert ascii_out.buffer.getvalue().decode("utf-8").endswith("eval's table of the class caf\\xe9\n")


def test_an_output_path_ending_in_a_slash_is_a_folder_not_a_file(tiny_checkpoint, tmp_path, capsys):
    out = f"{tmp_path / 'results'}/"
    assert main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(tiny_checkpoint), "--out", out]) == 1
    assert f"--out {out} names a folder, which does not exist: give the file to write" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
    (tmp_path / "results.json").write_text("[]")
    assert main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(tiny_checkpoint), "--out", f"{tmp_path / 'results.json'}/"]) == 1
    assert f"{tmp_path / 'results.json'} is a file, not a folder: give the file to write without the slash" in capsys.readouterr().err


def test_convert_says_what_its_source_is_not_and_a_note_is_no_skip(tmp_path, capsys):
    assert main(["convert", "--from", "csv", str(tmp_path), "--to", "coco", str(tmp_path / "o.json")]) == 1
    assert f"{tmp_path}: a folder, not a RetinaNet CSV file" in capsys.readouterr().err
    assert main(["convert", "--from", "yolo", str(tmp_path / "nosuch"), "--to", "coco", str(tmp_path / "o.json"), "--images", str(tmp_path)]) == 1
    assert f"{tmp_path / 'nosuch'}: no such folder" in capsys.readouterr().err
    (tmp_path / "yolo").mkdir()
    assert main(["convert", "--from", "yolo", str(tmp_path / "yolo"), "--to", "coco", str(tmp_path / "o.json"), "--images", str(tmp_path)]) == 1
    assert "no classes.txt, and no data.yaml with the class names here or in the two folders above: write the class names into " \
        "classes.txt, one a line, the first line class 0" in capsys.readouterr().err
    shutil.copy(PHOTOS / "skimage" / "coffee.png", tmp_path / "coffee.png")
    (tmp_path / "a.csv").write_text("coffee.png,10,10,50,50,cup\n")
    # classes numbered as they come is a note: exit code 3 said "inputs skipped"
    assert main(["convert", "--from", "csv", str(tmp_path / "a.csv"), "--to", "coco", str(tmp_path / "o.json")]) == 0
    assert "no class list beside a.csv" in capsys.readouterr().err
    (tmp_path / "csv").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "csv" / "b.csv").write_text("coffee.png,10,10,50,50,cup\n")  # read from csv/, the CSV's folder
    assert main(["convert", "--from", "csv", str(tmp_path / "csv" / "b.csv"), "--to", "coco", str(tmp_path / "p.json"),
                 "--images", str(tmp_path / "images")]) == 1
    assert (f"coffee.png is {tmp_path / 'csv' / 'coffee.png'} (from {tmp_path / 'csv'}, the CSV file's folder, where its relative "
            f"paths start), not inside the image folder {tmp_path / 'images'}") in capsys.readouterr().err


def test_help_names_the_exit_codes_and_the_version(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "exit codes: 0 done; 1 an error stopped the command; 2 bad usage; 3 done" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("retina ")
    with pytest.raises(SystemExit) as info:
        main(["train", "--coco", "x.json", "--out", "run", "--seed", "99999999999999999999"])
    assert info.value.code == 2 and "--seed: 99999999999999999999 is outside [-9223372036854775808, 18446744073709551615]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--coco", "x.json", "--out", "run", "--epochs", "0"])
    assert "0 is outside [1, ∞)" in capsys.readouterr().err


def test_a_progress_bar_into_a_log_writes_lines_not_a_redraw_per_step(capsys):
    import sys

    from core.cli import _progress_bar

    bar = _progress_bar(total=1000, unit="step", desc="train")
    for _ in range(1000):
        bar.update(1)
        bar.set_postfix(cls="0.1", refresh=False)
    bar.write("epoch 1 done", file=sys.stderr)  # (as retina train writes its log lines)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) <= 3 and "epoch 1 done" in lines and lines[-1].startswith("train: 100%")
    assert all(line.strip() and "\r" not in line for line in lines)


def test_new_model_options_given_with_start_weights_are_said_to_be_ignored(tmp_path, capsys, monkeypatch):
    """--backbone resnet18 with --weights trained the weights' own mobilenet_v2, without a word."""
    from core.train import Trainer, TrainingError

    def stop_here(*_args, **_kwargs):
        raise TrainingError("stopped by the test")

    monkeypatch.setattr(Trainer, "__init__", stop_here)
    assert main(["train", "--coco", str(CHESS / "_annotations.coco.json"), "--weights", str(DEMO_MODEL), "--backbone", "resnet18",
                 "--fpn-channels", "64", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "note: --backbone, --fpn-channels ignored: the model is --weights' own, only its class head is adapted" in err
    assert "stopped by the test" in err


def test_predict_never_replaces_a_labels_file_given_as_its_output(tiny_checkpoint, tmp_path, capsys):
    labels = tmp_path / "annotations.coco.json"
    shutil.copy(CHESS / "_annotations.coco.json", labels)
    before = labels.read_bytes()
    assert main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(tiny_checkpoint), "--out", str(labels)]) == 1
    assert f"--out {labels} holds a JSON object (labels?), not results: it would be replaced" in capsys.readouterr().err
    assert labels.read_bytes() == before
    # nor do eval's metrics and error list, or convert's CSV (they wrote over it); "-" is standard output for predict alone
    coco, weights = str(CHESS / "_annotations.coco.json"), str(tiny_checkpoint)
    for command, said in ((["eval", "--coco", coco, "--weights", weights, "--json", str(labels)], "holds COCO labels, not metrics"),
                          (["eval", "--coco", coco, "--weights", weights, "--errors", str(labels)], "holds JSON (labels or results?), not a CSV"),
                          (["convert", "--from", "coco", coco, "--to", "csv", str(labels)], "holds JSON (labels or results?), not a CSV"),
                          (["eval", "--coco", coco, "--weights", weights, "--json", "-"], "only retina predict writes to standard output"),
                          (["convert", "--from", "coco", coco, "--to", "coco", "-"], "only retina predict writes to standard output")):
        assert main(command) == 1 and said in capsys.readouterr().err
        assert labels.read_bytes() == before and not Path("-").exists()
    results = tmp_path / "results.json"
    results.write_text("[]\n")  # results written before are written over, as asked
    assert main(["predict", str(PHOTOS / "skimage" / "coffee.png"), "--weights", str(tiny_checkpoint), "--device", "cpu",
                 "--out", str(results)]) == 0


def test_convert_to_yolo_or_voc_makes_absolute_file_names_relative_to_images_or_says_which_folder(tmp_path, capsys):
    data = json.loads((ROOT / "resources" / "demo" / "annotations.coco.json").read_text())
    for image in data["images"]:
        image["file_name"] = str(ROOT / "resources" / "demo" / image["file_name"])  # as a FiftyOne export names them
    source = tmp_path / "absolute.json"
    source.write_text(json.dumps(data))
    assert main(["convert", "--from", "coco", str(source), "--to", "yolo", str(tmp_path / "yolo")]) == 1
    err = capsys.readouterr().err
    assert "8 images of the labels named by a path outside the image folder" in err
    assert f"give --images, the folder that holds them, to write them relative to it (here {ROOT / 'resources' / 'demo'}?)" in err
    assert main(["convert", "--from", "coco", str(source), "--to", "voc", str(tmp_path / "voc"), "--images",
                 str(ROOT / "resources" / "demo")]) == 0
    assert "note: 8 absolute file names written relative to --images" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "voc").glob("*.xml"))[0] == "chess_01.xml"
    # COCO and CSV too (they refused the file names without naming a way, and took no --images)
    assert main(["convert", "--from", "coco", str(source), "--to", "coco", str(tmp_path / "relative.json")]) == 1
    assert "COCO names each image by its path inside the image folder, so give --images" in capsys.readouterr().err
    assert main(["convert", "--from", "coco", str(source), "--to", "coco", str(tmp_path / "relative.json"), "--images",
                 str(ROOT / "resources" / "demo")]) == 0
    assert json.loads((tmp_path / "relative.json").read_text())["images"][0]["file_name"] == "chess_01.jpg"
    # an image that is a link to a file elsewhere keeps its own name (resolved, it was refused as outside --images)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "chess_01.jpg").symlink_to(ROOT / "resources" / "demo" / "chess_01.jpg")
    data["images"] = [{**data["images"][0], "file_name": str(linked / "chess_01.jpg")}]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] == data["images"][0]["id"]]
    source.write_text(json.dumps(data))
    assert main(["convert", "--from", "coco", str(source), "--to", "yolo", str(tmp_path / "yolo"), "--images", str(linked)]) == 0
    assert (tmp_path / "yolo" / "chess_01.txt").is_file()


def test_predict_on_a_folder_without_images_names_it(tiny_checkpoint, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "--weights", str(tiny_checkpoint), "--device", "cpu", "--out", str(tmp_path / "r.json")]) == 1
    assert f"retina: no images to predict in {empty}" in capsys.readouterr().err and not (tmp_path / "r.json").exists()


def test_predict_notes_a_coco_file_with_two_categories_of_one_class_name(tiny_checkpoint, tmp_path, capsys):
    data = json.loads((CHESS / "_annotations.coco.json").read_text())
    first = data["categories"][1]
    data["categories"].append({"id": 99, "name": f" {first['name'].upper()} ", "supercategory": ""})
    coco = tmp_path / "two.json"
    coco.write_text(json.dumps(data))
    image = CHESS / data["images"][0]["file_name"]
    assert main(["predict", str(image), "--weights", str(tiny_checkpoint), "--device", "cpu", "--coco", str(coco),
                 "--out", str(tmp_path / "r.json")]) in (0, 3)
    assert f"note: {coco}: categories {first['id']} ({first['name']!r}) and 99" in capsys.readouterr().err


def test_a_reader_of_standard_output_that_goes_ends_the_command_quietly(monkeypatch, capsys):
    """predict --out - | head: "retina: [Errno 32] Broken pipe" was printed."""
    import core.cli

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(core.cli, "_predict", closed_pipe)
    assert main(["predict", "a.jpg", "--weights", "w.safetensors", "--out", "-"]) == 1
    assert "Broken pipe" not in capsys.readouterr().err
    monkeypatch.setattr(core.cli, "_convert", closed_pipe)  # another pipe than standard output: said
    assert main(["convert", "--from", "coco", "a.json", "--to", "coco", "b.json"]) == 1
    assert "retina: [Errno 32] Broken pipe" in capsys.readouterr().err
