import json
import re
import shutil
from dataclasses import replace

import pytest

from core.annotations import resized_box
from core.cancel import Cancelled, CancelToken
from core.cli import main
from core.formats import LabelFormatError
from core.formats.coco import read_coco, verify_coco_file, write_coco
from core.formats.convert import write_labels
from core.formats.voc import read_voc
from core.formats.yolo import read_yolo
from core.labels import Box, Category, ImageEntry, LabelSet
from tests.conftest import DATASETS, ROOT

CHESS_VALID = DATASETS / "chess" / "valid"
ANN = CHESS_VALID / "_annotations.coco.json"


def _content(labels: LabelSet):
    """Everything but image and annotation ids (other formats have none to keep)."""
    names = labels.category_names()
    return sorted(
        (im.file_name, im.width, im.height, tuple(sorted((names[b.category_id], b.x1, b.y1, b.x2, b.y2, b.iscrowd) for b in im.boxes)))
        for im in labels.images
    )


def test_roboflow_file_fails_the_self_check_and_our_export_passes(tmp_path):
    with pytest.raises(LabelFormatError, match="self-check failed"):
        verify_coco_file(ANN)  # annotation id 0: pycocotools reads its match as "unmatched"
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "coco", str(ANN), "--to", "coco", str(out)]) == 0
    verify_coco_file(out)
    original, exported = read_coco(ANN), read_coco(out)
    assert _content(exported) == _content(original)
    assert [(c.id, c.name) for c in exported.categories] == [(c.id, c.name) for c in original.categories]  # id 0 and unused kept
    data = json.loads(out.read_text())
    source = json.loads(ANN.read_text())
    assert [i["id"] for i in data["images"]] == [i["id"] for i in source["images"]]  # image ids kept, 0 included
    ids = [a["id"] for a in data["annotations"]]
    assert min(ids) == 1 and len(set(ids)) == len(ids)
    assert ids == [a["id"] or max(ids) for a in source["annotations"]]  # kept; only the id 0 moves, after the largest
    assert all(set(a) >= {"area", "iscrowd", "bbox"} for a in data["annotations"])
    again = tmp_path / "again.json"
    write_coco(read_coco(out), again)
    assert json.loads(again.read_text()) == data  # ids are stable from one save to the next


def test_coco_to_yolo_to_coco_round_trip(tmp_path):
    yolo, back = tmp_path / "yolo", tmp_path / "back.json"
    assert main(["convert", "--from", "coco", str(ANN), "--to", "yolo", str(yolo)]) == 0
    assert (yolo / "classes.txt").read_text().splitlines()[:2] == ["pieces", "bishop"]
    assert main(["convert", "--from", "yolo", str(yolo), "--to", "coco", str(back), "--images", str(CHESS_VALID)]) == 0
    a, b = _content(read_coco(ANN)), _content(read_coco(back))
    assert len(a) == len(b)
    for (fa, wa, ha, boxes_a), (fb, wb, hb, boxes_b) in zip(a, b):
        assert (fa, wa, ha) == (fb, wb, hb) and len(boxes_a) == len(boxes_b)
        for x, y in zip(boxes_a, boxes_b):
            assert x[0] == y[0] and all(abs(p - q) <= 1e-6 for p, q in zip(x[1:5], y[1:5]))


def test_coco_to_voc_to_coco_round_trip(tmp_path):
    voc = tmp_path / "voc"
    assert main(["convert", "--from", "coco", str(ANN), "--to", "voc", str(voc)]) == 0
    back = read_voc(voc)
    a, b = _content(read_coco(ANN)), _content(back)
    assert [(x[0], x[1], x[2]) for x in a] == [(x[0], x[1], x[2]) for x in b]
    assert [[bx[:5] for bx in x[3]] for x in a] == [[bx[:5] for bx in x[3]] for x in b]


def test_yolo_reports_orphans_and_unlabelled_images(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    source = DATASETS / "exif_orientation"
    for name in ("Landscape_6.jpg", "Portrait_5.jpg"):
        (images / name).write_bytes((source / name).read_bytes())
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "classes.txt").write_text("thing\n")
    (labels / "Landscape_6.txt").write_text("0 0.5 0.5 0.1 0.2\n")
    (labels / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (labels / "empty.txt").write_text("")  # a negative's label file, its image gone
    (labels / "SOURCE.txt").write_text("Exported from Roboflow on 2026-01-02\n")  # no label file: not reported as one
    (labels / "polygon.txt").write_text("0 0.1 0.1 0.5 0.1 0.3 0.6\n")  # a segmentation label file without its image: named
    read, report = read_yolo(labels, images)
    assert report.orphan_labels == ["empty.txt", "ghost.txt", "polygon.txt"] and report.unlabelled_images == ["Portrait_5.jpg"]
    # an image without a label file holds no labels: left out (written to COCO, training took it for "nothing here")
    assert [im.file_name for im in read.images] == ["Landscape_6.jpg"] and [im.id for im in read.images] == [1]
    landscape = next(im for im in read.images if im.file_name == "Landscape_6.jpg")
    assert (landscape.width, landscape.height) == (1800, 1200)  # EXIF-oriented size
    box = landscape.boxes[0]
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((810, 480, 990, 720))
    assert main(["convert", "--from", "yolo", str(labels), "--to", "coco", str(tmp_path / "o.json"), "--images", str(images)]) == 3
    assert [im["file_name"] for im in json.loads((tmp_path / "o.json").read_text())["images"]] == ["Landscape_6.jpg"]
    (labels / "ghost.txt").unlink()
    (labels / "empty.txt").unlink()
    (labels / "polygon.txt").unlink()
    for name in ("Portrait_6.jpg", "Landscape_5.jpg", "Portrait_7.jpg"):
        (images / name).write_bytes((source / name).read_bytes())
    (labels / "Portrait_6.txt").write_text("")  # an empty label file: a negative, kept
    capsys.readouterr()
    assert main(["convert", "--from", "yolo", str(labels), "--to", "coco", str(tmp_path / "o.json"), "--images", str(images)]) == 0
    err = capsys.readouterr().err  # the unlabelled ones in one line, not one each
    assert "left out, no label file: 3 images (Landscape_5.jpg, Portrait_5.jpg, Portrait_7.jpg); an image with no object" in err
    assert err.count("no label file") == 1
    written = json.loads((tmp_path / "o.json").read_text())["images"]
    assert [(im["file_name"], im.get("reviewed", False)) for im in written] == [("Landscape_6.jpg", False), ("Portrait_6.jpg", True)]


def test_bad_files_give_clear_messages(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LabelFormatError, match="not valid JSON"):
        read_coco(bad)
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1]}], "categories": [{"id": 1, "name": "a"}]}))
    with pytest.raises(LabelFormatError, match="missing image 7"):
        read_coco(bad)
    escaping = LabelSet([Category(1, "a")], [ImageEntry(1, "../outside.jpg", 10, 10, [Box(0, 0, 1, 1, 1)])])
    with pytest.raises(LabelFormatError, match="not a relative path"):
        write_coco(escaping, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_coco_keeps_sparse_and_64_bit_ids_crowd_regions_polygons_and_fields_it_does_not_use(tmp_path):
    rle = {"counts": [100, 20, 80], "size": [40, 50]}
    data = {
        "info": {"description": "x"}, "licenses": [], "something_new": {"a": 1},
        "categories": [{"id": 1, "name": "person", "supercategory": "human"}, {"id": 90, "name": "toothbrush"},
                       {"id": 44, "name": "bottle", "keypoints": []}],
        "images": [{"id": 908400000643, "file_name": "sub/a.jpg", "width": 50, "height": 40, "coco_url": "http://x", "flickr": 1}],
        "annotations": [
            {"id": 900100000001, "image_id": 908400000643, "category_id": 90, "bbox": [1.5, 2.25, 10, 20], "area": 200, "iscrowd": 0,
             "segmentation": [[1, 2, 3, 4, 5, 6]], "extra_field": True},
            {"id": 908400000644, "image_id": 908400000643, "category_id": 1, "bbox": [0, 0, 50, 40], "area": 120, "iscrowd": 1,
             "segmentation": rle},
        ],
    }
    src = tmp_path / "in.json"
    src.write_text(json.dumps(data))
    labels = read_coco(src)
    assert [c.id for c in labels.categories] == [1, 90, 44]
    (image,) = labels.images
    assert image.id == 908400000643 and image.file_name == "sub/a.jpg"
    box, crowd = image.boxes
    assert (box.x1, box.y1, box.x2, box.y2, box.category_id, box.iscrowd) == (1.5, 2.25, 11.5, 22.25, 90, False)
    assert crowd.iscrowd and crowd.segmentation == rle
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "coco", str(src), "--to", "coco", str(out)]) == 0  # includes the pycocotools self-check
    written = json.loads(out.read_text())
    assert [c["id"] for c in written["categories"]] == [1, 90, 44] and written["images"][0]["id"] == 908400000643
    crowd_out = next(a for a in written["annotations"] if a["iscrowd"])
    assert crowd_out["segmentation"] == rle and crowd_out["category_id"] == 1
    assert written["info"] == {"description": "x"} and written["something_new"] == {"a": 1}
    assert written["images"][0]["coco_url"] == "http://x" and written["images"][0]["flickr"] == 1
    box_out = next(a for a in written["annotations"] if not a["iscrowd"])
    assert box_out["segmentation"] == [[1, 2, 3, 4, 5, 6]] and box_out["area"] == 200 and box_out["extra_field"] is True
    # an edited box drops the polygon and area that would contradict it, and keeps the rest
    moved = resized_box(box, box.x1 + 1, box.y1, box.x2 + 1, box.y2)
    assert moved.segmentation is None and moved.extra == {"extra_field": True}
    assert resized_box(box, box.x2, box.y2, box.x1, box.y1) is box  # the same corners: nothing to drop
    assert resized_box(crowd, 1, 1, 20, 20).segmentation == rle  # a crowd region keeps its mask
    image.boxes[0] = moved
    write_coco(labels, out)
    edited = next(a for a in json.loads(out.read_text())["annotations"] if not a["iscrowd"])
    assert edited["segmentation"] == [] and edited["area"] == 200 and edited["extra_field"] is True  # area: 10 x 20 again


def test_a_failing_coco_export_names_the_flat_boxes_and_leaves_the_old_file(tmp_path):
    labels = LabelSet([Category(1, "thing")], [ImageEntry(1, "a.jpg", 100, 100, [Box(10, 10, 10, 40, 1), Box(5, 5, 50, 50, 1)])])
    target = tmp_path / "out.json"
    target.write_text("the old export")
    from core.formats.convert import write_labels

    with pytest.raises(LabelFormatError, match=r"not written.*1 box without width or height.*'a.jpg': bbox \[10, 10, 0, 30\]"):
        write_labels(labels, "coco", target)
    assert target.read_text() == "the old export" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_the_coco_self_check_runs_apart_says_why_it_could_not_run_and_stops_when_cancelled(tmp_path):
    """In a child process: pycocotools held the GIL for 0.4 s at a time on 100,000 boxes, and the
    window stalled while an export ran in its thread."""
    import time

    from core.cancel import Cancelled, CancelToken
    from core.formats.coco import verify_coco_file_apart

    verify_coco_file_apart(ROOT / "resources" / "demo" / "annotations.coco.json")
    with pytest.raises(LabelFormatError, match="self-check failed"):
        verify_coco_file_apart(ANN, name="roboflow.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(LabelFormatError, match=r"^wanted.json: the self-check with pycocotools could not run \(json.decoder.JSONDecodeError"):
        verify_coco_file_apart(broken, name="wanted.json")
    cancel = CancelToken()
    cancel.cancel()
    start = time.perf_counter()
    with pytest.raises(Cancelled):
        verify_coco_file_apart(ANN, cancel=cancel)
    assert time.perf_counter() - start < 1.0  # (the child is killed at the first look, 0.1 s in)


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_images_that_would_share_a_label_file_are_refused_before_anything_is_written(tmp_path, fmt):
    from core.formats.convert import write_labels

    labels = LabelSet([Category(1, "thing")], [ImageEntry(1, "a.jpg", 100, 100, [Box(1, 1, 9, 9, 1)]),
                                               ImageEntry(2, "a.png", 100, 100, [Box(2, 2, 8, 8, 1)])])
    with pytest.raises(LabelFormatError, match=r"a.jpg and a.png would both be written to a\.(txt|xml)"):
        write_labels(labels, fmt, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # also when one of them gets no label file (no boxes): read back, a label file two images share is given to neither
    unlabelled = LabelSet(labels.categories, [labels.images[0], ImageEntry(2, "a.png", 100, 100, [])])
    with pytest.raises(LabelFormatError, match=r"a.jpg and a.png would both be written to"):
        write_labels(unlabelled, fmt, tmp_path / "out")


def test_an_image_named_classes_is_refused_by_the_yolo_export_rather_than_overwriting_the_class_list(tmp_path):
    from core.formats.convert import write_labels

    labels = LabelSet([Category(1, "thing")], [ImageEntry(1, "classes.jpg", 100, 100, [Box(1, 1, 9, 9, 1)])])
    with pytest.raises(LabelFormatError, match="classes.jpg: its labels would be written over classes.txt"):
        write_labels(labels, "yolo", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    write_labels(LabelSet(labels.categories, [replace(labels.images[0], file_name="sub/classes.jpg")]), "yolo", tmp_path / "out")
    assert (tmp_path / "out" / "classes.txt").read_text() == "thing\n"  # in a subfolder it is any other name


def test_reading_yolo_gives_a_shared_label_file_to_no_image(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for name in ("a.jpg", "a.png"):
        (images / name).write_bytes((DATASETS / "exif_orientation" / "Landscape_1.jpg").read_bytes())
    (labels / "classes.txt").write_text("thing\n")
    (labels / "a.txt").write_text("0 0.5 0.5 0.1 0.2\n")
    read, report = read_yolo(labels, images)
    assert report.ambiguous_images == ["a.jpg", "a.png"] and not report.orphan_labels
    assert all(not im.boxes for im in read.images)


@pytest.mark.parametrize("content, message", [
    ("[]", "the top level is a list"),
    ('{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "a.jpg"}], "annotations": [], "categories": []}',
     "file_name 'a.jpg' appears twice \\(image ids 1 and 2\\)"),
    ('{"images": [], "annotations": [], "categories": [{"id": 3, "name": "a"}, {"id": 3, "name": "b"}]}', "category id 3 appears twice"),
    ('{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "a"}], '
     '"annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 2, NaN, 4]}]}', "annotation 5 has bbox .*not finite"),
    ('{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "a"}], '
     '"annotations": [{"id": 6, "image_id": 1, "category_id": 1, "bbox": [10, 2, -5, 4]}]}', "annotation 6 has bbox .*negative width"),
    ('{"images": [{"id": 1, "file_name": null}], "annotations": [], "categories": []}', "image id 1 has file_name None, not a file name"),
    ('{"images": [], "annotations": [], "categories": [{"id": 1, "name": null}]}', "category id 1 has name None, not a class name"),
    ('{"images": [], "annotations": [], "categories": [{"id": 2, "name": " "}]}', "category id 2 has name ' ', not a class name"),
    ('{"images":' + "[" * 100_000 + "]" * 100_000 + "}", "its JSON is nested too deeply to read"),  # (a RecursionError traceback)
    # the wrong kind of JSON where a list or an entry should be ("TypeError: string indices must be integers", "KeyError: 'file_name'")
    ('{"categories": []}', 'not a COCO detection file \\(it has no "images" list\\)$'),
    ('{"images": {"1": "a.jpg"}}', 'its "images" is an object, not a list\\)$'),
    ('{"images": [], "annotations": {}}', 'its "annotations" is an object, not a list\\)$'),
    ('{"images": ["a.jpg"]}', 'an image in "images" is text, not an object\\)$'),
    ('{"images": [], "categories": [{"id": 1}]}', 'a category in "categories" has no "name": {"id": 1}\\)$'),
    ('{"images": [{"id": 4}]}', 'an image in "images" has no "file_name": {"id": 4}\\)$'),
    # json.dumps of a name os.listdir decoded from Latin-1: read, every save of the labels failed
    ('{"images": [{"id": 1, "file_name": "caf\\udce9.jpg"}], "annotations": [], "categories": []}',
     r"holds text that is not valid Unicode \('caf\\udce9.jpg', as a script writes a file name in another encoding\)"),
])
def test_malformed_coco_files_get_a_message(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LabelFormatError, match=message):
        read_coco(path)


def test_a_byte_order_mark_is_no_error(tmp_path):
    """Windows tools write one; it was refused with Python's own "Unexpected UTF-8 BOM"."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}).encode())
    assert read_coco(path).images[0].file_name == "a.jpg"


def test_windows_file_names_read_as_posix_paths(tmp_path):
    path = tmp_path / "win.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "sub\\a.jpg", "width": 4, "height": 4}], "annotations": [], "categories": []}))
    assert read_coco(path).images[0].file_name == "sub/a.jpg"


def test_file_names_with_colons_are_relative_paths_and_drive_letters_are_not():
    from core.formats.coco import inside_folder

    assert inside_folder("Screenshot 12:00:00.png") and inside_folder("sub/a:b.png")
    assert not inside_folder("C:/data/a.png") and not inside_folder("c:\\data\\a.png") and not inside_folder("/data/a.png")
    assert not inside_folder("../a.png")


def test_file_names_are_read_as_the_folder_scan_spells_them(tmp_path):
    path = tmp_path / "dot.json"
    names = ["./a.jpg", "sub/./b.jpg", "sub/x/../c.jpg", "d.jpg"]
    path.write_text(json.dumps({"images": [{"id": i, "file_name": n, "width": 4, "height": 4} for i, n in enumerate(names)],
                                "annotations": [], "categories": []}))
    assert [im.file_name for im in read_coco(path).images] == ["a.jpg", "sub/b.jpg", "sub/c.jpg", "d.jpg"]
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "./a.jpg"}, {"id": 2, "file_name": "a.jpg"}], "annotations": [],
                                "categories": []}))
    with pytest.raises(LabelFormatError, match="'a.jpg' appears twice"):  # one image: say so instead of writing a file that can't be read
        read_coco(path)


def _yolo_folder(tmp_path):
    """An image folder with one photo, a.jpg, and an empty YOLO label folder beside it."""
    images, labels = tmp_path / "images", tmp_path / "yolo"
    images.mkdir()
    labels.mkdir()
    (images / "a.jpg").write_bytes((DATASETS / "exif_orientation" / "Landscape_1.jpg").read_bytes())
    return images, labels


def _voc(folder, xmin, xmax, bndbox=True):
    folder.mkdir(exist_ok=True)
    box = f"<bndbox><xmin>{xmin}</xmin><ymin>10</ymin><xmax>{xmax}</xmax><ymax>100</ymax></bndbox>" if bndbox else ""
    (folder / "a.xml").write_text(f"<annotation><filename>a.jpg</filename><size><width>640</width><height>480</height></size>"
                                  f"<object><name>rook</name>{box}</object></annotation>")


def test_reading_refuses_boxes_with_their_corners_swapped_or_missing(tmp_path):
    _voc(tmp_path / "swapped", 200, 100)
    with pytest.raises(LabelFormatError, match="object 1 has xmin 200 > xmax 100"):
        read_voc(tmp_path / "swapped")
    _voc(tmp_path / "none", 1, 2, bndbox=False)
    with pytest.raises(LabelFormatError, match="object 1 has no bndbox"):
        read_voc(tmp_path / "none")
    with pytest.raises(LabelFormatError, match="no such folder"):
        read_voc(tmp_path / "typo")
    with pytest.raises(LabelFormatError, match="a file, not a folder"):
        read_voc(tmp_path / "none" / "a.xml")
    images, labels = _yolo_folder(tmp_path)
    (labels / "classes.txt").write_text("rook\n")
    (labels / "a.txt").write_text("0 0.5 0.5 -0.1 0.2\n")
    with pytest.raises(LabelFormatError, match="a.txt:1: a negative width or height"):
        read_yolo(labels, images)


def test_convert_reads_missing_image_sizes_from_the_images_or_refuses(tmp_path, capsys):
    source = tmp_path / "nosize.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "Landscape_1.jpg"}], "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50]}]}))
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "coco", str(source), "--to", "coco", str(out)]) == 1
    assert "has no image size in the labels: give the image folder (--images DIR)" in capsys.readouterr().err and not out.exists()
    assert main(["convert", "--from", "coco", str(source), "--to", "coco", str(out), "--images", str(DATASETS / "exif_orientation")]) == 0
    image = json.loads(out.read_text())["images"][0]
    assert (image["width"], image["height"]) == (1800, 1200)


def test_convert_names_boxes_outside_their_image_and_keeps_old_label_folders_apart(tmp_path, capsys):
    source = tmp_path / "out_of_image.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
                                  "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [90, 95, 20, 20]}]}))
    voc = tmp_path / "voc"
    assert main(["convert", "--from", "coco", str(source), "--to", "voc", str(voc)]) == 3
    assert "1 box reaches outside its image (the first in a.jpg)" in capsys.readouterr().err
    assert main(["convert", "--from", "coco", str(source), "--to", "voc", str(voc)]) == 1  # a folder with label files already
    assert "already holds VOC label files (a.xml): write into a folder without any" in capsys.readouterr().err
    yolo = tmp_path / "yolo"
    yolo.mkdir()
    (yolo / "README.roboflow.txt").write_text("Exported from Roboflow\n")  # no label file: the folder takes new labels
    assert main(["convert", "--from", "coco", str(source), "--to", "yolo", str(yolo)]) == 3  # (its box is outside the image)
    assert (yolo / "classes.txt").is_file()
    assert main(["convert", "--from", "coco", str(source), "--to", "yolo", str(yolo)]) == 1
    assert "already holds YOLO label files (classes.txt)" in capsys.readouterr().err


def test_convert_never_writes_over_a_file_of_its_source_folder(tmp_path, capsys):
    """A COCO target named like the YOLO source's classes.txt replaced it (exit code 0), and the
    source could no longer be read."""
    yolo = tmp_path / "yolo"
    assert main(["convert", "--from", "coco", str(ANN), "--to", "yolo", str(yolo)]) == 0
    classes = (yolo / "classes.txt").read_text()
    assert main(["convert", "--from", "yolo", str(yolo), "--to", "coco", str(yolo / "classes.txt"), "--images", str(CHESS_VALID)]) == 1
    assert "is a file of the source folder" in capsys.readouterr().err and (yolo / "classes.txt").read_text() == classes
    assert main(["convert", "--from", "yolo", str(yolo), "--to", "coco", str(yolo / "labels.json"), "--images", str(CHESS_VALID)]) == 0


def test_yolo_boxes_only_and_class_names_a_line_each(tmp_path):
    images, labels = _yolo_folder(tmp_path)
    (labels / "classes.txt").write_text("rook\n")
    (labels / "a.txt").write_text("0 0.1 0.1 0.3 0.1 0.3 0.4 0.1 0.4\n")  # a segmentation polygon
    with pytest.raises(LabelFormatError, match=r"a.txt:1: expected 'class cx cy w h' \(5 numbers\), got 9"):
        read_yolo(labels, images)
    from core.formats.convert import write_labels

    for name in ("black\nqueen", "black\u2028queen", " "):  # every line break splitlines() reads, and no name at all
        two_lines = LabelSet([Category(1, name), Category(2, "rook")], [ImageEntry(1, "a.jpg", 100, 100, [Box(1, 1, 9, 9, 2)])])
        with pytest.raises(LabelFormatError, match="cannot be a line of classes.txt"):
            write_labels(two_lines, "yolo", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_ids_must_be_integers(tmp_path):
    for bad in (100.5, True):
        path = tmp_path / "ids.json"
        path.write_text(json.dumps({"images": [{"id": bad, "file_name": "a.jpg", "width": 9, "height": 9}], "annotations": [], "categories": []}))
        with pytest.raises(LabelFormatError, match="image id .* is not an integer id"):
            read_coco(path)


def test_malformed_annotations_are_named_and_string_flags_read_as_written(tmp_path):
    """"iscrowd": "0" is a string, so truthy: every box became an ignored crowd region, and eval
    scored nothing without a word. A null, missing or 5-number bbox was reported by a Python error
    that named no annotation."""
    def coco(**ann):
        path = tmp_path / "a.json"
        path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 90, "height": 90}],
                                    "categories": [{"id": 1, "name": "rook"}],
                                    "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40], **ann}]}))
        return path

    for flag, crowd in (("0", False), ("1", True), (0, False), (True, True)):
        assert read_coco(coco(iscrowd=flag)).images[0].boxes[0].iscrowd is crowd
    for ann, message in ((dict(iscrowd="no"), "annotation 7 has iscrowd 'no', not 0 or 1"),
                         (dict(bbox=None), r"annotation 7 has bbox None, not \[x, y, width, height\]"),
                         (dict(bbox=[1, 2, 3, 4, 5]), r"annotation 7 has bbox \[1, 2, 3, 4, 5\], not \[x, y, width, height\]"),
                         (dict(bbox=[1, "a", 3, 4]), "annotation 7 could not convert string to float"),
                         (dict(category_id=None), "annotation 7 category_id None is not an integer id")):
        with pytest.raises(LabelFormatError, match=message):
            read_coco(coco(**ann))
    path = coco()
    data = json.loads(path.read_text())
    del data["annotations"][0]["bbox"]
    path.write_text(json.dumps(data))
    with pytest.raises(LabelFormatError, match="annotation 7 has no 'bbox'"):
        read_coco(path)


def test_exports_write_clean_numbers_coco_to_a_micro_pixel_voc_in_whole_pixels(tmp_path):
    """A width from corners stored to 1/100 px came out as 110.21000000000004 in COCO; VOC corners
    were fractional ("843.55"), which VOC readers that parse integers refuse."""
    from core.formats.convert import write_labels

    labels = LabelSet([Category(1, "rook")], [ImageEntry(1, "a.jpg", 900, 600, [Box(10.1, 20.55, 120.31, 80.0, 1), Box(5.6, 5.6, 5.7, 5.7, 1)])])
    write_labels(labels, "coco", tmp_path / "a.json")
    text = (tmp_path / "a.json").read_text()
    assert "110.21," in text and "0000000" not in text
    write_labels(labels, "voc", tmp_path / "voc")
    xml = (tmp_path / "voc" / "a.xml").read_text()
    assert "<xmin>11</xmin>" in xml and "<xmax>120</xmax>" in xml and "<ymin>22</ymin>" in xml and "<ymax>80</ymax>" in xml
    assert "<xmin>7</xmin>" in xml and "<xmax>7</xmax>" in xml  # under a pixel: one pixel, never xmin > xmax
    edge = LabelSet([Category(1, "rook")], [ImageEntry(1, "b.jpg", 900, 600, [Box(2.5, 3.5, 899.8, 599.9, 1), Box(899.7, 10, 899.9, 20, 1)])])
    write_labels(edge, "voc", tmp_path / "voc2")
    xml = (tmp_path / "voc2" / "b.xml").read_text()
    assert "<xmin>4</xmin>" in xml and "<ymin>5</ymin>" in xml  # halves round up (2.5 -> 3, 3.5 -> 4), not to even
    assert xml.count("<xmax>900</xmax>") == 2 and "<xmin>900</xmin>" in xml  # never past the image, still a pixel wide
    back = read_voc(tmp_path / "voc")
    assert [(b.x1, b.y1, b.x2, b.y2) for b in back.images[0].boxes] == [(10, 21, 120, 80), (6, 6, 7, 7)]


def test_non_finite_coordinates_are_refused_where_they_are_read(tmp_path):
    """float() reads "nan" and "inf": such boxes went into COCO files as NaN (not JSON: the labels
    file written by an import could not be read back, and the folder opened read-only)."""
    images, labels = _yolo_folder(tmp_path)
    (labels / "classes.txt").write_text("rook\n")
    for value in ("nan", "inf"):
        (labels / "a.txt").write_text(f"0 0.5 0.5 0.1 0.1\n0 {value} 0.5 0.1 0.1\n")
        with pytest.raises(LabelFormatError, match="a.txt:2: a coordinate is not a finite number"):
            read_yolo(labels, images)
        _voc(tmp_path / f"voc-{value}", value, 100)
        with pytest.raises(LabelFormatError, match="object 1 has a coordinate that is not a finite number"):
            read_voc(tmp_path / f"voc-{value}")


def test_byte_order_marks_of_yolo_files_are_no_part_of_a_class_name(tmp_path):
    images, labels = _yolo_folder(tmp_path)
    (labels / "classes.txt").write_bytes("\ufeffrook\nknight\n".encode())  # as Windows Notepad saves it
    (labels / "a.txt").write_bytes("\ufeff1 0.5 0.5 0.1 0.1\n".encode())
    read, _ = read_yolo(labels, images)
    assert [c.name for c in read.categories] == ["rook", "knight"] and read.images[0].boxes[0].category_id == 1
    (labels / "classes.txt").write_bytes("tour\ncavali\xe9r\n".encode("latin-1"))  # (the message named no file)
    with pytest.raises(LabelFormatError, match=re.escape(f"{labels / 'classes.txt'}: not UTF-8 text")):
        read_yolo(labels, images)


def test_yolo_export_clips_boxes_to_their_image(tmp_path, capsys):
    """A value over 1 makes YOLO trainers drop the whole image as corrupt."""
    source = tmp_path / "over.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}], "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [50.4, -0.6, 50.5, 50.9]},
                                                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [90, 10, 20, 20]}]}))
    assert main(["convert", "--from", "coco", str(source), "--to", "yolo", str(tmp_path / "yolo")]) == 3
    assert "1 box reaches outside its image (the first in a.jpg): clipped to the image, any wholly outside left out" in capsys.readouterr().err
    text = (tmp_path / "yolo" / "a.txt").read_text()
    assert text.splitlines()[1] == "0 0.95 0.4 0.1 0.4"  # no float noise (0.09999999999999998)
    lines = [[float(v) for v in line.split()] for line in text.splitlines()]
    assert lines[0] == pytest.approx([0, 0.752, 0.5, 0.496, 1.0]) and lines[1] == pytest.approx([0, 0.95, 0.4, 0.1, 0.4])
    assert all(0 <= v <= 1 for line in lines for v in line[1:])


def test_a_coco_target_names_flat_boxes_once_as_the_reason_nothing_was_written(tmp_path, capsys):
    source = tmp_path / "flat.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}], "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 5]}]}))
    assert main(["convert", "--from", "coco", str(source), "--to", "coco", str(tmp_path / "out.json")]) == 1
    err = capsys.readouterr().err
    assert "written as they are" not in err and "(not written): self-check failed" in err and "1 box without width or height" in err


def test_voc_files_that_coco_could_not_hold_are_refused_and_voc_fields_are_kept(tmp_path):
    folder = tmp_path / "voc"
    _voc(folder, 1, 100)
    (folder / "b.xml").write_text((folder / "a.xml").read_text())  # a second file labelling a.jpg
    with pytest.raises(LabelFormatError, match="a.xml and .*b.xml both label a.jpg"):
        read_voc(folder)
    (folder / "b.xml").unlink()
    (folder / "a.xml").write_text((folder / "a.xml").read_text().replace("<name>rook</name>", "<name> </name>"))
    with pytest.raises(LabelFormatError, match="object 1 has an empty <name>"):
        read_voc(folder)
    # truncated and pose go through COCO (as fields of the annotation) and back into VOC
    (folder / "a.xml").write_text((folder / "a.xml").read_text().replace("<name> </name>", "<name>rook</name><pose>Left</pose><truncated>1</truncated>"))
    assert main(["convert", "--from", "voc", str(folder), "--to", "coco", str(tmp_path / "a.json")]) == 0
    assert main(["convert", "--from", "coco", str(tmp_path / "a.json"), "--to", "voc", str(tmp_path / "back")]) == 0
    text = (tmp_path / "back" / "a.xml").read_text()
    assert "<pose>Left</pose>" in text and "<truncated>1</truncated>" in text
    from core.formats.voc import write_voc

    control = LabelSet([Category(1, "rook\x0b")], [ImageEntry(1, "a.jpg", 100, 100, [Box(1, 1, 9, 9, 1)])])
    with pytest.raises(LabelFormatError, match="control character"):
        write_voc(control, tmp_path / "control")
    assert not (tmp_path / "control").exists()


def test_a_voc_object_without_a_corner_is_named_and_a_full_image_path_is_the_image_beside_the_file(tmp_path):
    """float() of a missing <ymax> said "not 'NoneType'", naming neither object nor field; an absolute
    <filename> (/data/a.jpg, C:\\data\\a.jpg, as some tools write it) was refused naming no file."""
    folder = tmp_path / "voc"
    _voc(folder, 1, 100)
    xml = (folder / "a.xml").read_text()
    (folder / "a.xml").write_text(re.sub(r"<ymax>[^<]*</ymax>", "", xml))
    with pytest.raises(LabelFormatError, match=r"a.xml: object 1 has no <ymax>$"):
        read_voc(folder)
    for written in ("/data/imgs/a.jpg", "C:\\data\\a.jpg", " a.jpg "):
        (folder / "a.xml").write_text(xml.replace("<filename>a.jpg</filename>", f"<filename>{written}</filename>"))
        assert [im.file_name for im in read_voc(folder).images] == ["a.jpg"]


def test_a_voc_folder_passes_over_other_xml_files_and_takes_a_missing_size_from_the_image(tmp_path, capsys):
    """A camera's settings.xml beside the labels refused the whole folder; a file without <size>
    was refused though the image says it."""
    from PIL import Image

    folder = tmp_path / "voc"
    _voc(folder, 1, 100)
    (folder / "a.xml").write_text(re.sub(r"<size>.*</size>", "", (folder / "a.xml").read_text()))
    (folder / "camera.xml").write_text("<config><iso>100</iso></config>")
    others: list[str] = []
    (image,) = read_voc(folder, others).images
    assert (image.width, image.height) == (0, 0) and others == ["camera.xml"]
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "voc", str(folder), "--to", "coco", str(out)]) == 1
    assert "a.jpg has no image size in the labels, and " in (err := capsys.readouterr().err) and "(the image folder is given by " \
           "--images DIR)" in err
    Image.new("RGB", (320, 240)).save(folder / "a.jpg")  # beside the file, as LabelImg keeps them: read there without --images
    assert main(["convert", "--from", "voc", str(folder), "--to", "coco", str(out)]) == 3  # (camera.xml is said)
    assert json.loads(out.read_text())["images"][0]["width"] == 320
    (folder / "a.jpg").unlink()
    Image.new("RGB", (640, 480)).save(tmp_path / "a.jpg")
    assert main(["convert", "--from", "voc", str(folder), "--to", "coco", str(out), "--images", str(tmp_path)]) == 3
    assert "1 XML file that is not a VOC annotation passed over (camera.xml)" in capsys.readouterr().err
    assert json.loads(out.read_text())["images"][0]["width"] == 640
    (folder / "a.xml").unlink()
    with pytest.raises(LabelFormatError, match=r"no VOC annotations \(1 other .xml file\)"):
        read_voc(folder)


def test_convert_says_which_images_of_the_labels_are_not_under_images(tmp_path, capsys):
    """A VOC2012 folder given whole with --images at its root: the file names written were
    Annotations/x.jpg, which lead nowhere, and the exit code said all went well."""
    from PIL import Image

    root = tmp_path / "VOC2012"
    (root / "JPEGImages").mkdir(parents=True)
    _voc(root / "Annotations", 1, 100)
    Image.new("RGB", (640, 480)).save(root / "JPEGImages" / "a.jpg")
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "voc", str(root), "--to", "coco", str(out), "--images", str(root)]) == 3
    assert ("1 image of the labels not found under --images " + str(root) + " (the first: Annotations/a.jpg); for a VOC2012 folder, give "
            "its Annotations folder as the source and its JPEGImages folder as --images: written as they are") in capsys.readouterr().err
    assert main(["convert", "--from", "voc", str(root / "Annotations"), "--to", "coco", str(out), "--images", str(root / "JPEGImages")]) == 0
    assert "not found under --images" not in capsys.readouterr().err


def test_yolo_labels_in_ultralytics_labels_folder_find_their_images_beside_it(tmp_path):
    """images/train/a.jpg with labels/train/a.txt (the layout YOLOv5 and YOLOv8 train from): every
    label file was "without image", and 0 boxes were read."""
    from PIL import Image

    root = tmp_path / "ds"
    for sub in ("images/train", "images/val", "labels/train"):
        (root / sub).mkdir(parents=True)
    for name in ("images/train/a.jpg", "images/train/b.jpg", "images/val/a.jpg"):
        Image.new("RGB", (200, 100)).save(root / name)
    (root / "labels/train/classes.txt").write_text("piece\n")
    (root / "labels/train/a.txt").write_text("0.0 0.5 0.5 0.2 0.2\n")  # (numpy's savetxt writes the class so)
    (root / "labels/train/b.txt").write_text("")
    labels, report = read_yolo(root / "labels/train", root)
    assert [(im.file_name, [(b.x1, b.y1, b.x2, b.y2) for b in im.boxes], im.reviewed) for im in labels.images] == [
        ("images/train/a.jpg", [(80, 40, 120, 60)], False), ("images/train/b.jpg", [], True)]
    assert report.orphan_labels == [] and report.unlabelled_images == ["images/val/a.jpg"]
    (root / "labels/train/c.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # no image of that name: still said
    (root / "images/val/b.jpg").write_bytes((root / "images/train/b.jpg").read_bytes())  # labels/train/b.txt is images/train/b.jpg's
    labels, report = read_yolo(root / "labels/train", root)
    assert report.orphan_labels == ["c.txt"] and [im.file_name for im in labels.images] == ["images/train/a.jpg", "images/train/b.jpg"]
    from core.formats.yolo import holds_yolo_lines

    assert holds_yolo_lines(root / "labels/train/a.txt", 1)  # (a file written so was no label file to the export's checks)
    Image.new("RGB", (200, 100)).save(root / "images/train/b.png")  # b.jpg or b.png: labels/train/b.txt is neither's
    labels, report = read_yolo(root / "labels/train", root)
    assert report.orphan_labels == ["b.txt", "c.txt"] and "images/train/b.png" in report.unlabelled_images
    (root / "images/train/b.png").unlink()
    # another tool's folder: a label file's path ends one image's path alone, or it is said
    (root / "anns/train").mkdir(parents=True)
    (root / "anns/classes.txt").write_text("piece\n")
    (root / "anns/train/a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "anns/b.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # images/train/b.jpg or images/val/b.jpg
    labels, report = read_yolo(root / "anns", root / "images")
    assert [im.file_name for im in labels.images] == ["train/a.jpg"] and report.orphan_labels == ["b.txt"]
    (root / "anns/train/a.txt").write_text("0.5 0.5 0.5 0.2 0.2\n")
    with pytest.raises(LabelFormatError, match=r"a.txt:1: expected 'class cx cy w h' \(a whole class number, then 4 numbers\)"):
        read_yolo(root / "anns", root / "images")


def test_yolo_class_names_come_from_the_data_yaml_of_ultralytics_and_roboflow_datasets(tmp_path, capsys):
    """An Ultralytics or Roboflow YOLO dataset names its classes in data.yaml, not classes.txt:
    it was refused until the user wrote a classes.txt by hand."""
    from PIL import Image

    # Ultralytics: names by class number, data.yaml two folders above labels/train
    root = tmp_path / "ultra"
    for sub in ("images/train", "labels/train"):
        (root / sub).mkdir(parents=True)
    Image.new("RGB", (200, 100)).save(root / "images/train/a.jpg")
    (root / "labels/train/a.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.25 0.5 0.1 0.2\n")
    (root / "data.yaml").write_text("path: ../datasets/ultra\ntrain: images/train\nval: images/train\nnames:\n  0: person\n  2: car\n")
    (root / "hyp.yaml").write_text("lr0: 0.01\n")  # another YAML file: no names, passed over
    labels, _ = read_yolo(root / "labels/train", root)
    names = labels.category_names()
    assert names == {0: "person", 2: "car"}
    assert [(names[b.category_id], b.x1, b.x2) for b in labels.images[0].boxes] == [("person", 80, 120), ("car", 40, 60)]
    (root / "labels/train/a.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    with pytest.raises(LabelFormatError, match=r"a.txt:1: class 1 is not in .*data.yaml \(2 classes\)"):
        read_yolo(root / "labels/train", root)
    # Roboflow's YOLOv8 export: a list, data.yaml above train/labels, through retina convert
    rf = tmp_path / "rf"
    for sub in ("train/images", "train/labels"):
        (rf / sub).mkdir(parents=True)
    Image.new("RGB", (200, 100)).save(rf / "train/images/b.jpg")
    (rf / "train/labels/b.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (rf / "data.yaml").write_text("train: ../train/images\nnc: 2\nnames: ['black-king', 'white-king']\n")
    out = tmp_path / "rf.json"
    assert main(["convert", "--from", "yolo", str(rf / "train/labels"), "--images", str(rf / "train/images"), "--to", "coco", str(out)]) == 0
    written = json.loads(out.read_text())
    assert [c["name"] for c in written["categories"]] == ["black-king", "white-king"]
    assert [a["category_id"] for a in written["annotations"]] == [1]
    # two YAML files naming other classes: which is meant is unknowable; classes.txt beside the labels comes first
    (rf / "other.yml").write_text("names: [a, b]\n")
    with pytest.raises(LabelFormatError, match=r"data.yaml and other.yml name other classes"):
        read_yolo(rf / "train/labels", rf / "train/images")
    (rf / "train/labels/classes.txt").write_text("x\ny\n")
    assert read_yolo(rf / "train/labels", rf / "train/images")[0].category_names() == {0: "x", 1: "y"}
    (rf / "train/labels/classes.txt").unlink()
    (rf / "other.yml").write_text("names: {0: a, -1: b}\n")  # beside data.yaml: passed over; alone: said
    assert read_yolo(rf / "train/labels", rf / "train/images")[0].category_names() == {0: "black-king", 1: "white-king"}
    (rf / "data.yaml").unlink()
    with pytest.raises(LabelFormatError, match=r"other.yml: names: -1 is no class number"):
        read_yolo(rf / "train/labels", rf / "train/images")


def test_empty_voc_and_yolo_label_files_are_negatives_and_survive_a_round_trip(tmp_path):
    """An empty label file says "nothing here"; read as an unlabelled image, a COCO -> YOLO -> COCO
    round trip dropped the negatives (and an image with no label file is still no negative)."""
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"):
        (images / name).write_bytes((DATASETS / "exif_orientation" / "Landscape_1.jpg").read_bytes())
    # a labelled image, a reviewed negative, one listed without boxes (never reviewed), one with a crowd region
    # only, and one not listed at all: only the negative may come back as one
    labels = LabelSet([Category(1, "rook")], [ImageEntry(1, "a.jpg", 1800, 1200, [Box(1, 1, 9, 9, 1)]),
                                              ImageEntry(2, "b.jpg", 1800, 1200, [], reviewed=True),
                                              ImageEntry(3, "c.jpg", 1800, 1200, []),
                                              ImageEntry(4, "d.jpg", 1800, 1200, [Box(0, 0, 900, 600, 1, iscrowd=True)])])
    write_coco(labels, tmp_path / "src.json")
    for fmt, folder in (("yolo", tmp_path / "yolo"), ("voc", tmp_path / "voc")):
        assert main(["convert", "--from", "coco", str(tmp_path / "src.json"), "--to", fmt, str(folder)]) == 0
        written = sorted(p.stem for p in folder.iterdir() if p.name != "classes.txt")
        assert written == (["a", "b"] if fmt == "yolo" else ["a", "b", "d"])  # VOC holds a crowd region (difficult), YOLO does not
        assert main(["convert", "--from", fmt, str(folder), "--to", "coco", str(tmp_path / f"{fmt}.json"), "--images", str(images)]) in (0, 3)
        back = {im.file_name: im for im in read_coco(tmp_path / f"{fmt}.json").images}
        assert back["b.jpg"].reviewed and not back["b.jpg"].boxes, fmt
        assert not any(back[name].reviewed for name in ("a.jpg", "c.jpg", "d.jpg", "e.jpg") if name in back), fmt


def test_an_annotation_id_written_as_a_whole_float_is_kept(tmp_path):
    source = tmp_path / "float_ids.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}], "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 5.0, "image_id": 1, "category_id": 1, "bbox": [10, 10, 5, 5]},
                                                  {"id": 7, "image_id": 1, "category_id": 1, "bbox": [20, 10, 5, 5]}]}))
    write_coco(read_coco(source), tmp_path / "out.json")
    assert [a["id"] for a in json.loads((tmp_path / "out.json").read_text())["annotations"]] == [5, 7]


class _CancelAfter(CancelToken):
    """Cancelled at its ``n``-th check: a run stopped half-way through the images."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.checks, self.n = 0, n

    def raise_if_cancelled(self) -> None:
        self.checks += 1
        if self.checks >= self.n:
            self.cancel()
        super().raise_if_cancelled()


@pytest.mark.parametrize("fmt", ["voc", "yolo"])
def test_a_voc_or_yolo_write_stopped_half_way_leaves_the_folder_as_it_was(tmp_path, fmt):
    """It left the files written so far (4,826 of 30,000 after a Ctrl+C), and writing again into
    that folder was refused: it held label files already."""
    labels = read_coco(ANN)
    target = tmp_path / "out"
    target.mkdir()
    (target / "README.txt").write_text("mine")
    with pytest.raises(Cancelled):
        write_labels(labels, fmt, target, _CancelAfter(20))
    assert [p.name for p in target.iterdir()] == ["README.txt"]
    with pytest.raises(Cancelled):
        write_labels(labels, fmt, tmp_path / "new", _CancelAfter(20))
    assert not (tmp_path / "new").exists()  # a folder it made goes too
    write_labels(labels, fmt, target)
    assert len(list(target.glob("*.xml" if fmt == "voc" else "*.txt"))) == (58 if fmt == "voc" else 58 + 2)  # YOLO: + classes.txt, README.txt
    assert not list(target.glob(".retina-writing-*"))


@pytest.mark.parametrize("image, bbox, message", [
    ({"width": 1e400}, [1, 1, 5, 5], "image id 1 has width inf is no image size"),  # valid JSON, read as infinity: int() raised OverflowError
    ({"height": -5}, [1, 1, 5, 5], "image id 1 has height -5 is no image size"),
    ({}, [1e308, 1e308, 1e308, 1e308], r"beyond 1e\+08 pixels"),  # each finite, its corner not: written back as Infinity, no JSON
])
def test_coco_sizes_and_boxes_beyond_any_image_are_refused_with_a_message(tmp_path, image, bbox, message):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10, **image}],
                                "categories": [{"id": 1, "name": "x"}],
                                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox}]}).replace("Infinity", "1e400"))
    with pytest.raises(LabelFormatError, match=message):
        read_coco(path)


def test_a_voc_size_beyond_any_image_is_refused_with_a_message(tmp_path):
    (tmp_path / "a.xml").write_text("<annotation><filename>a.jpg</filename><size><width>1e400</width><height>5</height></size>"
                                    "</annotation>")
    with pytest.raises(LabelFormatError, match=r"a.xml: not a Pascal VOC annotation \(<width> '1e400' is no image size"):
        read_voc(tmp_path)


def test_an_area_that_is_no_number_is_written_as_the_box_area(tmp_path):
    """Kept as it was ("big"), it made pycocotools' self-check fail with a TypeError traceback."""
    source = tmp_path / "area.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
                                  "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 30], "area": "big"},
                                                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 20, 20], "area": 310.5,
                                                   "segmentation": [[50, 50, 70, 50, 70, 70, 50, 70, 60, 60]]},
                                                  {"id": 3, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 0}]}))
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "coco", str(source), "--to", "coco", str(out)]) == 0
    # a polygon's own area stays; a plain box's is its own (area 0 put it in none of COCOeval's size ranges)
    assert [a["area"] for a in json.loads(out.read_text())["annotations"]] == [600, 310.5, 100]


def test_voc_and_yolo_leave_out_boxes_wholly_outside_their_image_and_clip_the_rest(tmp_path, capsys):
    """A box past the right edge became a one-pixel sliver at the edge in VOC and a YOLO line of
    width 0, which read back failed the COCO self-check."""
    source = tmp_path / "outside.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}],
                                  "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [700, 10, 50, 20]},
                                                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [600, 10, 70, 20]}]}))
    for fmt in ("voc", "yolo"):
        assert main(["convert", "--from", "coco", str(source), "--to", fmt, str(tmp_path / fmt)]) == 3
        err = capsys.readouterr().err
        assert "2 boxes reach outside their images (the first in a.jpg): clipped to the image, any wholly outside left out" in err
        assert "1 image, 1 box, 1 category written" in err
    assert "<xmin>601</xmin>" in (tmp_path / "voc" / "a.xml").read_text() and "<xmax>640</xmax>" in (tmp_path / "voc" / "a.xml").read_text()
    assert (tmp_path / "yolo" / "a.txt").read_text().count("\n") == 1
    back = tmp_path / "back.json"
    assert main(["convert", "--from", "voc", str(tmp_path / "voc"), "--to", "coco", str(back)]) == 0  # self-check passed
    assert json.loads(back.read_text())["annotations"][0]["bbox"] == [600, 10, 40, 20]


def test_a_voc_coordinate_of_0_is_the_image_edge_not_minus_1(tmp_path):
    """VOC corners are 1-based; 0-based writers put a 0 there, which read as -1 and was not reported."""
    (tmp_path / "a.xml").write_text("<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height></size>"
                                    "<object><name>x</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>100</xmax><ymax>80</ymax></bndbox>"
                                    "</object></annotation>")
    box = read_voc(tmp_path).images[0].boxes[0]
    assert (box.x1, box.y1, box.x2, box.y2) == (0, 0, 100, 80)


def test_an_empty_line_inside_classes_txt_is_refused_rather_than_shifting_the_classes_after_it(tmp_path):
    images, labels = _yolo_folder(tmp_path)
    (labels / "a.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (labels / "classes.txt").write_text("cat\n\ndog\n")
    with pytest.raises(LabelFormatError, match=r"classes.txt:2: an empty line in the class list"):
        read_yolo(labels, images)
    (labels / "classes.txt").write_text("cat\ndog\n\n\n")  # empty lines at the end shift nothing
    read, _ = read_yolo(labels, images)
    assert [c.name for c in read.categories] == ["cat", "dog"] and read.images[0].boxes[0].category_id == 1


def test_yolo_read_to_coco_writes_no_float_noise(tmp_path):
    out = tmp_path / "back.json"
    yolo = tmp_path / "yolo"
    assert main(["convert", "--from", "coco", str(ANN), "--to", "yolo", str(yolo)]) == 0
    assert main(["convert", "--from", "yolo", str(yolo), "--to", "coco", str(out), "--images", str(CHESS_VALID)]) == 0
    numbers = [v for a in json.loads(out.read_text())["annotations"] for v in (*a["bbox"], a["area"])]
    assert all(round(v, 6) == v for v in numbers)  # 229.99999999947 for 230, 2.7e-10 for 0 before


def test_a_staging_folder_left_by_a_killed_export_is_no_part_of_the_labels(tmp_path):
    from core.formats.convert import first_label_file

    _voc(tmp_path / "voc", 5, 50)
    (tmp_path / "voc" / ".retina-writing-k1").mkdir()
    (tmp_path / "voc" / ".retina-writing-k1" / "b.xml").write_text((tmp_path / "voc" / "a.xml").read_text())
    (tmp_path / "voc" / "._a.xml").write_bytes(b"\x00\x05\x16\x07")  # macOS's resource file beside a copied one: no VOC file
    assert [im.file_name for im in read_voc(tmp_path / "voc").images] == ["a.jpg"]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".retina-writing-k2").mkdir()
    (tmp_path / "empty" / ".retina-writing-k2" / "b.xml").write_text((tmp_path / "voc" / "a.xml").read_text())
    assert first_label_file("voc", tmp_path / "empty") is None  # not refused as a folder holding labels


def test_label_files_that_differ_only_in_case_are_refused(tmp_path):
    labels = LabelSet([Category(1, "thing")], [ImageEntry(1, "x.jpg", 100, 100, [Box(1, 1, 9, 9, 1)]),
                                               ImageEntry(2, "X.JPG", 100, 100, [Box(2, 2, 8, 8, 1)])])
    with pytest.raises(LabelFormatError, match=r"x.jpg and X.JPG would both be written to X.txt \(one file where case does not count"):
        write_labels(labels, "yolo", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_yolo_export_numbers_classes_as_the_folder_does_by_its_class_list_or_its_data_yaml(tmp_path, capsys):
    """A classes.txt written in the labels' own order over one in another made the folder's other
    label files name other classes (LabelImg's class of bug); into an Ultralytics dataset, which
    trains from data.yaml's names and never reads classes.txt, every file written did."""
    from core.formats.convert import export_notes

    labels = LabelSet([Category(0, "rook"), Category(1, "king"), Category(2, "pawn")],
                      [ImageEntry(1, "a.jpg", 100, 100, [Box(1, 1, 9, 9, 1), Box(1, 1, 9, 9, 0)])])
    out = tmp_path / "yolo"
    out.mkdir()
    (out / "classes.txt").write_text("king\nqueen\nrook\n")
    (out / "other.txt").write_text("1 0.5 0.5 0.1 0.1\n")  # a queen, of an image of another folder: still one
    assert export_notes(labels, "yolo", out) == [f"classes numbered as {out / 'classes.txt'} numbers them"]
    write_labels(labels, "yolo", out)
    assert (out / "classes.txt").read_text() == "king\nqueen\nrook\npawn\n"  # its own classes kept, pawn added at its end
    assert (out / "a.txt").read_text().split("\n")[:2] == ["0 0.05 0.05 0.08 0.08", "2 0.05 0.05 0.08 0.08"]
    assert export_notes(labels, "yolo", tmp_path / "nothing") == []  # (no folder yet: its own numbers)
    # Ultralytics: data.yaml two folders above labels/train names the classes; no classes.txt there
    root = tmp_path / "ds"
    (root / "labels/train").mkdir(parents=True)
    (root / "data.yaml").write_text("names:\n  0: pawn\n  1: king\n  2: rook\n  3: queen\n")
    notes = export_notes(labels, "yolo", root / "labels/train")
    assert notes == [f"classes numbered as {root.resolve() / 'data.yaml'} numbers them (an Ultralytics trainer reads them from it)"]
    write_labels(labels, "yolo", root / "labels/train")
    assert (root / "labels/train/classes.txt").read_text() == "pawn\nking\nrook\nqueen\n"
    assert [line.split()[0] for line in (root / "labels/train/a.txt").read_text().splitlines()] == ["1", "2"]
    # a class with boxes that data.yaml does not name: refused, nothing written (the YAML file is not the export's to change)
    (root / "data.yaml").write_text("names: [pawn, rook]\n")
    with pytest.raises(LabelFormatError, match=r"data.yaml names the classes of this YOLO folder, and not king: add it to its names"):
        write_labels(labels, "yolo", root / "labels/val")
    assert not (root / "labels/val").exists()
    # through retina convert: a note, no exit code of its own
    coco = tmp_path / "l.json"
    write_labels(LabelSet(labels.categories, [ImageEntry(1, "a.jpg", 100, 100, [Box(1, 1, 9, 9, 0)])]), "coco", coco)
    assert main(["convert", "--from", "coco", str(coco), "--to", "yolo", str(root / "labels/test")]) == 0
    assert "classes numbered as " in capsys.readouterr().err
    assert (root / "labels/test/classes.txt").read_text() == "pawn\nrook\n" and (root / "labels/test/a.txt").read_text().startswith("1 ")


def test_convert_turns_labels_made_on_the_stored_pixels_of_an_exif_turned_photo(tmp_path, capsys):
    """VOC of Landscape_6.jpg (stored 1200x1800, shown 1800x1200) from a tool that ignores EXIF
    went through as 1200x1800, its box 500 px off the bottom of the photo as shown."""
    from core.images import load_image

    folder = DATASETS / "exif_orientation"
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "Landscape_6.xml").write_text(
        "<annotation><filename>Landscape_6.jpg</filename><size><width>1200</width><height>1800</height></size>"
        "<object><name>x</name><bndbox><xmin>101</xmin><ymin>1001</ymin><xmax>1100</xmax><ymax>1700</ymax></bndbox></object></annotation>")
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "voc", str(tmp_path / "voc"), "--to", "coco", str(out), "--images", str(folder)]) == 3
    assert ("1 image labelled on the stored pixels of an EXIF-turned photo (the first: Landscape_6.jpg): its boxes turned as the "
            "photo is shown") in capsys.readouterr().err
    data = json.loads(out.read_text())
    assert (data["images"][0]["width"], data["images"][0]["height"]) == (1800, 1200) == load_image(folder / "Landscape_6.jpg").shape[1::-1]
    # orientation 6 turns the stored pixels a quarter clockwise: stored (x, y) is shown at (1800 - y, x)
    assert data["annotations"][0]["bbox"] == [100, 100, 700, 1000] and data["annotations"][0]["area"] == 700_000


def test_stored_to_shown_moves_a_box_as_pil_transposes_the_pixels():
    import numpy as np
    from PIL import Image

    from core.images import _UPRIGHT, stored_to_shown

    stored = np.zeros((30, 40), np.uint8)
    stored[5:12, 8:20] = 255  # the box x 8..20, y 5..12
    for orientation, transpose in _UPRIGHT.items():
        ys, xs = np.nonzero(np.array(Image.fromarray(stored).transpose(transpose)))
        assert stored_to_shown(8, 5, 20, 12, 40, 30, orientation) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert stored_to_shown(8, 5, 20, 12, 40, 30, 1) == (8, 5, 20, 12)


def test_convert_scales_labels_of_a_resized_copy_and_names_those_of_another_shape(tmp_path, capsys):
    source = tmp_path / "sizes.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "Landscape_1.jpg", "width": 900, "height": 600},
                                             {"id": 2, "file_name": "Landscape_2.jpg", "width": 500, "height": 500},
                                             {"id": 3, "file_name": "Landscape_3.jpg", "width": 1800, "height": 1200}],
                                  "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40], "area": 1200},
                                                  {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 20, 30, 40]},
                                                  {"id": 3, "image_id": 3, "category_id": 1, "bbox": [10, 20, 30, 40]}]}))
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "coco", str(source), "--to", "coco", str(out), "--images", str(DATASETS / "exif_orientation")]) == 3
    err = capsys.readouterr().err
    assert "1 image labelled at another size (the first: Landscape_1.jpg, 900×600 for 1800×1200): its boxes scaled to the image" in err
    assert ("1 image labelled at a size of another shape than the image's (the first: Landscape_2.jpg, 500×500 for 1800×1200: "
            "a crop, a pad or a stretch, which cannot be told apart): written as they are") in err
    annotations = json.loads(out.read_text())["annotations"]
    assert [a["bbox"] for a in annotations] == [[20, 40, 60, 80], [10, 20, 30, 40], [10, 20, 30, 40]]
    assert annotations[0]["area"] == 4800  # of the new pixels, not the source's 1200


def test_annotation_ids_of_no_integer_are_renumbered_and_an_emoji_escape_is_text(tmp_path):
    """An id [1] stopped every save of the window's labels (unhashable), unseen."""
    source = tmp_path / "ids.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "\U0001F600.jpg", "width": 100, "height": 100}],
                                  "categories": [{"id": 1, "name": "x"}],
                                  "annotations": [{"id": [1], "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
                                                  {"id": "a1", "image_id": 1, "category_id": 1, "bbox": [10, 10, 5, 5]},
                                                  {"id": 7, "image_id": 1, "category_id": 1, "bbox": [20, 20, 5, 5]}]}))  # ensure_ascii: a pair
    labels = read_coco(source)
    assert labels.images[0].file_name == "\U0001F600.jpg" and [b.id for b in labels.images[0].boxes] == [None, None, 7]
    write_coco(labels, tmp_path / "out.json")
    assert [a["id"] for a in json.loads((tmp_path / "out.json").read_text())["annotations"]] == [8, 9, 7]


def test_a_named_pipe_given_as_labels_is_refused_not_waited_on(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(LabelFormatError, match="is not a regular file \\(a pipe or a device\\)"):
        read_coco(tmp_path / "fifo.json")


def test_fitting_labels_to_the_images_moves_polygons_drops_masks_and_takes_no_crop_for_a_resize():
    from core.formats.convert import fit_to_images

    folder = DATASETS / "exif_orientation"  # Landscape_*: 1800x1200 as shown
    polygon = Box(10, 20, 40, 60, 1, segmentation=[[10, 20, 40, 20, 40, 60]], extra={"area": 600, "source": "tool"})
    mask = Box(0, 0, 50, 50, 1, iscrowd=True, segmentation={"size": [600, 900], "counts": "abc"})
    labels = LabelSet([Category(1, "x")], [ImageEntry(1, "Landscape_1.jpg", 900, 600, [polygon, mask]),
                                           ImageEntry(2, "Landscape_2.jpg", 1800, 1188, [Box(0, 900, 10, 1000, 1)]),  # 1 % short: a crop
                                           ImageEntry(3, "Landscape_6.jpg", 1200, 1800, [polygon])])
    fitted, fit = fit_to_images(labels, folder)
    scaled, cropped, turned = fitted.images
    assert (scaled.width, scaled.height) == (1800, 1200)
    assert scaled.boxes[0].segmentation == [[20, 40, 80, 40, 80, 120]] and scaled.boxes[0].extra == {"source": "tool"}  # no old area
    assert (scaled.boxes[1].x2, scaled.boxes[1].iscrowd, scaled.boxes[1].segmentation) == (100, True, None)  # the mask cannot move
    assert cropped == labels.images[1] and fit.unfitted == ["Landscape_2.jpg"]
    assert turned.boxes[0].segmentation == [[1780, 10, 1780, 40, 1740, 40]]  # orientation 6: (x, y) -> (1800 - y, x)
    assert (turned.boxes[0].x1, turned.boxes[0].y1, turned.boxes[0].x2, turned.boxes[0].y2) == (1740, 10, 1780, 40)


def test_an_escaped_backslash_before_u_is_text_not_a_broken_character(tmp_path):
    """A JSON backslash escaped before "udf12" (a Windows path) was read as a lone surrogate."""
    path = tmp_path / "backslash.json"
    path.write_text('{"images": [{"id": 1, "file_name": "scans\\\\udf12.jpg", "width": 10, "height": 10}], "annotations": [], '
                    '"categories": [], "info": {"note": "C:\\\\udf12"}}')
    assert read_coco(path).images[0].file_name == "scans/udf12.jpg"  # (a Windows separator, read as /)


def test_coco_to_retinanet_csv_to_coco_round_trip_in_whole_pixels(tmp_path, capsys):
    """yhenon/pytorch-retinanet's and keras-retinanet's format: both parse the corners as whole
    numbers and take the class list's ids 0 … n-1."""
    out, back = tmp_path / "csv" / "train.csv", tmp_path / "back.json"
    out.parent.mkdir()
    assert main(["convert", "--from", "coco", str(ANN), "--to", "csv", str(out), "--images", str(CHESS_VALID)]) == 0
    original = read_coco(ANN)
    classes = (tmp_path / "csv" / "train_classes.csv").read_text().splitlines()
    assert classes[:2] == ["pieces,0", "bishop,1"] and len(classes) == len(original.categories)
    lines = out.read_text().splitlines()
    assert len(lines) == sum(len(im.boxes) for im in original.images)  # (every valid image has boxes)
    first = original.images[0]
    path, x1, y1, x2, y2, name = lines[0].split(",")
    assert path == f"../../{CHESS_VALID.relative_to(CHESS_VALID.parents[2]).as_posix()}/{first.file_name}" or \
        (tmp_path / "csv" / path).resolve() == (CHESS_VALID / first.file_name).resolve()
    assert all(v.isdigit() for v in (x1, y1, x2, y2))
    assert main(["convert", "--from", "csv", str(out), "--to", "coco", str(back), "--images", str(CHESS_VALID)]) == 0
    a, b = _content(original), _content(read_coco(back))
    assert [x[:3] for x in a] == [x[:3] for x in b]  # names (relative to the images again) and sizes read from them
    for (_, _, _, boxes_a), (_, _, _, boxes_b) in zip(a, b):
        for p, q in zip(boxes_a, boxes_b):  # rounded outwards to whole pixels
            assert p[0] == q[0] and q[1] <= p[1] < q[1] + 1 and q[2] <= p[2] < q[2] + 1 and q[3] - 1 < p[3] <= q[3] and q[4] - 1 < p[4] <= q[4]


def test_retinanet_csv_negatives_classes_in_order_of_appearance_and_paths_from_its_folder(tmp_path):
    from core.formats.retinanet_csv import read_retinanet_csv, write_retinanet_csv

    (tmp_path / "img").mkdir()
    (tmp_path / "a.csv").write_text("img/1.jpg,10,20,30,40,cat\nimg/2.jpg,,,,,\n\"img/3,x.jpg\",1.5,2,3,4,dog\nimg/1.jpg,0,0,5,5,dog\n")
    labels, notes = read_retinanet_csv(tmp_path / "a.csv", tmp_path / "img")
    assert [(c.id, c.name) for c in labels.categories] == [(0, "cat"), (1, "dog")]
    assert "classes numbered in the order they first appear" in notes[0]
    assert [(im.file_name, len(im.boxes), im.reviewed) for im in labels.images] == [("1.jpg", 2, False), ("2.jpg", 0, True), ("3,x.jpg", 1, False)]
    assert labels.images[2].boxes[0] == Box(1.5, 2, 3, 4, 1)
    (tmp_path / "a_classes.csv").write_text("dog,0\ncat,1\n")
    labels, notes = read_retinanet_csv(tmp_path / "a.csv", tmp_path / "img")
    assert not notes and [(c.id, c.name) for c in labels.categories] == [(0, "dog"), (1, "cat")] and labels.images[0].boxes[0].category_id == 1
    # written back: paths from the file's folder, the negative as path,,,,, and ids 0 … n-1 in the order of the ids
    labels.images[0].width = labels.images[0].height = labels.images[2].width = labels.images[2].height = 100
    write_retinanet_csv(labels, tmp_path / "out" / "b.csv", tmp_path / "img")
    assert (tmp_path / "out" / "b.csv").read_text() == ('../img/1.jpg,10,20,30,40,cat\n../img/1.jpg,0,0,5,5,dog\n../img/2.jpg,,,,,\n'
                                                        '"../img/3,x.jpg",1,2,3,4,dog\n')
    assert (tmp_path / "out" / "b_classes.csv").read_text() == "dog,0\ncat,1\n"


@pytest.mark.parametrize("line, message", [
    ("1.jpg,10,20,5,40,cat", r"a.csv:1: x2 must be above x1"),
    ("1.jpg,10,20,30,40", r"a.csv:1: expected 'path,x1,y1,x2,y2,class_name' \(6 fields\), got 5"),
    ("pieces,0", r"got 2: 'pieces,0'; this looks like a class list \(class_name,id\): choose the annotations file beside it"),
    ("1.jpg,10,a,30,40,cat", r"a.csv:1: the corners must be numbers"),
    ("1.jpg,10,20,30,inf,cat", r"a.csv:1: a corner is not a finite number"),
    ("1.jpg,10,20,30,40,", r"a.csv:1: a box without a class name"),
    ("../1.jpg,10,20,30,40,cat", r"a.csv:1: ../1.jpg is .*1.jpg \(from .*, the CSV file.s folder, where its relative paths start\), not inside the image folder"),
    ("1.jpg,10,20,30,40,bird", r"a.csv:1: class 'bird' is not in the class list"),
    # a stray quote: the lines after it went into one class name, unsaid (past 128 KB, a traceback)
    ('1.jpg,10,20,30,40,"cat\n2.jpg,10,20,30,40,cat', r'a.csv:1: a quote \(\"\) opens a field that runs on over the lines after it'),
    ('1.jpg,10,20,30,40,cat\n2.jpg,10,20,30,40,"cat\n' + "3.jpg,10,20,30,40,cat\n" * 6000,
     r'a.csv:2: a quote \(\"\) opens a field that runs on over the lines after it \(field larger than field limit'),
])
def test_malformed_retinanet_csv_lines_are_named(tmp_path, line, message):
    from core.formats.retinanet_csv import read_retinanet_csv

    (tmp_path / "a.csv").write_text(line + "\n")
    if "bird" in line:
        (tmp_path / "classes.csv").write_text("cat,0\n")
    with pytest.raises(LabelFormatError, match=message):
        read_retinanet_csv(tmp_path / "a.csv")


def test_a_retinanet_csv_path_outside_the_image_folder_is_kept_for_an_import_to_match_by_name(tmp_path):
    from core.formats.retinanet_csv import read_retinanet_csv

    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "a.csv").write_text("imgs/1.jpg,10,20,30,40,cat\n/elsewhere/2.jpg,,,,,\n")
    labels, _ = read_retinanet_csv(tmp_path / "copy" / "a.csv", tmp_path / "mine", keep_outside=True)
    assert [im.file_name for im in labels.images] == [(tmp_path / "copy" / "imgs" / "1.jpg").as_posix(), "/elsewhere/2.jpg"]


def test_a_retinanet_csv_written_through_a_linked_folder_reads_back(tmp_path):
    """The writer resolved links and the reader did not: the paths of images in a linked folder
    read back as outside it."""
    from core.formats.retinanet_csv import read_retinanet_csv, write_retinanet_csv

    (tmp_path / "real").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "imgs").symlink_to(tmp_path / "real")
    labels = LabelSet([Category(0, "cat")], [ImageEntry(1, "1.jpg", 100, 50, [Box(1, 2, 3, 4, 0)])])
    write_retinanet_csv(labels, tmp_path / "work" / "a.csv", tmp_path / "work" / "imgs")
    assert (tmp_path / "work" / "a.csv").read_text() == "imgs/1.jpg,1,2,3,4,cat\n"
    back, _ = read_retinanet_csv(tmp_path / "work" / "a.csv", tmp_path / "work" / "imgs")
    assert [im.file_name for im in back.images] == ["1.jpg"]
    # the CSV's folder a link (work/out -> elsewhere/deep/out): its paths lead to the images as a trainer opens them
    (tmp_path / "elsewhere" / "deep" / "out").mkdir(parents=True)
    (tmp_path / "work" / "out").symlink_to(tmp_path / "elsewhere" / "deep" / "out")
    (tmp_path / "real" / "1.jpg").write_bytes(b"")
    write_retinanet_csv(labels, tmp_path / "work" / "out" / "b.csv", tmp_path / "work" / "imgs")
    written = (tmp_path / "work" / "out" / "b.csv").read_text().split(",")[0]
    assert (tmp_path / "work" / "out" / written).exists()  # (the OS takes ".." from where the folder really is)
    for root in (tmp_path / "work" / "imgs", tmp_path / "real"):  # read back: into the folder as given, or as it really is
        back, _ = read_retinanet_csv(tmp_path / "work" / "out" / "b.csv", root)
        assert [im.file_name for im in back.images] == ["1.jpg"]


def test_convert_keeps_a_retinanet_csv_class_list_and_asks_for_the_images_it_cannot_find(tmp_path, capsys):
    """The class list read with the source was an input like the source, and a CSV written from a
    COCO file away from its images led to images that are not there."""
    (tmp_path / "a.csv").write_text("1.jpg,10,20,30,40,cat\n")
    (tmp_path / "classes.csv").write_text("dog,0\ncat,1\n")
    for fmt in ("coco", "csv"):
        assert main(["convert", "--from", "csv", str(tmp_path / "a.csv"), "--to", fmt, str(tmp_path / "classes.csv")]) == 1
        assert "is one of the inputs: it would be overwritten" in capsys.readouterr().err
    assert (tmp_path / "classes.csv").read_text() == "dog,0\ncat,1\n"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "b.csv").write_text("1.jpg,10,20,30,40,cat\n")
    (tmp_path / "src" / "b_classes.csv").write_text("cat,0\n")
    target = tmp_path / "src" / "b.txt"  # (another file, but the source's class list would be its class list)
    assert main(["convert", "--from", "csv", str(tmp_path / "src" / "b.csv"), "--to", "csv", str(target)]) == 1
    assert "class list b_classes.csv would be written over the input" in capsys.readouterr().err and not target.exists()
    out = tmp_path / "out" / "train.csv"
    out.parent.mkdir()
    away = tmp_path / "away.json"
    away.write_text(ANN.read_text())
    assert main(["convert", "--from", "coco", str(away), "--to", "csv", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"of the labels not in {tmp_path} (the first: " in err and "give their folder (--images DIR)" in err and not out.exists()
    assert main(["convert", "--from", "coco", str(away), "--to", "csv", str(out), "--images", str(tmp_path)]) == 1
    assert "so --images must be the folder that holds them" in capsys.readouterr().err and not out.exists()
    data = json.loads(ANN.read_text())  # an image it writes no line for (no boxes, not reviewed) need not be there
    data["images"].append({"id": 10**6, "file_name": "gone.jpg", "width": 10, "height": 10})
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps(data))
    assert main(["convert", "--from", "coco", str(listed), "--to", "csv", str(out), "--images", str(CHESS_VALID)]) == 0
    assert "gone.jpg" not in out.read_text()
    out.unlink()
    assert main(["convert", "--from", "coco", str(ANN), "--to", "csv", str(out)]) == 0  # beside its images (Roboflow's export)
    assert (out.parent / out.read_text().split(",")[0]).resolve().parent == CHESS_VALID.resolve()


def test_a_retinanet_csv_export_leaves_out_crowd_regions_and_boxes_outside_and_clips_the_rest(tmp_path, capsys):
    from core.formats.retinanet_csv import write_retinanet_csv

    labels = LabelSet([Category(3, "cat")], [ImageEntry(1, "1.jpg", 100, 50, [Box(-5, 10, 20.2, 60, 3), Box(120, 0, 130, 10, 3),
                                                                              Box(0, 0, 10, 10, 3, iscrowd=True), Box(5, 5, 5.3, 5.2, 3)]),
                                             ImageEntry(2, "2.jpg", 100, 50, [])])
    write_retinanet_csv(labels, tmp_path / "a.csv", tmp_path)
    assert (tmp_path / "a.csv").read_text() == "1.jpg,0,10,21,50,cat\n1.jpg,5,5,6,6,cat\n"  # (an unreviewed empty image: no line)


def _labelme(path, image_path, shapes, size=(200, 100)):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
                                "imageHeight": size[1], "imageWidth": size[0]}))


def _shape(kind, points, label="car", **extra):
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind, "flags": {}, **extra}


def test_labelme_and_x_anylabeling_files_are_read_as_boxes_of_their_shapes(tmp_path, capsys):
    """labelme and X-AnyLabeling users had no way in: their JSON files were "not a COCO detection file"."""
    from PIL import Image

    from core.formats.labelme import read_labelme

    folder = tmp_path / "lm"
    _labelme(folder / "a.json", "a.jpg", [
        _shape("rectangle", [[50, 40], [10, 20]]),  # corners in either order
        _shape("polygon", [[100, 10], [120, 30], [90, 40]], label="tree"),
        _shape("circle", [[150, 50], [150, 60]], label="ball"),
        _shape("rectangle", [[0, 0], [5, 5]], label="car", difficult=True),  # X-AnyLabeling's mark: a crowd region, as VOC's
        _shape("point", [[3, 3]]), _shape("line", [[1, 1], [9, 9]]), _shape("linestrip", [[1, 1], [2, 2], [3, 3]])])
    _labelme(folder / "json" / "b.json", "../../elsewhere/b.jpg", [_shape("rectangle", [[1, 2], [3, 4]])])  # leaves the folder
    _labelme(folder / "c.json", "C:\\data\\c.jpg", [])  # a full Windows path; saved without shapes: a negative
    (folder / "annotations.coco.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    labels, problems = read_labelme(folder)
    names = {c.id: c.name for c in labels.categories}
    assert sorted(names.values()) == ["ball", "car", "tree"]
    by_name = {im.file_name: im for im in labels.images}
    assert sorted(by_name) == ["a.jpg", "c.jpg", "json/b.jpg"]
    a = by_name["a.jpg"]
    assert [(names[b.category_id], b.x1, b.y1, b.x2, b.y2, b.iscrowd) for b in a.boxes] == [
        ("car", 10, 20, 50, 40, False), ("tree", 90, 10, 120, 40, False), ("ball", 140, 40, 160, 60, False), ("car", 0, 0, 5, 5, True)]
    assert a.boxes[1].segmentation == [[100, 10, 120, 30, 90, 40]] and a.boxes[0].segmentation is None
    assert (a.width, a.height) == (200, 100) and by_name["c.jpg"].reviewed and not by_name["c.jpg"].boxes
    assert problems == ["3 shapes that bound no object left out (1 line, 1 linestrip, 1 point)"]  # (a COCO file beside them: no news)
    # converted to COCO (images beside the files, by default): the polygon written back, the self-check passed
    for name in ("a.jpg", "c.jpg", "json/b.jpg"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (200, 100)).save(folder / name)
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "labelme", str(folder), "--to", "coco", str(out)]) == 3  # (what was left out is said)
    err = capsys.readouterr().err
    assert "3 shapes that bound no object left out" in err and "3 images, 5 boxes, 3 categories written to" in err
    written = json.loads(out.read_text())
    assert [a["segmentation"] for a in written["annotations"] if a.get("segmentation")] == [[[100, 10, 120, 30, 90, 40]]]
    # images not beside the files: said (they were written, exit 0); none there: refused, with --images asked for
    (folder / "c.jpg").unlink()
    assert main(["convert", "--from", "labelme", str(folder), "--to", "coco", str(out)]) == 3
    assert f"1 image of the labels not found under {folder}, beside the labelme files (the first: c.jpg)" in capsys.readouterr().err
    apart = tmp_path / "apart"
    _labelme(apart / "x.json", "x.jpg", [_shape("rectangle", [[1, 2], [3, 4]])])
    assert main(["convert", "--from", "labelme", str(apart), "--to", "coco", str(tmp_path / "x.json")]) == 1
    assert "the image the labelme file names is not beside it in " in capsys.readouterr().err
    (folder / "c.jpg").write_bytes((folder / "a.jpg").read_bytes())
    # a labelme file given as COCO says what it is
    with pytest.raises(LabelFormatError, match=r"it is a labelme file, one image's: import its folder as labelme"):
        read_coco(folder / "a.json")
    # labelme 5's own shapes; an object in parts (one group_id); a shape past reading goes alone, and is counted
    _labelme(folder / "d.json", "d.jpg", [
        _shape("oriented_rectangle", [[10, 0], [20, 10], [10, 20], [0, 10]]),
        _shape("mask", [[30, 40], [39, 49]], mask="iVBORw0KGgo="),  # its pixels' first and last column and row
        _shape("polygon", [[50, 50], [60, 50], [55, 60]], label="person", group_id=1),
        _shape("polygon", [[50, 80], [60, 80], [55, 90]], label="person", group_id=1),
        _shape("rectangle", [[1, 2]]), _shape("cuboid", [[1, 1], [2, 2]]),
        _shape("rectangle", [[5, 5], [5, 9]]),  # no width (the COCO file's self-check refused the folder)
        _shape("rectangle", [[1, 1], [4, 4]], group_id=[1]),  # past reading (a traceback: unhashable)
        _shape("rectangle", [[70, 70], [80, 80]], label="dog", group_id=2, difficult=True),  # a part marked difficult: the
        _shape("rectangle", [[85, 70], [95, 80]], label="dog", group_id=2)])  # object is not

    _labelme(folder / "e.json", "e.jpg", [_shape("point", [[1, 1]])])  # its one shape left out: not "nothing here"
    (folder / "f.json").write_text(json.dumps({"flags": {"__ignore__": False, "cat": True}, "shapes": [], "imagePath": ""}))
    Image.new("RGB", (20, 10)).save(folder / "f.png")  # no imagePath: the image of its name beside it
    Image.new("RGB", (20, 10)).save(folder / "f.b.jpg")  # (not f.json's: a glob of "f.*" took it)
    labels, problems = read_labelme(folder)
    names = {c.id: c.name for c in labels.categories}
    by_name = {im.file_name: im for im in labels.images}
    d = by_name["d.jpg"]
    assert [(names[b.category_id], b.x1, b.y1, b.x2, b.y2, b.iscrowd) for b in d.boxes] == [
        ("car", 0, 0, 20, 20, False), ("car", 30, 40, 40, 50, False), ("person", 50, 50, 60, 90, False), ("dog", 70, 70, 95, 80, False)]
    assert d.boxes[2].segmentation == [[50, 50, 60, 50, 55, 60], [50, 80, 60, 80, 55, 90]] and d.boxes[0].segmentation
    assert not by_name["e.jpg"].reviewed and not by_name["f.png"].reviewed  # (a class flagged for the whole image)
    assert "3 shapes that could not be read left out (the first: d.json: shape 5 (rectangle) has 1 point, fewer than 2)" in problems
    assert "5 shapes that bound no object left out (1 cuboid, 1 line, 1 linestrip, 2 point)" in problems


def test_x_anylabeling_boxes_on_an_exif_turned_photo_are_turned_as_it_is_shown(tmp_path, capsys):
    """X-AnyLabeling shows a photo as stored (labelme turns it as its EXIF says): its boxes on a
    photo stored upside down (orientation 3, which no size tells) were written as they were."""
    folder = tmp_path / "xa"
    folder.mkdir()
    shutil.copy(DATASETS / "exif_orientation" / "Landscape_3.jpg", folder / "p.jpg")
    _labelme(folder / "p.json", "p.jpg", [_shape("rectangle", [[10, 20], [110, 220]], difficult=False, attributes={}, kie_linking=[])],
             size=(1800, 1200))
    out = tmp_path / "out.json"
    assert main(["convert", "--from", "labelme", str(folder), "--to", "coco", str(out)]) == 3  # (its images: beside the files; said)
    assert "1 image labelled in X-AnyLabeling on the stored pixels of an EXIF-turned photo (the first: p.jpg): its boxes turned" \
        in capsys.readouterr().err
    (annotation,) = json.loads(out.read_text())["annotations"]
    assert annotation["bbox"] == [1800 - 110, 1200 - 220, 100, 200]
    # a turned photo (orientation 6) whose file gives the size as shown was made on the photo as shown: not turned again
    from core.formats.labelme import read_labelme

    shutil.copy(DATASETS / "exif_orientation" / "Landscape_6.jpg", folder / "p.jpg")
    shape = _shape("rectangle", [[10, 20], [110, 220]], difficult=False, attributes={}, kie_linking=[])
    for size, turned in (((1800, 1200), False), ((1200, 1800), True)):
        _labelme(folder / "p.json", "p.jpg", [shape], size=size)
        labels, problems = read_labelme(folder, images=folder)
        (box,) = labels.images[0].boxes
        assert ((box.x1, box.y1) != (10, 20)) is turned and any("turned" in p for p in problems) is turned


def test_labels_are_written_as_labelme_files_that_labelme_opens_and_that_read_back_the_same(tmp_path, capsys):
    """labelme users could bring their labels in but not take them back out to labelme."""
    from PIL import Image

    from core.formats.convert import stale_label_files
    from core.formats.labelme import read_labelme

    images = tmp_path / "images"
    for name in ("a.jpg", "sub/b.png", "c.jpg", "d.jpg"):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (200, 100)).save(images / name)
    polygons = [[100, 10, 120, 30, 90, 40], [100, 50, 110, 60, 95, 60]]
    labels = LabelSet([Category(1, "car"), Category(2, "tree"), Category(7, "empty")], [
        ImageEntry(1, "a.jpg", 200, 100, [Box(10, 20, 50, 40, 1), Box(90, 10, 120, 60, 2, segmentation=polygons),
                                          Box(-10, 80, 30, 120, 1),  # clipped to the image
                                          Box(300, 0, 310, 5, 1),  # wholly outside: left out
                                          Box(0, 0, 5, 5, 1, iscrowd=True)]),  # labelme has no crowd region: left out
        ImageEntry(2, "sub/b.png", 200, 100, [Box(1.5, 2.25, 3.5, 4.75, 2, segmentation=[[0, 0, 50, 0, 50, 50]])]),  # not its polygon
        ImageEntry(3, "c.jpg", 200, 100, [], reviewed=True),  # a negative: a file without shapes
        ImageEntry(4, "d.jpg", 200, 100, [])])  # nothing said of it: no file
    target = tmp_path / "lm"
    write_labels(labels, "labelme", target, images=images)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["a.json", "c.json", "sub", "sub/b.json"]
    a = json.loads((target / "a.json").read_text())
    # labelme 5's keys, the image found from the file's folder, the image's size as shown
    assert {k: a[k] for k in ("version", "flags", "imagePath", "imageData", "imageWidth", "imageHeight")} == {
        "version": "5.5.0", "flags": {}, "imagePath": "../images/a.jpg", "imageData": None, "imageWidth": 200, "imageHeight": 100}
    assert [(s["label"], s["shape_type"], s["points"], s["group_id"]) for s in a["shapes"]] == [
        ("car", "rectangle", [[10, 20], [50, 40]], None),
        ("tree", "polygon", [[100, 10], [120, 30], [90, 40]], 1), ("tree", "polygon", [[100, 50], [110, 60], [95, 60]], 1),
        ("car", "rectangle", [[0, 80], [30, 100]], None)]
    assert json.loads((target / "sub/b.json").read_text())["imagePath"] == "../../images/sub/b.png"
    # read back: the same boxes (polygons kept), the negative a negative
    back, problems = read_labelme(target)
    assert problems == []
    names = {c.id: c.name for c in back.categories}
    by_name = {im.file_name: im for im in back.images}
    assert sorted(by_name) == ["a.jpg", "c.jpg", "sub/b.png"]  # (imagePath leaves the folder: named as the image beside the file)
    assert [(names[b.category_id], b.x1, b.y1, b.x2, b.y2) for b in by_name["a.jpg"].boxes] == [
        ("car", 10, 20, 50, 40), ("tree", 90, 10, 120, 60), ("car", 0, 80, 30, 100)]
    assert by_name["a.jpg"].boxes[1].segmentation == polygons
    assert [(b.x1, b.y1, b.x2, b.y2) for b in by_name["sub/b.png"].boxes] == [(1.5, 2.25, 3.5, 4.75)]
    assert by_name["c.jpg"].reviewed and not by_name["c.jpg"].boxes
    # beside the images (labelme's own place): imagePath is the name; labelme's points and lines and the image's flags stay
    a_file = images / "a.json"
    _labelme(a_file, "a.jpg", [_shape("point", [[3, 3]], group_id=1), _shape("rectangle", [[1, 1], [2, 2]]),  # (a box: replaced)
                               _shape("polygon", [[1, 1], [5, 1], [3, 4]], group_id=5)], size=(200, 100))
    data = json.loads(a_file.read_text())
    a_file.write_text(json.dumps({**data, "flags": {"night": True}}))
    write_labels(labels, "labelme", images, images=images)
    a = json.loads(a_file.read_text())
    assert a["imagePath"] == "a.jpg" and a["flags"] == {"night": True}
    assert [(s["label"], s["shape_type"], s["group_id"]) for s in a["shapes"]] == [
        ("car", "rectangle", None), ("tree", "polygon", 6), ("tree", "polygon", 6), ("car", "rectangle", None), ("car", "point", 1)]
    # a file of an earlier export whose image has no labels now is found, to be removed (a file of another image is not)
    (target / "d.json").write_text((target / "c.json").read_text().replace("c.jpg", "d.jpg"))
    (target / "e.json").write_text((target / "c.json").read_text())  # names c.jpg: not e.jpg's
    assert stale_label_files(labels, "labelme", target, ["a.jpg", "c.jpg", "d.jpg", "e.jpg"]) == [target / "d.json"]
    # through retina convert: crowd regions and classes without a box said, into a folder of no labelme files only
    coco = tmp_path / "l.json"
    write_labels(labels, "coco", coco)
    out = tmp_path / "out"
    assert main(["convert", "--from", "coco", str(coco), "--to", "labelme", str(out), "--images", str(images)]) == 3
    err = capsys.readouterr().err
    assert "1 crowd region left out: labelme has no form for them" in err
    assert "not written, classes without a box: empty (labelme names a class by its boxes alone)" in err
    assert "3 images, 4 boxes (1 crowd region left out: labelme has no form for them (a labelme file exported over keeps those of " \
        "its boxes marked “difficult”, X-AnyLabeling's, that are unchanged); boxes marked “difficult” (VOC, X-AnyLabeling) are read " \
        "as crowd regions), 2 categories written to" in err
    assert json.loads((out / "a.json").read_text())["imagePath"] == "../images/a.jpg"
    assert main(["convert", "--from", "coco", str(coco), "--to", "labelme", str(out), "--images", str(images)]) == 1
    assert f"{out} already holds labelme label files (a.json)" in capsys.readouterr().err
    # images not where their files will lead: refused, as labelme could not open them
    assert main(["convert", "--from", "coco", str(coco), "--to", "labelme", str(tmp_path / "out2")]) == 1
    assert "each labelme file's imagePath leads to its image, so give their folder (--images DIR); nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_a_labelme_export_over_labelme_files_keeps_what_it_does_not_write_and_refuses_other_files(tmp_path):
    """Exporting over the files a folder was labelled with in labelme turned an untouched circle
    into a rectangle, dropped shape descriptions, flags and a file's other fields, deleted a file of
    points as "from an earlier export", and wrote over any a.json beside a.jpg."""
    from PIL import Image

    from core.formats.convert import stale_label_files
    from core.formats.labelme import read_labelme

    folder = tmp_path / "f"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (200, 100)).save(folder / name)
    circle = _shape("circle", [[150, 50], [150, 60]], label="ball", description="the match ball", flags={"moving": True})
    moved = _shape("rectangle", [[10, 20], [50, 40]], description="to be moved")
    _labelme(folder / "a.json", "a.jpg", [circle, moved, _shape("point", [[3, 3]], label="corner")])
    data = json.loads((folder / "a.json").read_text())
    (folder / "a.json").write_text(json.dumps({**data, "flags": {"night": True}, "description": "shot at dusk"}))
    _labelme(folder / "b.json", "b.jpg", [_shape("rectangle", [[1, 1], [9, 9]]), _shape("line", [[1, 1], [5, 5]], label="edge")])
    _labelme(folder / "c.json", "c.jpg", [_shape("point", [[1, 1]], label="corner")])
    labels, _ = read_labelme(folder)
    names = {n: c for c, n in labels.category_names().items()}
    a = next(im for im in labels.images if im.file_name == "a.jpg")
    a.boxes[1] = replace(a.boxes[1], x1=12.0, x2=52.0)  # moved in retina-gui
    b = next(im for im in labels.images if im.file_name == "b.jpg")
    b.boxes.clear()  # its box deleted: b.json is one to take the box out of; c.json (a point alone) says nothing of boxes
    assert stale_label_files(labels, "labelme", folder, ["a.jpg", "b.jpg", "c.jpg"]) == [folder / "b.json"]
    write_labels(labels, "labelme", folder, images=folder, remove=[folder / "b.json"])
    a_file = json.loads((folder / "a.json").read_text())
    assert a_file["shapes"] == [circle, _shape("rectangle", [[12.0, 20.0], [52.0, 40.0]]) | {"mask": None},
                                _shape("point", [[3, 3]], label="corner")]
    assert a_file["flags"] == {"night": True} and a_file["description"] == "shot at dusk"
    assert json.loads((folder / "b.json").read_text())["shapes"] == [_shape("line", [[1, 1], [5, 5]], label="edge")]  # its line stays
    assert json.loads((folder / "c.json").read_text())["shapes"] == [_shape("point", [[1, 1]], label="corner")]  # not written over
    assert names["ball"] in {bx.category_id for bx in read_labelme(folder)[0].images[0].boxes}
    # a file there that is no labelme file of that image: refused, nothing written
    (folder / "a.json").write_text(json.dumps({"note": "my own a.json"}))
    with pytest.raises(LabelFormatError, match=r"a.json is not a labelme file: it would be written over \(the labelme file of a.jpg\)"):
        write_labels(labels, "labelme", folder, images=folder)
    _labelme(folder / "a.json", "other.jpg", [])
    with pytest.raises(LabelFormatError, match=r"a.json is the labelme file of another image \(other.jpg\)"):
        write_labels(labels, "labelme", folder, images=folder)
    assert json.loads((folder / "a.json").read_text())["imagePath"] == "other.jpg"


def test_a_labelme_export_writes_polygons_only_where_they_are_the_box(tmp_path):
    """A COCO box a hundredth of a pixel off its polygon, written as the polygon, read back as
    another box; a polygon reaching outside the image was written unclipped."""
    from core.formats.labelme import read_labelme

    labels = LabelSet([Category(1, "car")], [ImageEntry(1, "a.jpg", 200, 100, [
        Box(30, 30, 50, 50, 1, segmentation=[[30.01, 30, 50, 30, 50, 50, 30.01, 50]]),  # off by 0.01 px: a rectangle
        Box(60, 30, 80, 50, 1, segmentation=[[60, 30, 80, 30, 80, 50, 60, 50]]),  # exactly its bounds: the polygon
        Box(190, 80, 210, 110, 1, segmentation=[[190, 80, 210, 80, 210, 110]])])])  # outside the image: clipped, a rectangle
    write_labels(labels, "labelme", tmp_path / "lm", images=tmp_path)
    shapes = json.loads((tmp_path / "lm" / "a.json").read_text())["shapes"]
    assert [(s["shape_type"], s["points"]) for s in shapes] == [
        ("rectangle", [[30, 30], [50, 50]]), ("polygon", [[60, 30], [80, 30], [80, 50], [60, 50]]), ("rectangle", [[190, 80], [200, 100]])]
    assert [(b.x1, b.y1, b.x2, b.y2) for b in read_labelme(tmp_path / "lm")[0].images[0].boxes] == [
        (30, 30, 50, 50), (60, 30, 80, 50), (190, 80, 200, 100)]


def test_an_x_anylabeling_file_on_a_turned_photo_exported_over_reads_back_as_it_was(tmp_path):
    """Its kept point carried X-AnyLabeling's fields: the file, now of boxes on the photo as shown,
    was read as on the stored pixels again, and its boxes turned a second time (upside down)."""
    from core.formats.labelme import read_labelme

    folder = tmp_path / "xa"
    folder.mkdir()
    shutil.copy(DATASETS / "exif_orientation" / "Landscape_3.jpg", folder / "p.jpg")  # stored upside down
    x_keys = {"difficult": False, "attributes": {}, "kie_linking": []}
    _labelme(folder / "p.json", "p.jpg", [_shape("rectangle", [[10, 20], [110, 220]], **x_keys), _shape("point", [[5, 5]], **x_keys)],
             size=(1800, 1200))
    labels, _ = read_labelme(folder, images=folder)
    shown = [(b.x1, b.y1, b.x2, b.y2) for b in labels.images[0].boxes]
    assert shown == [(1690, 980, 1790, 1180)]
    write_labels(labels, "labelme", folder, images=folder)
    written = json.loads((folder / "p.json").read_text())
    assert [(s["shape_type"], s["points"]) for s in written["shapes"]] == [("rectangle", [[1690, 980], [1790, 1180]]),
                                                                            ("point", [[1795, 1195]])]  # the point turned too
    assert not any(key in s for s in written["shapes"] for key in x_keys)  # on the photo as shown now: labelme's file
    again, _ = read_labelme(folder, images=folder)
    assert [(b.x1, b.y1, b.x2, b.y2) for b in again.images[0].boxes] == shown


def test_data_yaml_names_are_read_as_ultralytics_reads_them(tmp_path):
    """Quoted class numbers (names dumped from JSON) were refused, an nc that disagrees passed
    unsaid, and a README.yaml with a "names" of its own stood in the way of the data.yaml beside it."""
    from core.formats.yolo import class_names

    folder = tmp_path / "labels"
    folder.mkdir()
    cases = [("names: {'0': person, '1': car}\n", {0: "person", 1: "car"}), ("nc: 2\n", {0: "class_0", 1: "class_1"}),
             ("names: [no, yes, null]\n", {0: "False", 1: "True", 2: "None"}),  # YAML 1.1's booleans, as Ultralytics keeps them
             ("names: [caf\xe9]\n".encode("latin-1"), {0: "caf"})]  # bytes that are no UTF-8 ignored
    for text, names in cases:
        (tmp_path / "data.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
        assert class_names(folder)[0] == names
    (tmp_path / "data.yaml").write_text("nc: 3\nnames: [a, b]\n")
    with pytest.raises(LabelFormatError, match=r"data.yaml: nc is 3, and names lists 2 classes: make them agree"):
        class_names(folder)
    (tmp_path / "data.yaml").write_text("names: [a, b]\n")
    (tmp_path / "README.yaml").write_text("names: the vision team\n")  # no class list: passed over
    (tmp_path / ".hidden.yaml").write_text("names: [x, y]\n")  # hidden: passed over
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")  # too deep to read: passed over
    assert class_names(folder) == ({0: "a", 1: "b"}, str(tmp_path / "data.yaml"))
    (tmp_path / "data.yaml").unlink()
    with pytest.raises(LabelFormatError, match=r"README.yaml: its names are no list of class names"):
        class_names(folder)


def test_labelme_files_written_apart_from_their_images_say_where_their_images_are(tmp_path, capsys):
    """Read back without --images, retina's own labelme export said "give their folder" and no more,
    though each file's imagePath led there."""
    from PIL import Image

    images = tmp_path / "photos"
    (images / "sub").mkdir(parents=True)
    Image.new("RGB", (200, 100)).save(images / "sub" / "a.jpg")
    labels = LabelSet([Category(1, "car")], [ImageEntry(1, "sub/a.jpg", 200, 100, [Box(1, 2, 30, 40, 1)])])
    write_labels(labels, "labelme", tmp_path / "lm", images=images)
    assert main(["convert", "--from", "labelme", str(tmp_path / "lm"), "--to", "coco", str(tmp_path / "out.json")]) == 1
    assert f"give their folder (--images {images}, where the files' imagePath leads)" in capsys.readouterr().err
    assert main(["convert", "--from", "labelme", str(tmp_path / "lm"), "--to", "coco", str(tmp_path / "out.json"), "--images", str(images)]) == 0


def test_a_labelme_export_over_a_file_keeps_its_difficult_boxes_unread_shapes_and_groups_apart(tmp_path):
    """From a review of the export over labelme files: a new box of two polygons took the group_id of
    an object kept (read back, one box); X-AnyLabeling's "difficult" boxes and shapes that could not
    be read went; points of a file made at another size stayed where they were."""
    from PIL import Image

    from core.formats.convert import fit_to_images, stale_label_files
    from core.formats.labelme import read_labelme

    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (200, 100)).save(folder / name)
    parts = [_shape("polygon", [[0, 0], [10, 0], [10, 10]], label="p", group_id=1), _shape("polygon", [[20, 20], [30, 20], [30, 30]], label="p", group_id=1)]
    hard = _shape("rectangle", [[40, 40], [60, 60]], label="p", difficult=True)
    broken = _shape("polygon", [[1, 1], [2, 2]], label="p", description="two points")  # past reading
    _labelme(folder / "a.json", "a.jpg", [*parts, hard, broken])
    _labelme(folder / "b.json", "b.jpg", [_shape("rectangle", [[40, 20], [80, 40]], label="p"), _shape("point", [[100, 50]], label="c")],
             size=(400, 200))  # made on a copy twice the size: its box scaled as it comes in
    labels, _ = fit_to_images(read_labelme(folder, images=folder)[0], folder)
    a = next(im for im in labels.images if im.file_name == "a.jpg")
    a.boxes.append(Box(50, 70, 90, 90, a.boxes[0].category_id, segmentation=[[50, 70, 60, 70, 60, 80], [80, 80, 90, 80, 90, 90]]))
    write_labels(labels, "labelme", folder, images=folder)
    written = json.loads((folder / "a.json").read_text())["shapes"]
    assert parts[0] in written and parts[1] in written and hard in written and broken in written
    assert {s["group_id"] for s in written if s["points"][0] in ([50, 70], [80, 80])} == {2}  # not the kept object's 1
    back = {im.file_name: im for im in read_labelme(folder, images=folder)[0].images}
    assert sorted((b.x1, b.y1, b.x2, b.y2, b.iscrowd) for b in back["a.jpg"].boxes) == [
        (0, 0, 30, 30, False), (40, 40, 60, 60, True), (50, 70, 90, 90, False)]
    b_file = json.loads((folder / "b.json").read_text())
    assert (b_file["imageWidth"], b_file["imageHeight"]) == (200, 100)
    assert [(s["shape_type"], s["points"]) for s in b_file["shapes"]] == [("rectangle", [[20, 10], [40, 20]]), ("point", [[50, 25]])]
    # an image whose only box is a crowd region: its file, with its "difficult" box, is no earlier export's to take boxes out of
    only_hard = LabelSet(labels.categories, [replace(a, boxes=[bx for bx in a.boxes if bx.iscrowd])])
    assert stale_label_files(only_hard, "labelme", folder, ["a.jpg"]) == []


def test_a_yolo_export_takes_class_numbers_from_no_yaml_but_a_dataset_s_and_refuses_a_class_list_past_reading(tmp_path):
    """A data.yaml two folders above an export to exports/yolo renumbered it to another dataset's
    classes, and a notes.yaml with "names: our team" stopped every YOLO export below it; a
    classes.txt past reading was written anew, and the folder's other label files named other classes."""
    labels = LabelSet([Category(0, "rook")], [ImageEntry(1, "a.jpg", 100, 100, [Box(1, 1, 9, 9, 0)])])
    (tmp_path / "data.yaml").write_text("names: [king, rook]\n")
    (tmp_path / "notes.yaml").write_text("names: our team\n")
    write_labels(labels, "yolo", tmp_path / "exports" / "yolo")
    assert (tmp_path / "exports/yolo/classes.txt").read_text() == "rook\n"
    write_labels(labels, "yolo", tmp_path / "train" / "labels")  # a dataset's labels folder (Roboflow's layout): its numbers
    assert (tmp_path / "train/labels/classes.txt").read_text() == "king\nrook\n"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "classes.txt").write_text("dog\n\ncat\n")
    (broken / "other.txt").write_text("2 0.5 0.5 0.1 0.1\n")
    with pytest.raises(LabelFormatError, match=r"an empty line in the class list .*: mend it, or export into another folder; nothing was written"):
        write_labels(labels, "yolo", broken)
    assert (broken / "classes.txt").read_text() == "dog\n\ncat\n"
    # two classes of the labels spelt alike: one number by name, merged without a word (the notes said "written as they are")
    alike = LabelSet([Category(0, "rook"), Category(1, "Rook ")], [ImageEntry(1, "a.jpg", 100, 100, [Box(1, 1, 9, 9, 0), Box(2, 2, 8, 8, 1)])])
    with pytest.raises(LabelFormatError, match=r"categories 0 \('rook'\) and 1 \('Rook '\) have the same name .*so both would be one "
                                               r"class there; nothing was written"):
        write_labels(alike, "yolo", tmp_path / "exports" / "yolo")


def test_a_yolo_folder_read_and_written_again_is_written_as_it_was(tmp_path):
    """Its numbers came back as 0.126914999271 for 0.126915: every line of a dataset kept in git
    showed as changed."""
    from PIL import Image

    images, source, again = tmp_path / "images", tmp_path / "yolo", tmp_path / "again"
    images.mkdir()
    source.mkdir()
    Image.new("RGB", (640, 427)).save(images / "a.jpg")
    # (on a side of 427 px, 12 digits of the corners as read gave 0.949240998829 for 0.949241)
    lines = "0 0.126915 0.949241 0.0875 0.061717\n1 0.5 0.375738 0.333333 0.074119\n1 0.05 0.95 0.1 0.1\n"
    (source / "classes.txt").write_text("pawn\nrook\n")
    (source / "a.txt").write_text(lines)
    write_labels(read_yolo(source, images)[0], "yolo", again)
    assert (again / "a.txt").read_text() == lines


def test_a_labelme_export_takes_out_a_deleted_box_beside_a_difficult_one_and_keeps_shapes_it_cannot_read(tmp_path):
    """From a second review: an image with a "difficult" box kept its whole file, a box deleted
    beside it coming back; taking the boxes out of a file deleted its shapes past reading; a shape
    past reading kept X-AnyLabeling's fields on a square EXIF-turned photo, and each export turned
    the file's boxes once more."""
    from PIL import Image

    from core.formats.convert import stale_label_files
    from core.formats.labelme import read_labelme, remove_boxes

    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (200, 100)).save(folder / name)
    _labelme(folder / "a.json", "a.jpg", [_shape("rectangle", [[10, 10], [30, 30]], label="car"),
                                          _shape("rectangle", [[40, 40], [60, 60]], label="car", difficult=True)])
    broken = _shape("polygon", [[1, 1], [2, 2]], label="car", description="two points")
    _labelme(folder / "b.json", "b.jpg", [_shape("rectangle", [[10, 10], [30, 30]], label="car"), broken])
    labels, _ = read_labelme(folder, images=folder)
    a, b = sorted(labels.images, key=lambda im: im.file_name)
    a.boxes[:] = [box for box in a.boxes if box.iscrowd]  # the car deleted, the difficult box kept
    b.boxes.clear()
    stale = stale_label_files(labels, "labelme", folder, ["a.jpg", "b.jpg"], folder)
    assert stale == [folder / "b.json"]  # a.json keeps its difficult box: it is written, not emptied
    write_labels(labels, "labelme", folder, images=folder, remove=stale)
    assert [(s["label"], s.get("difficult")) for s in json.loads((folder / "a.json").read_text())["shapes"]] == [("car", True)]
    assert json.loads((folder / "b.json").read_text())["shapes"] == [broken]  # its shape past reading stays
    (folder / "c.json").write_text("[1, 2]")  # no labelme file now: left as it is
    remove_boxes(folder / "c.json")
    assert (folder / "c.json").read_text() == "[1, 2]"
    # a square photo stored turned (orientation 6): its size tells nothing, X-AnyLabeling's fields do
    exif = Image.Exif()
    exif[0x0112] = 6
    square = tmp_path / "sq"
    square.mkdir()
    Image.new("RGB", (100, 100)).save(square / "p.jpg", exif=exif)
    x_keys = {"difficult": False, "attributes": {}, "kie_linking": []}
    _labelme(square / "p.json", "p.jpg", [_shape("rectangle", [[10, 20], [30, 60]], **x_keys),
                                          _shape("polygon", [[1, None]], **x_keys)], size=(100, 100))
    seen = []
    for _ in range(3):
        labels, _ = read_labelme(square, images=square)
        seen.append([(box.x1, box.y1, box.x2, box.y2) for box in labels.images[0].boxes])
        write_labels(labels, "labelme", square, images=square)
    assert seen[0] == seen[1] == seen[2] and seen[0] != [(10, 20, 30, 60)]  # turned once, as the photo is shown, then kept
