"""Creating, listing, cancelling, resuming and deleting runs. Routes (JSON and HTML) share these functions.

Status changes go through core.run_status.transition only.
"""

from __future__ import annotations

import difflib
import shutil
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.crud.labels import training_image_count, with_label_names
from app.errors import ConflictError, InvalidInputError, NotFoundError, UnavailableError
from app.schemas.runs import RunCreate
from core import run_status
from core.dataset_status import READY
from core.db.tables import Checkpoint, Dataset, Event, GradStat, Grid, Metric, Run
from core.settings import Settings
from models.config import TrainConfig


class ConfigError(InvalidInputError):
    """Several invalid config fields at once; `errors` is FastAPI-shaped ({loc, msg, type})."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors))
        self.errors = errors


def build_config(preset: str | None, overrides: dict[str, Any]) -> TrainConfig:
    """The full TrainConfig of a preset (or the defaults) with `overrides`; ConfigError if invalid."""
    unknown = [key for key in overrides if key not in TrainConfig.model_fields]
    if unknown:
        raise ConfigError([_unknown_field(key) for key in unknown])
    try:
        if preset:
            from models.presets import apply_preset

            return apply_preset(preset, overrides)
        return TrainConfig(**overrides)
    except ValidationError as exc:
        raise ConfigError(
            [
                {"loc": ["body", "config", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False)
            ]
        ) from exc
    except ValueError as exc:  # models.presets.PresetError: the preset name is unknown
        raise InvalidInputError(str(exc), loc=("body", "preset")) from exc


def _unknown_field(key: str) -> dict[str, Any]:
    close = difflib.get_close_matches(key, list(TrainConfig.model_fields), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return {
        "loc": ["body", "config", key],
        "msg": f"unknown config field {key!r}{hint}",
        "type": "extra_forbidden",
    }


def get_run(session: Session, *, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} does not exist")
    return run


def list_runs(session: Session, *, limit: int = 200) -> list[Run]:
    return list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))


def count_active_runs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Run).where(Run.status.in_(run_status.ACTIVE))) or 0


def create_run(session: Session, *, settings: Settings, data: RunCreate) -> Run:
    """Validate, insert a queued run and enqueue its training task."""
    dataset = _ready_dataset(session, data.dataset_id)
    config = build_config(data.preset, with_label_names(dataset, data.preset, data.config))
    _check_dataset_fits(dataset, config)
    run = Run(
        name=data.name or f"{dataset.name} · {data.preset or 'custom'}",
        dataset_id=dataset.id,
        preset=data.preset or None,
        config=config.model_dump(mode="json"),
        policy=data.policy,
        status=run_status.QUEUED,
        total_steps=config.epochs * config.iters_per_epoch(training_image_count(dataset, config)),
    )
    session.add(run)
    session.commit()
    _enqueue(session, settings=settings, run=run)
    return run


def request_cancel(session: Session, *, run_id: int) -> Run:
    """A queued (or interrupted) run is cancelled now; a running one is flagged and stops at the next step."""
    run = get_run(session, run_id=run_id)
    if run.status in (run_status.QUEUED, run_status.INTERRUPTED):
        run.cancel_requested = True
        run_status.transition(session, run, run_status.CANCELLED)
    elif run.status == run_status.RUNNING:
        run.cancel_requested = True
    else:
        raise ConflictError(f"run {run_id} is already {run.status}; there is nothing to cancel")
    session.commit()
    return run


def resume_run(session: Session, *, settings: Settings, run_id: int) -> Run:
    """Queue a finished or interrupted run again; the worker continues from its latest checkpoint."""
    run = get_run(session, run_id=run_id)
    if run.status in run_status.ACTIVE:
        raise ConflictError(f"run {run_id} is {run.status}; only a stopped run can be resumed")
    _ready_dataset(session, run.dataset_id)
    run_status.transition(session, run, run_status.QUEUED)
    session.commit()
    _enqueue(session, settings=settings, run=run)
    return run


def delete_run(session: Session, *, settings: Settings, run_id: int) -> list[int]:
    """Remove the run, its rows and its artifact folder; returns the ids of the checkpoints it had."""
    run = get_run(session, run_id=run_id)
    if run.status in run_status.ACTIVE:
        raise ConflictError(f"run {run_id} is {run.status}; cancel it before deleting it")
    checkpoint_ids = list(session.scalars(select(Checkpoint.id).where(Checkpoint.run_id == run_id)))
    for table in (Metric, GradStat, Event, Grid, Checkpoint):
        session.execute(delete(table).where(table.run_id == run_id))
    session.delete(run)
    session.commit()
    shutil.rmtree(settings.run_dir(run_id), ignore_errors=True)
    return checkpoint_ids


def _ready_dataset(session: Session, dataset_id: int) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")
    if dataset.status != READY:
        raise ConflictError(
            f"dataset {dataset_id} is {dataset.status}, not ready; wait for its import to finish"
        )
    return dataset


def _check_dataset_fits(dataset: Dataset, config: TrainConfig) -> None:
    count = training_image_count(dataset, config)
    if count < config.batch_size:
        raise InvalidInputError(
            f"dataset '{dataset.name}' has {count} {'labelled ' if config.conditional else ''}images, "
            "fewer than one batch "
            f"(batch_size {config.batch_size}); lower batch_size or add images",
            loc=("body", "config", "batch_size"),
        )


def _enqueue(session: Session, *, settings: Settings, run: Run) -> None:
    from core.queue import enqueue_train

    try:
        task_id = enqueue_train(settings, run.id)
    except Exception as exc:  # the broker is down or misconfigured: say so on the run, not just in a log
        run_status.transition(session, run, run_status.FAILED, error=f"could not queue the run: {exc}")
        session.commit()
        raise UnavailableError(
            f"the task queue is unreachable ({exc}); run {run.id} was marked failed"
        ) from exc
    if isinstance(task_id, str):
        run.celery_task_id = task_id[:64]
        session.commit()


def typical_images_per_s(session: Session, *, arch: str, image_size: int) -> float | None:
    """Median images/s of past runs with this arch and image size (else of any run); None if none."""
    rows = session.execute(select(Run.config, Run.images_per_s).where(Run.images_per_s.is_not(None))).all()
    same = [
        ips for config, ips in rows if config.get("arch") == arch and config.get("image_size") == image_size
    ]
    speeds = sorted(same or [ips for _, ips in rows])
    if not speeds:
        return None
    return speeds[len(speeds) // 2]
