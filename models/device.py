"""Where tensors live and in which precision. Plain functions so the CUDA paths are exercised on CPU too."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import torch

from models.errors import TrainingError

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# amp="auto" on a CPU with native bf16 (AVX512-BF16, no AMX): off, because bench/cpu_precision.py found
# bf16 autocast no faster than float32 channels_last there (0.93x dcgan-64, then `recommended`; 1.00x
# fastgan-64; see docs/presets.md). AMX machines may differ: measure there before turning this on.
CPU_AUTO_BF16 = False


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.is_file() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """AVX512-BF16 or AMX-BF16: without them bf16 autocast on the CPU is emulated and ~25x slower."""
    return bool((cpu_flags() if flags is None else flags) & NATIVE_BF16_FLAGS)


def training_threads(cores: int | None = None) -> int:
    """Torch threads for training on the CPU: all cores but one for the web process on machines with 4 or
    more (on 2-3 cores the mostly idle web app costs less than losing a core's share of training)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores - 1 if cores >= 4 else max(1, cores)


def resolve_device(choice: str, *, cuda_available: bool | None = None) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA on a machine without it is an error, not a fallback."""
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if choice == "auto":
        return torch.device("cuda" if cuda_available else "cpu")
    if choice == "cuda" and not cuda_available:
        raise TrainingError(
            "device 'cuda' was requested but this machine has no usable CUDA GPU; use 'auto' or 'cpu'"
        )
    if choice not in ("cpu", "cuda"):
        raise TrainingError(f"unknown device {choice!r}; use auto, cpu or cuda")
    return torch.device(choice)


def resolve_amp(
    amp: str, device: torch.device, *, native_bf16: bool | None = None
) -> tuple[torch.dtype | None, str | None]:
    """The autocast dtype to use (None = full precision) and, when a request is ignored, the reason why.
    "auto" is bf16 on CUDA and float32 on CPUs (see CPU_AUTO_BF16); bf16 on a CPU needs native bf16."""
    if amp == "off":
        return None, None
    if device.type == "cuda":
        return (torch.bfloat16 if amp == "auto" else AMP_DTYPES[amp]), None
    if native_bf16 is None:
        native_bf16 = cpu_has_native_bf16()
    if amp == "auto":
        return (torch.bfloat16 if native_bf16 and CPU_AUTO_BF16 else None), None
    if amp == "bf16" and native_bf16:
        return torch.bfloat16, None
    why = "this CPU has no native bf16 (avx512_bf16/amx_bf16)" if amp == "bf16" else "fp16 is CUDA-only"
    return None, f"amp={amp} ignored on {device.type}: {why}; emulated autocast is ~25x slower than float32"


def autocast_factory(device: torch.device, dtype: torch.dtype | None) -> Callable[[], AbstractContextManager]:
    """A zero-argument function returning a fresh autocast context (or a no-op one when dtype is None)."""
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def make_grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """Loss scaling is needed for float16 only; a disabled scaler passes through: one code path for all."""
    return torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy to `device`; on CUDA through pinned memory so the copy can overlap with compute."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)
