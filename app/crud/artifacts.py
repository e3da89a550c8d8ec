"""Checkpoints and grids of a run: the DB rows that point at files in the run directory."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.crud.runs import get_run
from app.errors import ConflictError, NotFoundError
from core.db.tables import Checkpoint, Grid, Run


def list_checkpoints(session: Session, *, run_id: int) -> list[Checkpoint]:
    return list(
        session.scalars(select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step))
    )


def choose_checkpoint(session: Session, *, run_id: int, checkpoint_id: int | None = None) -> Checkpoint:
    """The asked-for checkpoint of the run, else its best one, else its latest; a clear error if none."""
    run = get_run(session, run_id=run_id)
    wanted = checkpoint_id if checkpoint_id is not None else run.best_checkpoint_id
    if wanted is not None:
        checkpoint = session.get(Checkpoint, wanted)
        if checkpoint is not None and checkpoint.run_id == run_id:
            return checkpoint
        if checkpoint_id is not None:
            raise NotFoundError(f"checkpoint {checkpoint_id} does not exist in run {run_id}")
    latest = session.scalars(
        select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step.desc()).limit(1)
    ).first()
    if latest is None:
        raise ConflictError(f"run {run_id} has no checkpoint yet; wait for its first epoch to finish")
    return latest


def best_checkpoint(session: Session, *, run: Run) -> Checkpoint | None:
    """The run's best checkpoint (chosen by the worker from quality numbers and failure events), if any."""
    if run.best_checkpoint_id is None:
        return None
    checkpoint = session.get(Checkpoint, run.best_checkpoint_id)
    return checkpoint if checkpoint is not None and checkpoint.run_id == run.id else None


def list_grids(session: Session, *, run_id: int) -> list[Grid]:
    return list(session.scalars(select(Grid).where(Grid.run_id == run_id).order_by(Grid.epoch)))


def grid_file(session: Session, *, run_id: int, epoch: int) -> Path:
    grid = session.scalars(select(Grid).where(Grid.run_id == run_id, Grid.epoch == epoch)).first()
    if grid is None:
        raise NotFoundError(f"run {run_id} has no grid for epoch {epoch}")
    path = Path(grid.path)
    if not path.is_file():
        raise NotFoundError(f"the grid file of run {run_id} epoch {epoch} is missing on disk")
    return path


def latest_grid_epochs(session: Session, *, run_ids: list[int]) -> dict[int, int]:
    """{run_id: newest grid epoch} for the runs that have a grid (thumbnails in the runs list)."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(Grid.run_id, func.max(Grid.epoch)).where(Grid.run_id.in_(run_ids)).group_by(Grid.run_id)
    )
    return dict(rows.all())


def runs_with_checkpoints(session: Session) -> set[int]:
    return set(session.scalars(select(Checkpoint.run_id).distinct()))
