"""Claiming a run for this worker, and the per-run monitor (heartbeat, progress, abort checks)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Run, utcnow
from core.run_status import COMPLETED, INTERRUPTED, RUNNING, transition
from core.settings import Settings
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import get_run, set_cancel_requested
from worker.heartbeat import CANCEL_CHECK_EVERY_S, RunMonitor
from worker.training import claim_run

ME = "this-host:1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def run_id(settings: Settings, session_factory: sessionmaker[Session]) -> int:
    return make_run(session_factory, make_dataset(session_factory, settings, n=8))


def set_status(session_factory: sessionmaker[Session], run_id: int, *statuses: str, **values: object) -> None:
    with session_scope(session_factory) as session:
        run = session.get(Run, run_id)
        for status in statuses:
            transition(session, run, status)
        for name, value in values.items():
            setattr(run, name, value)


def test_claiming_a_queued_run_makes_it_running_here(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    claimed = claim_run(settings, session_factory, run_id, ME)
    assert claimed is not None and claimed.run_id == run_id and claimed.config["image_size"] == 16
    run = get_run(session_factory, run_id)
    assert (run.status, run.worker) == (RUNNING, ME)
    assert run.started_at is not None and run.heartbeat_at is not None


def test_a_finished_or_missing_run_is_not_claimed(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_status(session_factory, run_id, RUNNING, COMPLETED)
    assert claim_run(settings, session_factory, run_id, ME) is None
    assert get_run(session_factory, run_id).status == COMPLETED
    assert claim_run(settings, session_factory, run_id + 99, ME) is None


def test_a_run_alive_on_another_worker_is_not_claimed_twice(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_status(session_factory, run_id, RUNNING, worker="gpu-box:7", heartbeat_at=utcnow())
    assert claim_run(settings, session_factory, run_id, ME) is None
    assert get_run(session_factory, run_id).worker == "gpu-box:7"


def test_a_running_run_with_a_stale_heartbeat_is_taken_over(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    stale = utcnow() - timedelta(seconds=settings.worker_lost_after_s + 1)
    set_status(session_factory, run_id, RUNNING, worker="gpu-box:7", heartbeat_at=stale)
    assert claim_run(settings, session_factory, run_id, ME) is not None
    assert get_run(session_factory, run_id).worker == ME


def test_a_run_this_very_process_left_running_is_taken_over(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    # a restarted container reuses pids: our own identity on a running run is a previous life
    set_status(session_factory, run_id, RUNNING, worker=ME, heartbeat_at=utcnow())
    assert claim_run(settings, session_factory, run_id, ME) is not None


def test_a_cancel_requested_before_the_start_cancels_the_run(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    set_cancel_requested(session_factory, run_id)
    assert claim_run(settings, session_factory, run_id, ME) is None
    assert get_run(session_factory, run_id).status == "cancelled"


@dataclass
class FakeProgress:
    epoch: int = 0
    iteration: int = 3
    step: int = 3
    total_steps: int = 40
    images_per_s: float = 12.5


def test_the_monitor_beats_reports_progress_and_sees_cancel(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    claim_run(settings, session_factory, run_id, ME)
    old_beat = get_run(session_factory, run_id).heartbeat_at
    clock = Clock()
    monitor = RunMonitor(session_factory, run_id, ME, heartbeat_interval_s=0.1, clock=clock)
    assert monitor.beat() and get_run(session_factory, run_id).heartbeat_at > old_beat
    monitor.on_progress(FakeProgress())
    monitor.on_progress(FakeProgress(step=4))  # within a second of the last write: skipped
    run = get_run(session_factory, run_id)
    assert (run.step, run.total_steps, run.images_per_s) == (3, 40, 12.5)
    monitor.on_progress(FakeProgress(step=5), force=True)
    assert get_run(session_factory, run_id).step == 5
    assert not monitor.should_abort()
    set_cancel_requested(session_factory, run_id)
    clock.now += CANCEL_CHECK_EVERY_S  # the flag is read at most once a second
    assert monitor.should_abort() and monitor.cancel_seen


def test_the_cancel_flag_is_read_at_most_once_a_second_and_a_cancel_lands_within_one(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    claim_run(settings, session_factory, run_id, ME)
    clock = Clock()
    monitor = RunMonitor(session_factory, run_id, ME, heartbeat_interval_s=0.1, clock=clock)
    engine = session_factory.kw["bind"]
    reads: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().startswith("SELECT runs.cancel_requested"):  # the monitor's read alone
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(200):  # 200 iterations within 0.99 s: one read
            assert not monitor.should_abort()
            clock.now += 0.99 / 200
        assert len(reads) == 1
        set_cancel_requested(session_factory, run_id)
        assert not monitor.should_abort()  # still inside the second since the last read
        clock.now += 0.02
        assert monitor.should_abort() and len(reads) == 2
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_monitor_stops_the_loop_when_the_run_is_no_longer_ours(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    claim_run(settings, session_factory, run_id, ME)
    shutdown = threading.Event()
    monitor = RunMonitor(session_factory, run_id, ME, heartbeat_interval_s=0.1, shutdown=shutdown)
    set_status(session_factory, run_id, INTERRUPTED)  # e.g. the web marked it lost during a long stall
    with monitor.running():
        assert monitor.lost.wait(timeout=10)  # the ticker's next heartbeat finds out
    assert monitor.should_abort() and not monitor.cancel_seen


def test_the_monitor_aborts_on_worker_shutdown(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    claim_run(settings, session_factory, run_id, ME)
    shutdown = threading.Event()
    monitor = RunMonitor(session_factory, run_id, ME, heartbeat_interval_s=0.1, shutdown=shutdown)
    assert not monitor.should_abort()
    shutdown.set()
    assert monitor.should_abort() and not monitor.cancel_seen
