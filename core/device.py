"""Device and precision choice, and thread settings."""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache

import torch

from core.config import PRECISIONS


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``; a clear error otherwise."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"unknown device {spec!r}; use auto, cpu or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif device.type != "cpu":
        raise ValueError(f"unsupported device {spec!r}; use auto, cpu or cuda:N")
    return device


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 dot products (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(spec: str, device: torch.device) -> torch.dtype:
    """``auto`` picks bf16 where the hardware runs it fast (Ampere+ GPUs, AVX512-BF16/AMX CPUs)."""
    if spec not in PRECISIONS:
        raise ValueError(f"unknown precision {spec!r}; choose from {', '.join(PRECISIONS)}")
    if spec == "auto":
        # (not torch.cuda.is_bf16_supported(), which says yes to the emulated bf16 of a T4 or V100, and of the current GPU)
        fast = torch.cuda.get_device_capability(device)[0] >= 8 if device.type == "cuda" else cpu_has_fast_bf16()
        return torch.bfloat16 if fast else torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[spec]


def channels_last_by_default(device: torch.device) -> bool:
    """channels_last on the CPU, where oneDNN's convolutions run faster in it; contiguous on CUDA.
    There cuDNN builds its channels_last convolutions anew for every input shape: the first
    training step at a new shape took 4 to 12 s on an H100 (MobileNetV2-FPN, torch 2.11), against
    0.2 to 0.7 s contiguous, and training with scale jitter meets dozens of shapes (the demo recipe
    took minutes per epoch), a folder of photos as many."""
    return device.type != "cuda"


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed precision for ``dtype`` on ``device``; fp32 runs as it is."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def precision_name(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def set_threads(leave_one_free: bool) -> None:
    """Use all cores but one (an app needs a free core for its window), or exactly one (tests)."""
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores - 1) if leave_one_free else 1)
