"""Resuming reproduces an uninterrupted run bit for bit; NaN losses roll back, then give up."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from models import losses
from models.config import TrainConfig
from models.errors import TrainingError
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.conftest import synthetic_images
from tests.models.conftest import TINY

# Everything with state or randomness switched on: BN or SN buffers, EMA, Adam moments, lr schedules,
# augmentation, label flips, penalties, several D steps.
HINGE_SN_EMA = {"loss": "hinge", "spectral_norm": True, "diffaugment": "color,translation,cutout"}
HINGE_SN_EMA |= {"ema_decay": 0.9, "lr_schedule": "cosine", "d_steps": 2, "grad_clip": 1.0}
BCE_BN_PENALTIES = {"loss": "bce", "d_norm": "batch", "real_label": 0.9, "label_flip_prob": 0.2}
BCE_BN_PENALTIES |= {"feature_matching_weight": 1.0, "r1_weight": 0.5, "gp_weight": 1.0}
BCE_BN_PENALTIES |= {"diffaugment": "translation", "extra_layers": 1}
STATEFUL = [HINGE_SN_EMA, BCE_BN_PENALTIES]


def _final(store: RunDirStore) -> dict:
    return store.load_checkpoint(store.latest_checkpoint())


def _assert_identical(a: dict, b: dict) -> None:
    for part in ("G", "D", "ema"):
        if a[part] is None:
            assert b[part] is None
            continue
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k}"
    for opt in ("opt_g", "opt_d"):
        for idx, moments in a[opt]["state"].items():
            for name, value in moments.items():
                assert torch.equal(value, b[opt]["state"][idx][name]), f"{opt}.{idx}.{name}"
    assert torch.equal(a["rng"]["loop"], b["rng"]["loop"])
    assert a["sched_g"]["last_epoch"] == b["sched_g"]["last_epoch"]


@pytest.mark.parametrize("fields", STATEFUL, ids=["hinge-sn-ema", "bce-bn-penalties"])
def test_cancel_and_resume_mid_epoch_is_bit_exact(tmp_path: Path, fields: dict) -> None:
    cfg = TrainConfig(**{**TINY, "epochs": 3, "grad_stats_every": 4, **fields})
    data = synthetic_images(20, 16)  # 5 iterations per epoch
    whole_sink = ListSink()
    train(cfg, data, whole_sink, RunDirStore(tmp_path / "whole"))

    split_sink, split_store = ListSink(), RunDirStore(tmp_path / "split")
    cancelled = train(
        cfg, data, split_sink, split_store, should_abort=lambda: len(split_sink.iterations) >= 7
    )
    assert cancelled.status == "cancelled" and cancelled.step == 7
    # A row written after the checkpoint (as by a worker that crashed) must be replaced, not duplicated.
    split_sink.log_iteration(replace(split_sink.iterations[-1], step=8, loss_d=99.0))
    resumed = train(cfg, data, split_sink, split_store)
    assert resumed.status == "completed" and resumed.step == 15

    _assert_identical(_final(RunDirStore(tmp_path / "whole")), _final(split_store))
    assert split_sink.iterations == whole_sink.iterations
    assert split_sink.grad_stats == whole_sink.grad_stats
    assert [e.kind for e in split_sink.events] == ["resume"]


def test_longer_resumed_run_equals_one_long_run(tmp_path: Path) -> None:
    cfg = TrainConfig(**{**TINY, "epochs": 3, "ema_decay": 0.9, "diffaugment": "color,cutout"})
    data = synthetic_images(16, 16)
    train(cfg, data, ListSink(), RunDirStore(tmp_path / "whole"))
    store = RunDirStore(tmp_path / "split")
    train(cfg.model_copy(update={"epochs": 1}), data, ListSink(), store)
    result = train(cfg, data, ListSink(), store)
    assert result.step == 12
    _assert_identical(_final(RunDirStore(tmp_path / "whole")), _final(store))


def _nan_on_calls(monkeypatch: pytest.MonkeyPatch, calls: set[int] | None) -> None:
    """Make G's loss NaN on the given call numbers (on every call when calls is None)."""
    real_g_loss = losses.g_loss
    count = [0]

    def g_loss(kind: str, logit_fake: torch.Tensor) -> torch.Tensor:
        count[0] += 1
        loss = real_g_loss(kind, logit_fake)
        return loss * float("nan") if calls is None or count[0] in calls else loss

    monkeypatch.setattr(losses, "g_loss", g_loss)


def test_nan_rolls_back_halves_lrs_and_continues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _nan_on_calls(monkeypatch, {6})  # step 6: in epoch 2, after the checkpoint at step 4
    cfg = TrainConfig(**{**TINY, "lr_g": 4e-4, "lr_d": 2e-4})
    sink, lines = ListSink(), []
    result = train(cfg, synthetic_images(16, 16), sink, RunDirStore(tmp_path), log=lines.append)
    assert result.status == "completed" and result.rollbacks == 1
    assert [r.step for r in sink.iterations] == list(range(1, 9))
    (event,) = sink.events
    assert (event.kind, event.step, event.evidence["from_step"]) == ("nan_rollback", 4, 6)
    assert event.evidence["loss_g"] == "nan"
    assert any("rolled back to step 4" in line for line in lines)
    state = torch.load(result.checkpoint.path, weights_only=True)
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(2e-4)
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_nan_before_any_checkpoint_rolls_back_to_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nan_on_calls(monkeypatch, {2})
    sink = ListSink()
    result = train(TrainConfig(**TINY), synthetic_images(16, 16), sink, RunDirStore(tmp_path))
    assert result.status == "completed" and [r.step for r in sink.iterations] == list(range(1, 9))
    assert [(e.kind, e.step) for e in sink.events] == [("nan_rollback", 0)]


def test_persistent_nan_fails_after_the_allowed_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nan_on_calls(monkeypatch, None)
    sink = ListSink()
    with pytest.raises(TrainingError, match=r"non-finite loss at step 1; gave up after 2 rollback"):
        train(
            TrainConfig(**{**TINY, "nan_max_retries": 2}),
            synthetic_images(16, 16),
            sink,
            RunDirStore(tmp_path),
        )
    assert [e.kind for e in sink.events] == ["nan_rollback", "nan_rollback", "nan_failure"]
    assert sink.events[-1].severity == "error" and "gave up" in sink.events[-1].message
    assert sink.iterations == [] and sink.flushes >= 1
