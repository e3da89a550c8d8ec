"""The training loop: one plain function that the CLI, the Celery task and the tests all call.

train(config, data, sink, store, ...) trains from scratch, resumes from the store's latest checkpoint, or
fine-tunes from another run's weights; it reports every iteration to the sink, a grid and a checkpoint per
epoch to the store, and returns a TrainResult. Cancelling, NaN rollbacks and hooks are handled here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torchvision.utils import make_grid

from models import conditioning, series
from models.config import TrainConfig
from models.device import resolve_amp, resolve_device, to_device
from models.distributed import Parallel, rank_batch, ranks_apart
from models.errors import TrainingError
from models.holdout import split_holdout
from models.hooks import (
    EpochContext,
    HookAction,
    TrainHook,
    announce_checkpoint,
    hook_states,
    load_hook_states,
)
from models.schedule import set_base_lrs
from models.sink import IterationMetrics, MetricSink, TrainEvent
from models.steps import train_step
from models.store import CheckpointInfo, CheckpointStore, PrunableStore
from models.training_state import (
    GRID_SAMPLES,
    TrainingState,
    build_training_state,
    check_resume_config,
    load_init_weights,
    restore_training_state,
    training_state_dict,
)

__all__ = ["Progress", "TrainResult", "TrainingError", "epoch_order", "train"]

LOG_LINE = "[%d/%d][%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f"


def log_line(epoch: int, epochs: int, i: int, iters: int, values: dict[str, float]) -> str:
    """The seed's log line (pytorch/examples dcgan), exactly; later series are in the rows, not the log."""
    return LOG_LINE % (epoch, epochs, i, iters, *(values[name] for name in series.SEED_SERIES))


@dataclass(frozen=True)
class Progress:
    """Where the run is, for progress bars and heartbeats. epoch is the 0-based epoch in progress;
    iteration counts iterations done in it; step counts iterations done in the whole run."""

    epoch: int
    epochs: int
    iteration: int
    iters_per_epoch: int
    step: int
    total_steps: int
    images_per_s: float
    elapsed_s: float


@dataclass(frozen=True)
class TrainResult:
    status: Literal["completed", "cancelled", "stopped"]  # stopped = a hook asked to end the run
    step: int
    epoch: int  # epochs completed
    checkpoint: CheckpointInfo  # the checkpoint holding the final state
    reason: str = ""
    rollbacks: int = 0
    elapsed_s: float = 0.0


class _Rollback(Exception):
    """Raised inside the loop to go back to a checkpoint; caught by train()."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        step: int,
        lr_factor: float = 0.5,
        checkpoint: CheckpointInfo | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind, self.message, self.step = kind, message, step
        self.lr_factor, self.checkpoint, self.evidence = lr_factor, checkpoint, evidence or {}


@dataclass
class _Run:
    """What one train() call needs besides the TrainingState: inputs, callbacks, rollback bookkeeping."""

    s: TrainingState
    data: torch.Tensor
    holdout: torch.Tensor | None  # real images D never trains on (for the overfitting check)
    sink: MetricSink
    store: CheckpointStore
    hooks: Sequence[TrainHook]
    should_abort: Callable[[], bool]
    on_progress: Callable[[Progress], None] | None
    log: Callable[[str], None]
    last_good: dict[str, Any]
    last_saved: CheckpointInfo | None
    rollbacks_since_save: int = 0
    rollbacks: int = 0
    images: int = 0
    t0: float = field(default_factory=time.perf_counter)
    elapsed_before: float = 0.0
    labels: torch.Tensor | None = None  # conditional runs: the class index of each training image
    parallel: Parallel | None = None  # one rank of a world_size > 1 run (models/distributed.py)

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t0


def _never() -> bool:
    return False


def _quiet(message: str) -> None:
    pass


def train(
    config: TrainConfig,
    data: torch.Tensor,
    sink: MetricSink,
    store: CheckpointStore,
    *,
    should_abort: Callable[[], bool] = _never,
    on_progress: Callable[[Progress], None] | None = None,
    hooks: Sequence[TrainHook] = (),
    init_from: dict | None = None,
    resume: bool = True,
    log: Callable[[str], None] | None = None,
    labels: torch.Tensor | None = None,
    parallel: Parallel | None = None,
) -> TrainResult:
    """Train a GAN on `data` (uint8, N x 3 x H x W at the config's size) until config.epochs are done,
    should_abort() returns True, or a hook stops the run. A conditional config also takes `labels` (int64,
    one index into config.label_names per image). With `parallel`, this process is one rank of a run
    trained by config.world_size processes (models/distributed.py). Raises TrainingError on unusable input
    or losses that stay NaN/inf after nan_max_retries rollbacks."""
    log = log or _quiet
    _check_data(config, data)
    labels = conditioning.training_labels(config, labels, len(data))
    data, holdout = split_holdout(data, config)
    device = parallel.device if parallel is not None else resolve_device(config.device)
    s = build_training_state(config, device, len(data) // config.batch_size)
    if parallel is not None:  # rank 0 alone writes; every rank learns what it did
        parallel.attach(s)
        sink, store, hooks = parallel.sink(sink), parallel.store(store), parallel.hooks(hooks)
        should_abort, on_progress = parallel.abort_check(should_abort), parallel.leader_only(on_progress)
        log = parallel.leader_only(log) or _quiet

    # Start state: resume this run's latest checkpoint, else fine-tune from another run, else fresh.
    latest = store.latest_checkpoint() if resume else None
    if latest is not None:
        _resume(s, store.load_checkpoint(latest), sink, hooks, log)
        announce_checkpoint(hooks, latest)
    else:
        _forget_previous_attempt(sink, store)
        if init_from is not None:
            _init_from(s, init_from, sink)
    _announce(s, len(data), holdout, sink, log)

    run = _Run(
        s=s,
        data=to_device(data, device),
        holdout=holdout,
        sink=sink,
        store=store,
        hooks=hooks,
        should_abort=should_abort,
        on_progress=on_progress,
        log=log,
        last_good=checkpoint_state(s, hooks),
        last_saved=latest,
        elapsed_before=s.elapsed_s,
        labels=labels.to(device) if labels is not None else None,
        parallel=parallel,
    )
    store.save_real_grid(make_grid(data[:GRID_SAMPLES].float() / 255.0, nrow=8))
    while True:
        try:
            return _run_epochs(run)
        except _Rollback as rollback:
            _roll_back(run, rollback)


def _check_data(config: TrainConfig, data: torch.Tensor) -> None:
    """Refuse data the loop cannot use (each epoch drops the last partial batch)."""
    usable = isinstance(data, torch.Tensor) and data.dtype == torch.uint8 and data.dim() == 4
    if not usable or data.size(1) != 3:
        got = f"{data.dtype} {tuple(data.shape)}" if isinstance(data, torch.Tensor) else type(data).__name__
        raise TrainingError(f"data must be a uint8 tensor of shape N x 3 x H x W; got {got}")
    h, w = data.shape[2:]
    if (h, w) != (config.height, config.width):
        raise TrainingError(
            f"images are {h}x{w} px but the config trains at {config.height}x{config.width}; "
            "prepare the dataset at the config's size"
        )
    if len(data) < config.batch_size:
        raise TrainingError(
            f"the dataset has {len(data)} images, fewer than batch_size {config.batch_size}; "
            "add images or lower batch_size"
        )


def _resume(
    s: TrainingState,
    state: dict[str, Any],
    sink: MetricSink,
    hooks: Sequence[TrainHook],
    log: Callable[[str], None],
) -> None:
    check_resume_config(state["config"], s.config)
    restore_training_state(s, state)
    load_hook_states(hooks, state.get("hooks"))
    sink.truncate_after(s.step)  # rows after the checkpoint are about to be recomputed
    message = f"resumed from step {s.step} (epoch {s.epoch}, iteration {s.iteration})"
    sink.log_event(TrainEvent(step=s.step, kind="resume", severity="info", message=message))
    log(message)


def _init_from(s: TrainingState, state: dict, sink: MetricSink) -> None:
    load_init_weights(s, state)
    message = f"G and D initialised from a checkpoint of step {state.get('step', '?')}"
    sink.log_event(TrainEvent(step=0, kind="init_from", severity="info", message=message))


def _forget_previous_attempt(sink: MetricSink, store: CheckpointStore) -> None:
    """A fresh start replaces whatever an earlier attempt of this run left behind (resume=False)."""
    sink.truncate_after(0)
    if isinstance(store, PrunableStore):
        store.discard_checkpoints_after(0)


def _announce(
    s: TrainingState,
    n_images: int,
    holdout: torch.Tensor | None,
    sink: MetricSink,
    log: Callable[[str], None],
) -> None:
    _, amp_note = resolve_amp(s.config.amp, s.device)
    if amp_note:
        sink.log_event(TrainEvent(step=s.step, kind="amp_ignored", severity="info", message=amp_note))
        log(amp_note)
    log(
        f"training {s.config.arch} at {s.config.height}x{s.config.width} on {s.device} "
        f"(torch threads: {torch.get_num_threads()}): {n_images} images"
        f"{f' ({len(holdout)} more held back)' if holdout is not None else ''}, "
        f"{s.iters_per_epoch} iterations per epoch, {s.config.epochs} epochs"
    )


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The data order of one epoch, a function of (seed, epoch) alone so a mid-epoch resume is exact."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


def _run_epochs(run: _Run) -> TrainResult:
    """Train from the session's position to the end; raises _Rollback to go back to a checkpoint."""
    s = run.s
    while s.epoch < s.config.epochs:
        order = epoch_order(s.config.seed, s.epoch, len(run.data)).to(s.device)
        while s.iteration < s.iters_per_epoch:
            if run.should_abort():
                return _finish(run, "cancelled", "cancel requested")
            _iteration(run, order)
        result = _end_epoch(run)
        if result is not None:
            return result
    return _finish(run, "completed", "")


def _iteration(run: _Run, order: torch.Tensor) -> None:
    """One batch: train, check the losses are finite, then report the row everywhere it goes."""
    s, cfg = run.s, run.s.config
    i = s.iteration
    idx = rank_batch(order, i, cfg.batch_size, s.rank, s.world_size)
    real = s.to_images(run.data.index_select(0, idx))
    collect = cfg.grad_stats_every > 0 and (s.step + 1) % cfg.grad_stats_every == 0
    y = run.labels.index_select(0, idx) if run.labels is not None else None
    if y is not None:
        conditioning.apply_strength([s.G, s.D, s.ema], cfg, s.step, s.iters_per_epoch)
    out = train_step(s, real, collect_grads=collect, labels=y)
    if not all(math.isfinite(v) for v in out.values.values()):
        raise _Rollback(
            "nan_rollback",
            f"non-finite loss at step {s.step + 1}",
            step=s.step + 1,
            evidence={k: repr(v) for k, v in out.values.items()},
        )
    s.step += 1
    s.iteration += 1
    run.images += real.size(0) * s.world_size  # the global batch
    row = IterationMetrics(s.step, s.epoch, i, out.values)
    run.sink.log_iteration(row)
    if out.grad_stats:
        run.sink.log_grad_stats(out.grad_stats)
    for hook in run.hooks:
        hook.on_iteration(row)
    if i % cfg.log_every == 0 or s.iteration == s.iters_per_epoch:
        run.log(log_line(s.epoch, cfg.epochs, i, s.iters_per_epoch, out.values))
    _report_progress(run)


def _report_progress(run: _Run) -> None:
    if run.on_progress is None:
        return
    s = run.s
    elapsed_here = time.perf_counter() - run.t0
    run.on_progress(
        Progress(
            epoch=s.epoch,
            epochs=s.config.epochs,
            iteration=s.iteration,
            iters_per_epoch=s.iters_per_epoch,
            step=s.step,
            total_steps=s.config.epochs * s.iters_per_epoch,
            images_per_s=run.images / elapsed_here if elapsed_here > 0 else 0.0,
            elapsed_s=run.elapsed_before + elapsed_here,
        )
    )


def _end_epoch(run: _Run) -> TrainResult | None:
    """Grid, hooks, checkpoint and flush after each epoch; returns a result when a hook stops the run."""
    s, cfg = run.s, run.s.config
    s.epoch += 1
    s.iteration = 0
    last = s.epoch == cfg.epochs
    grid_due = last or s.epoch % cfg.grid_every_epochs == 0
    samples = sample_fixed(s) if grid_due or run.hooks else None
    if grid_due:
        run.store.save_grid(_grid_image(s, samples), epoch=s.epoch, step=s.step)
    action = _ask_hooks(run, samples) if run.hooks else None
    if run.parallel is not None:
        action = run.parallel.broadcast(action)  # the ranks roll back or stop together
    if action is not None and action.kind == "rollback":
        raise _Rollback(
            "hook_rollback",
            action.reason,
            step=s.step,
            lr_factor=action.lr_factor,
            checkpoint=action.checkpoint,
            evidence=action.evidence,
        )
    if action is not None and action.kind == "stop":
        run.sink.log_event(
            TrainEvent(step=s.step, kind="hook_stop", severity="warning", message=action.reason)
        )
        return _finish(run, "stopped", action.reason)
    if last or s.epoch % cfg.checkpoint_every_epochs == 0:
        _save_checkpoint(run)  # flushes the sink too
    else:
        run.sink.flush()
    return None


@torch.no_grad()
def sample_fixed(
    s: TrainingState, z: torch.Tensor | None = None, y: torch.Tensor | None = None
) -> torch.Tensor:
    """G (EMA when on) in eval mode on the fixed noise (or z), as a CPU float tensor in [-1, 1]. A
    conditional G gets labels y, by default 0, 1, ..., K-1 cycled over the latents."""
    net = s.sampler
    z = s.fixed_noise if z is None else z
    if s.config.conditional and y is None:
        y = conditioning.cycled_labels(len(z), len(s.config.label_names), z.device)
    was_training = net.training
    net.eval()
    try:
        return net(z, *(() if y is None else (y,))).float().cpu()
    finally:
        net.train(was_training)


def _grid_image(s: TrainingState, samples: torch.Tensor) -> torch.Tensor:
    """The epoch's grid: 8 x 8 samples, or for a conditional run one row per label with the same
    latents in every row, so a column shows what the label changes."""
    if s.config.conditional:
        z, y = conditioning.grid_inputs(s.fixed_noise, len(s.config.label_names))
        samples, nrow = sample_fixed(s, z, y), conditioning.GRID_COLUMNS
    else:
        nrow = 8
    return make_grid(samples, nrow=nrow, normalize=True, value_range=(-1, 1))


def _ask_hooks(run: _Run, samples: torch.Tensor) -> HookAction | None:
    """Every hook sees the epoch; the first action returned wins."""
    s = run.s
    real = s.to_images(run.data[:GRID_SAMPLES]).float().cpu()
    holdout = run.holdout
    ctx = EpochContext(
        step=s.step,
        epoch=s.epoch,
        samples=samples,
        real=real,
        d_features=_d_features(s),
        epochs=s.config.epochs,
        holdout=s.to_images(holdout).float().cpu() if holdout is not None else None,
        d_logits=_d_logits(s),
        training=run.data.cpu(),
        **_label_context(s, run, len(samples)),
    )
    actions = [hook.on_epoch_end(ctx) for hook in run.hooks]
    return next((a for a in actions if a is not None), None)


def _label_context(s: TrainingState, run: _Run, n_samples: int) -> dict[str, Any]:
    """A conditional run's labels for the hooks: those sample_fixed gave the samples, and the data's."""
    if run.labels is None:
        return {}
    names = tuple(s.config.label_names)
    return {
        "sample_labels": conditioning.cycled_labels(n_samples, len(names), torch.device("cpu")),
        "training_labels": run.labels.cpu(),
        "label_names": names,
    }


def _d_features(s: TrainingState) -> Callable[[torch.Tensor], torch.Tensor]:
    """D's penultimate activations in eval mode: no BatchNorm or spectral-norm state changes, so hooks
    cannot perturb training."""

    @torch.no_grad()
    def features(images: torch.Tensor) -> torch.Tensor:
        was_training = s.D.training
        s.D.eval()
        try:
            x = images.to(s.device).float().contiguous(memory_format=s.memory_format)
            return s.D.features(x).float().cpu()
        finally:
            s.D.train(was_training)

    return features


def _d_logits(s: TrainingState) -> Callable[[torch.Tensor], torch.Tensor]:
    """D's raw logits on one batch in training mode, as D judges real batches in training: BatchNorm's
    running averages mix real and fake batches and misjudge both in eval mode. D's buffers (BatchNorm
    statistics, spectral-norm vectors) are put back afterwards, so training is untouched."""

    @torch.no_grad()
    def logits(images: torch.Tensor) -> torch.Tensor:
        was_training = s.D.training
        saved = [buffer.clone() for buffer in s.D.buffers()]
        s.D.train()
        try:
            x = images.to(s.device).float().contiguous(memory_format=s.memory_format)
            with ranks_apart(s.D):  # only rank 0 runs the detectors
                return s.D(x).float().cpu()
        finally:
            for buffer, value in zip(s.D.buffers(), saved, strict=True):
                buffer.copy_(value)
            s.D.train(was_training)

    return logits


def checkpoint_state(s: TrainingState, hooks: Sequence[TrainHook]) -> dict[str, Any]:
    """The session's checkpoint dict plus the hooks' states (so detectors resume where they were)."""
    return {**training_state_dict(s), "hooks": hook_states(hooks)}


def _save_checkpoint(run: _Run) -> None:
    """Write the full state to the store and keep it as the rollback target."""
    s = run.s
    s.elapsed_s = run.elapsed()
    state = checkpoint_state(s, run.hooks)
    run.last_saved = run.store.save_checkpoint(state, epoch=s.epoch, step=s.step)
    run.last_good = state
    run.rollbacks_since_save = 0
    run.sink.flush()
    announce_checkpoint(run.hooks, run.last_saved)


def _finish(run: _Run, status: Literal["completed", "cancelled", "stopped"], reason: str) -> TrainResult:
    """Make sure the current state is on disk (resume loses nothing), flush, and describe the outcome."""
    s = run.s
    if run.last_saved is None or run.last_saved.step != s.step:
        _save_checkpoint(run)
    run.sink.flush()
    if status != "completed":
        run.log(f"{status} at step {s.step}: {reason}")
    return TrainResult(
        status=status,
        step=s.step,
        epoch=s.epoch,
        checkpoint=run.last_saved,
        reason=reason,
        rollbacks=run.rollbacks,
        elapsed_s=run.elapsed(),
    )


def _give_up(run: _Run, rollback: _Rollback) -> None:
    """Rollbacks did not help: record why, make the rows so far durable, and fail the run."""
    message = (
        f"{rollback.message}; gave up after {run.s.config.nan_max_retries} rollback(s) "
        f"to step {run.last_good['step']} with the learning rates lowered each time (nan_max_retries). "
        "Try lower lr_g/lr_d, grad_clip, spectral_norm or a gradient penalty"
    )
    kind = "nan_failure" if rollback.kind == "nan_rollback" else "rollback_failure"
    run.sink.log_event(TrainEvent(step=run.s.step, kind=kind, severity="error", message=message))
    run.sink.flush()
    raise TrainingError(message)


def _roll_back(run: _Run, rollback: _Rollback) -> None:
    """Restore a checkpoint, multiply both learning rates, forget the metric rows after it, and say so."""
    s, cfg = run.s, run.s.config
    run.rollbacks_since_save += 1
    run.rollbacks += 1
    if run.rollbacks_since_save > cfg.nan_max_retries:
        _give_up(run, rollback)
    lrs = (
        [lr * rollback.lr_factor for lr in s.sched_g.base_lrs],
        [lr * rollback.lr_factor for lr in s.sched_d.base_lrs],
    )
    if rollback.checkpoint is not None:
        run.last_good = run.store.load_checkpoint(rollback.checkpoint)
        run.last_saved = rollback.checkpoint
    restore_training_state(s, run.last_good)
    load_hook_states(run.hooks, run.last_good.get("hooks"))
    set_base_lrs(s.opt_g, s.sched_g, lrs[0])
    set_base_lrs(s.opt_d, s.sched_d, lrs[1])
    run.sink.truncate_after(s.step)
    if isinstance(run.store, PrunableStore):
        run.store.discard_checkpoints_after(s.step)  # a later resume must not pick the abandoned branch
    message = (
        f"{rollback.message}; rolled back to step {s.step} and set lr_g={lrs[0][0]:.3g}, lr_d={lrs[1][0]:.3g}"
    )
    if rollback.kind == "nan_rollback":  # a hook's reason counts its own rollbacks
        message += f" (rollback {run.rollbacks_since_save} of at most {cfg.nan_max_retries})"
    evidence = {**rollback.evidence, "from_step": rollback.step, "lr_g": lrs[0][0], "lr_d": lrs[1][0]}
    # Logged at the step rolled back to, so later truncations (another rollback, a resume) keep it.
    run.sink.log_event(
        TrainEvent(step=s.step, kind=rollback.kind, severity="warning", message=message, evidence=evidence)
    )
    run.sink.flush()
    announce_checkpoint(run.hooks, run.last_saved)
    run.log(message)
