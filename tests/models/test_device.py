"""Device and precision choices are plain functions, so the CUDA decisions are tested on this CPU box."""

from __future__ import annotations

import contextlib

import pytest
import torch

from models.device import autocast_factory, make_grad_scaler, resolve_amp, resolve_device, to_device
from models.errors import TrainingError


def test_resolve_device() -> None:
    assert resolve_device("auto", cuda_available=False) == torch.device("cpu")
    assert resolve_device("auto", cuda_available=True) == torch.device("cuda")
    assert resolve_device("cpu", cuda_available=True) == torch.device("cpu")
    assert resolve_device("cuda", cuda_available=True) == torch.device("cuda")
    with pytest.raises(TrainingError, match="no usable CUDA GPU"):
        resolve_device("cuda", cuda_available=False)


def test_amp_is_refused_on_cpu_with_a_reason_and_used_on_cuda() -> None:
    assert resolve_amp("off", torch.device("cuda")) == (None, None)
    dtype, reason = resolve_amp("bf16", torch.device("cpu"))
    assert dtype is None and "ignored on cpu" in reason
    assert resolve_amp("bf16", torch.device("cuda")) == (torch.bfloat16, None)
    assert resolve_amp("fp16", torch.device("cuda")) == (torch.float16, None)


def test_autocast_factory_really_autocasts() -> None:
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast_factory(torch.device("cpu"), torch.bfloat16)():
        assert (a @ b).dtype == torch.bfloat16
    plain = autocast_factory(torch.device("cpu"), None)
    assert plain is contextlib.nullcontext
    with plain():
        assert (a @ b).dtype == torch.float32


def test_grad_scaler_only_for_float16() -> None:
    assert not make_grad_scaler(torch.device("cpu"), None).is_enabled()
    assert not make_grad_scaler(torch.device("cpu"), torch.bfloat16).is_enabled()


def test_to_device_on_cpu_keeps_values() -> None:
    t = torch.arange(6, dtype=torch.uint8)
    assert torch.equal(to_device(t, torch.device("cpu")), t)
