"""Crash recovery with real worker processes: SIGKILL, warm shutdown, and a worker that never comes back."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.queue import enqueue_train
from core.settings import Settings
from models.store import RunDirStore
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import (
    checkpoints,
    events,
    get_run,
    max_metric_step,
    metric_steps,
    run_status,
    status_in,
)
from tests.worker.processes import running_worker, start_worker, stop_worker, wait_for
from worker.recovery import WORKER_LOST_EVENT, watch_lost_runs

pytestmark = pytest.mark.slow  # real processes

TIMEOUT_S = 60
ITERS_PER_EPOCH = 24  # 48 images, batch 2
EPOCHS = 10
TOTAL_STEPS = ITERS_PER_EPOCH * EPOCHS
# ~10 ms a step on one thread; a checkpoint every other epoch, so the rows of the epoch after a checkpoint
# reach the database (epoch-end flush) while that checkpoint is still the latest
SLOW_ENOUGH = {"image_size": 32, "ngf": 16, "ndf": 16, "batch_size": 2, "checkpoint_every_epochs": 2}


def _long_run(settings: Settings, session_factory: sessionmaker[Session], epochs: int = EPOCHS) -> int:
    dataset_id = make_dataset(session_factory, settings, n=2 * ITERS_PER_EPOCH)
    return make_run(session_factory, dataset_id, epochs=epochs, **SLOW_ENOUGH)


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()  # reaped: its pid is gone, as after any crash


def test_a_killed_workers_run_resumes_from_its_last_checkpoint_on_the_next_worker(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_id = _long_run(settings, session_factory)
    first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"

    def past_a_checkpoint() -> bool:
        saved = checkpoints(session_factory, run_id)
        step = max_metric_step(session_factory, run_id)
        return bool(saved) and step > saved[-1][0]

    first = start_worker(settings, first_log)
    try:
        enqueue_train(settings, run_id)
        wait_for(
            past_a_checkpoint, timeout=TIMEOUT_S, what="rows past the first checkpoint", log_path=first_log
        )
    finally:
        _kill(first)
    resume_step = RunDirStore(settings.run_dir(run_id)).latest_checkpoint().step
    assert max_metric_step(session_factory, run_id) > resume_step > 0  # rows past the checkpoint to replace
    assert run_status(session_factory, run_id) == "running"  # nobody has noticed yet

    with running_worker(settings, second_log):
        wait_for(
            status_in(session_factory, run_id, "completed", "failed"),
            timeout=TIMEOUT_S,
            what="the resumed run to finish",
            log_path=second_log,
        )

    run = get_run(session_factory, run_id)
    assert (run.status, run.error, run.step) == ("completed", None, TOTAL_STEPS)
    # continuous by step: none missing, none twice
    assert metric_steps(session_factory, run_id) == list(range(1, TOTAL_STEPS + 1))
    kinds = [(step, kind) for step, kind, _ in events(session_factory, run_id)]
    assert (resume_step, WORKER_LOST_EVENT) in kinds and (resume_step, "resume") in kinds
    assert [step for step, _, _ in checkpoints(session_factory, run_id)][-1] == TOTAL_STEPS
    assert "queued again to resume" in second_log.read_text()


def test_a_warm_shutdown_interrupts_the_run_and_the_next_worker_finishes_it(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_id = _long_run(settings, session_factory)
    first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"
    first = start_worker(settings, first_log)
    try:
        enqueue_train(settings, run_id)
        wait_for(
            lambda: max_metric_step(session_factory, run_id) >= 3,
            timeout=TIMEOUT_S,
            what="training to start",
            log_path=first_log,
        )
    finally:
        assert stop_worker(first) == 0  # SIGTERM: warm shutdown
    run = get_run(session_factory, run_id)
    assert run.status == "interrupted" and "shut down" in run.error
    stopped_at = max_metric_step(session_factory, run_id)
    assert checkpoints(session_factory, run_id)[-1][0] == stopped_at  # it saved where it stopped

    with running_worker(settings, second_log):
        wait_for(
            status_in(session_factory, run_id, "completed", "failed"),
            timeout=TIMEOUT_S,
            what="the resumed run to finish",
            log_path=second_log,
        )
    assert get_run(session_factory, run_id).status == "completed"
    assert metric_steps(session_factory, run_id) == list(range(1, TOTAL_STEPS + 1))
    assert (stopped_at, "resume") in [(step, kind) for step, kind, _ in events(session_factory, run_id)]


def test_a_run_whose_worker_died_shows_interrupted_when_no_worker_is_left(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_id = _long_run(settings, session_factory, epochs=50)
    log_path = tmp_path / "worker.log"
    worker = start_worker(settings, log_path)
    try:
        enqueue_train(settings, run_id)
        wait_for(
            lambda: max_metric_step(session_factory, run_id) >= 3,
            timeout=TIMEOUT_S,
            what="training to start",
            log_path=log_path,
        )
    finally:
        _kill(worker)

    # the same watch `pokegan serve` runs in the web process
    stop = threading.Event()
    watcher = threading.Thread(target=watch_lost_runs, args=(settings, session_factory, stop), daemon=True)
    watcher.start()
    try:
        wait_for(
            status_in(session_factory, run_id, "interrupted"), timeout=TIMEOUT_S, what="status interrupted"
        )
    finally:
        stop.set()
        watcher.join()
    run = get_run(session_factory, run_id)
    assert f":{worker.pid}" in run.error and "stopped responding" in run.error
    assert run.finished_at is None
    assert WORKER_LOST_EVENT in [kind for _, kind, _ in events(session_factory, run_id)]
