"""Device and precision choices are plain functions, so the CUDA decisions are tested on this CPU box."""

from __future__ import annotations

import contextlib

import pytest
import torch

from models.device import (
    CPU_AUTO_BF16,
    autocast_factory,
    cpu_flags,
    cpu_has_native_bf16,
    make_grad_scaler,
    resolve_amp,
    resolve_device,
    to_device,
    training_threads,
)
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
    dtype, reason = resolve_amp("bf16", torch.device("cpu"), native_bf16=False)
    assert dtype is None and "ignored on cpu" in reason and "no native bf16" in reason
    dtype, reason = resolve_amp("fp16", torch.device("cpu"), native_bf16=True)
    assert dtype is None and "CUDA-only" in reason
    assert resolve_amp("auto", torch.device("cuda")) == (torch.bfloat16, None)
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


def test_bf16_on_cpu_only_where_the_cpu_has_it() -> None:
    assert resolve_amp("bf16", torch.device("cpu"), native_bf16=True) == (torch.bfloat16, None)
    expected = torch.bfloat16 if CPU_AUTO_BF16 else None
    assert resolve_amp("auto", torch.device("cpu"), native_bf16=True) == (expected, None)
    assert resolve_amp("auto", torch.device("cpu"), native_bf16=False) == (None, None)


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    sapphire = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile amx_bf16\n"
    old = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"
    assert cpu_has_native_bf16(cpu_flags(sapphire))
    assert not cpu_has_native_bf16(cpu_flags(old))
    assert cpu_flags("no flags here") == frozenset()


def test_training_threads_leave_a_core_for_the_web_process_on_bigger_machines() -> None:
    assert [training_threads(n) for n in (1, 2, 3, 4, 16)] == [1, 2, 3, 3, 15]
