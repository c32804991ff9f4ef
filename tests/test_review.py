"""Miss explanations, accept de-duplication and the anchor views of core (no Qt)."""

import numpy as np
import pytest
import torch

from core.anchor_coverage import anchor_layout, anchors_at, assign_labels, best_anchor_ious, coverage, near_anchors, suggest_anchor
from core.assign import IGNORED, assign, batched_iou
from core.config import AnchorConfig, AssignConfig, PreprocessConfig
from core.detections import Candidates, Detections
from core.formats.coco import read_coco
from core.labels import Box, Category, ImageEntry, LabelSet
from core.presets import get_preset
from core.review import CAUSES, confusions, explain_labels, find_errors, new_predictions
from tests.conftest import DATASETS

PRE = PreprocessConfig(min_size=512, max_size=768)
ANCHORS = AnchorConfig()
ASSIGN = AssignConfig()


def _candidates(boxes, scores, labels, floor=0.05) -> Candidates:
    n = len(scores)
    return Candidates(np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(scores, dtype=np.float32), np.array(labels, dtype=np.int64),
                      np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), (1.0, 1.0), floor)


def test_a_label_smaller_than_any_anchor_reaches_is_explained_as_no_anchor():
    layout = anchor_layout(640, 480, ANCHORS, PRE)
    tiny = np.array([100, 100, 106, 106.0])
    (assigned,) = assign_labels(layout, tiny[None], ASSIGN, ANCHORS)
    assert not assigned.reachable and assigned.best_iou < 0.5 and "smaller anchor size" in assigned.suggestion
    cand = _candidates([[300, 300, 400, 400]], [0.9], [0])
    (e,) = explain_labels(tiny[None], [0], cand, cand.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5,
                          best_anchor_iou=[assigned.best_iou])
    assert e.reason == "no_anchor" and "no anchor reaches it" in e.message


def test_two_overlapping_same_class_labels_where_nms_removes_one():
    a, b = np.array([100, 100, 200, 200.0]), np.array([120, 110, 220, 210.0])  # IoU 0.57
    cand = _candidates([a, b], [0.9, 0.8], [2, 2])
    det = cand.filter(0.3, 0.5, None)
    assert len(det) == 1
    first, second = explain_labels([a, b], [2, 2], cand, det, score_thresh=0.3, nms_thresh=0.5, best_anchor_iou=[0.8, 0.8],
                                   class_names=["a", "b", "rook"])
    assert first.reason == "detected"
    assert second.reason == "nms" and second.suppressed_by == 0 and second.best_score == np.float32(0.8)
    assert "removed by NMS" in second.message and "rook detection scoring 0.90" in second.message
    # greedy NMS: the highest-scoring kept detection over the threshold removed it, not another kept one overlapping more
    b2, c = np.array([118, 89, 240, 206.0]), np.array([120, 103, 236, 182.0])  # IoU(a, b2) 0.51, (a, c) 0.49: c kept, (b2, c) 0.64
    label = np.array([127, 100, 270, 220.0])  # b2 covers it (0.62), c and a do not (0.49, 0.37)
    cand3 = _candidates([a, b2, c], [0.9, 0.8, 0.85], [2, 2, 2])
    second = explain_labels([a, label], [2, 2], cand3, cand3.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5,
                            best_anchor_iou=[0.8, 0.8], class_names=["a", "b", "rook"])[1]
    assert second.reason == "nms" and second.suppressed_by == 0 and "at IoU 0.51 >" in second.message
    # with a looser NMS both survive
    both = explain_labels([a, b], [2, 2], cand, cand.filter(0.3, 0.6, None), score_thresh=0.3, nms_thresh=0.6, best_anchor_iou=[0.8, 0.8])
    assert [e.reason for e in both] == ["detected", "detected"]


def test_a_label_whose_anchors_score_low_reports_the_best_score():
    label = np.array([50, 50, 150, 130.0])
    cand = _candidates([[52, 48, 149, 133], [0, 0, 20, 20]], [0.12, 0.7], [1, 1])
    (e,) = explain_labels(label[None], [1], cand, cand.filter(0.5, 0.5, None), score_thresh=0.5, nms_thresh=0.5, best_anchor_iou=[0.7])
    assert e.reason == "low_score" and e.best_score == np.float32(0.12) and "scores 0.12, below the threshold 0.50" in e.message
    close = _candidates([[52, 48, 149, 133]], [0.2996], [1])  # with the digits that tell them apart ("0.30, below the threshold 0.30")
    (e,) = explain_labels(label[None], [1], close, close.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5, best_anchor_iou=[0.7])
    assert "scores 0.2996, below the threshold 0.3000" in e.message
    # one detection over two labels of its class: the other label's, said as the evaluation says it ("the model does not see it")
    one = _candidates([[50, 50, 150, 130]], [0.9], [1])
    near = np.array([[50, 50, 150, 130], [55, 55, 150, 130.0]])
    first, second = explain_labels(near, [1, 1], one, one.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5, best_anchor_iou=[0.7, 0.7],
                                   class_names=["a", "rook"])
    assert first.reason == "detected" and second.reason == "taken"
    assert second.message.startswith("its rook detection (score 0.90, IoU 0.89) went to another label of its class")
    # also with a candidate under the threshold on it (as a real model leaves one): the evaluation says where its detection went
    low = _candidates([[50, 50, 150, 130], [54, 54, 150, 131]], [0.9, 0.12], [1, 1])
    _, second = explain_labels(near, [1, 1], low, low.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5, best_anchor_iou=[0.7, 0.7],
                               class_names=["a", "rook"])
    assert second.reason == "taken"
    nothing = _candidates([[400, 400, 500, 500]], [0.9], [1])
    (e,) = explain_labels(label[None], [1], nothing, nothing.filter(0.5, 0.5, None), score_thresh=0.5, nms_thresh=0.5,
                          best_anchor_iou=[0.7])
    assert e.reason == "low_score" and "does not see it" in e.message


def test_accepting_skips_predictions_that_duplicate_a_same_class_label():
    labels = np.array([[0, 0, 100, 100.0]])
    preds = np.array([[2, 2, 100, 100], [0, 0, 100, 100], [300, 300, 400, 400], [305, 300, 405, 400.0]])
    choice = new_predictions(preds, np.array(["rook", "knight", "rook", "rook"], dtype=object), labels, np.array(["rook"], dtype=object))
    # 0 duplicates the rook label; 1 lies on it (a knight where the user labelled a rook); 3 repeats the kept prediction 2
    assert choice.keep.tolist() == [2] and (choice.labelled, choice.other_class, choice.repeats) == (1, 1, 1)


def test_each_error_says_what_kind_it_is():
    """Confusion, duplicate, poor placement or background: what to fix differs (the labels, NMS,
    the anchors, more negatives)."""
    labels = LabelSet([Category(1, "rook"), Category(2, "knight")],
                      [ImageEntry(1, "a.jpg", 400, 400, [Box(0, 0, 100, 100, 1), Box(200, 200, 300, 300, 2), Box(0, 200, 100, 300, 1)])])
    found = Detections(np.array([[0, 0, 100, 100], [2, 2, 100, 100], [200, 200, 300, 300], [0, 240, 100, 340], [330, 0, 390, 60]], dtype=np.float32),
                       np.array([0.9, 0.8, 0.85, 0.7, 0.6], dtype=np.float32), np.array([0, 0, 0, 0, 1]), np.arange(5))
    errors = {(e.kind, e.index): e for e in find_errors(labels, {"a.jpg": found}, ["rook", "knight"])}
    details = {key: e.detail for key, e in errors.items()}
    assert details[("FP", 1)].startswith("a duplicate: the rook label it covers")
    assert details[("FP", 2)] == "class confusion: on a knight label (IoU 1.00)"
    assert details[("FN", 1)] == "class confusion: detected as rook (0.85, IoU 1.00)"
    assert details[("FP", 3)] == "poorly placed: the nearest rook label at IoU 0.43"
    assert details[("FN", 2)] == "poorly placed: the nearest rook detection (0.70) at IoU 0.43"
    assert details[("FP", 4)] == "background: no label near it"
    # sure of a box no label has, or of another class on a label's very box: the labels may be what is wrong
    sure = Detections(found.boxes, np.array([0.9, 0.8, 0.95, 0.7, 0.92], dtype=np.float32), found.labels, found.candidate_index)
    hints = {(e.kind, e.index): e.detail for e in find_errors(labels, {"a.jpg": sure}, ["rook", "knight"])}
    assert hints[("FP", 4)] == "background: no label near it. Sure of it: is a box missing from the labels?"
    assert hints[("FN", 1)] == "class confusion: detected as rook (0.95, IoU 1.00). Sure of it, on the same box: is the label's class wrong?"
    assert hints[("FN", 2)] == details[("FN", 2)]
    assert {key: e.cause for key, e in errors.items()} == {("FP", 1): "duplicate", ("FP", 2): "confusion", ("FP", 3): "placement",
                                                           ("FP", 4): "background", ("FN", 1): "confusion", ("FN", 2): "placement"}
    assert all(e.cause in CAUSES[e.kind] for e in errors.values())
    # another class on a label its own class found is a second guess, not a confusion (it was, 36 times beside 2 missed labels);
    # a sure confusion on the label's very box asks whether the label's class is wrong
    second = Detections(np.array([[0, 0, 100, 100], [1, 1, 100, 100], [200, 200, 300, 300]], dtype=np.float32),
                        np.array([0.9, 0.6, 0.95], dtype=np.float32), np.array([0, 1, 0]), np.arange(3))
    fps = {e.index: (e.cause, e.detail) for e in find_errors(labels, {"a.jpg": second}, ["rook", "knight"]) if e.kind == "FP"}
    assert fps == {1: ("second_guess", "another class on a found object: the rook label under it (IoU 0.98) was found by a rook detection"),
                   2: ("confusion", "class confusion: on a knight label (IoU 1.00). Sure of it, on the same box: is the label's class wrong?")}
    # the label a confusion lies on is named by its index: the one its class missed, not one it overlaps more that was found
    two = LabelSet(labels.categories, [ImageEntry(1, "a.jpg", 400, 400, [Box(0, 0, 100, 100, 1), Box(0, 0, 100, 120, 1)])])
    both = Detections(np.array([[0, 0, 100, 100], [0, 0, 100, 104]], dtype=np.float32), np.array([0.9, 0.95], dtype=np.float32),
                      np.array([0, 1]), np.arange(2))
    (fp,) = [e for e in find_errors(two, {"a.jpg": both}, ["rook", "knight"]) if e.kind == "FP"]
    assert fp.cause == "confusion" and fp.on_label == 1


def test_a_miss_is_explained_by_its_own_class_first_and_by_what_scored_under_the_threshold():
    """The nearest detection of any class called a miss "poorly placed" when its own class's
    detection lay a little further off; and a label whose detection scored just under the
    threshold was "nothing detected near it"."""
    labels = LabelSet([Category(1, "rook"), Category(2, "knight")], [ImageEntry(1, "a.jpg", 600, 600, [
        Box(0, 0, 100, 100, 1), Box(200, 0, 300, 100, 2), Box(0, 200, 100, 300, 2), Box(400, 400, 500, 500, 1), Box(200, 200, 300, 300, 1)])])
    boxes = [[0, 0, 100, 100], [250, 0, 350, 100], [240, 0, 340, 100], [0, 200, 100, 300], [0, 200, 100, 300], [450, 400, 550, 500],
             [200, 200, 300, 300]]
    found = Detections(np.array(boxes, dtype=np.float32), np.array([0.29, 0.5, 0.95, 0.8, 0.2, 0.1, 0.899], dtype=np.float32),
                       np.array([0, 1, 0, 0, 1, 0, 0]), np.arange(7))
    errors = find_errors(labels, {"a.jpg": found}, ["rook", "knight"], score_thresh=0.3)
    misses = {e.index: (e.cause, e.detail) for e in errors if e.kind == "FN"}
    assert misses == {
        0: ("low_score", "scored too low: its rook detection (IoU 1.00) scores 0.29, below the threshold 0.30"),
        1: ("placement", "poorly placed: the nearest knight detection (0.50) at IoU 0.33"),
        2: ("confusion", "class confusion: detected as rook (0.80, IoU 1.00); as knight it scores 0.20"),
        3: ("undetected", "nothing detected near it above the threshold; below it, rook 0.10 at IoU 0.33")}
    # a detection under the threshold is no false positive; the rook over the knight label is one of another class
    assert {e.index: e.detail for e in errors if e.kind == "FP"} == {
        1: "poorly placed: the nearest knight label at IoU 0.33",
        2: "poorly placed, and of another class: the nearest label, knight, at IoU 0.43",
        3: "class confusion: on a knight label (IoU 1.00)"}
    assert {(e.kind, e.index): e.other_class for e in errors if e.other_class} == {("FN", 2): "rook", ("FP", 3): "knight"}
    assert confusions(errors) == [("knight", "rook", 1)]  # the missed knight, detected as a rook
    # the digits it takes to tell a score from the threshold
    label = find_errors(labels, {"a.jpg": found}, ["rook", "knight"], score_thresh=0.9)
    assert [e.detail for e in label if e.kind == "FN" and e.index == 4] == [
        "scored too low: its rook detection (IoU 1.00) scores 0.899, below the threshold 0.900"]


def test_errors_match_classes_by_name_as_the_class_list_compares_them():
    labels = LabelSet([Category(7, "White-Pawn "), Category(8, "clock")],
                      [ImageEntry(1, "a.jpg", 200, 200, [Box(10, 10, 50, 50, 7), Box(100, 100, 150, 150, 7), Box(0, 0, 20, 20, 8)])])
    found = Detections(np.array([[10, 10, 50, 50], [60, 60, 90, 90], [0, 0, 20, 20]], dtype=np.float32),
                       np.array([0.9, 0.8, 0.7], dtype=np.float32), np.array([0, 0, 1]), np.arange(3))
    errors = find_errors(labels, {"a.jpg": found}, ["white-pawn", "zebra"])
    # the pawn found is matched, the pawn box elsewhere is a false positive, the other pawn a miss;
    # a zebra (a class the labels lack) and a clock (a class the model lacks) are nobody's error
    assert sorted((e.kind, e.index) for e in errors) == [("FN", 1), ("FP", 1)]
    assert {e.class_name for e in errors} == {"white-pawn", "White-Pawn "}


def test_a_detection_inside_a_crowd_region_is_no_false_positive():
    """COCOeval matches a detection to a crowd region when half of the detection lies inside it
    (intersection over the detection's area); by IoU, a small detection in a large region was
    listed as a false positive that pycocotools does not count."""
    labels = LabelSet([Category(1, "rook")], [ImageEntry(1, "a.jpg", 400, 400, [Box(0, 0, 200, 200, 1, iscrowd=True)])])
    found = Detections(np.array([[20, 20, 60, 100], [150, 150, 260, 260], [300, 300, 350, 350]], dtype=np.float32),
                       np.array([0.9, 0.8, 0.7], dtype=np.float32), np.array([0, 0, 0]), np.arange(3))
    # inside; a quarter inside (no match: a false detection); outside
    assert sorted(e.index for e in find_errors(labels, {"a.jpg": found}, ["rook"])) == [1, 2]
    # a region of another class excuses nothing (COCOeval matches per category): a knight inside the rooks' region is false
    labels = LabelSet([Category(1, "rook"), Category(2, "knight")], labels.images)
    found = Detections(found.boxes[:1], found.scores[:1], np.array([1]), np.arange(1))
    assert [(e.kind, e.class_name) for e in find_errors(labels, {"a.jpg": found}, ["rook", "knight"])] == [("FP", "knight")]


def test_anchor_layout_matches_the_real_model_and_the_point_view_has_every_anchor_per_level(tiny_checkpoint):
    from core.detector import Detector

    det = Detector.from_file(tiny_checkpoint, device="cpu", precision="fp32")
    image = np.zeros((300, 450, 3), dtype=np.uint8)
    layout = anchor_layout(450, 300, det.preset.anchors, det.preprocess_config)
    (cand,) = det.candidates([image], score_floor=0.0)
    assert layout.boxes.shape[0] > cand.anchor_index.max()
    levels = [lv.count for lv in layout.levels]
    assert np.bincount(cand.level, minlength=5).tolist()[0] <= levels[0]
    at = anchors_at(layout, 225, 150)
    assert sorted(at) == [3, 4, 5, 6, 7] and all(v.shape == (9, 4) for v in at.values())
    centres = {lv: ((v[:, :2] + v[:, 2:]) / 2).round(3) for lv, v in at.items()}
    assert all((c == c[0]).all() for c in centres.values())  # the 9 anchors of a cell share its centre


@pytest.mark.parametrize("anchors", [ANCHORS, AnchorConfig(style="torchvision"), AnchorConfig(ratios=(0.25, 1, 4), scales=(1, 1.5))])
def test_label_assignment_is_the_training_assignment_over_all_anchors(anchors):
    """Only the anchors near a label take part (near_anchors); the result must equal core's
    assignment over every anchor of the image, for the real photo's 32 chess labels, random boxes,
    boxes touching the border, a box smaller than any anchor and one outside the image."""
    coco = read_coco(DATASETS / "chess/train/_annotations.coco.json")
    photo = next(im for im in coco.images if len(im.boxes) == 32)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1900, (20, 2))
    random = np.concatenate([xy, xy + rng.uniform(4, 400, (20, 2))], 1)
    edges = np.array([[0, 0, 90, 60], [1960, 1300, 2048, 1371], [1000, 1000, 1003, 1002], [9000, 10, 9100, 90.0]])
    for boxes in (np.array([[b.x1, b.y1, b.x2, b.y2] for b in photo.boxes]), np.concatenate([random, edges])):
        layout = anchor_layout(2048, 1371, anchors, get_preset("retinanet").preprocess)
        result = assign_labels(layout, boxes, ASSIGN, anchors)
        a, g = torch.from_numpy(layout.boxes), torch.from_numpy(boxes)[None]
        ref = assign(a, g, torch.ones(1, len(boxes), dtype=torch.bool), ASSIGN).matches[0]
        iou = batched_iou(a, g)[0]
        owner = iou.argmax(1)
        for i, r in enumerate(result):
            assert r.positive.tolist() == torch.nonzero(ref == i).squeeze(1).tolist()
            assert r.ignored.tolist() == torch.nonzero((ref == IGNORED) & (owner == i)).squeeze(1).tolist()
            assert r.best_iou == float(iou[:, i].max())
            expected_best = torch.nonzero(iou[:, i] == iou[:, i].max()).squeeze(1).tolist() if r.best_iou > 0 else []
            assert r.best.tolist() == expected_best
        assert len(near_anchors(layout, boxes)) < len(layout.boxes)
    assert result[-1].best_iou == 0 and len(result[-1].positive) == len(result[-1].best) == 0  # the box far outside the image


def test_labels_no_anchor_comes_near_are_assigned_nothing():
    layout = anchor_layout(640, 480, ANCHORS, PRE)
    far = np.array([[9000, 9000, 9100, 9100], [20000, 10, 20100, 90.0]])
    result = assign_labels(layout, far, ASSIGN, ANCHORS)
    assert [(r.best_iou, len(r.positive), len(r.best), r.reachable) for r in result] == [(0.0, 0, 0, False)] * 2
    assert result[0].suggestion == "the box lies outside the image"


def test_best_anchor_ious_equal_the_assignments_best_iou():
    layout = anchor_layout(640, 480, ANCHORS, PRE)
    boxes = np.array([[100, 100, 180, 200], [300, 50, 600, 120.0], [2, 2, 6, 5], [0, 0, 640, 480]])
    expected = [r.best_iou for r in assign_labels(layout, boxes, ASSIGN, ANCHORS)]
    assert best_anchor_ious(layout, boxes).tolist() == expected  # exactly: the same float64 arithmetic
    assert best_anchor_ious(layout, np.zeros((0, 4))).shape == (0,)


def test_suggestions_name_the_missing_ratio_or_size():
    assert "aspect ratio" in suggest_anchor(200, 20, ANCHORS, 0.5)
    assert "smaller anchor size" in suggest_anchor(8, 8, ANCHORS, 0.5)
    assert "larger anchor size" in suggest_anchor(1500, 1500, ANCHORS, 0.5)


def test_coverage_report_on_chess_with_the_demo_settings_and_with_too_few_ratios():
    labels = read_coco(DATASETS / "chess" / "valid" / "_annotations.coco.json")
    preset = get_preset("retinanet")
    report = coverage(labels, preset.anchors, PRE, preset.assign)
    assert len(report.best_iou) == sum(len(im.boxes) for im in labels.images)
    assert report.unreachable_share < 0.01 and report.histogram[0].sum() == len(report.best_iou)
    square_only = AnchorConfig(ratios=(1.0,), scales=(1.0,))
    worse = coverage(labels, square_only, PRE, preset.assign)
    assert worse.unreachable_share > report.unreachable_share
    assert set(worse.per_class()) == {b.category_id for im in labels.images for b in im.boxes}


def test_coverage_and_evaluation_stop_when_cancelled():
    """The window stops them when another folder opens: they must not run on to the end."""
    from core.cancel import Cancelled, CancelToken
    from core.review import evaluate_predictions

    labels = read_coco(DATASETS / "chess" / "valid" / "_annotations.coco.json")
    preset = get_preset("retinanet")
    cancelled = CancelToken()
    cancelled.cancel()
    with pytest.raises(Cancelled):
        coverage(labels, preset.anchors, PRE, preset.assign, cancel=cancelled)
    with pytest.raises(Cancelled):
        evaluate_predictions(labels, {}, ["piece"], eval_score=0.05, nms_thresh=0.5, max_detections=100, view_score=0.3, cancel=cancelled)


def test_evaluation_checks_its_cancel_token_between_images(monkeypatch):
    import core.evaluate
    from core.cancel import Cancelled, CancelToken
    from core.review import evaluate_predictions

    class CancelledAtSecondImage(CancelToken):
        checks = 0

        def raise_if_cancelled(self) -> None:
            self.checks += 1
            if self.checks == 2:
                self.cancel()
            super().raise_if_cancelled()

    labels = LabelSet([Category(1, "rook")], [ImageEntry(i, f"{i}.jpg", 200, 200, [Box(10, 10, 50, 50, 1)]) for i in (1, 2, 3)])
    candidates = {f"{i}.jpg": _candidates([[10, 10, 50, 50]], [0.9], [0]) for i in (1, 2, 3)}
    monkeypatch.setattr(core.evaluate, "coco_evaluate", lambda *a: pytest.fail("went on to pycocotools"))
    token = CancelledAtSecondImage()
    with pytest.raises(Cancelled):
        evaluate_predictions(labels, candidates, ["rook"], eval_score=0.05, nms_thresh=0.5, max_detections=100, view_score=0.3, cancel=token)
    assert token.checks == 2


def test_a_miss_is_not_explained_by_a_detection_another_label_took():
    """A neighbour's detection made the miss "poorly placed" (or, of another class, a "class
    confusion"), and a detection that went to a neighbour hid the label's own one under the threshold."""
    labels = LabelSet([Category(1, "cat"), Category(2, "dog"), Category(3, "bird")], [ImageEntry(1, "a.jpg", 600, 400, [
        Box(0, 0, 100, 100, 1), Box(50, 0, 150, 100, 1),  # two cats at IoU 0.33; the first detected
        Box(200, 0, 300, 100, 1), Box(210, 0, 310, 100, 2),  # a cat and a dog at IoU 0.82; the dog detected
        Box(0, 200, 100, 300, 1), Box(0, 240, 100, 340, 1),  # two cats at IoU 0.43: a detection of both goes to the first
        Box(400, 0, 500, 100, 3)])])  # a bird: a class the model does not have
    boxes = [[0, 0, 100, 100], [210, 0, 310, 100], [0, 215, 100, 315], [0, 240, 100, 340], [400, 0, 500, 100]]
    found = Detections(np.array(boxes, dtype=np.float32), np.array([0.9, 0.9, 0.8, 0.2, 0.8], dtype=np.float32),
                       np.array([0, 1, 0, 0, 0]), np.arange(5))
    errors = find_errors(labels, {"a.jpg": found}, ["cat", "dog"], score_thresh=0.3)
    assert {e.index: (e.cause, e.detail) for e in errors if e.kind == "FN"} == {
        1: ("undetected", "nothing detected of it: the nearest detection, cat 0.90, is another label's"),
        2: ("undetected", "nothing detected of it: the nearest detection, dog 0.90, is another label's"),
        5: ("low_score", "scored too low: its cat detection (IoU 1.00) scores 0.20, below the threshold 0.30")}
    # a cat on the bird is no confusion of the model's (it has no bird class)
    assert [(e.cause, e.detail) for e in errors if e.kind == "FP"] == [
        ("unknown_class", "on a bird label (IoU 1.00), a class the model does not have")]
    assert confusions(errors) == []


def test_one_detection_under_the_threshold_explains_one_miss_not_two():
    """Lowering the threshold would give it to one label: the other's miss is not "scored too low"."""
    labels = LabelSet([Category(1, "cat")], [ImageEntry(1, "a.jpg", 200, 200, [Box(0, 0, 100, 100, 1), Box(0, 20, 100, 120, 1)])])
    found = Detections(np.array([[0, 15, 100, 115]], dtype=np.float32), np.array([0.2], dtype=np.float32), np.array([0]), np.arange(1))
    causes = sorted(e.cause for e in find_errors(labels, {"a.jpg": found}, ["cat"], score_thresh=0.3))
    assert causes == ["low_score", "undetected"]


def test_a_score_under_the_threshold_is_said_with_the_digits_that_tell_them_apart():
    from core.review import _below

    assert _below(0.29996, 0.3) == "0.29996, below the threshold 0.30000"
    assert _below(0.899, 0.9) == "0.899, below the threshold 0.900"
    assert _below(0.5, 0.5) == "0.50, the threshold itself (a detection counts above it)"


def test_a_report_gives_its_errors_at_another_score_threshold_without_evaluating_again(monkeypatch):
    """The score slider re-lists the errors at once: COCO mAP ranks every detection above the floor,
    so only the errors depend on the threshold."""
    import core.evaluate
    from core.review import evaluate_predictions

    labels = LabelSet([Category(1, "rook")], [ImageEntry(i, f"{i}.jpg", 200, 200, [Box(10, 10, 50, 50, 1), Box(100, 100, 150, 150, 1)])
                                              for i in (1, 2)])
    candidates = {f"{i}.jpg": _candidates([[10, 10, 50, 50], [100, 100, 150, 150], [0, 150, 40, 190]], [0.9, 0.4 + i / 10, 0.35], [0, 0, 0])
                  for i in (1, 2)}

    def evaluate(view_score):
        return evaluate_predictions(labels, candidates, ["rook"], eval_score=0.05, nms_thresh=0.5, max_detections=100, view_score=view_score)

    fresh = {t: evaluate(t) for t in (0.3, 0.55, 0.95)}
    report = fresh[0.3]
    monkeypatch.setattr(core.evaluate, "coco_evaluate", lambda *a: pytest.fail("evaluated again"))
    for t, expected in fresh.items():
        again = report.at_score(t)
        assert again.errors == expected.errors and again.score_thresh == t and again.metrics is report.metrics
    assert [(e.kind, e.file_name) for e in fresh[0.55].errors] == [("FN", "1.jpg")]  # the 0.5 there is under 0.55, the 0.6 not


def test_the_threshold_sweep_counts_what_the_error_list_lists_at_each_threshold():
    """One matching of every detection gives the counts at all thresholds: they must be the
    errors listed at each (crowd regions, classes one side lacks and ties at the threshold included)."""
    from benchmarks.bench_review import synthetic
    from core.review import match_images, slider_thresholds, threshold_sweep

    labels, found, names = synthetic(12, seed=3)
    labels.images[0].boxes.append(Box(0, 0, 500, 500, 1, iscrowd=True))
    labels.categories.append(Category(99, "clock"))
    labels.images[1].boxes.append(Box(5, 5, 60, 60, 99))  # a class the model lacks: no miss
    first = found[labels.images[2].file_name]
    first.scores[:3] = np.float32(0.5)  # scores equal to a threshold: not above it
    points = threshold_sweep(match_images(labels, found, names), slider_thresholds(0.05))
    assert [p.score for p in points] == pytest.approx(np.arange(5, 100) / 100)
    labelled = sum(1 for image in labels.images for b in image.boxes if not b.iscrowd and b.category_id != 99)
    for point in points[::7] + [points[45]]:
        errors = find_errors(labels, found, names, point.score)
        assert point.false_positives == sum(e.kind == "FP" for e in errors)
        assert point.missed == sum(e.kind == "FN" for e in errors)
        assert point.true_positives + point.missed == labelled


def test_the_best_f1_threshold_is_the_highest_of_the_best():
    from core.review import ThresholdPoint, best_f1

    points = [ThresholdPoint(0.1, 8, 8, 2), ThresholdPoint(0.2, 8, 2, 2), ThresholdPoint(0.3, 8, 2, 2), ThresholdPoint(0.4, 5, 0, 5)]
    best = best_f1(points)
    assert best.score == 0.3 and best.precision == 0.8 and best.recall == 0.8 and best.f1 == pytest.approx(0.8)
    assert best_f1([ThresholdPoint(0.1, 0, 0, 0)]) is None  # nothing labelled, nothing found
    assert best_f1([ThresholdPoint(0.4, 0, 2, 0), ThresholdPoint(0.7, 0, 0, 0)]) is None  # negatives only: F1 says nothing
    assert best_f1([ThresholdPoint(0.4, 0, 9, 3), ThresholdPoint(0.99, 0, 0, 3)]) is None  # nothing found at any: no best threshold
    assert ThresholdPoint(0.5, 0, 0, 3).precision == 1.0 and ThresholdPoint(0.5, 0, 0, 3).f1 == 0.0


def test_look_alike_label_classes_are_refused_for_scoring_and_not_errors_of_the_model():
    """"Car" and "car" in one file: which one a "car" detection scores against would be a guess
    (training refuses them too); the error list, given such labels, blames the model for neither."""
    from core.evaluate import scoreable

    labels = LabelSet([Category(1, "Car"), Category(2, "car")],
                      [ImageEntry(1, "a.jpg", 200, 200, [Box(10, 10, 50, 50, 1), Box(100, 100, 150, 150, 2)])])
    with pytest.raises(ValueError, match=r"categories 1 \('Car'\) and 2 \('car'\) have the same name"):
        scoreable(labels, ["car"])
    found = Detections(np.array([[100, 100, 150, 150]], dtype=np.float32), np.array([0.9], dtype=np.float32), np.array([0]), np.arange(1))
    assert find_errors(labels, {"a.jpg": found}, ["car"]) == []  # the "Car" box is no miss: the model has no such class


def test_predictions_covered_by_a_same_class_label_are_the_ones_accepting_skips():
    from core.review import covered_by_labels

    boxes = np.array([[10, 10, 50, 50], [10, 10, 50, 50], [100, 100, 150, 150]], dtype=np.float64)
    mask = covered_by_labels(boxes, np.array([1, 2, 1]), np.array([[11, 11, 50, 50]]), np.array([1]))
    assert mask.tolist() == [True, True, False]  # the same place: covered, whatever the class (the object is labelled); another place: not
    assert covered_by_labels(boxes, np.array([1, 2, 1]), np.zeros((0, 4)), np.zeros(0)).tolist() == [False] * 3
    assert new_predictions(boxes, np.array([1, 2, 1]), np.array([[11, 11, 50, 50]]), np.array([1])).keep.tolist() == [2]  # 1: on the label


def test_a_prediction_of_another_class_at_iou_0_77_with_a_label_is_that_object():
    """At 0.8 a hand-drawn black-pawn label got a black-bishop label on top of it (IoU 0.77)."""
    label = np.array([[0, 0, 100, 100.0]])
    choice = new_predictions(np.array([[0, 0, 100, 77.0]]), np.array(["black-bishop"], dtype=object), label,
                             np.array(["black-pawn"], dtype=object))
    assert choice.keep.tolist() == [] and choice.other_class == 1


def test_of_two_classes_predicted_on_one_object_accepting_takes_the_likelier():
    """NMS runs per class: a model unsure between a rook and a knight gives both, and accepting
    both made one object two labels."""
    boxes = np.array([[420, 0, 528, 130], [420, 0, 528, 130], [100, 100, 200, 200], [104, 100, 200, 204], [300, 300, 340, 340.0]])
    choice = new_predictions(boxes, np.array(["rook", "knight", "rook", "queen", "queen"], dtype=object), np.zeros((0, 4)),
                             np.array([], dtype=object))
    assert choice.keep.tolist() == [0, 2, 4] and choice.other_class == 2  # highest score first: the rook over the knight, the rook over the queen


def test_a_likelier_prediction_left_out_as_a_label_s_duplicate_still_says_what_the_object_is():
    """Drawing the rook label turned a knight left out (it lay on the likelier rook prediction) into
    one added: the rook prediction, a duplicate of the label, was no longer compared with."""
    label = np.array([[0, 0, 100, 100.0]])
    preds = np.array([[0, 0, 100, 85], [0, 0, 100, 62.0]])  # the knight is at IoU 0.73 with the rook prediction, 0.62 with the label
    classes = np.array(["rook", "knight"], dtype=object)
    choice = new_predictions(preds, classes, label, np.array(["rook"], dtype=object))
    assert choice.keep.tolist() == [] and choice.other_class == 1
    assert new_predictions(preds, classes, np.zeros((0, 4)), np.array([], dtype=object)).keep.tolist() == [0]


def test_a_coco_heads_placeholder_rows_are_not_named_as_classes_left_unscored():
    """Evaluating torchvision's COCO weights listed __background__ and 11 N/A as model classes not in the labels."""
    from core.evaluate import scoreable

    labels = LabelSet([Category(1, "person"), Category(3, "car")], [ImageEntry(1, "a.jpg", 200, 200, [Box(10, 10, 50, 50, 1)])])
    _, notes = scoreable(labels, ["__background__", "person", "bicycle", "N/A", "N/A"])
    assert notes[0] == "model classes not in the labels (not scored): bicycle"
    _, notes = scoreable(labels, ["__background__", "person", "N/A"])
    assert not any("model classes" in n for n in notes)
    _, notes = scoreable(labels, ["__background__", "dog", "N/A"])
    assert notes[0].startswith("none of the model's 1 class name is a category of the labels")
    _, notes = scoreable(labels, ["person", "N/A"])  # a class of a user's own named "N/A" (no COCO head): a class
    assert notes[0] == "model classes not in the labels (not scored): N/A"


def test_a_miss_detected_as_another_class_says_so_with_its_own_reason():
    """"Why missed?" said only "its best black-rook candidate scores 0.13" where the evaluation said
    "detected as black-queen (0.91, IoU 0.90)"."""
    label = np.array([100, 100, 200, 200.0])
    cand = _candidates([[100, 100, 200, 200], [102, 100, 200, 200]], [0.13, 0.91], [0, 1])
    (e,) = explain_labels(label[None], [0], cand, cand.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5,
                          best_anchor_iou=[0.8], class_names=["black-rook", "black-queen"])
    assert e.reason == "low_score"
    assert e.message == ("its best black-rook candidate scores 0.13, below the threshold 0.30; "
                         "detected as black-queen instead (score 0.91, IoU 0.98)")
    # not a detection of a class hidden in the Model panel (not on screen), nor, as the evaluation, one that matched another
    # label (a bicycle under the person)
    (e,) = explain_labels(label[None], [0], cand, cand.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5,
                          best_anchor_iou=[0.8], class_names=["black-rook", "black-queen"], hidden_classes={1})
    assert "detected as" not in e.message
    person, bicycle = np.array([100, 100, 200, 200.0]), np.array([100, 125, 200, 200.0])  # IoU 0.75
    cand = _candidates([[100, 125, 200, 200]], [0.95], [1])
    person_e, bicycle_e = explain_labels(np.stack([person, bicycle]), [0, 1], cand, cand.filter(0.3, 0.5, None), score_thresh=0.3,
                                         nms_thresh=0.5, best_anchor_iou=[0.8, 0.8], class_names=["person", "bicycle"])
    assert bicycle_e.reason == "detected" and "detected as" not in person_e.message
    tiny = np.array([100, 100, 106, 106.0])  # a sentence of its own: joined without ".;"
    cand = _candidates([[100, 100, 106, 106]], [0.9], [1])
    (e,) = explain_labels(tiny[None], [0], cand, cand.filter(0.3, 0.5, None), score_thresh=0.3, nms_thresh=0.5,
                          best_anchor_iou=[0.2], class_names=["ring", "coin"])
    assert e.reason == "no_anchor" and ".;" not in e.message and e.message.endswith("detected as coin instead (score 0.90, IoU 1.00).")


def test_one_label_explained_alone_is_explained_as_among_all():
    """The window explains the selected label only (all of an image's, at every selection, took 1.2 s at 2,000 labels)."""
    one = _candidates([[50, 50, 150, 130], [300, 300, 340, 340]], [0.9, 0.2], [1, 1])
    labels = np.array([[50, 50, 150, 130], [55, 55, 150, 130], [300, 300, 340, 340.0]])
    kwargs = dict(score_thresh=0.3, nms_thresh=0.5, best_anchor_iou=[0.7, 0.7, 0.7], class_names=["a", "rook"])
    every = explain_labels(labels, [1, 1, 1], one, one.filter(0.3, 0.5, None), **kwargs)
    assert [e.reason for e in every] == ["detected", "taken", "low_score"]
    assert [explain_labels(labels, [1, 1, 1], one, one.filter(0.3, 0.5, None), only=i, **kwargs) for i in range(3)] == [[e] for e in every]


def test_the_windows_evaluation_names_flat_labels_as_retina_eval_does():
    """A label without width was counted a miss ("nothing detected near it") with no note in the window."""
    from core.review import evaluate_predictions

    labels = LabelSet([Category(1, "rook")], [ImageEntry(1, "1.jpg", 200, 200, [Box(10, 10, 50, 50, 1), Box(100, 100, 100, 150, 1)])])
    candidates = {"1.jpg": _candidates([[10, 10, 50, 50]], [0.9], [0])}
    report = evaluate_predictions(labels, candidates, ["rook"], eval_score=0.05, nms_thresh=0.5, max_detections=100, view_score=0.3)
    assert any("without width or height" in note for note in report.notes), report.notes


def test_a_score_above_a_threshold_is_shown_with_the_digits_that_tell_them_apart():
    """A prediction shown over "Score > 0.99" was tagged "0.99"."""
    from core.text import score_text

    assert score_text(0.934, 0.30) == "0.93"
    assert score_text(0.994, 0.99) == "0.994" and score_text(0.9949, 0.99) == "0.995"
    assert score_text(0.30004, 0.30) == "0.30004"  # as near as it is
    import numpy as np

    just_above = float(np.nextafter(np.float32(0.3), np.float32(1)))  # a float32 step above: it passes the strict filter
    assert score_text(just_above, 0.3) != "0.300000" and float(score_text(just_above, 0.3)) > 0.3
