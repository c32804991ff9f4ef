import json
import shutil

import pytest

from core.cli import EXIT_SKIPPED, main
from tests.conftest import DATASETS, PHOTOS

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
