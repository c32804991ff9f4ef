import numpy as np
import pytest
import torch

from core.detector import Detector
from core.device import resolve_device, resolve_precision
from core.images import load_image
from tests.conftest import PHOTOS


def test_device_and_precision_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu:0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")
    assert resolve_precision("fp32", torch.device("cpu")) == torch.float32
    assert resolve_precision("auto", torch.device("cpu")) in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("int8", torch.device("cpu"))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_on_cpu_keeps_most_detections(tiny_checkpoint, precision):
    image = load_image(PHOTOS / "skimage" / "astronaut.png")
    ref = Detector.from_file(tiny_checkpoint, device="cpu", precision="fp32").detect([image])[0]
    low = Detector.from_file(tiny_checkpoint, device="cpu", precision=precision).detect([image])[0]
    assert len(ref) > 20
    assert abs(len(low) - len(ref)) <= 0.1 * len(ref)
    assert np.abs(low.scores[:10] - ref.scores[:10]).max() < 0.05


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_matches_cpu(tiny_checkpoint, precision):
    image = load_image(PHOTOS / "skimage" / "astronaut.png")
    cpu = Detector.from_file(tiny_checkpoint, device="cpu", precision="fp32").detect([image])[0]
    gpu = Detector.from_file(tiny_checkpoint, device="cuda", precision=precision).detect([image])[0]
    assert abs(len(gpu) - len(cpu)) <= 0.1 * len(cpu)
    tol = 1e-3 if precision == "fp32" else 0.05
    assert np.abs(gpu.scores[:10] - cpu.scores[:10]).max() < tol
