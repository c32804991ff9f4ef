"""The annotation store (core, no Qt): exact inverses for every edit, events, statuses, the lock,
and crash safety of its atomic save under SIGKILL."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.annotations import (
    AnnotationFile,
    AnnotationFileLocked,
    AnnotationStore,
    CategoriesChanged,
    ImagesChanged,
    ImageStatus,
    LabelsChangedOnDisk,
    find_labels_file,
)
from core.formats import LabelFormatError
from core.formats.coco import read_coco
from core.labels import Box, Category
from tests.conftest import DATASETS, ROOT

CHESS_VALID_ANN = DATASETS / "chess" / "valid" / "_annotations.coco.json"


def _store() -> AnnotationStore:
    return AnnotationStore(read_coco(CHESS_VALID_ANN))


def test_box_edits_return_exact_inverses_and_notify():
    store = _store()
    events = []
    store.subscribe(events.append)
    name = store.file_names()[0]
    before = store.boxes(name)
    cat = store.categories[1].id
    added = store.append_boxes(name, (0, 0), [Box(1, 2, 30, 40, cat), Box(5, 5, 9, 9, cat)])
    assert store.boxes(name)[-2:] == (Box(1, 2, 30, 40, cat), Box(5, 5, 9, 9, cat))
    store.remove_boxes(name, [i for i, _ in added])
    assert store.boxes(name) == before
    removed = store.remove_boxes(name, [0, 2])
    store.insert_boxes(name, (0, 0), removed)
    assert store.boxes(name) == before
    previous = store.replace_boxes(name, [(1, Box(0, 0, 1, 1, cat))])
    store.replace_boxes(name, previous)
    assert store.boxes(name) == before
    assert all(isinstance(e, ImagesChanged) and e.file_names == (name,) for e in events) and len(events) == 6
    assert store.revision == 6
    with pytest.raises(KeyError, match="no class"):
        store.append_boxes(name, (0, 0), [Box(0, 0, 1, 1, 999)])


def test_removing_a_class_takes_its_boxes_and_restoring_puts_them_back_in_place():
    store = _store()
    snapshot = store.to_labelset()
    cat = max(store.box_counts().items(), key=lambda kv: kv[1])[0]
    events = []
    store.subscribe(events.append)
    removed = store.remove_category(cat)
    assert cat not in {c.id for c in store.categories}
    assert all(b.category_id != cat for name in store.file_names() for b in store.boxes(name))
    store.restore_category(removed)
    assert store.to_labelset() == snapshot
    # the class list, then the images whose boxes went (and came back) with it
    assert [type(e) for e in events] == [CategoriesChanged, ImagesChanged, CategoriesChanged, ImagesChanged]
    assert set(events[1].file_names) == set(events[3].file_names) == set(removed.boxes) and removed.boxes


def test_merging_a_class_relabels_its_boxes_and_unmerging_restores_the_store_exactly():
    store = _store()
    snapshot = store.to_labelset()
    counts = store.box_counts()
    source, into = sorted(counts, key=counts.get)[-2:]
    events = []
    store.subscribe(events.append)
    merged = store.merge_category(source, into)
    assert source not in {c.id for c in store.categories} and store.box_counts()[into] == counts[source] + counts[into]
    assert [type(e) for e in events] == [CategoriesChanged, ImagesChanged] and set(events[1].file_names) == set(merged.boxes)
    store.unmerge_category(merged)
    assert store.to_labelset() == snapshot
    with pytest.raises(ValueError, match="into itself"):
        store.merge_category(into, into)
    with pytest.raises(KeyError):
        store.merge_category(source, 10_000)
    assert store.to_labelset() == snapshot
    assert store.category_named(" " + store.categories[0].name.upper()) == store.categories[0]


def test_class_names_must_be_unique_and_not_blank_and_ids_are_never_reused():
    store = _store()
    with pytest.raises(ValueError, match="already"):
        store.add_category(Category(store.next_category_id(), store.categories[0].name))
    with pytest.raises(ValueError, match="name"):
        store.add_category(Category(store.next_category_id(), "  "))
    new_id = store.next_category_id()
    assert new_id == max(c.id for c in store.categories) + 1
    store.add_category(Category(new_id, "clock", color="#123456"))
    assert store.category(new_id).color == "#123456"
    store.remove_category(new_id)  # the highest id, deleted: the next class does not take it
    assert store.next_category_id() == new_id + 1
    store.add_category(Category(new_id + 1, "timer"))
    store.take_back_category(new_id + 1, new_id)  # its adding undone: its id is nothing else's, and is given again
    assert store.next_category_id() == new_id + 1


def test_status_follows_boxes_predictions_and_review():
    store = AnnotationStore()
    store.add_category(Category(1, "a"))
    assert store.status("x.jpg") is ImageStatus.UNLABELLED
    store.mark_predicted(["x.jpg"])
    assert store.status("x.jpg") is ImageStatus.PREDICTED
    store.append_boxes("x.jpg", (640, 480), [Box(0, 0, 5, 5, 1)])
    assert store.entry("x.jpg").width == 640 and store.entry("x.jpg").id == 1
    assert store.status("x.jpg") is ImageStatus.LABELLED  # labels win over predictions shown on top of them
    store.set_reviewed("y.jpg", (10, 20), True)  # a reviewed image with no boxes: a negative example
    assert store.status("y.jpg") is ImageStatus.REVIEWED and store.entry("y.jpg").id == 2


def test_only_images_with_boxes_or_reviewed_are_written_besides_those_the_file_had(tmp_path):
    labels = read_coco(CHESS_VALID_ANN)
    labels.images[0].boxes.clear()  # the source lists an image without boxes: kept as it is
    store = AnnotationStore(labels)
    store.add_category(Category(1000, "new"))
    items = store.append_boxes("drawn-then-undone.jpg", (64, 48), [Box(0, 0, 5, 5, 1000)])
    store.remove_boxes("drawn-then-undone.jpg", [i for i, _ in items])
    store.set_reviewed("reviewed-twice.jpg", (64, 48), True)
    store.set_reviewed("reviewed-twice.jpg", (64, 48), False)
    store.set_reviewed("negative.jpg", (64, 48), True)
    written = [im.file_name for im in store.to_labelset().images]
    assert written == [im.file_name for im in labels.images] + ["negative.jpg"]
    assert store.status("drawn-then-undone.jpg") is ImageStatus.UNLABELLED


def test_missing_and_resized_images_are_reported_not_dropped(tmp_path):
    store = _store()
    names = store.file_names()
    assert store.missing(names[1:]) == [names[0]]
    entry = store.entry(names[0])
    assert store.size_mismatch(names[0], entry.width, entry.height) is None
    assert store.size_mismatch(names[0], entry.width + 1, entry.height) == (entry.width, entry.height)
    with AnnotationFile(tmp_path / "a.json") as f:
        f.save(store)
    assert len(read_coco(tmp_path / "a.json").images) == len(names)


def test_reviewed_flag_and_class_colours_survive_a_save(tmp_path):
    store = _store()
    name = store.file_names()[0]
    store.set_reviewed(name, (0, 0), True)
    store.update_category(Category(store.categories[0].id, store.categories[0].name, store.categories[0].supercategory, "#abcdef"))
    with AnnotationFile(tmp_path / "a.json") as f:
        f.save(store)
        again = f.load()
    assert again.entry(name).reviewed and again.categories[0].color == "#abcdef"
    assert again.box_counts() == store.box_counts()


def test_a_second_open_of_the_same_file_is_refused_until_the_first_closes(tmp_path):
    first = AnnotationFile(tmp_path / "labels.json")
    with pytest.raises(AnnotationFileLocked, match="already open"):
        AnnotationFile(tmp_path / "labels.json")
    code = f"from core.annotations import AnnotationFile\nAnnotationFile({str(tmp_path / 'labels.json')!r})"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert other.returncode != 0 and "already open in another retina-gui window or process" in other.stderr
    (tmp_path / "link.json").symlink_to(tmp_path / "labels.json")
    with pytest.raises(AnnotationFileLocked, match="already open"):  # the same file under another name
        AnnotationFile(tmp_path / "link.json")
    first.close()
    AnnotationFile(tmp_path / "labels.json").close()


def test_a_save_refuses_to_replace_a_file_another_program_changed_unless_told_to(tmp_path):
    path = tmp_path / "labels.json"
    store = _store()
    with AnnotationFile(path) as f:
        f.save(store)
        store.set_reviewed(store.file_names()[0], (0, 0), True)
        f.save(store)  # its own writes are no change
        path.write_text(path.read_text().replace('"categories":[', '"categories":[{"id":999,"name":"theirs"},'))
        store.set_reviewed(store.file_names()[0], (0, 0), False)
        with pytest.raises(LabelsChangedOnDisk, match="changed or removed by another program"):
            f.save(store)
        assert "theirs" in path.read_text()
        path.unlink()
        with pytest.raises(LabelsChangedOnDisk):
            f.save(store)
        f.save(store, overwrite=True)
        assert read_coco(path).category_names() == {c.id: c.name for c in store.categories}


def test_malformed_file_raises_a_clear_error_and_is_left_as_it_was(tmp_path):
    path = tmp_path / "annotations.coco.json"
    path.write_text('{"images": [}')
    with AnnotationFile(path) as f, pytest.raises(LabelFormatError, match="not valid JSON"):
        f.load()
    assert path.read_text() == '{"images": [}'


def test_labels_file_is_found_in_the_folder(tmp_path):
    assert find_labels_file(tmp_path) == tmp_path / "annotations.coco.json"
    (tmp_path / "_annotations.coco.json").write_text("{}")
    assert find_labels_file(tmp_path) == tmp_path / "_annotations.coco.json"


def test_sigkill_during_autosave_always_leaves_the_last_completed_save(tmp_path):
    """A writer saves a growing store in a loop and prints each completed save; it is killed at
    random moments (60 times). The file must always parse and hold the last printed save, or the
    one in flight if its rename had happened (never a torn or empty file)."""
    path = tmp_path / "annotations.coco.json"
    start = AnnotationStore()
    start.add_category(Category(1, "thing"))
    start.append_boxes("a.jpg", (4000, 3000), [Box(i % 3000, 1, i % 3000 + 10, 20, 1) for i in range(3000)])
    with AnnotationFile(path) as f:
        f.save(start)  # ~0.5 MB: each save takes long enough that kills land inside writes
    rng = random.Random(0)
    kills = interrupted = 0
    for _ in range(60):
        proc = subprocess.Popen([sys.executable, "-u", str(ROOT / "tests" / "autosave_writer.py"), str(path)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        kills += 1
        completed = [int(line.split()[1]) for line in out.splitlines() if line.startswith("saved")]
        data = json.loads(path.read_text())  # parses: never torn
        on_disk = len(data["annotations"])
        if completed:
            assert on_disk in (completed[-1], completed[-1] + 1), (completed[-1], on_disk)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        interrupted += bool(leftovers)
        for name in leftovers:  # a killed writer can leave its temp file; it is never the labels file
            os.unlink(tmp_path / name)
    assert kills == 60
    print(f"{interrupted} of {kills} kills landed inside a write")


def test_saving_keeps_the_files_permissions_and_its_symbolic_link(tmp_path):
    from core.atomic import write_text

    shared = tmp_path / "shared.json"
    shared.write_text("old")
    shared.chmod(0o664)  # a team folder's group-writable labels file
    write_text(shared, "new")
    assert shared.read_text() == "new" and shared.stat().st_mode & 0o777 == 0o664
    fresh = tmp_path / "fresh.json"
    write_text(fresh, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not mkstemp's 0600
    link = tmp_path / "link.json"
    link.symlink_to(shared)
    write_text(link, "through the link")
    assert link.is_symlink() and shared.read_text() == "through the link"


def test_a_device_a_pipe_or_a_folder_is_never_replaced_by_a_written_file(tmp_path):
    """Renaming a temp file over /dev/null (as root) would replace the device itself."""
    from core.atomic import write_text

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()
    for target in (fifo, tmp_path / "folder", Path("/dev/null")):
        with pytest.raises(OSError, match="not a regular file|is a folder"):
            write_text(target, "results")
    assert Path("/dev/null").is_char_device() and fifo.is_fifo() and not list(tmp_path.glob(".*.tmp"))


def test_a_file_where_a_folder_of_the_path_should_be_is_named(tmp_path):
    """mkdir said "[Errno 17] File exists" of the folder asked for."""
    from core.atomic import write_text

    (tmp_path / "exports").write_text("a file")
    with pytest.raises(NotADirectoryError, match=f"{tmp_path / 'exports'} is a file, not a folder, so nothing can be written in {tmp_path / 'exports' / 'coco'}"):
        write_text(tmp_path / "exports" / "coco" / "labels.json", "{}")
    assert (tmp_path / "exports").read_text() == "a file"
    write_text(tmp_path / "new" / "deeper" / "labels.json", "{}")  # missing folders are made
    assert (tmp_path / "new" / "deeper" / "labels.json").read_text() == "{}"


def test_class_names_match_by_key_one_to_one_and_never_guess_between_look_alikes():
    from core.labels import category_of_class, class_name_key

    assert class_name_key(" Caf\u0065\u0301 ") == class_name_key("café") == "café"  # decomposed é, case, spaces
    cats = [Category(5, "White-Pawn"), Category(9, "clock")]
    assert category_of_class(["white-pawn ", "zebra", "Clock"], cats) == {0: 5, 2: 9}
    assert category_of_class([], cats) == {} and category_of_class(["car"], []) == {}
    # "Car" and "car" both in the labels: the exact name wins, the other is left out, never merged
    both = [Category(1, "Car"), Category(2, "car")]
    assert category_of_class(["car"], both) == {0: 2}
    assert category_of_class(["CAR"], both) == {}
    # and both in the model: the exact one matches; the look-alike does not take the same category
    assert category_of_class(["Car", "car"], [Category(2, "car")]) == {1: 2}
    assert category_of_class(["CAR", "Car"], [Category(2, "car")]) == {}


def test_an_image_the_source_listed_and_the_user_emptied_is_not_written_as_a_negative():
    """Labelled, saved, reopened, then all its boxes deleted: the image stayed in the file with no
    boxes, and every export made it a "nothing here" image (YOLO an empty file). The source's own
    images without boxes, never edited here, are kept as they were."""
    from core.annotations import AnnotationStore
    from core.labels import Box, Category, ImageEntry, LabelSet

    source = LabelSet([Category(1, "rook")], [ImageEntry(1, "a.jpg", 90, 90, [Box(1, 1, 9, 9, 1), Box(2, 2, 8, 8, 1)]),
                                               ImageEntry(2, "b.jpg", 90, 90, [])])
    store = AnnotationStore(source)
    store.remove_boxes("a.jpg", [0, 1])
    assert [im.file_name for im in store.to_labelset().images] == ["b.jpg"]
    store.set_reviewed("a.jpg", (90, 90), True)  # a negative the user made
    assert [im.file_name for im in store.to_labelset().images] == ["a.jpg", "b.jpg"]
    # the source's empty entry stays through a box drawn and taken back, or a review flag set and unset
    removed = store.append_boxes("b.jpg", (90, 90), [Box(1, 1, 9, 9, 1)])
    store.remove_boxes("b.jpg", [i for i, _ in removed])
    store.set_reviewed("b.jpg", (90, 90), True)
    store.set_reviewed("b.jpg", (90, 90), False)
    assert "b.jpg" in [im.file_name for im in store.to_labelset().images]


def test_a_labels_file_in_a_folder_that_does_not_exist_is_not_called_read_only(tmp_path):
    from core.annotations import unwritable

    assert unwritable(tmp_path / "nope" / "x.json") == f"the folder {tmp_path / 'nope'} does not exist"
    (tmp_path / "dangling.json").symlink_to(tmp_path / "gone" / "x.json")
    assert unwritable(tmp_path / "dangling.json") == f"the folder {tmp_path / 'gone'} does not exist"
    assert unwritable(tmp_path / "new.json") == ""
