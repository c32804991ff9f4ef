"""An independent re-implementation of yhenon/pytorch-retinanet's inference (as described in the seed
analysis and ../shared/docs/retinanet-reference.md), used only to check core against it.

Module and attribute names are the seed's, so its state dict and pickled files look like the real ones.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import torch
from torch import nn
from torchvision.ops import nms


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class PyramidFeatures(nn.Module):
    def __init__(self, c3, c4, c5, size=256):
        super().__init__()
        self.P5_1 = nn.Conv2d(c5, size, 1)
        self.P5_upsampled = nn.Upsample(scale_factor=2, mode="nearest")
        self.P5_2 = nn.Conv2d(size, size, 3, padding=1)
        self.P4_1 = nn.Conv2d(c4, size, 1)
        self.P4_upsampled = nn.Upsample(scale_factor=2, mode="nearest")
        self.P4_2 = nn.Conv2d(size, size, 3, padding=1)
        self.P3_1 = nn.Conv2d(c3, size, 1)
        self.P3_2 = nn.Conv2d(size, size, 3, padding=1)
        self.P6 = nn.Conv2d(c5, size, 3, stride=2, padding=1)
        self.P7_1 = nn.ReLU()
        self.P7_2 = nn.Conv2d(size, size, 3, stride=2, padding=1)

    def forward(self, inputs):
        c3, c4, c5 = inputs
        p5 = self.P5_1(c5)
        p5_up = self.P5_upsampled(p5)
        p5 = self.P5_2(p5)
        p4 = self.P4_1(c4)
        p4 = p5_up + p4
        p4_up = self.P4_upsampled(p4)
        p4 = self.P4_2(p4)
        p3 = self.P3_1(c3)
        p3 = p3 + p4_up
        p3 = self.P3_2(p3)
        p6 = self.P6(c5)
        p7 = self.P7_2(self.P7_1(p6))
        return [p3, p4, p5, p6, p7]


class RegressionModel(nn.Module):
    def __init__(self, features, num_anchors=9, size=256):
        super().__init__()
        for i in range(1, 5):
            setattr(self, f"conv{i}", nn.Conv2d(features if i == 1 else size, size, 3, padding=1))
            setattr(self, f"act{i}", nn.ReLU())
        self.output = nn.Conv2d(size, num_anchors * 4, 3, padding=1)

    def forward(self, x):
        for i in range(1, 5):
            x = getattr(self, f"act{i}")(getattr(self, f"conv{i}")(x))
        out = self.output(x).permute(0, 2, 3, 1)
        return out.contiguous().view(out.shape[0], -1, 4)


class ClassificationModel(nn.Module):
    def __init__(self, features, num_anchors=9, num_classes=80, size=256):
        super().__init__()
        self.num_classes, self.num_anchors = num_classes, num_anchors
        for i in range(1, 5):
            setattr(self, f"conv{i}", nn.Conv2d(features if i == 1 else size, size, 3, padding=1))
            setattr(self, f"act{i}", nn.ReLU())
        self.output = nn.Conv2d(size, num_anchors * num_classes, 3, padding=1)
        self.output_act = nn.Sigmoid()

    def forward(self, x):
        for i in range(1, 5):
            x = getattr(self, f"act{i}")(getattr(self, f"conv{i}")(x))
        out = self.output_act(self.output(x)).permute(0, 2, 3, 1)
        b, h, w, _ = out.shape
        return out.contiguous().view(b, h, w, self.num_anchors, self.num_classes).contiguous().view(b, -1, self.num_classes)


class Anchors(nn.Module):
    def __init__(self):
        super().__init__()
        self.pyramid_levels = [3, 4, 5, 6, 7]
        self.strides = [2**x for x in self.pyramid_levels]
        self.sizes = [2 ** (x + 2) for x in self.pyramid_levels]
        self.ratios = np.array([0.5, 1, 2])
        self.scales = np.array([2**0, 2 ** (1.0 / 3.0), 2 ** (2.0 / 3.0)])

    def forward(self, image):
        shape = np.array(image.shape[2:])
        shapes = [(shape + 2**x - 1) // (2**x) for x in self.pyramid_levels]
        all_anchors = np.zeros((0, 4)).astype(np.float32)
        for idx, _ in enumerate(self.pyramid_levels):
            base = self.sizes[idx]
            anchors = np.zeros((9, 4))
            anchors[:, 2:] = base * np.tile(self.scales, (2, len(self.ratios))).T
            areas = anchors[:, 2] * anchors[:, 3]
            anchors[:, 2] = np.sqrt(areas / np.repeat(self.ratios, len(self.scales)))
            anchors[:, 3] = anchors[:, 2] * np.repeat(self.ratios, len(self.scales))
            anchors[:, 0::2] -= np.tile(anchors[:, 2] * 0.5, (2, 1)).T
            anchors[:, 1::2] -= np.tile(anchors[:, 3] * 0.5, (2, 1)).T
            sx = (np.arange(0, shapes[idx][1]) + 0.5) * self.strides[idx]
            sy = (np.arange(0, shapes[idx][0]) + 0.5) * self.strides[idx]
            sx, sy = np.meshgrid(sx, sy)
            shifts = np.vstack((sx.ravel(), sy.ravel(), sx.ravel(), sy.ravel())).transpose()
            level = (anchors.reshape((1, 9, 4)) + shifts.reshape((1, -1, 4)).transpose((1, 0, 2))).reshape((-1, 4))
            all_anchors = np.append(all_anchors, level, axis=0)
        return torch.from_numpy(np.expand_dims(all_anchors, 0).astype(np.float32))


class BBoxTransform(nn.Module):
    def __init__(self):
        super().__init__()
        self.mean = torch.tensor([0, 0, 0, 0], dtype=torch.float32)
        self.std = torch.tensor([0.1, 0.1, 0.2, 0.2], dtype=torch.float32)

    def forward(self, boxes, deltas):
        w = boxes[:, :, 2] - boxes[:, :, 0]
        h = boxes[:, :, 3] - boxes[:, :, 1]
        cx = boxes[:, :, 0] + 0.5 * w
        cy = boxes[:, :, 1] + 0.5 * h
        dx = deltas[:, :, 0] * self.std[0] + self.mean[0]
        dy = deltas[:, :, 1] * self.std[1] + self.mean[1]
        dw = deltas[:, :, 2] * self.std[2] + self.mean[2]
        dh = deltas[:, :, 3] * self.std[3] + self.mean[3]
        pcx, pcy = cx + dx * w, cy + dy * h
        pw, ph = torch.exp(dw) * w, torch.exp(dh) * h
        return torch.stack([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph], dim=2)


class ClipBoxes(nn.Module):
    def forward(self, boxes, img):
        _, _, height, width = img.shape
        boxes[:, :, 0] = torch.clamp(boxes[:, :, 0], min=0)
        boxes[:, :, 1] = torch.clamp(boxes[:, :, 1], min=0)
        boxes[:, :, 2] = torch.clamp(boxes[:, :, 2], max=width)
        boxes[:, :, 3] = torch.clamp(boxes[:, :, 3], max=height)
        return boxes


class ResNet(nn.Module):
    """yhenon's ResNet-18 RetinaNet (eval path only)."""

    def __init__(self, num_classes, layers=(2, 2, 2, 2)):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.fpn = PyramidFeatures(128, 256, 512)
        self.regressionModel = RegressionModel(256)
        self.classificationModel = ClassificationModel(256, num_classes=num_classes)
        self.anchors = Anchors()
        self.regressBoxes = BBoxTransform()
        self.clipBoxes = ClipBoxes()
        prior = 0.01
        self.classificationModel.output.weight.data.fill_(0)
        self.classificationModel.output.bias.data.fill_(-math.log((1.0 - prior) / prior))
        self.regressionModel.output.weight.data.fill_(0)
        self.regressionModel.output.bias.data.fill_(0)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, img):
        x = self.maxpool(self.relu(self.bn1(self.conv1(img))))
        x1 = self.layer1(x)
        x2 = self.layer2(x1)
        x3 = self.layer3(x2)
        x4 = self.layer4(x3)
        features = self.fpn([x2, x3, x4])
        regression = torch.cat([self.regressionModel(f) for f in features], dim=1)
        classification = torch.cat([self.classificationModel(f) for f in features], dim=1)
        anchors = self.anchors(img)
        boxes = self.clipBoxes(self.regressBoxes(anchors, regression), img)
        scores_out, labels_out, boxes_out = [], [], []
        for i in range(classification.shape[2]):
            scores = torch.squeeze(classification[:, :, i])
            over = scores > 0.05
            if over.sum() == 0:
                continue
            s = scores[over]
            b = torch.squeeze(boxes)[over]
            keep = nms(b, s, 0.5)
            scores_out.append(s[keep])
            labels_out.append(torch.full((len(keep),), i))
            boxes_out.append(b[keep])
        return torch.cat(scores_out), torch.cat(labels_out), torch.cat(boxes_out)


def install_as_retinanet_package(monkeypatch) -> None:
    """Make these classes importable as retinanet.model / retinanet.utils / retinanet.anchors, the
    names under which yhenon's pickled model files refer to them."""
    homes = {
        "retinanet.model": [ResNet, PyramidFeatures, RegressionModel, ClassificationModel],
        "retinanet.utils": [BasicBlock, BBoxTransform, ClipBoxes],
        "retinanet.anchors": [Anchors],
    }
    monkeypatch.setitem(sys.modules, "retinanet", types.ModuleType("retinanet"))
    for module_name, classes in homes.items():
        module = types.ModuleType(module_name)
        for cls in classes:
            monkeypatch.setattr(cls, "__module__", module_name)
            setattr(module, cls.__name__, cls)
        monkeypatch.setitem(sys.modules, module_name, module)
