"""Read a run under a write lock, so two processes deciding its fate never both act on the same state."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.db.tables import Run


def lock_run(session: Session, run_id: int) -> Run | None:
    """The run, re-read after taking its row lock (Postgres) or the database write lock (SQLite).

    A no-op UPDATE takes the lock on both back-ends (SELECT ... FOR UPDATE does nothing on SQLite); it is
    held until the session's transaction ends.
    """
    session.execute(update(Run).where(Run.id == run_id).values(cancel_requested=Run.cancel_requested))
    return session.get(Run, run_id, populate_existing=True)
