"""The failure detectors in the worker: one MonitorHook per run, quality numbers stored with each
checkpoint, and the run's best checkpoint kept up to date in runs.best_checkpoint_id.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Checkpoint, Event, Run
from core.settings import Settings
from models.config import TrainConfig
from models.errors import TrainingError
from models.monitoring import (
    DISQUALIFYING_KINDS,
    DetectorSettings,
    MonitorHook,
    choose_best_epoch,
    quality_from_dict,
)
from models.sink import MetricSink, TrainEvent
from models.store import CheckpointInfo

log = logging.getLogger(__name__)

MAX_ROLLBACKS = 2


def detector_settings(settings: Settings) -> DetectorSettings:
    """The detector thresholds: defaults overridden by POKEGAN_DETECTORS (a JSON object)."""
    try:
        return DetectorSettings.model_validate(settings.detectors)
    except ValidationError as exc:
        raise TrainingError(f"POKEGAN_DETECTORS is not valid: {exc}") from exc


def build_monitor_hook(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: int,
    *,
    config: TrainConfig,
    policy: str,
    sink: MetricSink,
) -> MonitorHook:
    """The run's MonitorHook: events go to `sink`, quality numbers to the run's Checkpoint rows."""
    try:
        return MonitorHook(
            sink,
            detector_settings(settings),
            objective=config.loss,
            policy=policy,
            max_rollbacks=MAX_ROLLBACKS,
            inception_weights=settings.inception_weights,
            on_quality=QualityRecorder(session_factory, run_id),
            run_config=config.model_dump(mode="json"),
        )
    except ValueError as exc:  # an unknown policy in the run row
        raise TrainingError(f"run {run_id}: {exc}") from exc


class QualityRecorder:
    """Stores an epoch's quality numbers on its Checkpoint row, then re-picks the run's best checkpoint."""

    def __init__(self, session_factory: sessionmaker[Session], run_id: int) -> None:
        self.session_factory = session_factory
        self.run_id = run_id

    def __call__(self, info: CheckpointInfo, quality: dict[str, Any]) -> None:
        with session_scope(self.session_factory) as session:
            row = session.scalar(
                select(Checkpoint).where(Checkpoint.run_id == self.run_id, Checkpoint.step == info.step)
            )
            if row is None:  # the store records the row before the loop announces the checkpoint
                log.warning("run %s has no checkpoint row for step %s", self.run_id, info.step)
                return
            row.quality = dict(quality)
            update_best_checkpoint(session, self.run_id)


def update_best_checkpoint(session: Session, run_id: int) -> int | None:
    """Set runs.best_checkpoint_id from the checkpoints' quality and the failure events; returns it."""
    run = session.get(Run, run_id)
    if run is None:
        return None
    checkpoints = list(session.scalars(select(Checkpoint).where(Checkpoint.run_id == run_id)))
    rated = [(c.epoch, c.step, quality_from_dict(c.quality)) for c in checkpoints if _has_quality(c)]
    step = choose_best_epoch(rated, failure_events(session, run_id)) if rated else None
    run.best_checkpoint_id = next((c.id for c in checkpoints if c.step == step), None)
    return run.best_checkpoint_id


def refresh_best_checkpoint(session_factory: sessionmaker[Session], run_id: int) -> None:
    """update_best_checkpoint in its own transaction, logging instead of raising (end of a run)."""
    try:
        with session_scope(session_factory) as session:
            update_best_checkpoint(session, run_id)
    except Exception:
        log.exception("run %s: could not choose its best checkpoint", run_id)


def failure_events(session: Session, run_id: int) -> list[TrainEvent]:
    rows = session.scalars(
        select(Event)
        .where(Event.run_id == run_id, Event.kind.in_(DISQUALIFYING_KINDS))
        .order_by(Event.step, Event.id)
    )
    return [TrainEvent(e.step, e.kind, e.severity, e.message, dict(e.evidence or {})) for e in rows]


def _has_quality(checkpoint: Checkpoint) -> bool:
    return bool(checkpoint.quality) and checkpoint.quality.get("precision") is not None
