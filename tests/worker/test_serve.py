"""`pokegan serve` as users run it: web + its own worker process, through tests/live.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import make_engine, make_sessionmaker, session_scope
from core.db.tables import Run, utcnow
from core.queue import enqueue_train
from core.run_status import RUNNING, transition
from core.settings import Settings
from tests.backends import Backend
from tests.live import live_stack
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import events, get_run, max_metric_step, metric_steps, status_in
from tests.worker.processes import wait_for
from worker.recovery import WORKER_LOST_EVENT, parse_identity, process_is_gone

pytestmark = pytest.mark.slow  # real processes

TIMEOUT_S = 60
FAST_HEARTBEAT = {"POKEGAN_HEARTBEAT_INTERVAL_S": "0.5", "POKEGAN_WORKER_LOST_AFTER_S": "20"}


@contextmanager
def stack(
    backend: Backend, tmp_path: Path, *, worker: bool = True
) -> Iterator[tuple[str, Settings, sessionmaker]]:
    """A live stack on the test's back-end, with Settings and a session factory pointing at it."""
    with live_stack(
        tmp_path,
        database_url=backend.database_url,
        broker_url=backend.broker_url,
        worker=worker,
        env=FAST_HEARTBEAT,
    ) as (base_url, data_dir, _proc):
        settings = Settings(
            data_dir=data_dir, database_url=backend.database_url, broker_url=backend.broker_url
        )
        engine = make_engine(settings)
        try:
            yield base_url, settings, make_sessionmaker(engine)
        finally:
            engine.dispose()


def test_serve_trains_with_its_own_worker_and_stops_it_on_exit(backend: Backend, tmp_path: Path) -> None:
    with stack(backend, tmp_path) as (base_url, settings, session_factory):
        assert httpx.get(f"{base_url}/healthz").json() == {"database": "ok", "broker": "ok"}
        run_id = make_run(session_factory, make_dataset(session_factory, settings, n=16), epochs=1)
        enqueue_train(settings, run_id)
        wait_for(
            status_in(session_factory, run_id, "completed", "failed"),
            timeout=TIMEOUT_S,
            what="the run to finish",
            log_path=settings.data_dir / "serve.log",
        )
        assert get_run(session_factory, run_id).status == "completed"
        _, worker_pid = parse_identity(get_run(session_factory, run_id).worker)
    assert process_is_gone(worker_pid)
    log = (settings.data_dir / "serve.log").read_text()
    assert "listening on this machine only (127.0.0.1)" in log
    assert "stopping worker pid" in log and "Warm shutdown" in log


def test_serve_restarts_a_killed_worker_which_resumes_the_run(backend: Backend, tmp_path: Path) -> None:
    with stack(backend, tmp_path) as (_, settings, session_factory):
        dataset_id = make_dataset(session_factory, settings, n=48)
        run_id = make_run(session_factory, dataset_id, epochs=8, batch_size=2, image_size=32, ngf=16, ndf=16)
        log_path = settings.data_dir / "serve.log"
        enqueue_train(settings, run_id)
        wait_for(
            lambda: max_metric_step(session_factory, run_id) > 30,
            timeout=TIMEOUT_S,
            what="training past the first epoch",
            log_path=log_path,
        )
        _, first_pid = parse_identity(get_run(session_factory, run_id).worker)
        os.kill(first_pid, signal.SIGKILL)
        wait_for(
            status_in(session_factory, run_id, "completed", "failed"),
            timeout=TIMEOUT_S,
            what="the restarted worker to finish the run",
            log_path=log_path,
        )
        run = get_run(session_factory, run_id)
        assert run.status == "completed" and parse_identity(run.worker)[1] != first_pid
        assert metric_steps(session_factory, run_id) == list(range(1, 8 * 24 + 1))
        assert WORKER_LOST_EVENT in [kind for _, kind, _ in events(session_factory, run_id)]
        assert "restarting in" in log_path.read_text()


def test_serve_without_a_worker_shows_lost_runs_as_interrupted(backend: Backend, tmp_path: Path) -> None:
    with stack(backend, tmp_path, worker=False) as (_, settings, session_factory):
        run_id = make_run(session_factory, make_dataset(session_factory, settings, n=8))
        _pretend_running_on_a_dead_worker(session_factory, run_id)
        wait_for(
            status_in(session_factory, run_id, "interrupted"),
            timeout=TIMEOUT_S,
            what="status interrupted",
            log_path=settings.data_dir / "serve.log",
        )
        assert "stopped responding" in get_run(session_factory, run_id).error


def _pretend_running_on_a_dead_worker(session_factory: sessionmaker[Session], run_id: int) -> None:
    with session_scope(session_factory) as session:
        run = session.get(Run, run_id)
        transition(session, run, RUNNING)
        run.worker = f"{socket.gethostname()}:{_dead_pid()}"
        run.heartbeat_at = utcnow()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
