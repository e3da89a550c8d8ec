"""The one place a run's status changes, so the web app, the worker and crash recovery agree."""

from __future__ import annotations

from datetime import UTC, datetime

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
    _count_running_time(run, new)
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


def _count_running_time(run: Run, new: str) -> None:
    """Open a running spell on entering RUNNING, add it to active_s on leaving it. An interrupted run (its
    worker lost) stopped at its last heartbeat, not when the loss was noticed."""
    now = utcnow()
    if new == RUNNING and run.status != RUNNING:
        run.running_since = now
    elif run.status == RUNNING and new != RUNNING and run.running_since is not None:
        end = _utc(run.heartbeat_at) if new == INTERRUPTED and run.heartbeat_at else now
        run.active_s = (run.active_s or 0.0) + max(0.0, (end - _utc(run.running_since)).total_seconds())
        run.running_since = None


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
