"""Every technique in TrainConfig trains a few steps on tiny images and changes what is learned."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from models.config import TrainConfig
from models.device import cpu_has_native_bf16
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.conftest import synthetic_images
from tests.models.conftest import TINY


def _run(tmp: Path, **fields) -> tuple[dict, ListSink]:
    cfg = TrainConfig(**{**TINY, **fields})
    data = synthetic_images(16, cfg.height, cfg.width)
    sink = ListSink()
    result = train(cfg, data, sink, RunDirStore(tmp))
    assert result.status == "completed" and result.step == 8
    return torch.load(result.checkpoint.path, weights_only=True), sink


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _run(tmp_path_factory.mktemp("baseline"))[0]


def _assert_healthy(state: dict, sink: ListSink) -> None:
    assert [r.step for r in sink.iterations] == list(range(1, 9))
    for row in sink.iterations:
        assert all(math.isfinite(v) for v in (row.loss_d, row.loss_g, row.d_x, row.d_g_z1, row.d_g_z2))
    assert all(torch.isfinite(t).all() for t in state["G"].values() if t.is_floating_point())


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "fields",
    [
        {"loss": "hinge"},
        {"loss": "wgan-gp"},
        {"gp_weight": 10.0},
        {"r1_weight": 1.0},
        {"feature_matching_weight": 1.0},
        {"spectral_norm": True},
        {"real_label": 0.9},
        {"label_flip_prob": 0.3},
        {"d_steps": 2},
        {"grad_clip": 0.01},
        {"lr_schedule": "step", "lr_step_epochs": 1, "lr_gamma": 0.1},
        {"lr_schedule": "cosine"},
        {"lr_schedule": "linear", "lr_min_factor": 0.5},
        {"lr_d": 1e-3},
        {"lr_g": 1e-3},
        {"diffaugment": "color"},
        {"diffaugment": "translation"},
        {"diffaugment": "cutout"},
        {"diffaugment": "color,translation,cutout"},
        {"extra_layers": 1},
        {"image_size": 16, "image_width": 32},
        {"arch": "cnn96", "image_size": 32},
        {
            "loss": "hinge",
            "spectral_norm": True,
            "diffaugment": "color,translation,cutout",
            "ema_decay": 0.99,
        },
    ],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()),
)
def test_technique_trains_and_changes_the_result(tmp_path: Path, baseline: dict, fields: dict) -> None:
    state, sink = _run(tmp_path, **fields)
    _assert_healthy(state, sink)
    assert not _same_weights(state["G"], baseline["G"]), "the option had no effect on training"


def test_ema_leaves_training_alone_and_is_saved_separately(tmp_path: Path, baseline: dict) -> None:
    state, sink = _run(tmp_path, ema_decay=0.9)
    _assert_healthy(state, sink)
    assert _same_weights(state["G"], baseline["G"])  # the average never feeds back into training
    assert state["ema"] is not None and not _same_weights(state["ema"], state["G"])


def test_channels_last_changes_layout_not_results(tmp_path: Path, baseline: dict) -> None:
    state, _ = _run(tmp_path, channels_last=False)
    for k, v in state["G"].items():
        assert torch.allclose(v.float(), baseline["G"][k].float(), atol=1e-4), k


def test_amp_on_cpu_is_ignored_with_a_logged_reason(tmp_path: Path, baseline: dict) -> None:
    cfg = TrainConfig(**{**TINY, "amp": "fp16"})  # fp16 autocast is CUDA-only on every CPU
    sink, lines = ListSink(), []
    result = train(cfg, synthetic_images(16, 16), sink, RunDirStore(tmp_path), log=lines.append)
    state = torch.load(result.checkpoint.path, weights_only=True)
    assert any("amp=fp16 ignored on cpu" in line for line in lines)
    assert [e.kind for e in sink.events] == ["amp_ignored"]
    assert _same_weights(state["G"], baseline["G"])  # trained in float32, exactly as without amp


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no avx512_bf16/amx_bf16")
def test_bf16_on_a_cpu_with_native_bf16_trains_in_bf16(tmp_path: Path, baseline: dict) -> None:
    sink = ListSink()
    cfg = TrainConfig(**{**TINY, "amp": "bf16"})
    result = train(cfg, synthetic_images(16, 16), sink, RunDirStore(tmp_path))
    state = torch.load(result.checkpoint.path, weights_only=True)
    assert sink.events == []  # honoured, not ignored
    assert not _same_weights(state["G"], baseline["G"])  # autocast changed the arithmetic
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_lr_schedule_reaches_the_optimizer(tmp_path: Path) -> None:
    state, _ = _run(tmp_path, lr_schedule="step", lr_step_epochs=1, lr_gamma=0.1, lr_g=1e-3, lr_d=2e-3)
    # 8 steps, decay every 4: two decays.
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-5)
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-5)
