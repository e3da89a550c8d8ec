"""What the "pokegan.train_run" task does: claim the run, train it with the DB sink and store, record the end.

The run's status moves only through core.run_status.transition. A run is claimed under a row lock, so
a duplicate delivery (a redelivered message, a recovery re-queue) never trains the same run twice at once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Checkpoint, Run, utcnow
from core.locking import lock_run
from core.run_status import CANCELLED, COMPLETED, FAILED, FINISHED, INTERRUPTED, RUNNING, transition
from core.settings import Settings
from models.config import TrainConfig
from models.distributed import Parallel, peer_lost
from models.errors import TrainingError
from models.train import TrainResult, train
from worker.class_consistency import write_class_consistency
from worker.dbsink import DbSink
from worker.detectors import build_monitor_hook, detector_settings, refresh_best_checkpoint
from worker.heartbeat import RunMonitor
from worker.labels import training_inputs
from worker.recovery import is_lost, worker_identity
from worker.store import DbCheckpointStore

if TYPE_CHECKING:
    from datasets.prepare import PreparedDataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedRun:
    """What the task needs from the DB, read once while the run is claimed."""

    run_id: int
    config: dict[str, Any]
    dataset_id: int
    dataset_prepare: dict[str, Any]
    init_from_path: Path | None
    policy: str = "warn"  # what the failure detectors do: warn | stop | rollback


@dataclass(frozen=True)
class Outcome:
    status: str | None  # None: the run is no longer ours, leave it alone
    error: str | None = None
    result: TrainResult | None = None  # where the loop ended, when it returned


def run_training(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: int,
    *,
    shutdown: threading.Event | None = None,
) -> str | None:
    """Train run `run_id` to its end; returns the status it ended in (None when there was nothing to do)."""
    identity = worker_identity()
    claimed = claim_run(settings, session_factory, run_id, identity)
    if claimed is None:
        return None
    if int(claimed.config.get("world_size", 1)) > 1:
        from worker.distributed_launch import run_distributed

        return run_distributed(settings, session_factory, claimed, identity, shutdown=shutdown)
    return train_claimed_run(settings, session_factory, claimed, identity, shutdown=shutdown)


def train_claimed_run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    claimed: ClaimedRun,
    identity: str,
    *,
    shutdown: threading.Event | None = None,
    parallel: Parallel | None = None,
) -> str | None:
    """Train a run this worker claimed, with the DB sink, store, heartbeat and detectors; with `parallel`,
    as rank 0 of a world_size > 1 run (worker/rank.py)."""
    run_id = claimed.run_id
    sink = DbSink(session_factory, run_id)
    monitor = RunMonitor(
        session_factory,
        run_id,
        identity,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        shutdown=shutdown,
        on_tick=sink.flush_if_due,
    )
    with monitor.running():
        try:
            outcome = _train_claimed(settings, session_factory, claimed, sink, monitor, parallel)
        except TrainingError as exc:
            outcome = Outcome(FAILED, str(exc))
        except Exception as exc:
            if parallel is not None and peer_lost(exc):
                raise  # another rank is gone: the launching task marks the run interrupted, naming it
            log.exception("run %s failed", run_id)
            outcome = Outcome(FAILED, f"{type(exc).__name__}: {exc}")
        except BaseException:
            # the worker is being torn down (cold shutdown): leave the run resumable, then let it go on
            _record_outcome(session_factory, run_id, identity, _interrupted_by_shutdown())
            raise
    _flush_quietly(sink, run_id)
    refresh_best_checkpoint(session_factory, run_id)
    return _record_outcome(session_factory, run_id, identity, outcome)


def claim_run(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int, identity: str
) -> ClaimedRun | None:
    """Make the run "running" on this worker, or return None when there is nothing for us to do."""
    with session_scope(session_factory) as session:
        run = lock_run(session, run_id)
        if run is None:
            log.warning("run %s does not exist (deleted?); nothing to do", run_id)
            return None
        if run.status in FINISHED:
            log.info("run %s is already %s; nothing to do", run_id, run.status)
            return None
        if run.status == RUNNING and not is_lost(
            run, settings, now=utcnow(), dead_identities=frozenset({identity})
        ):
            log.info("run %s is running on %s; ignoring this duplicate delivery", run_id, run.worker)
            return None
        if run.cancel_requested:
            transition(session, run, CANCELLED)
            return None
        transition(session, run, RUNNING)
        run.worker = identity
        run.heartbeat_at = utcnow()
        run.error = None
        return ClaimedRun(
            run_id=run.id,
            config=dict(run.config),
            dataset_id=run.dataset_id,
            dataset_prepare=dict(run.dataset.prepare or {}) if run.dataset else {},
            init_from_path=_checkpoint_path(session, run.init_from_checkpoint_id),
            policy=run.policy,
        )


def _checkpoint_path(session: Session, checkpoint_id: int | None) -> Path | None:
    if checkpoint_id is None:
        return None
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise TrainingError(f"the checkpoint {checkpoint_id} this run starts from no longer exists")
    return Path(checkpoint.path)


def _train_claimed(
    settings: Settings,
    session_factory: sessionmaker[Session],
    claimed: ClaimedRun,
    sink: DbSink,
    monitor: RunMonitor,
    parallel: Parallel | None = None,
) -> Outcome:
    config = worker_config(claimed.config, settings)
    store = DbCheckpointStore(session_factory, claimed.run_id, settings.run_dir(claimed.run_id))
    store.save_config(config.model_dump(mode="json"))
    prepared = load_prepared(settings, claimed.dataset_id, claimed.dataset_prepare, config)
    data, labels = training_inputs(settings.dataset_dir(claimed.dataset_id), prepared, config)
    init_from = _load_init_from(claimed.init_from_path)
    if parallel is not None:  # the other ranks train on what rank 0 read: they need no DB or storage
        parallel.broadcast((config.model_dump(mode="json"), data, labels, init_from))
    hook = build_monitor_hook(
        settings, session_factory, claimed.run_id, config=config, policy=claimed.policy, sink=sink
    )
    result = train(
        config,
        data,
        sink,
        store,
        should_abort=monitor.should_abort,
        on_progress=monitor.on_progress,
        hooks=[hook],
        init_from=init_from,
        resume=True,
        log=lambda line: log.info("run %s: %s", claimed.run_id, line),
        labels=labels,
        parallel=parallel,
    )
    if labels is not None and result.status != "cancelled":
        run_dir = settings.run_dir(claimed.run_id)
        write_class_consistency(run_dir, config, data, labels, result.checkpoint, detector_settings(settings))
    return _outcome_of(result, monitor)


def worker_config(stored: dict[str, Any], settings: Settings) -> TrainConfig:
    """The run's config; a worker pinned to a device (POKEGAN_DEVICE) decides where "auto" runs."""
    try:
        config = TrainConfig.model_validate(stored)
        if config.device == "auto" and settings.device != "auto":
            config = TrainConfig.model_validate({**stored, "device": settings.device})
    except ValidationError as exc:
        raise TrainingError(f"the run's config is not valid here: {exc}") from exc
    return config


def load_training_data(
    settings: Settings, dataset_id: int, prepare: dict[str, Any], config: TrainConfig
) -> torch.Tensor:
    """The dataset as a uint8 N x 3 x H x W tensor at the config's size (decoded once, then cached)."""
    return load_prepared(settings, dataset_id, prepare, config).images


def load_prepared(
    settings: Settings, dataset_id: int, prepare: dict[str, Any], config: TrainConfig
) -> PreparedDataset:
    """The dataset prepared at the config's size, with each image's name (decoded once, then cached)."""
    from datasets import PrepareOptions, load_or_prepare
    from datasets.limits import dataset_limits

    try:
        options = PrepareOptions(**{**prepare, "height": config.height, "width": config.width})
    except ValidationError as exc:
        raise TrainingError(f"the dataset's preparation options are invalid: {exc}") from exc
    limits = dataset_limits(settings)
    return load_or_prepare(settings.dataset_dir(dataset_id), options, limits=limits)


def _load_init_from(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    if not path.is_file():
        raise TrainingError(f"the checkpoint file {path.name} this run starts from is missing")
    return torch.load(path, map_location="cpu", weights_only=True)


def _outcome_of(result: TrainResult, monitor: RunMonitor) -> Outcome:
    if result.status == "completed":
        return Outcome(COMPLETED, result=result)
    if result.status == "stopped":  # a detector hook ended the run on purpose: it is done, with the reason
        return Outcome(COMPLETED, f"stopped early: {result.reason}", result=result)
    if monitor.lost.is_set():
        return Outcome(None)
    if monitor.cancel_seen:
        return Outcome(CANCELLED, result=result)
    return _interrupted_by_shutdown(result)


def _interrupted_by_shutdown(result: TrainResult | None = None) -> Outcome:
    message = "the worker shut down; the run continues from its last checkpoint when a worker starts"
    return Outcome(INTERRUPTED, message, result=result)


def _record_outcome(
    session_factory: sessionmaker[Session], run_id: int, identity: str, outcome: Outcome
) -> str | None:
    """Apply the final status if the run is still ours (it may have been interrupted and taken over)."""
    if outcome.status is None:
        log.warning("run %s was taken away from this worker; not recording an outcome", run_id)
        return None
    with session_scope(session_factory) as session:
        run = session.get(Run, run_id, populate_existing=True)
        if run is None or run.status != RUNNING or run.worker != identity:
            log.warning("run %s is no longer running here; not recording %s", run_id, outcome.status)
            return None
        transition(session, run, outcome.status, error=outcome.error)
        if outcome.result is not None:
            run.step = outcome.result.step
        if outcome.status == COMPLETED and outcome.result is not None:
            run.epoch, run.iteration = outcome.result.epoch, 0
    log.info("run %s %s%s", run_id, outcome.status, f": {outcome.error}" if outcome.error else "")
    return outcome.status


def _flush_quietly(sink: DbSink, run_id: int) -> None:
    try:
        sink.flush()
    except Exception:
        log.exception("run %s: could not write its last metric rows", run_id)
