"""The detectors as a training-loop hook: watch every row and every epoch, measure quality, act on failures.

Policies: "warn" only logs events; "stop" ends the run at the first error-level failure (a saturation,
overpowering or collapse episode that persisted, or a divergence); "rollback" goes back to the best checkpoint
taken before the failure began with both learning rates lowered, and stops once `max_rollbacks` did not help.
The hook's state (detector windows and episodes, known checkpoints and their quality, rollbacks spent) rides
in every checkpoint, so a resumed run carries on exactly where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from models.hooks import EpochContext, HookAction
from models.monitoring.episode import json_number
from models.monitoring.fid import fid_kid
from models.monitoring.hints import hint as remedy_hint
from models.monitoring.judge import Judge
from models.monitoring.per_label import label_groups
from models.monitoring.quality import EpochQuality, epoch_quality
from models.monitoring.selection import DISQUALIFYING_KINDS, choose_best_epoch
from models.monitoring.settings import DetectorSettings
from models.monitoring.suite import MonitorSuite
from models.sink import IterationMetrics, MetricSink, TrainEvent
from models.store import CheckpointInfo

Policy = Literal["warn", "stop", "rollback"]
POLICIES: tuple[str, ...] = ("warn", "stop", "rollback")
STREAM_KINDS = frozenset({"d_saturation", "g_overpowers_d"})  # judged on a window of past rows
STATE_VERSION = 1

QualityListener = Callable[[CheckpointInfo, dict[str, Any]], None]


@dataclass
class RatedCheckpoint:
    """A checkpoint of this run as the hook knows it, with its epoch's quality numbers when measured."""

    epoch: int
    step: int
    path: str
    quality: dict[str, Any] | None = None

    @property
    def info(self) -> CheckpointInfo:
        return CheckpointInfo(epoch=self.epoch, step=self.step, path=Path(self.path))


def quality_from_dict(values: dict[str, Any]) -> EpochQuality:
    """Rebuild an EpochQuality from its stored dict (non-finite numbers are stored as strings)."""
    numbers = {
        name: None if values.get(name) is None else float(values[name])
        for name in EpochQuality.__dataclass_fields__
        if name != "copying"
    }
    copying = values.get("copying")
    return EpochQuality(**numbers, copying=None if copying is None else bool(copying))


class MonitorHook:
    """A TrainHook running the MonitorSuite, logging its events to `sink` and acting under `policy`.

    `on_quality(info, numbers)` is called once a checkpoint has its epoch's quality numbers (the worker
    stores them with the checkpoint); FID/KID are measured only when `inception_weights` is a local file.
    """

    def __init__(
        self,
        sink: MetricSink,
        settings: DetectorSettings | None = None,
        *,
        objective: str = "bce",
        policy: str = "warn",
        max_rollbacks: int = 2,
        lr_factor: float = 0.5,
        quality_every: int = 1,
        inception_weights: Path | None = None,
        on_quality: QualityListener | None = None,
        run_config: dict[str, Any] | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
        if max_rollbacks < 0 or quality_every < 1 or not 0 < lr_factor <= 1:
            raise ValueError("max_rollbacks must be >= 0, quality_every >= 1 and lr_factor in (0, 1]")
        self.sink = sink
        self.settings = settings or DetectorSettings()
        self.suite = MonitorSuite(self.settings, objective=objective)
        self.policy = policy
        self.max_rollbacks, self.lr_factor, self.quality_every = max_rollbacks, lr_factor, quality_every
        self.inception_weights = inception_weights
        self.on_quality = on_quality
        self.run_config = run_config  # hints leave out the remedies it already has
        self.events: list[TrainEvent] = []  # failure events so far (they decide which checkpoints count)
        self.checkpoints: list[RatedCheckpoint] = []
        self.pending: dict[str, Any] | None = None  # this epoch's quality, until its checkpoint is saved
        self.rollbacks = 0
        self.trigger: TrainEvent | None = None  # the first error-level failure since the last epoch end
        self.judge = Judge(self.settings)

    # TrainHook

    def on_iteration(self, row: IterationMetrics) -> None:
        self._emit(self.suite.observe_iteration(row))

    def on_epoch_end(self, ctx: EpochContext) -> HookAction | None:
        self.judge.tick()
        try:
            return self._on_epoch_end(ctx)
        finally:
            self.judge.done()

    def _on_epoch_end(self, ctx: EpochContext) -> HookAction | None:
        feats_fake, feats_real = ctx.d_features(ctx.samples), ctx.d_features(ctx.real)
        logits_train = logits_holdout = None
        if ctx.holdout is not None and ctx.d_logits is not None:
            logits_train, logits_holdout = ctx.d_logits(ctx.real), ctx.d_logits(ctx.holdout)
        planned = ctx.epochs * ctx.step // ctx.epoch if ctx.epochs and ctx.epoch else None
        events = self.suite.observe_epoch(
            ctx.step,
            ctx.epoch,
            ctx.samples,
            ctx.real,
            feats_fake,
            feats_real,
            logits_train,
            logits_holdout,
            planned_steps=planned,
        )
        if ctx.sample_labels is not None and ctx.training_labels is not None and ctx.training is not None:
            groups = label_groups(
                ctx.samples,
                ctx.sample_labels,
                ctx.training,
                ctx.training_labels,
                ctx.label_names,
                ctx.d_features,
                feats_fake,
            )
            events += self.suite.observe_labels(ctx.step, groups, planned_steps=planned)
        self._emit(events)
        judged = self.judge.due(ctx.epoch, ctx.epochs)
        if judged or ctx.epoch % self.quality_every == 0 or ctx.epoch == ctx.epochs:
            quality = self._quality(ctx)
            if judged:
                quality = {**self.judge.judge(ctx, self._last_judged()), **quality}
            self.pending = {"step": ctx.step, "quality": quality}
        return self._act()

    def on_checkpoint(self, info: CheckpointInfo) -> None:
        """`info` holds the run's state now: later checkpoints belong to an abandoned branch."""
        self.checkpoints = [c for c in self.checkpoints if c.step < info.step]
        quality = self.pending["quality"] if self.pending and self.pending["step"] == info.step else None
        self.checkpoints.append(RatedCheckpoint(info.epoch, info.step, str(info.path), quality))
        if quality is not None and self.on_quality is not None:
            self.on_quality(info, quality)

    # what the hook found

    @property
    def last_quality(self) -> dict[str, Any] | None:
        return self.pending["quality"] if self.pending else None

    def best_checkpoint(self) -> CheckpointInfo | None:
        """The best-scoring checkpoint taken outside every failure episode (see choose_best_epoch)."""
        return self._best_of(self.checkpoints)

    # state (kept in checkpoints by the loop)

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "suite": self.suite.state_dict(),
            "events": [asdict(e) for e in self.events],
            "checkpoints": [asdict(c) for c in self.checkpoints],
            "pending": self.pending,
            "rollbacks": self.rollbacks,
            "judge": self.judge.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"monitor hook state version {state.get('version')!r} is not {STATE_VERSION}")
        self.suite.load_state_dict(state["suite"])
        self.events = [TrainEvent(**e) for e in state["events"]]
        self.checkpoints = [RatedCheckpoint(**c) for c in state["checkpoints"]]
        self.pending = state["pending"]
        # Going back to a checkpoint never refunds rollbacks already spent: that would allow endless retries.
        self.rollbacks = max(self.rollbacks, int(state["rollbacks"]))
        self.trigger = None
        self.judge.load_state_dict(state.get("judge"))  # absent in checkpoints from before the judge

    # internals

    def _emit(self, events: list[TrainEvent]) -> None:
        for event in events:
            self.sink.log_event(event)
            if event.kind not in DISQUALIFYING_KINDS:
                continue
            self.events.append(event)
            if event.severity == "error" and self.trigger is None:
                self.trigger = event

    def _quality(self, ctx: EpochContext) -> dict[str, Any]:
        s = self.settings
        scores, note = fid_kid(ctx.samples, ctx.real, self.inception_weights)
        quality = epoch_quality(
            ctx.samples,
            ctx.real,
            px=s.downsample_px,
            seed=s.feature_seed,
            duplicate_distance=s.duplicate_distance,
            fid_kid=scores,
        )
        values = quality.to_dict()
        del values["c2st"], values["copying"]  # the judge's, when this epoch is judged
        # The ranking numbers first: short listings (the checkpoint picker) show the first ones.
        ordered = {"score": quality.score, "fid": values.pop("fid"), "kid": values.pop("kid"), **values}
        numbers: dict[str, Any] = {k: None if v is None else json_number(v) for k, v in ordered.items()}
        numbers["epoch"] = ctx.epoch
        if note:
            numbers["fid_note"] = note
        return numbers

    def _last_judged(self) -> dict[str, Any] | None:
        judged = [c.quality for c in self.checkpoints if c.quality and c.quality.get("c2st") is not None]
        return judged[-1] if judged else None

    def _act(self) -> HookAction | None:
        trigger, self.trigger = self.trigger, None
        if trigger is None or self.policy == "warn":
            return None
        evidence = {"trigger": asdict(trigger), "policy": self.policy}
        hint = remedy_hint(trigger.kind, self.run_config)
        if self.policy == "stop":
            return HookAction("stop", f"{trigger.message} (policy 'stop'); {hint}", evidence=evidence)
        if self.rollbacks >= self.max_rollbacks:
            reason = (
                f"{trigger.message}; still failing after {self.rollbacks} rollback(s) with the learning "
                f"rates multiplied by {self.lr_factor:g} each time (policy 'rollback', max_rollbacks "
                f"{self.max_rollbacks}); {hint}"
            )
            return HookAction("stop", reason, evidence=evidence)
        target = self._rollback_target(trigger)
        if target is None:
            reason = f"{trigger.message}; no checkpoint before it to roll back to (policy 'rollback'); {hint}"
            return HookAction("stop", reason, evidence=evidence)
        self.rollbacks += 1
        reason = (
            f"{trigger.message}; monitor rollback {self.rollbacks} of {self.max_rollbacks} to the best "
            f"checkpoint before it (epoch {target.epoch}, step {target.step})"
        )
        evidence |= {"target_step": target.step, "target_epoch": target.epoch, "rollback": self.rollbacks}
        return HookAction("rollback", reason, lr_factor=self.lr_factor, checkpoint=target, evidence=evidence)

    def _rollback_target(self, trigger: TrainEvent) -> CheckpointInfo | None:
        """The best checkpoint taken before the failure began; else the earliest one before the event."""
        began = int(trigger.evidence.get("episode_start") or trigger.step)
        # A rolling-window detector fires up to a window after the rows that caused it.
        cutoff = began - (self.settings.window if trigger.kind in STREAM_KINDS else 1)
        before = [c for c in self.checkpoints if c.step <= cutoff]
        if before:
            return self._best_of(before) or before[-1].info
        earlier = [c for c in self.checkpoints if c.step < trigger.step]
        return earlier[0].info if earlier else None

    def _best_of(self, candidates: list[RatedCheckpoint]) -> CheckpointInfo | None:
        rated = [(c.epoch, c.step, quality_from_dict(c.quality)) for c in candidates if c.quality]
        step = choose_best_epoch(rated, self.events) if rated else None
        return next((c.info for c in candidates if c.step == step), None)
