"""The worker's CheckpointStore: files through RunDirStore, plus a Checkpoint/Grid row for each file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Checkpoint, Grid
from models.store import CheckpointInfo, RunDirStore


class DbCheckpointStore:
    """Saves like RunDirStore and upserts the DB rows the web reads (by run+step and run+epoch)."""

    def __init__(self, session_factory: sessionmaker[Session], run_id: int, run_dir: Path) -> None:
        self.session_factory = session_factory
        self.run_id = run_id
        self.files = RunDirStore(run_dir)

    @property
    def run_dir(self) -> Path:
        return self.files.run_dir

    def save_checkpoint(self, state: dict[str, Any], *, epoch: int, step: int) -> CheckpointInfo:
        info = self.files.save_checkpoint(state, epoch=epoch, step=step)
        self._record_checkpoint(info)
        return info

    def latest_checkpoint(self) -> CheckpointInfo | None:
        info = self.files.latest_checkpoint()
        if info is not None:
            self._record_checkpoint(info)  # a crash between the file and its row must not hide the file
        return info

    def load_checkpoint(self, info: CheckpointInfo) -> dict[str, Any]:
        return self.files.load_checkpoint(info)

    def discard_checkpoints_after(self, step: int) -> None:
        """After a rollback: later checkpoints and grids belong to an abandoned branch (PrunableStore)."""
        self.files.discard_checkpoints_after(step)
        with session_scope(self.session_factory) as session:
            for table in (Checkpoint, Grid):
                stale = session.scalars(select(table).where(table.run_id == self.run_id, table.step > step))
                for row in stale:
                    if table is Grid:
                        Path(row.path).unlink(missing_ok=True)
                    session.delete(row)

    def save_grid(self, grid: torch.Tensor, *, epoch: int, step: int) -> Path:
        path = self.files.save_grid(grid, epoch=epoch, step=step)
        with session_scope(self.session_factory) as session:
            row = session.scalar(select(Grid).where(Grid.run_id == self.run_id, Grid.epoch == epoch))
            row = row or Grid(run_id=self.run_id, epoch=epoch)
            row.step, row.path = step, str(path)
            session.add(row)
        return path

    def save_real_grid(self, grid: torch.Tensor) -> Path:
        return self.files.save_real_grid(grid)

    def save_config(self, config: dict[str, Any]) -> Path:
        return self.files.save_config(config)

    def _record_checkpoint(self, info: CheckpointInfo) -> None:
        with session_scope(self.session_factory) as session:
            row = session.scalar(
                select(Checkpoint).where(Checkpoint.run_id == self.run_id, Checkpoint.step == info.step)
            )
            row = row or Checkpoint(run_id=self.run_id, step=info.step)
            row.epoch, row.path = info.epoch, str(info.path)
            session.add(row)
