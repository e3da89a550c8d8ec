"""Finding lost runs and queueing them again, in-process (the process-level tests: test_crash_recovery)."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Checkpoint, Run, utcnow
from core.run_status import INTERRUPTED, QUEUED, RUNNING, transition
from core.settings import Settings
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import events, get_run
from worker.recovery import (
    MAX_AUTO_RESUMES,
    WORKER_LOST_EVENT,
    mark_lost_runs,
    recover_runs,
    worker_identity,
)


class RecordingEnqueue:
    """Stands in for core.queue.enqueue_train (whose real message is checked in test_celery_app)."""

    def __init__(self, fail: bool = False) -> None:
        self.run_ids: list[int] = []
        self.fail = fail

    def __call__(self, settings: Settings, run_id: int) -> str:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.run_ids.append(run_id)
        return f"task-{run_id}"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def run_id(settings: Settings, session_factory: sessionmaker[Session]) -> int:
    return make_run(session_factory, make_dataset(session_factory, settings, n=8))


def set_running(
    session_factory: sessionmaker[Session], run_id: int, *, worker: str, heartbeat_age_s: float = 0.0
) -> None:
    with session_scope(session_factory) as session:
        run = session.get(Run, run_id)
        transition(session, run, RUNNING)
        run.worker = worker
        run.heartbeat_at = utcnow() - timedelta(seconds=heartbeat_age_s)


def mark(settings: Settings, session_factory: sessionmaker[Session]) -> list[int]:
    with session_scope(session_factory) as session:
        return mark_lost_runs(session, settings)


def test_a_stale_heartbeat_interrupts_the_run_at_its_checkpoint(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_running(
        session_factory, run_id, worker="gpu-box:4242", heartbeat_age_s=settings.worker_lost_after_s + 1
    )
    with session_scope(session_factory) as session:
        session.add(Checkpoint(run_id=run_id, epoch=1, step=12, path="/nowhere/ckpt-000000012.pt"))
    assert mark(settings, session_factory) == [run_id]
    run = get_run(session_factory, run_id)
    assert run.status == INTERRUPTED
    assert "gpu-box:4242 stopped responding" in run.error and "step 12" in run.error
    assert [(step, kind) for step, kind, _ in events(session_factory, run_id)] == [(12, WORKER_LOST_EVENT)]
    assert mark(settings, session_factory) == []  # only once


def test_a_fresh_heartbeat_from_another_host_is_trusted(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_running(
        session_factory, run_id, worker="gpu-box:4242", heartbeat_age_s=settings.worker_lost_after_s - 5
    )
    assert mark(settings, session_factory) == []
    assert get_run(session_factory, run_id).status == RUNNING


def test_a_dead_worker_process_on_this_host_is_lost_at_once(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_running(session_factory, run_id, worker=f"{socket.gethostname()}:{dead_pid()}")
    assert mark(settings, session_factory) == [run_id]


def test_a_live_worker_process_on_this_host_is_not_lost(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_running(session_factory, run_id, worker=worker_identity())
    assert mark(settings, session_factory) == []


def test_recover_runs_queues_interrupted_runs_again(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_running(session_factory, run_id, worker=f"{socket.gethostname()}:{dead_pid()}")
    enqueue = RecordingEnqueue()
    report = recover_runs(settings, session_factory, enqueue=enqueue)
    assert (report.interrupted, report.requeued, enqueue.run_ids) == ([run_id], [run_id], [run_id])
    run = get_run(session_factory, run_id)
    assert (run.status, run.error, run.celery_task_id) == (QUEUED, None, f"task-{run_id}")


def test_an_interrupted_run_with_a_cancel_request_is_cancelled_instead(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_running(session_factory, run_id, worker=f"{socket.gethostname()}:{dead_pid()}")
    with session_scope(session_factory) as session:
        session.get(Run, run_id).cancel_requested = True
    enqueue = RecordingEnqueue()
    report = recover_runs(settings, session_factory, enqueue=enqueue)
    assert (report.cancelled, enqueue.run_ids) == ([run_id], [])
    assert get_run(session_factory, run_id).status == "cancelled"


def test_a_broker_failure_leaves_the_run_interrupted_for_the_next_pass(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_running(session_factory, run_id, worker=f"{socket.gethostname()}:{dead_pid()}")
    report = recover_runs(settings, session_factory, enqueue=RecordingEnqueue(fail=True))
    assert (report.interrupted, report.requeued) == ([run_id], [])
    assert get_run(session_factory, run_id).status == INTERRUPTED
    enqueue = RecordingEnqueue()
    assert recover_runs(settings, session_factory, enqueue=enqueue).requeued == [run_id]


def test_a_run_that_keeps_losing_its_worker_without_progress_is_left_interrupted(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    enqueue = RecordingEnqueue()
    for _ in range(MAX_AUTO_RESUMES):
        set_running(session_factory, run_id, worker=f"{socket.gethostname()}:{dead_pid()}")
        assert recover_runs(settings, session_factory, enqueue=enqueue).requeued == [run_id]
    set_running(session_factory, run_id, worker=f"{socket.gethostname()}:{dead_pid()}")
    report = recover_runs(settings, session_factory, enqueue=enqueue)
    assert (report.requeued, report.given_up) == ([], [run_id])
    run = get_run(session_factory, run_id)
    assert run.status == INTERRUPTED and "not resuming automatically" in run.error
    assert len(enqueue.run_ids) == MAX_AUTO_RESUMES
    # a new checkpoint is progress: the count starts again
    with session_scope(session_factory) as session:
        session.add(Checkpoint(run_id=run_id, epoch=1, step=4, path="/nowhere/ckpt-000000004.pt"))
    assert recover_runs(settings, session_factory, enqueue=enqueue).requeued == [run_id]
