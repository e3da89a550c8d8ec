"""Crash recovery: find runs whose worker is gone, mark them interrupted, and queue them again.

Neither broker gives a crashed task back in time: kombu's filesystem transport removes a message file when
a worker takes it (unacked messages live only in that worker's memory), and Redis returns an unacked message
only after the visibility timeout (12 h). So recovery is explicit and the same on both:

- every running task beats `runs.heartbeat_at` and records its worker as "host:pid" (worker/heartbeat.py);
- `mark_lost_runs` turns a "running" run into "interrupted" when its heartbeat is older than
  settings.worker_lost_after_s, or at once when its worker process is on this host and no longer exists.
  The web process calls it every few seconds (cli/serve.py), and so does every worker;
- `recover_runs` (at worker start-up and then periodically in each worker) also queues interrupted runs
  again; the task resumes from the run's latest checkpoint. A run that loses its worker MAX_AUTO_RESUMES
  times without a new checkpoint stays interrupted (a run that kills its worker must not loop forever).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Checkpoint, Event, Run, utcnow
from core.locking import lock_run
from core.run_status import CANCELLED, INTERRUPTED, QUEUED, RUNNING, transition
from core.settings import Settings

log = logging.getLogger(__name__)

MAX_AUTO_RESUMES = 3
WORKER_LOST_EVENT = "worker_lost"

Enqueue = Callable[[Settings, int], str]


@dataclass
class RecoveryReport:
    interrupted: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    given_up: list[int] = field(default_factory=list)


def recovery_interval_s(settings: Settings) -> float:
    """How often workers (and the web) look for lost runs: a third of the lost-after time, 2..60 s."""
    return max(2.0, min(60.0, settings.worker_lost_after_s / 3))


def worker_identity(pid: int | None = None) -> str:
    """How a run records the process training it: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def parse_identity(identity: str | None) -> tuple[str, int] | None:
    host, sep, pid = (identity or "").rpartition(":")
    return (host, int(pid)) if sep and host and pid.isdigit() else None


def process_is_gone(pid: int) -> bool:
    """True when no live process has this pid here (a zombie counts as gone: it will never beat again)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def worker_is_gone(identity: str | None, *, dead_identities: frozenset[str] = frozenset()) -> bool:
    """True when `identity` is known dead: listed, or a process on this host that no longer exists."""
    if identity in dead_identities:
        return True
    parsed = parse_identity(identity)
    if parsed is None or parsed[0] != socket.gethostname():
        return False  # another host: only its heartbeat can tell
    return process_is_gone(parsed[1])


def as_utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything this app writes is UTC
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def is_lost(
    run: Run, settings: Settings, *, now: datetime, dead_identities: frozenset[str] = frozenset()
) -> bool:
    """Is this running run's worker gone (stale heartbeat, or a dead process on this host)?"""
    heartbeat = as_utc(run.heartbeat_at)
    if heartbeat is None or now - heartbeat > timedelta(seconds=settings.worker_lost_after_s):
        return True
    return worker_is_gone(run.worker, dead_identities=dead_identities)


def mark_lost_runs(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    dead_identities: frozenset[str] = frozenset(),
) -> list[int]:
    """Move running runs whose worker is gone to "interrupted"; returns their ids. The caller commits."""
    now = now or utcnow()
    lost = []
    candidates = session.scalars(select(Run).where(Run.status == RUNNING).order_by(Run.id)).all()
    for candidate in candidates:
        if not is_lost(candidate, settings, now=now, dead_identities=dead_identities):
            continue
        run = lock_run(session, candidate.id)  # another process may have handled it meanwhile: look again
        if (
            run is None
            or run.status != RUNNING
            or not is_lost(run, settings, now=now, dead_identities=dead_identities)
        ):
            continue
        resume_step = latest_checkpoint_step(session, run.id)
        message = (
            f"the worker {run.worker or '(unknown)'} stopped responding; "
            f"the run continues from its checkpoint at step {resume_step} when a worker picks it up"
        )
        transition(session, run, INTERRUPTED, error=message)
        # logged at the checkpoint's step so a resume (which drops rows after that step) keeps it
        session.add(
            Event(
                run_id=run.id, step=resume_step, kind=WORKER_LOST_EVENT, severity="warning", message=message
            )
        )
        lost.append(run.id)
        log.warning("run %s interrupted: %s", run.id, message)
    return lost


def latest_checkpoint_step(session: Session, run_id: int) -> int:
    return session.scalar(select(func.max(Checkpoint.step)).where(Checkpoint.run_id == run_id)) or 0


def losses_since_checkpoint(session: Session, run_id: int) -> int:
    step = latest_checkpoint_step(session, run_id)
    query = select(func.count()).where(
        Event.run_id == run_id, Event.kind == WORKER_LOST_EVENT, Event.step == step
    )
    return session.scalar(query) or 0


def recover_runs(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    enqueue: Enqueue | None = None,
    dead_identities: frozenset[str] = frozenset(),
) -> RecoveryReport:
    """Mark lost runs interrupted, then queue every interrupted run again (resume from its checkpoint)."""
    if enqueue is None:
        from core.queue import enqueue_train as enqueue
    report = RecoveryReport()
    with session_scope(session_factory) as session:
        report.interrupted = mark_lost_runs(session, settings, dead_identities=dead_identities)
    with session_scope(session_factory) as session:
        run_ids = list(session.scalars(select(Run.id).where(Run.status == INTERRUPTED).order_by(Run.id)))
    for run_id in run_ids:
        try:
            _requeue_one(settings, session_factory, run_id, enqueue, report)
        except Exception:  # e.g. the broker is down: the run stays interrupted and the next pass retries
            log.exception("could not queue run %s again", run_id)
    return report


def _requeue_one(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: int,
    enqueue: Enqueue,
    report: RecoveryReport,
) -> None:
    with session_scope(session_factory) as session:
        run = lock_run(session, run_id)
        if run is None or run.status != INTERRUPTED:
            return
        if run.cancel_requested:
            transition(session, run, CANCELLED)
            report.cancelled.append(run_id)
            return
        losses = losses_since_checkpoint(session, run_id)
        if losses > MAX_AUTO_RESUMES:
            if run_id not in _given_up_logged:
                log.error(
                    "run %s lost its worker %d times without progress; resume it by hand", run_id, losses
                )
                _given_up_logged.add(run_id)
            run.error = (
                f"the worker was lost {losses} times since the last checkpoint; not resuming automatically "
                "(resume it by hand once the cause is fixed)"
            )
            report.given_up.append(run_id)
            return
        transition(session, run, QUEUED)
        session.flush()
        # enqueue before commit: if that fails the transaction rolls back and the run stays interrupted
        run.celery_task_id = enqueue(settings, run_id)[:64]
        report.requeued.append(run_id)
        log.warning("run %s queued again to resume from its last checkpoint", run_id)


_given_up_logged: set[int] = set()


def watch_lost_runs(
    settings: Settings, session_factory: sessionmaker[Session], stop: threading.Event
) -> None:
    """Mark lost runs interrupted every recovery_interval_s until `stop` (the web process runs this, so a
    run shows "interrupted" even when no worker is left to notice)."""
    interval = recovery_interval_s(settings)
    while True:
        try:
            with session_scope(session_factory) as session:
                mark_lost_runs(session, settings)
        except Exception:
            log.exception("looking for lost runs failed; retrying in %.0f s", interval)
        if stop.wait(interval):
            return
