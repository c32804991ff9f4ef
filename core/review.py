"""Reviewing predictions against labels: which predictions to accept as labels, and why the model
missed a label (no anchor reaches it, its candidates score too low, or NMS removed it)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field, replace

import numpy as np

from core.cancel import CancelToken
from core.detections import Candidates, Detections
from core.labels import Box, ImageEntry, LabelSet, category_of_class, class_name_key

ACCEPT_SKIP_IOU = 0.7  # a prediction this close to an existing label of its class is not added again
MATCH_IOU = 0.5  # a label counts as detected by a same-class detection at this IoU
SAME_BOX_IOU = 0.95  # an imported box this close to a label of its class is that label (format rounding aside)
STACKED_IOU = 0.7  # a prediction this close to a label or likelier prediction of another class is that object, not a second one
# (at 0.8 a hand-drawn label and a model unsure between two classes left a second label on one chess piece at IoU 0.77)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a [N, 4] and b [M, 4] (xyxy) -> [N, M]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def _share_inside(box: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """The share of ``box`` [4] inside each of ``regions`` [N, 4]: a detection in a crowd region
    counts as matched when half of it is inside, as COCOeval has it (not by IoU: a crowd region is
    larger than any one object in it)."""
    wh = np.clip(np.minimum(box[2:], regions[:, 2:]) - np.maximum(box[:2], regions[:, :2]), 0, None)
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-12)
    return wh[:, 0] * wh[:, 1] / area


def count_twins(reference: Detections, other: Detections, *, min_iou: float = 0.9, score_tol: float = 0.02) -> int:
    """How many ``reference`` detections have a twin in ``other``: same class, IoU >= ``min_iou`` and
    score within ``score_tol`` (how a lower precision or another device is compared with fp32)."""
    if len(reference) == 0 or len(other) == 0:
        return 0
    same = ((box_iou(reference.boxes, other.boxes) >= min_iou) & (reference.labels[:, None] == other.labels[None, :])
            & (np.abs(reference.scores[:, None] - other.scores[None, :]) <= score_tol))
    return int(same.any(1).sum())


def covered_by_labels(boxes: np.ndarray, classes: np.ndarray, label_boxes: np.ndarray, label_classes: np.ndarray,
                      iou: float = ACCEPT_SKIP_IOU, other_class_iou: float = STACKED_IOU) -> np.ndarray:
    """Mask [N] of the predictions (``boxes`` [N, 4], ``classes`` [N]) that a label covers: one of
    the same class at IoU >= ``iou``, or of another class at IoU >= ``other_class_iou`` (the object
    is labelled). Accepting skips them (:func:`new_predictions`); the window draws them faintly."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    label_boxes = np.asarray(label_boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes) or not len(label_boxes):
        return np.zeros(len(boxes), dtype=bool)
    same = np.asarray(classes).reshape(-1, 1) == np.asarray(label_classes).reshape(1, -1)
    overlap = box_iou(boxes, label_boxes)
    return ((overlap >= iou) & same).any(axis=1) | ((overlap >= other_class_iou) & ~same).any(axis=1)


@dataclass(frozen=True)
class AcceptChoice:
    """What accepting predictions adds (:func:`new_predictions`), and how many of the others it
    leaves out for each reason."""

    keep: np.ndarray  # indices of the predictions added
    labelled: int  # repeat a label of their class
    repeats: int  # repeat a likelier prediction of their class that is added (NMS let both through)
    other_class: int  # lie on a label or likelier prediction of another class


def new_predictions(boxes: np.ndarray, classes: np.ndarray, label_boxes: np.ndarray, label_classes: np.ndarray,
                    skip_iou: float = ACCEPT_SKIP_IOU, other_class_iou: float = STACKED_IOU) -> AcceptChoice:
    """What accepting predictions (``boxes`` [N, 4], ``classes`` [N], highest score first) adds:
    those that neither duplicate a label or an earlier kept prediction of the same class (IoU >=
    ``skip_iou``) nor lie on one of another class (IoU >= ``other_class_iou``: NMS runs per class,
    so a model unsure between two classes gives both, and a label of one class says what the
    object is); the others counted by reason (a loose NMS threshold's repeats were said to be
    "labelled already"). Classes are compared as given (category ids, or class-name keys, on both
    sides)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    classes = np.asarray(classes).reshape(-1)
    label_boxes = np.asarray(label_boxes, dtype=np.float64).reshape(-1, 4)
    label_classes = np.asarray(label_classes).reshape(-1)
    to_labels = box_iou(boxes, label_boxes) if len(label_boxes) else np.zeros((len(boxes), 0))
    to_predictions = box_iou(boxes, boxes)
    keep: list[int] = []
    labelled = repeats = other_class = 0
    for i in range(len(boxes)):
        same_label = label_classes == classes[i]
        kept = np.array(keep, dtype=np.int64)
        if (to_labels[i, same_label] >= skip_iou).any():
            labelled += 1
            continue
        if (to_predictions[i, kept[classes[kept] == classes[i]]] >= skip_iou).any():
            repeats += 1
            continue
        # against every likelier prediction, kept or not: a likelier one left out as a label's duplicate still says what the object is
        if (to_labels[i, ~same_label] >= other_class_iou).any() or (to_predictions[i, :i][classes[:i] != classes[i]] >= other_class_iou).any():
            other_class += 1
            continue
        keep.append(i)
    return AcceptChoice(np.array(keep, dtype=np.int64), labelled, repeats, other_class)


def already_labelled(boxes: np.ndarray, classes: np.ndarray, label_boxes: np.ndarray, label_classes: np.ndarray,
                     same_iou: float = SAME_BOX_IOU) -> np.ndarray:
    """Mask of ``boxes`` that repeat a label of the same class (IoU >= ``same_iou``): importing a
    labels file twice must not double every box. Boxes of the import are not compared with each
    other (a file may hold overlapping objects)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes) or not len(label_boxes):
        return np.zeros(len(boxes), dtype=bool)
    same_class = np.asarray(classes).reshape(-1, 1) == np.asarray(label_classes).reshape(1, -1)
    return ((box_iou(boxes, label_boxes) >= same_iou) & same_class).any(1)


@dataclass(frozen=True)
class Explanation:
    """Why a label is or is not among the detections at the current thresholds."""

    reason: str  # "detected", "no_anchor", "low_score", "nms", "cap", "taken"
    message: str
    best_score: float = 0.0  # best same-class candidate overlapping the label (IoU >= 0.5)
    suppressed_by: int | None = None  # index into the detections of the box that removed it


def match_detections(label_boxes: np.ndarray, label_classes: np.ndarray, detections: Detections, iou: float = MATCH_IOU) -> np.ndarray:
    """COCO-style greedy matching: detections in score order each take the unmatched same-class
    label they overlap most (IoU >= ``iou``). Returns, per label, the matching detection or -1."""
    matched = np.full(len(label_boxes), -1, dtype=np.int64)
    if len(label_boxes) == 0 or len(detections) == 0:
        return matched
    overlaps = box_iou(detections.boxes, label_boxes)
    for j in np.argsort(-detections.scores, kind="stable"):
        free = (matched < 0) & (label_classes == detections.labels[j]) & (overlaps[j] >= iou)
        if free.any():
            matched[np.flatnonzero(free)[np.argmax(overlaps[j][free])]] = j
    return matched


def explain_labels(label_boxes: np.ndarray, label_classes: np.ndarray, candidates: Candidates, detections: Detections, *,
                   score_thresh: float, nms_thresh: float, best_anchor_iou: np.ndarray, positive_iou: float = 0.5,
                   class_names: list[str] | None = None, hidden_classes: Collection[int] = (),
                   only: int | None = None) -> list[Explanation]:
    """Why each label (``label_boxes`` [G, 4] image pixels, ``label_classes`` [G] model class
    indices) is or is not detected; ``detections`` is ``candidates`` filtered at the thresholds.
    ``only``: that label's alone, in a list of one (the matching still takes them all; explaining
    every label of an image of 2,000 at each selection took 1.2 s).
    A miss that a detection of another class covers says so too: not one of ``hidden_classes``
    (not on screen), nor one that matched another label (the evaluation leaves those out too);
    a miss whose own detection matched another label says that."""
    label_boxes = np.asarray(label_boxes, dtype=np.float64).reshape(-1, 4)
    label_classes = np.asarray(label_classes)
    matched = match_detections(label_boxes, label_classes, detections)
    ious = box_iou(label_boxes, detections.boxes) if len(label_boxes) and len(detections) else np.zeros((len(label_boxes), len(detections)))
    taken = np.zeros(len(detections), dtype=bool)
    taken[matched[matched >= 0]] = True
    # what "detected as another class" may name: no detection another label took (as the evaluation), none of a hidden class
    free = ~taken & ~np.isin(detections.labels, list(hidden_classes))
    name = (lambda k: class_names[k]) if class_names else (lambda k: f"class {k}")
    out = []
    for i in range(len(label_boxes)) if only is None else (only,):
        box, k, j = label_boxes[i], label_classes[i], matched[i]
        if j >= 0:
            out.append(Explanation("detected", f"detected: score {detections.scores[j]:.2f}, IoU {ious[i, j]:.2f}", float(detections.scores[j])))
            continue
        why = _why_missed(box, int(k), candidates, detections, score_thresh, nms_thresh, float(best_anchor_iou[i]), positive_iou, name)
        went = np.flatnonzero(taken & (detections.labels == k) & (ious[i] >= MATCH_IOU))
        if len(went) and why.reason in ("no_anchor", "low_score"):
            # its own detection matched another label it overlaps more ("the model does not see it" was said of it, or the score
            # of a candidate NMS removed under it, where the evaluation said where its detection went)
            j = int(went[np.argmax(detections.scores[went])])
            why = Explanation("taken", f"its {name(int(k))} detection (score {detections.scores[j]:.2f}, IoU {ious[i, j]:.2f}) went to "
                                       "another label of its class, which it overlaps more", float(detections.scores[j]))
        if seen := _seen_as(ious[i], int(k), detections, name, free):
            stop = "." if why.message.endswith(".") else ""
            why = replace(why, message=f"{why.message.removesuffix('.')}; {seen}{stop}")
        out.append(why)
    return out


def _seen_as(iou: np.ndarray, label_class, detections, name, free: np.ndarray) -> str:
    """The likeliest ``free`` detection of another class on a missed label (``iou`` with each
    detection), said with the reason its own class missed it ("Why missed?" said only "its best
    black-rook candidate scores 0.13" where the evaluation said "detected as black-queen (0.91, IoU 0.90)")."""
    on = np.flatnonzero(free & (detections.labels != label_class) & (iou >= MATCH_IOU))
    if not len(on):
        return ""
    j = int(on[np.argmax(detections.scores[on])])
    return f"detected as {name(int(detections.labels[j]))} instead (score {detections.scores[j]:.2f}, IoU {iou[j]:.2f})"


def _why_missed(label_box, label_class, candidates, detections, score_thresh, nms_thresh, best_anchor_iou, positive_iou, name):
    # candidates of its class that did not become detections (those went to other labels)
    mine = np.setdiff1d(np.flatnonzero(candidates.labels == label_class), detections.candidate_index)
    overlap = box_iou(label_box[None], candidates.to_image_pixels(candidates.boxes[mine]))[0] if len(mine) else np.zeros(0)
    hits = mine[overlap >= MATCH_IOU]
    if len(hits) == 0:
        if best_anchor_iou < positive_iou:
            return Explanation("no_anchor", f"no anchor reaches it: the best anchor has IoU {best_anchor_iou:.2f} (< {positive_iou:g}); "
                                            "only the low-quality rule trains it. See the anchor view for a setting that reaches it.")
        return Explanation("low_score", f"no {name(label_class)} candidate covers it above the score floor "
                                        f"{candidates.score_floor:.2f}: the model does not see it")
    best = int(hits[np.argmax(candidates.scores[hits])])
    best_score = float(candidates.scores[best])
    if best_score <= score_thresh:
        return Explanation("low_score", f"its best {name(label_class)} candidate scores {_below(best_score, score_thresh)}", best_score)
    # Above the threshold but not kept: a higher-scoring same-class detection suppressed it in NMS
    # (which runs in network-input pixels, where the candidates' boxes are).
    kept = np.flatnonzero(detections.labels == label_class)
    if len(kept):
        iou = box_iou(candidates.boxes[best][None], candidates.boxes[detections.candidate_index[kept]])[0]
        culprits = np.flatnonzero((iou > nms_thresh) & (detections.scores[kept] >= best_score))
        if len(culprits):
            # greedy NMS: the highest-scoring kept detection over the threshold removed it (not the one overlapping most)
            first = culprits[np.argmax(detections.scores[kept][culprits])]
            j = int(kept[first])
            return Explanation("nms", f"removed by NMS: its candidate (score {best_score:.2f}) overlaps a {name(label_class)} "
                                      f"detection scoring {detections.scores[j]:.2f} at IoU {iou[first]:.2f} > {nms_thresh:.2f}",
                               best_score, j)
    return Explanation("cap", f"its candidate (score {best_score:.2f}) was cut by the limit on detections per image", best_score)


@dataclass(frozen=True)
class EvaluationError:
    """A false positive (a detection no label matches) or a false negative (a missed label)."""

    kind: str  # "FP" or "FN"
    file_name: str
    box: tuple[float, float, float, float]
    class_name: str
    score: float  # the detection's score (FP) or the best score of a detection on the label (FN: IoU >= 0.5, any class or score; 0 if none)
    index: int  # detection index (FP) or label index within the image (FN)
    detail: str = ""  # what kind of error, in words
    cause: str = ""  # that kind, one of CAUSES[kind]
    other_class: str = ""  # a class confusion's other class: what the missed label was detected as, what label a false positive is on
    on_label: int | None = None  # a false positive on a label of another class: that label's index within the image


NEAR_IOU = 0.1  # below this, a box has nothing near it
SURE_SCORE = 0.9  # a detection this sure that disagrees with the labels points at the labels: a wrong class, a box not drawn

# What went wrong, by kind, in the order the evaluation view lists them: each asks for another fix
# (the labels, the threshold, NMS, the anchors or box head, more negative examples).
CAUSES = {
    "FN": {"confusion": "class confusion", "low_score": "scored below the threshold", "taken": "its detection went to another label",
           "placement": "poorly placed detection", "undetected": "nothing detected"},
    "FP": {"duplicate": "duplicate", "confusion": "class confusion", "second_guess": "another class on a found object",
           "unknown_class": "on a class the model lacks",
           "placement": "poorly placed", "background": "background"},
}


ERROR_COLUMNS = ("kind", "cause", "class", "other_class", "score", "file_name", "x1", "y1", "x2", "y2", "detail")


def confusions(errors: list[EvaluationError]) -> list[tuple[str, str, int]]:
    """(label class, class detected instead, how many) of the missed labels detected as another
    class, most frequent first: the pairs the model mixes up (classes compared by name key)."""
    pairs: Counter = Counter()
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for e in errors:
        if e.kind == "FN" and e.cause == "confusion":
            key = (class_name_key(e.class_name), class_name_key(e.other_class))
            pairs[key] += 1
            names.setdefault(key, (e.class_name, e.other_class))
    return [(*names[key], n) for key, n in sorted(pairs.items(), key=lambda kv: (-kv[1], names[kv[0]]))]


def errors_csv(errors: list[EvaluationError]) -> str:
    """``errors`` as CSV, a row each under :data:`ERROR_COLUMNS` (boxes in image pixels; the score
    is the detection's for a false positive; for a miss, the best of a detection on it (IoU 0.5, any class or score), 0 for none;
    ``other_class`` the other class of a class confusion, and the label's class under another class's detection on a found object):
    a list to hand to whoever fixes the labels, or to compare models by."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ERROR_COLUMNS)
    for e in errors:
        writer.writerow([e.kind, e.cause, e.class_name, e.other_class, f"{e.score:.4f}", e.file_name, *(f"{v:.2f}" for v in e.box), e.detail])
    return out.getvalue()


def _below(score: float, threshold: float) -> str:
    """``score`` and the ``threshold`` it fell short of, with the digits it takes to tell them apart
    ("0.90, below the threshold 0.90" said nothing); one equal to it is said so (a detection counts
    above the threshold)."""
    for digits in range(2, 7):
        if f"{score:.{digits}f}" != f"{threshold:.{digits}f}":
            return f"{score:.{digits}f}, below the threshold {threshold:.{digits}f}"
    return f"{threshold:.2f}, the threshold itself (a detection counts above it)"


def _best(mask: np.ndarray, values: np.ndarray) -> int:
    """The index, among those in ``mask``, of the largest of ``values``."""
    where = np.flatnonzero(mask)
    return int(where[np.argmax(values[where])])


def _fp_detail(iou: np.ndarray, label_names: list[str], label_classes: np.ndarray, detection_class: int,
               score: float, found: np.ndarray) -> tuple[str, str, str, int | None]:
    """Why a false positive is false, as (cause, words, the label's class and the label (its place
    among ``label_names``) it lies on, of another class), from its IoU with each label of the image
    (``label_classes``: the labels' model class indices, -1 for a class the model lacks; ``found``:
    the labels a detection of their own class matched). A label of its own class is looked at
    first: the nearest label of any class called a duplicate "poorly placed" when another class's
    label lay closer. On a label of another class that its own class found, it is a second guess,
    not a confusion (36 of 38 "class confusions" were, beside 2 missed labels)."""
    same, over, near = label_classes == detection_class, iou >= MATCH_IOU, iou >= NEAR_IOU
    if (same & over).any():  # (matching gave that label to a likelier detection: this one would have taken it)
        k = _best(same & over, iou)
        return "duplicate", f"a duplicate: the {label_names[k]} label it covers (IoU {iou[k]:.2f}) went to a higher-scoring detection", "", None
    known = label_classes >= 0
    if (over & known & ~found).any():
        k = _best(over & known & ~found, iou)
        sure = ". Sure of it, on the same box: is the label's class wrong?" if score >= SURE_SCORE and iou[k] >= STACKED_IOU else ""
        return "confusion", f"class confusion: on a {label_names[k]} label (IoU {iou[k]:.2f}){sure}", label_names[k], int(k)
    if (over & known).any():
        k = _best(over & known, iou)
        return ("second_guess", f"another class on a found object: the {label_names[k]} label under it (IoU {iou[k]:.2f}) was "
                                f"found by a {label_names[k]} detection", label_names[k], int(k))
    if over.any():  # (not the model's confusion: it cannot say that class)
        k = _best(over, iou)
        return "unknown_class", f"on a {label_names[k]} label (IoU {iou[k]:.2f}), a class the model does not have", "", None
    if (same & near).any():
        k = _best(same & near, iou)
        return "placement", f"poorly placed: the nearest {label_names[k]} label at IoU {iou[k]:.2f}", "", None
    if near.any():
        k = _best(near, iou)
        return "placement", f"poorly placed, and of another class: the nearest label, {label_names[k]}, at IoU {iou[k]:.2f}", "", None
    if score >= SURE_SCORE:
        return "background", "background: no label near it. Sure of it: is a box missing from the labels?", "", None
    return "background", "background: no label near it", "", None


def _fn_detail(iou: np.ndarray, found: Detections, shown: np.ndarray, used: np.ndarray, class_names: list[str], label_class: int,
               score_thresh: float, elsewhere: np.ndarray) -> tuple[str, str, str]:
    """Why a label was missed, as (cause, words, the class it was detected as in a confusion), from
    the detections of its image (``iou`` with each; ``shown``: those above the threshold, the others
    say what the model saw below it; ``used``: those that matched another label, which explain
    nothing of this one but that they went there; ``elsewhere``: those that match another label
    at the lowest threshold, which lowering the threshold would give to that one)."""
    own, over, near, free = found.labels == label_class, iou >= MATCH_IOU, iou >= NEAR_IOU, shown & ~used
    mine = class_names[label_class]

    def said(j: int) -> str:
        return f"{class_names[int(found.labels[j])]} {found.scores[j]:.2f}"

    low = own & over & ~shown & ~elsewhere  # (one under the threshold explained two misses: lowering it found one)
    if (~own & over & free).any():
        j = _best(~own & over & free, found.scores)
        other = class_names[int(found.labels[j])]
        also = f"; as {mine} it scores {found.scores[_best(low, found.scores)]:.2f}" if low.any() else ""
        if found.scores[j] >= SURE_SCORE and iou[j] >= STACKED_IOU:  # (one object: as accepting takes it)
            also += ". Sure of it, on the same box: is the label's class wrong?"
        return "confusion", f"class confusion: detected as {other} ({found.scores[j]:.2f}, IoU {iou[j]:.2f}){also}", other
    if low.any():  # (before "taken": the label's own detection is there, under the threshold)
        j = _best(low, found.scores)
        return "low_score", f"scored too low: its {mine} detection (IoU {iou[j]:.2f}) scores {_below(float(found.scores[j]), score_thresh)}", ""
    if (own & over & shown).any():  # (matching gave it to another label of its class that it overlaps more)
        j = _best(own & over & shown, found.scores)
        return "taken", f"its {mine} detection ({found.scores[j]:.2f}, IoU {iou[j]:.2f}) went to another label", ""
    if (own & near & free).any():
        j = _best(own & near & free, iou)
        return "placement", f"poorly placed: the nearest {mine} detection ({found.scores[j]:.2f}) at IoU {iou[j]:.2f}", ""
    if (near & free).any():
        j = _best(near & free, iou)
        return "placement", f"poorly placed, and of another class: the nearest detection, {said(j)}, at IoU {iou[j]:.2f}", ""
    if (near & ~shown).any():
        j = _best(near & ~shown, iou)
        return "undetected", f"nothing detected near it above the threshold; below it, {said(j)} at IoU {iou[j]:.2f}", ""
    if (near & used).any():
        j = _best(near & used, iou)
        return "undetected", f"nothing detected of it: the nearest detection, {said(j)}, is another label's", ""
    return "undetected", "nothing detected near it", ""


@dataclass(frozen=True)
class ImageMatch:
    """One image's labels matched by all of its detections (above the model's floor). Greedy
    matching decides each detection from the likelier ones only, so the matches at any score
    threshold are these, less those of detections under it: the errors and the counts at every
    threshold come from this one matching."""

    image: ImageEntry
    found: Detections
    labels: list[tuple[int, Box]]  # the regular (not crowd) labels, with their index in the image
    classes: np.ndarray  # [G] their model class index, -1 for a class the model lacks
    matched: np.ndarray  # [G] the detection that matches each, -1 for none
    counted: np.ndarray  # [D] detections that are false when unmatched: of a class the labels have, not in a crowd region
    ious: np.ndarray  # [D, G]


def match_images(labels: LabelSet, detections: dict[str, Detections], class_names: list[str],
                 cancel: CancelToken | None = None) -> list[ImageMatch]:
    """The matching of each image of ``labels`` that has detections (per file name, model class
    indices; classes matched by name, :func:`core.labels.category_of_class`). ``cancel`` is
    checked per image."""
    category_of = category_of_class(class_names, labels.categories)
    model_index = {cid: k for k, cid in category_of.items()}
    out = []
    for image in labels.images:
        if cancel is not None:
            cancel.raise_if_cancelled()
        found = detections.get(image.file_name)
        if found is None:
            continue
        regular = [(i, b) for i, b in enumerate(image.boxes) if not b.iscrowd]
        boxes = np.array([[b.x1, b.y1, b.x2, b.y2] for _, b in regular], dtype=np.float64).reshape(-1, 4)
        classes = np.array([model_index.get(b.category_id, -1) for _, b in regular], dtype=np.int64)
        counted = np.isin(found.labels, list(category_of))
        regions = [b for b in image.boxes if b.iscrowd]
        crowd = np.array([[b.x1, b.y1, b.x2, b.y2] for b in regions], dtype=np.float64).reshape(-1, 4)
        crowd_classes = np.array([model_index.get(b.category_id, -1) for b in regions], dtype=np.int64)
        for j in np.flatnonzero(counted) if len(crowd) else ():
            # a region of its own class only, as COCOeval matches per category (a "person" crowd excused a dog detection)
            same = crowd_classes == found.labels[j]
            counted[j] = not same.any() or _share_inside(found.boxes[j], crowd[same]).max() < MATCH_IOU
        ious = box_iou(found.boxes, boxes) if len(found) and len(boxes) else np.zeros((len(found), len(boxes)))
        out.append(ImageMatch(image, found, regular, classes, match_detections(boxes, classes, found), counted, ious))
    return out


def errors_at(matches: list[ImageMatch], category_names: dict[int, str], class_names: list[str], score_thresh: float,
              cancel: CancelToken | None = None) -> list[EvaluationError]:
    """The false positives and negatives of the detections above ``score_thresh``; those below it
    only explain misses (a label whose own detection scored just under the threshold is no
    "nothing detected"). Crowd regions neither count as misses nor make detections false. A class
    only one side has is no error of the model's: labels it cannot predict are not misses, its
    detections of a class the labels lack are not false (:func:`core.evaluate.scoreable` names both)."""
    errors = []
    for m in matches:
        if cancel is not None:
            cancel.raise_if_cancelled()
        found, name = m.found, m.image.file_name
        shown = found.scores > score_thresh
        taken = m.matched >= 0
        taken[taken] = shown[m.matched[taken]]
        matched = np.where(taken, m.matched, -1)
        used = np.zeros(len(found), dtype=bool)
        used[matched[taken]] = True
        label_names = [category_names[b.category_id] for _, b in m.labels]
        for j in np.flatnonzero(shown & m.counted & ~used):
            cause, detail, other, on = _fp_detail(m.ious[j], label_names, m.classes, int(found.labels[j]), float(found.scores[j]), taken)
            errors.append(EvaluationError("FP", name, tuple(map(float, found.boxes[j])), class_names[int(found.labels[j])],
                                          float(found.scores[j]), int(j), detail, cause, other, None if on is None else m.labels[on][0]))
        matched_anywhere = np.zeros(len(found), dtype=bool)  # at the lowest threshold
        matched_anywhere[m.matched[m.matched >= 0]] = True
        for k in np.flatnonzero((matched < 0) & (m.classes >= 0)):
            i, b = m.labels[k]
            overlap = m.ious[:, k]
            best = float(found.scores[overlap >= MATCH_IOU].max(initial=0.0))  # (under the threshold too: how near it came)
            elsewhere = matched_anywhere.copy()
            if m.matched[k] >= 0:
                elsewhere[m.matched[k]] = False
            cause, detail, other = _fn_detail(overlap, found, shown, used, class_names, int(m.classes[k]), score_thresh, elsewhere)
            errors.append(EvaluationError("FN", name, (b.x1, b.y1, b.x2, b.y2), label_names[k], best, i, detail, cause, other))
    return errors


def find_errors(labels: LabelSet, detections: dict[str, Detections], class_names: list[str],
                score_thresh: float = 0.0) -> list[EvaluationError]:
    """False positives and negatives, against ``labels``, of the ``detections`` (per file name,
    model class indices) that score above ``score_thresh`` (see :func:`errors_at`)."""
    return errors_at(match_images(labels, detections, class_names), labels.category_names(), class_names, score_thresh)


@dataclass(frozen=True)
class ThresholdPoint:
    """Detection counts at one score threshold (a detection counts above it), matched as
    :func:`errors_at` matches."""

    score: float
    true_positives: int
    false_positives: int
    missed: int

    @property
    def detections(self) -> int:
        return self.true_positives + self.false_positives

    @property
    def precision(self) -> float:
        """1.0 with nothing detected (no false detection), as the best F1 takes it; shown as "n/a"."""
        return self.true_positives / self.detections if self.detections else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.missed
        return self.true_positives / labelled if labelled else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def threshold_sweep(matches: list[ImageMatch], thresholds: np.ndarray) -> list[ThresholdPoint]:
    """Precision and recall at each of ``thresholds`` (the errors at each are those
    :func:`errors_at` lists there): which score to predict at, the one to set the score slider to."""
    true, false, labelled = [], [], 0
    for m in matches:
        labelled += int((m.classes >= 0).sum())
        hit = np.zeros(len(m.found), dtype=bool)
        hit[m.matched[m.matched >= 0]] = True
        true.append(m.found.scores[hit])
        false.append(m.found.scores[~hit & m.counted])
    # (float32, as the detections are compared with a threshold: a score equal to it is not above it)
    true, false = (np.sort(np.concatenate(x).astype(np.float32)) if x else np.zeros(0, np.float32) for x in (true, false))
    at = np.asarray(thresholds, dtype=np.float32)
    tp = len(true) - np.searchsorted(true, at, side="right")
    fp = len(false) - np.searchsorted(false, at, side="right")
    return [ThresholdPoint(float(t), int(a), int(b), labelled - int(a)) for t, a, b in zip(thresholds, tp, fp)]


def best_f1(points: list[ThresholdPoint]) -> ThresholdPoint | None:
    """The threshold of the highest F1 (of equal ones, the highest threshold: fewer detections to
    look at); None when nothing is labelled (F1 says nothing there: a set of negatives only), or
    when no threshold finds a label (every F1 0: "best F1 0.000 at score > 0.99" named a threshold
    as good as any other)."""
    scored = [p for p in points if p.true_positives + p.missed]
    best = max(reversed(scored), key=lambda p: p.f1) if scored else None
    return best if best is not None and best.f1 > 0 else None


def slider_thresholds(score_floor: float) -> np.ndarray:
    """The score thresholds a user can set (the Model panel's slider): hundredths, from the model's
    floor to 0.99."""
    return np.arange(max(1, round(score_floor * 100)), 100) / 100


@dataclass(frozen=True)
class ReviewReport:
    """COCO metrics of a model on labelled images, and its errors at one score threshold."""

    metrics: object  # core.evaluate.EvalResult, over every detection above the model's score floor
    errors: list[EvaluationError]
    images: int
    notes: tuple[str, ...] = ()  # classes left out of the scores (the model lacks them, or the labels do)
    score_thresh: float = 0.0  # the threshold of the errors
    sweep: tuple[ThresholdPoint, ...] = ()  # precision and recall at each threshold the slider can take
    matches: tuple[ImageMatch, ...] = ()  # the errors at another threshold come from these, with:
    category_names: dict[int, str] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()

    @classmethod
    def of(cls, metrics, labels: LabelSet, detections: dict[str, Detections], class_names: list[str], *, score_thresh: float,
           score_floor: float, notes: tuple[str, ...] = (), cancel: CancelToken | None = None) -> ReviewReport:
        """The report of ``detections`` (above ``score_floor``) on ``labels``, its errors at ``score_thresh``."""
        matches = match_images(labels, detections, class_names, cancel)
        names = labels.category_names()
        return cls(metrics, errors_at(matches, names, class_names, score_thresh, cancel), len(labels.images), notes, score_thresh,
                   tuple(threshold_sweep(matches, slider_thresholds(score_floor))), tuple(matches), names, tuple(class_names))

    def at_score(self, score_thresh: float, cancel: CancelToken | None = None) -> ReviewReport:
        """The same report with the errors at another score threshold (the metrics do not depend on
        it: COCO mAP ranks every detection), from its matching: no network run, no pycocotools
        (benchmarks/bench_review.py)."""
        errors = errors_at(list(self.matches), self.category_names, list(self.class_names), score_thresh, cancel)
        return replace(self, errors=errors, score_thresh=score_thresh)

    @property
    def best_f1(self) -> ThresholdPoint | None:
        return best_f1(list(self.sweep))


def evaluate_predictions(labels: LabelSet, candidates: dict[str, Candidates], class_names: list[str], *, eval_score: float,
                         nms_thresh: float, max_detections: int | None, view_score: float,
                         cancel: CancelToken | None = None) -> ReviewReport:
    """COCO metrics of cached predictions on the labelled images (at the model's low evaluation
    threshold, as COCO mAP expects), and the false positives / negatives at ``view_score`` (the
    threshold the user is looking at). Raises :class:`core.cancel.Cancelled` when ``cancel`` is set
    (checked per image, before and after pycocotools' part)."""
    from core.evaluate import coco_evaluate, detections_for_evaluation, scoreable
    from core.formats.convert import box_problems

    subset = labels.with_files(candidates)
    category_of = category_of_class(class_names, labels.categories)
    scored, found = [], {}
    for image in subset.images:
        if cancel is not None:
            cancel.raise_if_cancelled()
        found[image.file_name] = candidates[image.file_name].filter(eval_score, nms_thresh, max_detections)
        scored += detections_for_evaluation(found[image.file_name], category_of, image.id)
    scoring, notes = scoreable(subset, class_names)
    notes += box_problems(subset)  # (as retina eval says them: a flat label was counted a miss, unsaid)
    metrics = coco_evaluate(scoring, scored)
    if cancel is not None:
        cancel.raise_if_cancelled()
    return ReviewReport.of(metrics, subset, found, class_names, score_thresh=view_score, score_floor=eval_score, notes=tuple(notes),
                           cancel=cancel)
