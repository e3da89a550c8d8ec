"""The MonitorHook: events from synthetic conditions, the warn/stop/rollback policies, quality with
checkpoints, held-back images for the overfitting check, and real tiny runs forced to saturate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from models.config import TrainConfig
from models.hooks import EpochContext, HookAction
from models.monitoring import DetectorSettings, MonitorHook
from models.monitoring.features import downsample
from models.sink import IterationMetrics, ListSink
from models.store import CheckpointInfo, RunDirStore
from models.train import train
from tests.conftest import synthetic_images
from tests.models.conftest import TINY
from tests.models.sprite_factory import make_sprites

# Short windows so a handful of rows decide: a start after 4 rows, an escalation after 8.
FAST = DetectorSettings(window=4, rearm_after=4, escalate_after=8, collapse_escalate_epochs=100)
HEALTHY_ROW = {"loss_d": 1.2, "loss_g": 1.5, "d_x": 0.6, "d_g_z1": 0.4, "d_g_z2": 0.4}
SATURATED_ROW = {"loss_d": 0.02, "loss_g": 7.0, "d_x": 0.99, "d_g_z1": 0.01, "d_g_z2": 0.01}
# A GAN whose D is much wider than G and learns 50x faster: D saturates within the first epochs.
SATURATING = {**TINY, "ngf": 4, "ndf": 32, "batch_size": 8, "lr_d": 1e-2, "epochs": 8, "log_every": 100}


def rows(start: int, n: int, values: dict[str, float]) -> list[IterationMetrics]:
    return [IterationMetrics(step, step // 10, step % 10, **values) for step in range(start, start + n)]


def feed(hook: MonitorHook, metric_rows: list[IterationMetrics]) -> None:
    for row in metric_rows:
        hook.on_iteration(row)


def context(step: int, epoch: int, *, samples: torch.Tensor | None = None, **extra) -> EpochContext:
    real = make_sprites(32, seed=1, px=16)
    return EpochContext(
        step=step,
        epoch=epoch,
        samples=make_sprites(32, seed=100 + epoch, px=16) if samples is None else samples,
        real=real,
        d_features=lambda images: downsample(images, 8),
        epochs=extra.pop("epochs", 100),
        **extra,
    )


def end_epoch(hook: MonitorHook, step: int, epoch: int, path: Path) -> HookAction | None:
    """The loop's order at an epoch end: the hook answers, then (unless it acted) the checkpoint is saved."""
    action = hook.on_epoch_end(context(step, epoch))
    if action is None:
        hook.on_checkpoint(CheckpointInfo(epoch, step, path / f"ckpt-{step}.pt"))
    return action


# Policies on synthetic streams -----------------------------------------------------------------------------


def test_warn_logs_the_events_and_never_acts(tmp_path: Path) -> None:
    sink = ListSink()
    hook = MonitorHook(sink, FAST, policy="warn")
    feed(hook, rows(1, 10, HEALTHY_ROW) + rows(11, 20, SATURATED_ROW))
    assert [(e.kind, e.severity) for e in sink.events] == [
        ("d_saturation", "warning"),
        ("d_saturation", "error"),
    ]
    assert end_epoch(hook, 30, 3, tmp_path) is None


def test_stop_waits_for_an_error_level_failure_then_stops_with_its_message(tmp_path: Path) -> None:
    hook = MonitorHook(ListSink(), FAST, policy="stop")
    feed(hook, rows(1, 10, HEALTHY_ROW) + rows(11, 6, SATURATED_ROW))
    assert end_epoch(hook, 16, 1, tmp_path) is None  # a warning only
    feed(hook, rows(17, 10, SATURATED_ROW))
    action = end_epoch(hook, 26, 2, tmp_path)
    assert action is not None and action.kind == "stop"
    assert action.reason.startswith("Discriminator saturation persists since step 14")
    assert "policy 'stop'" in action.reason and "lower lr_d" in action.reason
    assert action.evidence["trigger"]["kind"] == "d_saturation"


def test_rollback_goes_to_the_best_checkpoint_before_the_failure_and_gives_up_after_max(
    tmp_path: Path,
) -> None:
    hook = MonitorHook(ListSink(), FAST, policy="rollback", max_rollbacks=2)
    saved: dict[int, dict] = {}
    for epoch in range(1, 5):  # healthy epochs 1-4, a checkpoint (with quality) at steps 10..40
        feed(hook, rows(epoch * 10 - 9, 10, HEALTHY_ROW))
        assert end_epoch(hook, epoch * 10, epoch, tmp_path) is None
        saved[epoch * 10] = hook.state_dict()
    assert [c.step for c in hook.checkpoints] == [10, 20, 30, 40]
    assert all(c.quality and c.quality["score"] > 0 for c in hook.checkpoints)

    feed(hook, rows(41, 15, SATURATED_ROW))  # starts at step 44, escalates at 51
    action = end_epoch(hook, 55, 5, tmp_path)
    assert action is not None and action.kind == "rollback" and action.lr_factor == 0.5
    # The window (4 rows) that started the episode at step 44 began after step 40: 40 is before the failure.
    best_before = hook._best_of([c for c in hook.checkpoints if c.step <= 40])
    assert action.checkpoint == best_before and action.checkpoint.step <= 40
    assert "monitor rollback 1 of 2" in action.reason
    assert action.evidence["target_step"] == action.checkpoint.step

    for attempt in (2, 3):  # the loop restores the target's state; the failure comes back each time
        target = action.checkpoint
        hook.load_state_dict(saved[target.step])
        hook.on_checkpoint(target)
        assert hook.rollbacks == attempt - 1  # going back never refunds a rollback
        feed(hook, rows(target.step + 1, 15, SATURATED_ROW))
        action = end_epoch(hook, target.step + 15, target.epoch + 1, tmp_path)
        assert action is not None
    assert action.kind == "stop"
    assert "still failing after 2 rollback(s)" in action.reason and "max_rollbacks 2" in action.reason


def test_rollback_without_any_earlier_checkpoint_stops(tmp_path: Path) -> None:
    hook = MonitorHook(ListSink(), FAST, policy="rollback")
    feed(hook, rows(1, 12, SATURATED_ROW))
    action = end_epoch(hook, 12, 1, tmp_path)
    assert action is not None and action.kind == "stop"
    assert "no checkpoint before it to roll back to" in action.reason


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown policy 'panic'; choose one of warn, stop, rollback"):
        MonitorHook(ListSink(), policy="panic")
    with pytest.raises(ValueError, match="quality_every >= 1"):
        MonitorHook(ListSink(), quality_every=0)


# Quality, held-back images, state ---------------------------------------------------------------------------


def test_quality_every_k_epochs_goes_with_its_checkpoint(tmp_path: Path) -> None:
    reported: list[tuple[int, dict]] = []
    every_2nd = FAST.model_copy(update={"c2st_every": 2})
    hook = MonitorHook(
        ListSink(), every_2nd, quality_every=2, on_quality=lambda i, q: reported.append((i.step, q))
    )
    for epoch in range(1, 6):
        hook.on_epoch_end(context(epoch * 10, epoch, epochs=5))
        hook.on_checkpoint(CheckpointInfo(epoch, epoch * 10, tmp_path / f"c{epoch}.pt"))
    assert [step for step, _ in reported] == [20, 40, 50]  # every 2nd epoch, and the last one
    numbers = reported[0][1]
    assert list(numbers)[:2] == ["c2st", "c2st_std"]  # the headline first, the old numbers as extras
    assert 0 <= numbers["c2st"] <= 1 and numbers["c2st_k"] == 8 and numbers["copying"] is False
    assert numbers["fid"] is None and "POKEGAN_INCEPTION_WEIGHTS" in numbers["fid_note"]
    assert 0 < numbers["precision"] <= 1 and numbers["epoch"] == 2
    assert [c.quality is not None for c in hook.checkpoints] == [False, True, False, True, True]
    assert hook.best_checkpoint() in [c.info for c in hook.checkpoints if c.quality]


def test_held_back_images_feed_the_overfitting_detector(tmp_path: Path) -> None:
    sink = ListSink()
    hook = MonitorHook(sink, FAST)
    holdout = make_sprites(16, seed=7, px=16)

    def d_logits(images: torch.Tensor) -> torch.Tensor:  # D has memorised its training images
        return torch.full((len(images),), 4.0 if len(images) == 32 else -1.0)

    for epoch in (1, 2):
        hook.on_epoch_end(context(epoch * 10, epoch, holdout=holdout, d_logits=d_logits))
    (event,) = [e for e in sink.events if e.kind == "d_overfitting"]
    assert event.severity == "warning" and event.evidence["gap"] > 0.5


def test_state_survives_a_weights_only_checkpoint(tmp_path: Path) -> None:
    hook = MonitorHook(ListSink(), FAST, policy="rollback")
    feed(hook, rows(1, 10, HEALTHY_ROW) + rows(11, 6, SATURATED_ROW))
    end_epoch(hook, 16, 1, tmp_path)
    hook.rollbacks = 1
    buffer = io.BytesIO()
    torch.save({"hooks": hook.state_dict()}, buffer)
    buffer.seek(0)
    restored = MonitorHook(ListSink(), FAST, policy="rollback")
    restored.load_state_dict(torch.load(buffer, weights_only=True)["hooks"])
    assert restored.state_dict() == hook.state_dict()
    assert restored.events == hook.events and restored.rollbacks == 1
    with pytest.raises(ValueError, match="monitor hook state version"):
        restored.load_state_dict({**hook.state_dict(), "version": 99})


# In the loop ------------------------------------------------------------------------------------------------


def test_holdout_size_rules() -> None:
    config = TrainConfig(**{**TINY, "holdout_fraction": 0.05, "batch_size": 64})
    assert config.holdout_count(749) == 37
    assert config.holdout_count(5000) == 64  # capped
    assert config.holdout_count(300) == 0  # 15 would be too few to judge
    assert TrainConfig(**{**TINY, "holdout_fraction": 0.5, "batch_size": 20}).holdout_count(34) == 0
    assert config.iters_per_epoch(749) == (749 - 37) // 64


def test_a_run_holds_images_back_and_hands_them_to_hooks(tmp_path: Path) -> None:
    seen: list[EpochContext] = []

    class Recorder:
        def on_iteration(self, row: IterationMetrics) -> None:
            pass

        def on_epoch_end(self, ctx: EpochContext) -> None:
            seen.append(ctx)

    lines: list[str] = []
    config = TrainConfig(**{**TINY, "holdout_fraction": 0.4, "epochs": 1})
    result = train(
        config,
        synthetic_images(40, 16),
        ListSink(),
        RunDirStore(tmp_path),
        hooks=[Recorder()],
        log=lines.append,
    )
    assert result.step == 24 // 4  # 16 of the 40 images are held back
    assert any("24 images (16 more held back)" in line for line in lines)
    (ctx,) = seen
    assert ctx.holdout.shape == (16, 3, 16, 16) and ctx.epochs == 1
    assert ctx.d_logits(ctx.holdout).shape == (16,)


def test_forced_saturation_is_caught_and_warn_changes_nothing(tmp_path: Path) -> None:
    config = TrainConfig(**{**SATURATING, "epochs": 6, "holdout_fraction": 0.4})
    data = synthetic_images(48, 16)  # 16 held back: the hook also asks D about them every epoch
    sink = ListSink()
    result = train(config, data, sink, RunDirStore(tmp_path / "a"), hooks=[MonitorHook(sink, FAST)])
    plain = train(config, data, ListSink(), RunDirStore(tmp_path / "b"))
    saturation = [e for e in sink.events if e.kind == "d_saturation"]
    assert [e.evidence["state"] for e in saturation] == ["started", "sustained"]
    assert saturation[0].evidence["means"]["d_x"] > 0.95
    a, b = (torch.load(r.checkpoint.path, weights_only=True) for r in (result, plain))
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])  # watching changed no weight or buffer


def test_rollback_policy_retries_with_lower_lrs_then_stops_with_the_reason(tmp_path: Path) -> None:
    config = TrainConfig(**SATURATING)
    sink = ListSink()
    hook = MonitorHook(sink, FAST, policy="rollback", max_rollbacks=2)
    result = train(config, synthetic_images(32, 16), sink, RunDirStore(tmp_path), hooks=[hook])
    assert result.status == "stopped" and result.rollbacks == 2
    assert "still failing after 2 rollback(s)" in result.reason and "try a lower lr_d" in result.reason
    rollbacks = [e for e in sink.events if e.kind == "hook_rollback"]
    assert [e.evidence["lr_d"] for e in rollbacks] == pytest.approx([5e-3, 2.5e-3])
    assert all(e.evidence["trigger"]["kind"] == "d_saturation" for e in rollbacks)
    assert [e.kind for e in sink.events][-1] == "hook_stop"
    state = torch.load(result.checkpoint.path, weights_only=True)
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2.5e-3)


def test_stop_policy_ends_a_saturating_run(tmp_path: Path) -> None:
    sink = ListSink()
    hook = MonitorHook(sink, FAST, policy="stop")
    result = train(
        TrainConfig(**SATURATING), synthetic_images(32, 16), sink, RunDirStore(tmp_path), hooks=[hook]
    )
    assert result.status == "stopped" and result.step < 8 * 4
    assert result.reason.startswith("Discriminator saturation persists")


def test_a_monitored_run_resumes_bit_exactly_with_its_detector_state(tmp_path: Path) -> None:
    config = TrainConfig(**{**SATURATING, "epochs": 4, "holdout_fraction": 0.4, "ema_decay": 0.9})
    data = synthetic_images(56, 16)  # 16 held back, 40 train: 5 iterations per epoch
    judged = FAST.model_copy(update={"c2st_every": 1, "c2st_steps": 10, "c2st_repeats": 2})  # no clock
    whole = ListSink()
    train(config, data, whole, RunDirStore(tmp_path / "whole"), hooks=[MonitorHook(whole, judged)])

    split, store = ListSink(), RunDirStore(tmp_path / "split")
    first = MonitorHook(split, judged)
    train(config, data, split, store, hooks=[first], should_abort=lambda: len(split.iterations) >= 12)
    assert first.checkpoints and first.events  # an episode is open when the run stops
    train(config, data, split, store, hooks=[MonitorHook(split, judged)])  # a new process: a fresh hook

    assert split.iterations == whole.iterations
    assert [e for e in split.events if e.kind != "resume"] == whole.events
    a = torch.load(RunDirStore(tmp_path / "whole").latest_checkpoint().path, weights_only=True)
    b = torch.load(store.latest_checkpoint().path, weights_only=True)
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])
    (state_a,), (state_b,) = a["hooks"], b["hooks"]
    for state in (state_a, state_b):
        for checkpoint in state["state"]["checkpoints"]:
            checkpoint["path"] = Path(checkpoint["path"]).name  # the two runs live in different folders
            assert checkpoint["quality"]["c2st"] is not None
            del checkpoint["quality"]["judge_seconds"]  # wall clock
        del state["state"]["judge"], state["state"]["pending"]["quality"]["judge_seconds"]
    assert state_a == state_b
