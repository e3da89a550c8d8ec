"""Where tensors live and in which precision. Plain functions so the CUDA paths are exercised on CPU too."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from models.errors import TrainingError

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


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


def resolve_amp(amp: str, device: torch.device) -> tuple[torch.dtype | None, str | None]:
    """The autocast dtype to use (None = full precision) and, when a request is ignored, the reason why."""
    if amp == "off":
        return None, None
    if device.type != "cuda":
        return (
            None,
            f"amp={amp} ignored on {device.type}: autocast there is far slower (~25x measured) than float32",
        )
    return AMP_DTYPES[amp], None


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
