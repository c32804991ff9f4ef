"""Checkpoints: our safetensors format with JSON metadata, and importers for the weights people have.

Accepted inputs, auto-detected by their keys:

- ours: ``.safetensors`` with a ``retina_gui`` metadata entry (preset, architecture, classes, ...);
- torchvision RetinaNet state dicts, v1 and v2, including the legacy key spellings of the published
  v1 COCO file (``fpn.inner_blocks.i.weight``, ``head.*.conv.{2i}.*``);
- yhenon/pytorch-retinanet state dicts, and its pickled whole-model files, read through
  ``torch.load(weights_only=True)`` with inert stand-ins for an allow-list of class names: no code
  from the file ever runs.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import Tensor

from core.atomic import atomic_path, parse_json
from core.config import ModelConfig, PreprocessConfig, from_dict, to_dict
from core.labels import PLACEHOLDER_CLASSES, category_name, integer_id
from core.model import RetinaNet

FORMAT = "retina-gui/1"
METADATA_KEY = "retina_gui"


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message says why."""


@dataclass(frozen=True)
class ClassInfo:
    """One output class: its id in the user's dataset (COCO category id) and its name."""

    id: int
    name: str


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything needed to rebuild and use a model, stored beside its weights."""

    preset: str
    model: ModelConfig
    classes: tuple[ClassInfo, ...]
    preprocess: PreprocessConfig | None = None  # None: the preset's
    source: str = "retina-gui"
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "preset": self.preset,
                "model": to_dict(self.model),
                "classes": [{"id": c.id, "name": c.name} for c in self.classes],
                "preprocess": to_dict(self.preprocess) if self.preprocess else None,
                "source": self.source,
                "training": self.training,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        data = parse_json(text)
        if not isinstance(data, dict):
            raise ValueError(f"the metadata is a JSON {type(data).__name__}, not an object")
        if data.get("format") != FORMAT:
            raise CheckpointError(f"unsupported checkpoint format {data.get('format')!r} (expected {FORMAT})")
        for key, kind, wanted, default in (("preset", str, "a text", None), ("model", dict, "an object", None),
                                           ("classes", list, "a list", None), ("source", str, "a text", ""),
                                           ("training", dict, "an object", {}), ("preprocess", (dict, type(None)), "an object or null", None)):
            if not isinstance(data.get(key, default), kind):  # (a list as preset ended in "unhashable type: 'list'")
                raise ValueError(f"the metadata's {key!r} is {data.get(key)!r:.60}, not {wanted}")
        spec = cls(
            preset=data["preset"],
            model=from_dict(ModelConfig, data["model"]),
            classes=tuple(ClassInfo(integer_id(c["id"], "class id"), category_name(c, "class")) for c in data["classes"]),
            preprocess=from_dict(PreprocessConfig, data["preprocess"]) if data.get("preprocess") else None,
            source=data.get("source", "retina-gui"),
            training=data.get("training", {}),
        )
        if len(spec.classes) != spec.model.num_classes:
            raise ValueError(f"{len(spec.classes)} class names for a model of {spec.model.num_classes} classes")
        ids = [c.id for c in spec.classes]
        if len(set(ids)) != len(ids):  # results would name two classes alike
            raise ValueError(f"class id {next(i for i in ids if ids.count(i) > 1)} appears twice")
        return spec


@dataclass(frozen=True)
class Checkpoint:
    spec: ModelSpec
    state_dict: dict[str, Tensor]
    source: str = ""  # the file it was read from, for messages

    def build_model(self) -> RetinaNet:
        model = RetinaNet(self.spec.model)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            raise CheckpointError(self._misfit(model.state_dict(), exc)) from None
        return model

    def _misfit(self, described: dict[str, Tensor], exc: RuntimeError) -> str:
        """How the weights differ from the model the metadata describes, in a line (torch's list of
        every key ran to 16,000 characters, and named no file)."""
        have = self.state_dict
        missing = [k for k in described if k not in have]
        foreign = [k for k in have if k not in described]
        reshaped = [k for k in described if k in have and have[k].shape != described[k].shape]
        parts = []
        if missing:
            parts.append(f"{len(missing)} of its tensors are not in the file (first: {missing[0]})")
        if foreign:
            parts.append(f"{len(foreign)} tensors of the file are not of it (first: {foreign[0]})")
        if reshaped:
            first = reshaped[0]
            parts.append(f"{len(reshaped)} have another shape (first: {first}, {tuple(have[first].shape)} in the file, "
                         f"{tuple(described[first].shape)} described)")
        if not parts:  # another reason of torch's: its first line
            parts.append(str(exc).strip().splitlines()[0][:300])
        config = self.spec.model
        where = f"{self.source}: " if self.source else ""
        return (f"{where}the weights do not fit the model its metadata describes ({config.backbone}, {config.fpn_channels} FPN channels, "
                f"{config.num_classes} classes): {'; '.join(parts)}. Was the metadata edited, or the weights of another model put in?")


def save_checkpoint(path: Path | str, model: RetinaNet, spec: ModelSpec, *, float_dtype: torch.dtype | None = None) -> None:
    """Write ``model``'s weights and ``spec`` as one safetensors file, atomically. ``float_dtype``
    (e.g. float16) stores floating-point tensors smaller; loading converts them back."""
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    if float_dtype is not None:
        tensors = {k: v.to(float_dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: spec.to_json()})


def load_checkpoint(path: Path | str) -> Checkpoint:
    """Load any supported weights file (see the module docstring) as a :class:`Checkpoint`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; give the weights file in it")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:  # (it ended "… (EOFError)")
        raise CheckpointError(f"{path}: an empty file (0 bytes): no weights in it (a download or copy that did not finish?)")
    with open(path, "rb") as f:
        head = f.read(8)
    looks_safetensors = len(head) == 8 and int.from_bytes(head, "little") < path.stat().st_size and not head.startswith(b"PK")
    checkpoint = _load_safetensors(path) if path.suffix == ".safetensors" or looks_safetensors else \
        _import_state_dict(_torch_load(path), str(path))
    broken = next((k for k, v in checkpoint.state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if broken is not None:  # (a diverged run's weights): every score NaN, no detection and no word why
        raise CheckpointError(f"{path}: its weights hold NaN or infinite values (first: {broken}); it cannot be used")
    return replace(checkpoint, source=str(path))


def read_spec(path: Path | str) -> ModelSpec:
    """The description one of our checkpoints holds, without reading its weights."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        return ModelSpec.from_json(metadata[METADATA_KEY])
    except (SafetensorError, OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a checkpoint of ours ({exc})") from None


def _load_safetensors(path: Path) -> Checkpoint:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    if METADATA_KEY in metadata:
        try:
            spec = ModelSpec.from_json(metadata[METADATA_KEY])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{path}: damaged metadata ({exc})") from None
        return Checkpoint(spec, tensors)
    return _import_state_dict(tensors, str(path))


# --- pickled files ------------------------------------------------------------------------------


class _Inert:
    """Stands in for an allow-listed pickled class: keeps the pickled state, runs none of its code."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        obj = super().__new__(cls)
        obj.args = args
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _inert_function(*args: Any) -> _Inert:
    return _Inert(*args)


# Classes a yhenon/pytorch-retinanet `torch.save(model)` file refers to. Only these names resolve.
_YHENON_CLASSES = [
    "retinanet.model.ResNet", "retinanet.model.PyramidFeatures", "retinanet.model.RegressionModel",
    "retinanet.model.ClassificationModel", "retinanet.utils.BasicBlock", "retinanet.utils.Bottleneck",
    "retinanet.utils.BBoxTransform", "retinanet.utils.ClipBoxes", "retinanet.anchors.Anchors",
    "retinanet.losses.FocalLoss", "torch.nn.modules.conv.Conv2d", "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.activation.ReLU", "torch.nn.modules.activation.Sigmoid",
    "torch.nn.modules.pooling.MaxPool2d", "torch.nn.modules.container.Sequential",
    "torch.nn.modules.container.ModuleList", "torch.nn.modules.upsampling.Upsample",
    "torch.nn.parallel.data_parallel.DataParallel", "numpy.ndarray", "numpy.dtype",
]
_YHENON_FUNCTIONS = ["numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"]


def _safe_globals() -> list[tuple[Any, str]]:
    # _Inert itself is listed so that values made by the inert functions can receive their state.
    entries: list[tuple[Any, str]] = [(_Inert, f"{__name__}._Inert")]
    for name in _YHENON_CLASSES:
        module, _, qualname = name.rpartition(".")
        entries.append((type(qualname, (_Inert,), {"__module__": module}), name))
    entries.extend((_inert_function, name) for name in _YHENON_FUNCTIONS)
    return entries


_NOT_WEIGHTS = "not a weights file retina-gui reads (a retina-gui .safetensors, a torchvision RetinaNet state dict or a yhenon checkpoint)"


def _torch_load(path: Path) -> Any:
    if path.name == "train_state.pt":
        raise CheckpointError(f"{path} is a run's training state (what --resume reads); its model weights are in "
                              f"{path.with_name('last.safetensors')}")
    try:
        with torch.serialization.safe_globals(_safe_globals()), warnings.catch_warnings():
            # torch's note on an unusual pickle protocol (several lines) came before the one-line verdict
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if _holds_text(path):  # (a text starting with "c" reads as a pickle's GLOBAL: "it refers to afé")
            raise CheckpointError(f"{path}: {_NOT_WEIGHTS}; it holds text") from None
        if found is None and "can only build" not in str(exc).lower():
            raise CheckpointError(f"{path}: {_NOT_WEIGHTS}") from None
        what = f"it refers to {found.group(1)}, which" if found else "it holds an object that"
        raise CheckpointError(
            f"{path}: refused to load: {what} is not an allowed weights class. Only plain state dicts, "
            "yhenon/pytorch-retinanet model files and retina-gui checkpoints are accepted."
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, SafetensorError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]  # an empty file: an EOFError with no message
        raise CheckpointError(f"{path}: {_NOT_WEIGHTS} ({reason})") from None
    except Exception:  # torch's legacy reader fails on other files with KeyError, IndexError, ...
        raise CheckpointError(f"{path}: {_NOT_WEIGHTS}{'; it holds text' if _holds_text(path) else ''}") from None


def _holds_text(path: Path) -> bool:
    """Whether the file starts with UTF-8 text (a label file or a log given as the weights), not
    with the magic number of torch's legacy format, whose protocol 0 pickles are text too."""
    with open(path, "rb") as f:
        head = f.read(512)
    text = head.decode("utf-8", errors="replace")[:-1]  # (the read may end inside a character)
    return bool(head.strip()) and b"\0" not in head and "\ufffd" not in text and not head.startswith(b"L119547037146038801333356L")


def _module_state_dict(obj: Any, prefix: str = "") -> dict[str, Tensor]:
    """Parameters and buffers of an inert pickled module tree, with dotted names."""
    state = getattr(obj, "state", None)
    if not isinstance(state, dict):
        return {}
    out: dict[str, Tensor] = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, Tensor):
                out[prefix + name] = value.detach()
    for name, child in (state.get("_modules") or {}).items():
        out.update(_module_state_dict(child, f"{prefix}{name}."))
    return out


# --- layouts ------------------------------------------------------------------------------------


def _coco91() -> list[str]:
    from torchvision.models.detection import RetinaNet_ResNet50_FPN_Weights

    return list(RetinaNet_ResNet50_FPN_Weights.COCO_V1.meta["categories"])


def coco_classes(num_classes: int) -> tuple[ClassInfo, ...] | None:
    """COCO names for the usual COCO heads: 91 rows indexed by category id (torchvision), or the 80
    used categories in id order (yhenon)."""
    names = _coco91()
    if num_classes == 91:
        return tuple(ClassInfo(i, n) for i, n in enumerate(names))
    if num_classes == 80:
        return tuple(ClassInfo(i, n) for i, n in enumerate(names) if n not in PLACEHOLDER_CLASSES)
    return None


def _resnet_name(sd: dict[str, Tensor], prefix: str) -> str:
    blocks = {int(m.group(1)) for k in sd if (m := re.match(re.escape(prefix) + r"layer3\.(\d+)\.", k))}
    bottleneck = f"{prefix}layer1.0.conv3.weight" in sd
    depth = {(False, 2): "resnet18", (False, 6): "resnet34", (True, 6): "resnet50", (True, 23): "resnet101"}
    try:
        return depth[(bottleneck, len(blocks))]
    except KeyError:
        raise CheckpointError(f"unrecognised ResNet body ({len(blocks)} blocks in layer3)") from None


def _import_state_dict(obj: Any, origin: str) -> Checkpoint:
    if isinstance(obj, _Inert):
        obj = _module_state_dict(obj)
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{origin}: no state dict of tensors found")
    sd = {k.removeprefix("module."): v for k, v in obj.items()}
    try:
        if "head.classification_head.cls_logits.weight" in sd:
            return _import_torchvision(sd, origin)
        if "classificationModel.output.weight" in sd:
            return _import_yhenon(sd, origin)
    except (KeyError, IndexError) as exc:
        raise CheckpointError(f"{origin}: incomplete RetinaNet weights (no {exc})") from None
    raise CheckpointError(f"{origin}: unrecognised weights layout (neither torchvision nor yhenon RetinaNet keys)")


def _classes_for(num_classes: int) -> tuple[ClassInfo, ...]:
    return coco_classes(num_classes) or tuple(ClassInfo(i, f"class {i}") for i in range(num_classes))


def _import_torchvision(sd: dict[str, Tensor], origin: str) -> Checkpoint:
    renamed: dict[str, Tensor] = {}
    legacy = False
    for k, v in sd.items():
        new = re.sub(r"^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.(weight|bias)$", r"\1.0.\2", k)
        m = re.match(r"^(head\.(?:classification|regression)_head\.conv)\.(\d+)\.(weight|bias)$", new)
        if m:  # legacy Sequential(conv, relu, conv, relu, ...): conv i sits at index 2i
            new = f"{m.group(1)}.{int(m.group(2)) // 2}.0.{m.group(3)}"
        legacy |= new != k
        renamed[new] = v
    v2 = "head.classification_head.conv.0.1.weight" in renamed
    frozen_bn = not any(k.endswith("num_batches_tracked") for k in renamed)
    cls_out = renamed["head.classification_head.cls_logits.weight"].shape[0]
    p6_in = renamed["backbone.fpn.extra_blocks.p6.weight"].shape[1]
    num_classes = cls_out // 9
    preset = "torchvision_v2" if v2 else "torchvision_v1"
    model = ModelConfig(
        backbone=_resnet_name(renamed, "backbone.body."),
        num_classes=num_classes,
        p6_from="p5" if p6_in == renamed["backbone.fpn.layer_blocks.0.0.weight"].shape[0] else "c5",
        head_norm="group_norm" if v2 else "none",
        # torchvision runs its published v1 COCO weights with FrozenBatchNorm eps=0 (overwrite_eps).
        backbone_bn_eps=0.0 if (frozen_bn and not v2) else None,
    )
    spec = ModelSpec(preset=preset, model=model, classes=_classes_for(num_classes), source=f"{preset}{' (legacy keys)' if legacy else ''}: {origin}")
    return Checkpoint(spec, _with_bn_counters(renamed))


_YHENON_MAP = [
    (r"^(conv1|bn1|layer\d)\.", r"backbone.body.\1."),
    (r"^fpn\.P3_1\.", "backbone.fpn.inner_blocks.0.0."),
    (r"^fpn\.P4_1\.", "backbone.fpn.inner_blocks.1.0."),
    (r"^fpn\.P5_1\.", "backbone.fpn.inner_blocks.2.0."),
    (r"^fpn\.P3_2\.", "backbone.fpn.layer_blocks.0.0."),
    (r"^fpn\.P4_2\.", "backbone.fpn.layer_blocks.1.0."),
    (r"^fpn\.P5_2\.", "backbone.fpn.layer_blocks.2.0."),
    (r"^fpn\.P6\.", "backbone.fpn.extra_blocks.p6."),
    (r"^fpn\.P7_2\.", "backbone.fpn.extra_blocks.p7."),
    (r"^regressionModel\.output\.", "head.regression_head.bbox_reg."),
    (r"^classificationModel\.output\.", "head.classification_head.cls_logits."),
]


def _import_yhenon(sd: dict[str, Tensor], origin: str) -> Checkpoint:
    out: dict[str, Tensor] = {}
    for k, v in sd.items():
        m = re.match(r"^(regression|classification)Model\.conv(\d)\.(.+)$", k)
        if m:
            out[f"head.{m.group(1)}_head.conv.{int(m.group(2)) - 1}.0.{m.group(3)}"] = v
            continue
        for pattern, repl in _YHENON_MAP:
            if re.match(pattern, k):
                out[re.sub(pattern, repl, k)] = v
                break
    num_classes = out["head.classification_head.cls_logits.weight"].shape[0] // 9
    model = ModelConfig(backbone=_resnet_name(out, "backbone.body."), num_classes=num_classes, p6_from="c5")
    spec = ModelSpec(preset="yhenon", model=model, classes=_classes_for(num_classes), source=f"yhenon: {origin}")
    return Checkpoint(spec, _with_bn_counters(out))


def _with_bn_counters(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Add the ``num_batches_tracked`` buffers our BatchNorm layers expect (unused at inference)."""
    out = dict(sd)
    for k in list(sd):
        if k.endswith(".running_var"):
            out.setdefault(k[: -len("running_var")] + "num_batches_tracked", torch.tensor(0, dtype=torch.long))
    return out
