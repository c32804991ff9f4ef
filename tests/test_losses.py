import math

import torch

from core.boxes import BoxCoder
from core.config import AssignConfig, LossConfig
from core.losses import retinanet_loss


def _focal64(logits, targets, valid, alpha=0.25, gamma=2.0):
    """The focal loss formula, written out in float64."""
    x = logits.double()
    p = 1 / (1 + torch.exp(-x))
    pos = -alpha * (1 - p) ** gamma * torch.log(p)
    neg = -(1 - alpha) * p**gamma * torch.log(1 - p)
    return (torch.where(targets == 1, pos, neg) * valid[..., None]).sum()


def _problem(seed=0, batch=3, anchors=400, classes=5):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(anchors, 2, generator=g) * 200
    anchor_boxes = torch.cat([xy, xy + 8 + torch.rand(anchors, 2, generator=g) * 60], 1)
    logits = torch.randn(batch, anchors, classes, generator=g) * 3
    deltas = torch.randn(batch, anchors, 4, generator=g)
    boxes = [anchor_boxes[torch.randint(0, anchors, (n,), generator=g)] + torch.randn(n, 4, generator=g) for n in (4, 0, 2)]
    labels = [torch.randint(0, classes, (len(b),), generator=g) for b in boxes]
    return logits, deltas, anchor_boxes, boxes, labels


def test_focal_loss_equals_float64_formula_with_gradient():
    from core.assign import IGNORED, assign
    from core.losses import pad_targets

    logits, deltas, anchors, boxes, labels = _problem()
    logits.requires_grad_(True)
    losses = retinanet_loss(logits, deltas, anchors, boxes, labels, coder=BoxCoder(), assign_config=AssignConfig(), loss_config=LossConfig())
    losses.classification.backward()

    pb, pl, valid = pad_targets(boxes, labels, torch.device("cpu"))
    matches = assign(anchors, pb, valid).matches
    x64 = logits.detach().double().requires_grad_(True)
    total = 0
    for i in range(3):
        pos = matches[i] >= 0
        targets = torch.zeros(400, 5, dtype=torch.float64)
        targets[pos, pl[i, matches[i, pos]]] = 1
        total = total + _focal64(x64[i], targets, (matches[i] != IGNORED).double()) / max(1, int(pos.sum()))
    total = total / 3
    total.backward()
    assert math.isclose(losses.classification.item(), total.item(), rel_tol=1e-5)
    torch.testing.assert_close(logits.grad.double(), x64.grad, rtol=1e-4, atol=1e-7)


def _seed_reference(logits, deltas, anchors, boxes, labels):
    """yhenon's FocalLoss.forward, per image, as in the seed analysis."""
    alpha, gamma = 0.25, 2.0
    cls_losses, reg_losses = [], []
    aw = anchors[:, 2] - anchors[:, 0]
    ah = anchors[:, 3] - anchors[:, 1]
    ax = anchors[:, 0] + 0.5 * aw
    ay = anchors[:, 1] + 0.5 * ah
    for j in range(logits.shape[0]):
        c = torch.clamp(torch.sigmoid(logits[j]), 1e-4, 1.0 - 1e-4)
        if len(boxes[j]) == 0:
            fw = (1.0 - alpha) * torch.pow(c, gamma)
            cls_losses.append((fw * -torch.log(1.0 - c)).sum())
            reg_losses.append(torch.tensor(0.0))
            continue
        from torchvision.ops import box_iou

        iou = box_iou(anchors, boxes[j])
        iou_max, iou_arg = iou.max(dim=1)
        targets = torch.ones_like(c) * -1
        targets[iou_max < 0.4, :] = 0
        pos = iou_max >= 0.5
        n = pos.sum()
        assigned = boxes[j][iou_arg]
        targets[pos, :] = 0
        targets[pos, labels[j][iou_arg[pos]]] = 1
        af = torch.where(targets == 1.0, alpha, 1.0 - alpha)
        fw = torch.where(targets == 1.0, 1.0 - c, c)
        fw = af * torch.pow(fw, gamma)
        bce = -(targets * torch.log(c) + (1.0 - targets) * torch.log(1.0 - c))
        cl = torch.where(targets != -1.0, fw * bce, torch.zeros_like(c))
        cls_losses.append(cl.sum() / torch.clamp(n.float(), min=1.0))
        if n > 0:
            a = assigned[pos]
            gw = torch.clamp(a[:, 2] - a[:, 0], min=1)
            gh = torch.clamp(a[:, 3] - a[:, 1], min=1)
            gx = a[:, 0] + 0.5 * gw
            gy = a[:, 1] + 0.5 * gh
            t = torch.stack([(gx - ax[pos]) / aw[pos], (gy - ay[pos]) / ah[pos], torch.log(gw / aw[pos]), torch.log(gh / ah[pos])]).t()
            t = t / torch.tensor([[0.1, 0.1, 0.2, 0.2]])
            diff = torch.abs(t - deltas[j, pos])
            reg_losses.append(torch.where(diff <= 1.0 / 9.0, 0.5 * 9.0 * diff**2, diff - 0.5 / 9.0).mean())
        else:
            reg_losses.append(torch.tensor(0.0))
    return torch.stack(cls_losses).mean(), torch.stack(reg_losses).mean()


def test_seed_formulation_equals_the_seed_loss():
    logits, deltas, anchors, boxes, labels = _problem(seed=1)
    ours = retinanet_loss(
        logits, deltas, anchors, boxes, labels, coder=BoxCoder(),
        assign_config=AssignConfig(low_quality_matches=False), loss_config=LossConfig(formulation="seed"),
    )
    cls_ref, box_ref = _seed_reference(logits, deltas, anchors, boxes, labels)
    assert math.isclose(ours.classification.item(), cls_ref.item(), rel_tol=1e-5)
    assert math.isclose(ours.box.item(), box_ref.item(), rel_tol=1e-5)


def test_seed_clamp_freezes_gradient_where_logits_formulation_does_not():
    # yhenon issue #41: with p clamped at 1 - 1e-4 a confident wrong negative gets no gradient.
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    logits = torch.full((1, 1, 2), 12.0, requires_grad=True)
    args = dict(coder=BoxCoder(), assign_config=AssignConfig())
    seed = retinanet_loss(logits, torch.zeros(1, 1, 4), anchors, [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)], loss_config=LossConfig(formulation="seed"), **args)
    (grad_seed,) = torch.autograd.grad(seed.classification, logits)
    ours = retinanet_loss(logits, torch.zeros(1, 1, 4), anchors, [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)], loss_config=LossConfig(), **args)
    (grad_ours,) = torch.autograd.grad(ours.classification, logits)
    assert grad_seed.abs().max() == 0
    assert grad_ours.abs().min() > 0.5


def test_image_without_boxes_has_zero_box_loss_and_batch_is_mean_of_images():
    logits, deltas, anchors, boxes, labels = _problem(seed=2)
    args = dict(coder=BoxCoder(), assign_config=AssignConfig(), loss_config=LossConfig())
    batch = retinanet_loss(logits, deltas, anchors, boxes, labels, **args)
    singles = [retinanet_loss(logits[i : i + 1], deltas[i : i + 1], anchors, boxes[i : i + 1], labels[i : i + 1], **args) for i in range(3)]
    assert singles[1].box.item() == 0
    assert math.isclose(batch.classification.item(), sum(s.classification.item() for s in singles) / 3, rel_tol=1e-5)
    assert math.isclose(batch.box.item(), sum(s.box.item() for s in singles) / 3, rel_tol=1e-5)


def test_torchvision_presets_train_with_torchvision_s_own_loss():
    """Their matching gives a low-quality anchor to the box it overlaps most (which can leave the
    claiming box without one: box loss was up to 19 % off), and v2's box loss is the generalised IoU
    of the decoded boxes, not L1 on the deltas."""
    from torchvision.models.detection._utils import Matcher
    from torchvision.models.detection.retinanet import RetinaNetHead
    from torchvision.ops import box_iou

    from core.presets import get_preset

    g = torch.Generator().manual_seed(0)
    # the small box's best anchor overlaps the tall box more (whose own best is the other): torchvision gives it to the tall box
    contested = (torch.randn(1, 2, 5, generator=g), torch.randn(1, 2, 4, generator=g) * 0.3,
                 torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 13]]), [torch.tensor([[0.0, 0, 10, 14], [0, 0, 3, 3]])], [torch.tensor([0, 1])])
    differs = 0
    for name, loss_type in (("torchvision_v1", "l1"), ("torchvision_v2", "giou")):
        preset = get_preset(name)
        head = RetinaNetHead(8, 1, 5)
        head.regression_head._loss_type = loss_type
        matcher = Matcher(0.5, 0.4, allow_low_quality_matches=True)
        for seed in range(41):
            logits, deltas, anchors, boxes, labels = _problem(seed, anchors=300) if seed < 40 else contested
            deltas = deltas * 0.3 if seed < 40 else deltas  # decoded boxes of a plausible size for the GIoU loss
            ours = retinanet_loss(logits, deltas, anchors, boxes, labels, coder=BoxCoder(preset.coder), assign_config=preset.assign,
                                  loss_config=preset.loss)
            matched = [matcher(box_iou(b, anchors)) if len(b) else torch.full((len(anchors),), -1, dtype=torch.long) for b in boxes]
            theirs = head.compute_loss([{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)],
                                       {"cls_logits": logits, "bbox_regression": deltas}, [anchors] * len(boxes), matched)
            torch.testing.assert_close(ours.classification, theirs["classification"], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(ours.box, theirs["bbox_regression"], rtol=1e-5, atol=1e-6)
            claimant = retinanet_loss(logits, deltas, anchors, boxes, labels, coder=BoxCoder(preset.coder),
                                      assign_config=AssignConfig(), loss_config=preset.loss)
            differs += not torch.allclose(claimant.classification, ours.classification)
    assert differs == 2  # our own rule gives the small box its anchor
