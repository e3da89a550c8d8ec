"""Reading a run's rows back in worker tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.tables import Checkpoint, Event, GradStat, Grid, Metric, Run


def get_run(session_factory: sessionmaker[Session], run_id: int) -> Run:
    with session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run


def run_status(session_factory: sessionmaker[Session], run_id: int) -> str:
    with session_factory() as session:
        return session.scalar(select(Run.status).where(Run.id == run_id))


def status_in(
    session_factory: sessionmaker[Session], run_id: int, *statuses: str
) -> Callable[[], str | None]:
    """A probe for wait_for: the status once it is one of `statuses`."""

    def probe() -> str | None:
        status = run_status(session_factory, run_id)
        return status if status in statuses else None

    return probe


def metric_steps(session_factory: sessionmaker[Session], run_id: int) -> list[int]:
    with session_factory() as session:
        return list(session.scalars(select(Metric.step).where(Metric.run_id == run_id).order_by(Metric.step)))


def max_metric_step(session_factory: sessionmaker[Session], run_id: int) -> int:
    with session_factory() as session:
        return session.scalar(select(func.max(Metric.step)).where(Metric.run_id == run_id)) or 0


def checkpoints(session_factory: sessionmaker[Session], run_id: int) -> list[tuple[int, int, Path]]:
    """(step, epoch, path) of each Checkpoint row, by step."""
    with session_factory() as session:
        rows = session.execute(
            select(Checkpoint.step, Checkpoint.epoch, Checkpoint.path)
            .where(Checkpoint.run_id == run_id)
            .order_by(Checkpoint.step)
        )
        return [(step, epoch, Path(path)) for step, epoch, path in rows]


def grids(session_factory: sessionmaker[Session], run_id: int) -> list[tuple[int, int, Path]]:
    """(epoch, step, path) of each Grid row, by epoch."""
    with session_factory() as session:
        rows = session.execute(
            select(Grid.epoch, Grid.step, Grid.path).where(Grid.run_id == run_id).order_by(Grid.epoch)
        )
        return [(epoch, step, Path(path)) for epoch, step, path in rows]


def events(session_factory: sessionmaker[Session], run_id: int) -> list[tuple[int, str, str]]:
    """(step, kind, message) of each Event row, by id."""
    with session_factory() as session:
        rows = session.execute(
            select(Event.step, Event.kind, Event.message).where(Event.run_id == run_id).order_by(Event.id)
        )
        return [tuple(row) for row in rows]


def grad_stat_steps(session_factory: sessionmaker[Session], run_id: int) -> list[int]:
    with session_factory() as session:
        query = select(GradStat.step).where(GradStat.run_id == run_id).distinct().order_by(GradStat.step)
        return list(session.scalars(query))


def set_cancel_requested(session_factory: sessionmaker[Session], run_id: int) -> None:
    with session_factory() as session:
        run = session.get(Run, run_id)
        run.cancel_requested = True
        session.commit()
