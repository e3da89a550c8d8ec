"""The loop's contract: rows, logs, grids, checkpoints, progress, hooks and refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from models.config import TrainConfig
from models.errors import TrainingError
from models.hooks import EpochContext, HookAction
from models.sink import IterationMetrics, ListSink
from models.store import RunDirStore
from models.train import Progress, train
from tests.conftest import synthetic_images

LINE = re.compile(
    r"^\[(\d+)/2\]\[(\d+)/4\] Loss_D: -?\d+\.\d{4} Loss_G: -?\d+\.\d{4} D\(x\): \d\.\d{4} "
    r"D\(G\(z\)\): \d\.\d{4} / \d\.\d{4}$"
)


def test_rows_logs_grids_and_flushes(tmp_path: Path, tiny_config) -> None:
    sink, lines = ListSink(), []
    result = train(
        tiny_config(log_every=2), synthetic_images(18, 16), sink, RunDirStore(tmp_path), log=lines.append
    )
    assert result.status == "completed" and (result.step, result.epoch) == (8, 2)
    # 18 images at batch 4: 4 iterations per epoch (the partial batch is dropped), a row for each.
    assert [(r.step, r.epoch, r.iteration) for r in sink.iterations] == [
        (e * 4 + i + 1, e, i) for e in range(2) for i in range(4)
    ]
    # The seed's line every log_every iterations and at the end of each epoch.
    logged = [tuple(map(int, m.groups())) for m in map(LINE.match, lines) if m]
    assert logged == [(0, 0), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3)]
    first = sink.iterations[0]
    assert f"Loss_D: {first.loss_d:.4f} Loss_G: {first.loss_g:.4f}" in lines[1]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["grid-00001.png", "grid-00002.png", "real.png"]
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.pt")) == ["ckpt-000000004.pt", "ckpt-000000008.pt"]
    assert sink.flushes >= 2


def test_cadence_fields(tmp_path: Path, tiny_config) -> None:
    cfg = tiny_config(epochs=5, grid_every_epochs=2, checkpoint_every_epochs=3)
    train(cfg, synthetic_images(8, 16), ListSink(), RunDirStore(tmp_path))
    assert sorted(p.name for p in tmp_path.glob("grid-*.png")) == [
        "grid-00002.png",
        "grid-00004.png",
        "grid-00005.png",
    ]
    assert [i.epoch for i in RunDirStore(tmp_path).checkpoints()] == [3, 5]


def test_checkpoint_is_one_weights_only_dict(tmp_path: Path, tiny_config) -> None:
    cfg = tiny_config(ema_decay=0.99)
    result = train(cfg, synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path))
    state = torch.load(result.checkpoint.path, weights_only=True)
    for key in ("G", "D", "ema", "opt_g", "opt_d", "sched_g", "sched_d", "fixed_noise", "rng", "config"):
        assert key in state, key
    assert (state["step"], state["epoch"], state["iteration"]) == (8, 2, 0)
    assert TrainConfig.model_validate(state["config"]) == cfg
    assert state["pokegan_version"]
    assert state["fixed_noise"].shape == (64, cfg.nz, 1, 1)
    assert set(state["rng"]) == {"torch", "cuda", "loop"} and state["rng"]["cuda"] is None
    assert state["opt_g"]["state"], "optimizer moments must be saved"


def test_progress_is_reported_every_iteration(tmp_path: Path, tiny_config) -> None:
    seen: list[Progress] = []
    train(tiny_config(), synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path), on_progress=seen.append)
    assert [p.step for p in seen] == list(range(1, 9))
    assert [(p.epoch, p.iteration) for p in seen[:5]] == [(0, 1), (0, 2), (0, 3), (0, 4), (1, 1)]
    assert all(p.total_steps == 8 and p.iters_per_epoch == 4 and p.epochs == 2 for p in seen)
    assert all(p.images_per_s > 0 for p in seen)
    assert seen[-1].elapsed_s >= seen[0].elapsed_s > 0


def test_cancel_stops_within_one_batch_and_saves_everything(tmp_path: Path, tiny_config) -> None:
    sink, store = ListSink(), RunDirStore(tmp_path)
    requested = []
    result = train(
        tiny_config(),
        synthetic_images(16, 16),
        sink,
        store,
        should_abort=lambda: bool(requested),
        on_progress=lambda p: requested.append(True) if p.step == 3 else None,
    )
    assert result.status == "cancelled" and result.step == 3
    assert [r.step for r in sink.iterations] == [1, 2, 3]
    state = store.load_checkpoint(store.latest_checkpoint())
    assert (state["step"], state["epoch"], state["iteration"]) == (3, 0, 3)
    assert sink.flushes >= 1


def test_cancel_before_the_first_batch(tmp_path: Path, tiny_config) -> None:
    result = train(
        tiny_config(), synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path), should_abort=lambda: True
    )
    assert result.status == "cancelled" and result.step == 0 and result.checkpoint.step == 0


def test_grad_stats_cover_every_layer_of_both_nets(tmp_path: Path, tiny_config) -> None:
    sink = ListSink()
    train(
        tiny_config(grad_stats_every=3, spectral_norm=True),
        synthetic_images(16, 16),
        sink,
        RunDirStore(tmp_path),
    )
    assert sorted({s.step for s in sink.grad_stats}) == [3, 6]
    at_3 = [s for s in sink.grad_stats if s.step == 3]
    assert {s.layer for s in at_3 if s.net == "G"} == {"main.0", "main.3", "main.6"}
    assert {s.layer for s in at_3 if s.net == "D"} == {"body.0", "body.2", "head"}
    assert all(0 <= s.mean_abs <= s.max_abs and s.max_abs > 0 for s in at_3)


def test_grad_stats_off(tmp_path: Path, tiny_config) -> None:
    sink = ListSink()
    train(tiny_config(grad_stats_every=0), synthetic_images(16, 16), sink, RunDirStore(tmp_path))
    assert sink.grad_stats == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (synthetic_images(3, 16), "fewer than batch_size 4"),
        (synthetic_images(8, 32), "images are 32x32 px but the config trains at 16x16"),
        (synthetic_images(8, 16).float(), "must be a uint8 tensor"),
        (synthetic_images(8, 16)[:, :1], "must be a uint8 tensor"),
    ],
)
def test_unusable_data_is_refused(tmp_path: Path, tiny_config, data: torch.Tensor, message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        train(tiny_config(), data, ListSink(), RunDirStore(tmp_path))


def test_init_from_loads_weights_only(tmp_path: Path, tiny_config) -> None:
    first = train(tiny_config(epochs=1), synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path / "a"))
    source = torch.load(first.checkpoint.path, weights_only=True)
    sink = ListSink()
    result = train(
        tiny_config(seed=5),
        synthetic_images(16, 16, seed=1),
        sink,
        RunDirStore(tmp_path / "b"),
        init_from=source,
        should_abort=lambda: True,
    )
    state = torch.load(result.checkpoint.path, weights_only=True)
    assert result.step == 0 and state["opt_g"]["state"] == {}  # fresh optimizers at step 0
    assert all(torch.equal(state["G"][k], source["G"][k]) for k in source["G"])
    assert all(torch.equal(state["D"][k], source["D"][k]) for k in source["D"])
    assert [e.kind for e in sink.events] == ["init_from"]


def test_init_from_refuses_other_shapes(tmp_path: Path, tiny_config) -> None:
    first = train(tiny_config(epochs=1), synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path / "a"))
    source = torch.load(first.checkpoint.path, weights_only=True)
    with pytest.raises(TrainingError, match=r"G weights do not fit.*main.0.weight is \(8, 32, 4, 4\) here"):
        train(
            tiny_config(ngf=16),
            synthetic_images(16, 16),
            ListSink(),
            RunDirStore(tmp_path / "b"),
            init_from=source,
        )
    with pytest.raises(TrainingError, match="D weights do not fit.*missing"):
        data, store = synthetic_images(16, 16), RunDirStore(tmp_path / "c")
        train(tiny_config(spectral_norm=True), data, ListSink(), store, init_from=source)
    with pytest.raises(TrainingError, match="must be a pokegan checkpoint"):
        train(
            tiny_config(),
            synthetic_images(16, 16),
            ListSink(),
            RunDirStore(tmp_path / "d"),
            init_from={"x": 1},
        )


class _Recorder:
    """A hook that remembers what it saw and answers epochs from a script."""

    def __init__(self, answers: dict[int, HookAction] | None = None) -> None:
        self.rows: list[IterationMetrics] = []
        self.contexts: list[EpochContext] = []
        self.features: list[torch.Tensor] = []
        self.answers = dict(answers or {})

    def on_iteration(self, row: IterationMetrics) -> None:
        self.rows.append(row)

    def on_epoch_end(self, ctx: EpochContext) -> HookAction | None:
        self.contexts.append(ctx)
        self.features.append(ctx.d_features(ctx.real))
        return self.answers.pop(ctx.epoch, None)


def test_hooks_see_rows_and_epochs_without_disturbing_training(tmp_path: Path, tiny_config) -> None:
    hook = _Recorder()
    sink = ListSink()
    with_hook = train(
        tiny_config(), synthetic_images(16, 16), sink, RunDirStore(tmp_path / "a"), hooks=[hook]
    )
    without = train(tiny_config(), synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path / "b"))
    assert hook.rows == sink.iterations
    assert [(c.step, c.epoch) for c in hook.contexts] == [(4, 1), (8, 2)]
    ctx = hook.contexts[0]
    assert ctx.samples.shape == (64, 3, 16, 16) and ctx.samples.abs().max() <= 1
    assert ctx.real.shape == (16, 3, 16, 16) and ctx.real.min() >= -1
    assert hook.features[0].shape == (16, 8 * 2 * 4 * 4)
    a = torch.load(with_hook.checkpoint.path, weights_only=True)
    b = torch.load(without.checkpoint.path, weights_only=True)
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])  # eval-mode features change no state


def test_hook_can_stop_the_run(tmp_path: Path, tiny_config) -> None:
    sink = ListSink()
    hook = _Recorder({1: HookAction("stop", "mode collapse")})
    result = train(tiny_config(epochs=3), synthetic_images(16, 16), sink, RunDirStore(tmp_path), hooks=[hook])
    assert (result.status, result.reason, result.step, result.checkpoint.step) == (
        "stopped",
        "mode collapse",
        4,
        4,
    )
    assert [(e.kind, e.message) for e in sink.events] == [("hook_stop", "mode collapse")]


def test_hook_can_roll_back_to_an_older_checkpoint(tmp_path: Path, tiny_config) -> None:
    store, sink = RunDirStore(tmp_path), ListSink()
    seen_after_rollback: list[list[int]] = []

    class RollbackOnce(_Recorder):
        def on_iteration(self, row: IterationMetrics) -> None:
            super().on_iteration(row)
            if len(self.contexts) == 3 and row.step == 5:
                seen_after_rollback.append([i.step for i in store.checkpoints()])

        def on_epoch_end(self, ctx: EpochContext) -> HookAction | None:
            super().on_epoch_end(ctx)
            if ctx.epoch == 3 and len(self.contexts) == 3:
                return HookAction("rollback", "saturated", lr_factor=0.1, checkpoint=store.checkpoints()[0])
            return None

    cfg = tiny_config(epochs=3, lr_g=1e-3, lr_d=1e-3)
    result = train(cfg, synthetic_images(16, 16), sink, store, hooks=[RollbackOnce()])
    assert result.status == "completed" and result.rollbacks == 1 and result.step == 12
    assert seen_after_rollback == [[4]]  # the abandoned branch's checkpoint at step 8 was discarded
    assert [r.step for r in sink.iterations] == list(range(1, 13))
    event = next(e for e in sink.events if e.kind == "hook_rollback")
    assert event.step == 4 and "saturated" in event.message
    state = torch.load(result.checkpoint.path, weights_only=True)
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    assert state["sched_d"]["base_lrs"] == pytest.approx([1e-4])


def test_resume_refuses_a_changed_config(tmp_path: Path, tiny_config) -> None:
    train(tiny_config(epochs=1), synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path))
    with pytest.raises(TrainingError, match=r"cannot resume.*lr_g: 0.0002 -> 0.001"):
        train(tiny_config(lr_g=1e-3), synthetic_images(16, 16), ListSink(), RunDirStore(tmp_path))


def test_resume_false_starts_over(tmp_path: Path, tiny_config) -> None:
    sink, store = ListSink(), RunDirStore(tmp_path)
    train(tiny_config(epochs=2), synthetic_images(16, 16), sink, store)
    result = train(tiny_config(epochs=1), synthetic_images(16, 16), sink, store, resume=False)
    assert result.step == 4
    assert [r.step for r in sink.iterations] == [1, 2, 3, 4]
    assert [i.step for i in store.checkpoints()] == [4]
