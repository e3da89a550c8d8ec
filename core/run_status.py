"""The one place a run's status changes, so the web app, the worker and crash recovery agree."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.db.tables import Run, utcnow

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED = (
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
)
ACTIVE = frozenset({QUEUED, RUNNING})
FINISHED = frozenset({COMPLETED, FAILED, CANCELLED})

ALLOWED: dict[str, frozenset[str]] = {
    QUEUED: frozenset({RUNNING, CANCELLED, FAILED}),
    RUNNING: frozenset({RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED}),
    INTERRUPTED: frozenset({QUEUED, RUNNING, CANCELLED, FAILED}),
    COMPLETED: frozenset({QUEUED}),
    FAILED: frozenset({QUEUED}),
    CANCELLED: frozenset({QUEUED}),
}


class InvalidTransition(ValueError):
    """A status change the state machine does not allow (e.g. resuming a run that is still running)."""


def can_transition(current: str, new: str) -> bool:
    return new in ALLOWED.get(current, frozenset())


def transition(session: Session, run: Run, new: str, *, error: str | None = None) -> Run:
    """Move `run` to `new`, stamping times; the caller commits. Raises InvalidTransition when not allowed."""
    if not can_transition(run.status, new):
        raise InvalidTransition(f"run {run.id} is {run.status}; it cannot become {new}")
    run.status = new
    if new == QUEUED:
        run.error = None
        run.finished_at = None
        run.cancel_requested = False
    elif new == RUNNING:
        run.started_at = run.started_at or utcnow()
        run.heartbeat_at = utcnow()
    elif new in FINISHED or new == INTERRUPTED:
        run.finished_at = utcnow() if new in FINISHED else None
        if error is not None:
            run.error = error
    session.add(run)
    return run
