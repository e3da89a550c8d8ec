"""The training loop through a real `pokegan worker` process: complete, cancel, fail, duplicate delivery."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.queue import enqueue_train
from core.settings import Settings
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import (
    checkpoints,
    get_run,
    grad_stat_steps,
    grids,
    max_metric_step,
    metric_steps,
    set_cancel_requested,
    status_in,
)
from tests.worker.processes import running_worker, wait_for
from worker.recovery import parse_identity

pytestmark = pytest.mark.slow  # real processes

RUN_TIMEOUT_S = 60


def test_a_queued_run_trains_to_completion_in_a_worker(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = make_dataset(session_factory, settings, n=32)
    run_id = make_run(session_factory, dataset_id, epochs=2, batch_size=8)  # 4 iterations per epoch
    log_path = tmp_path / "worker.log"
    with running_worker(settings, log_path) as worker:
        enqueue_train(settings, run_id)
        enqueue_train(settings, run_id)  # a duplicate delivery must not train the run twice
        wait_for(
            status_in(session_factory, run_id, "completed", "failed"),
            timeout=RUN_TIMEOUT_S,
            what="the run to finish",
            log_path=log_path,
        )
        wait_for(
            lambda: "nothing to do" in log_path.read_text(),
            timeout=RUN_TIMEOUT_S,
            what="the duplicate delivery to be skipped",
            log_path=log_path,
        )
        worker_pid = worker.pid

    run = get_run(session_factory, run_id)
    assert (run.status, run.error) == ("completed", None)
    assert (run.step, run.epoch, run.total_steps) == (8, 2, 8)
    assert run.finished_at is not None and run.heartbeat_at is not None and run.images_per_s > 0
    assert parse_identity(run.worker)[1] == worker_pid
    assert metric_steps(session_factory, run_id) == list(range(1, 9))
    assert grad_stat_steps(session_factory, run_id) == [2, 4, 6, 8]
    assert [(step, epoch) for step, epoch, _ in checkpoints(session_factory, run_id)] == [(4, 1), (8, 2)]
    assert [(epoch, step) for epoch, step, _ in grids(session_factory, run_id)] == [(1, 4), (2, 8)]
    for *_, path in checkpoints(session_factory, run_id) + grids(session_factory, run_id):
        assert path.is_file() and path.parent == settings.run_dir(run_id)
    assert (settings.run_dir(run_id) / "real.png").is_file()
    assert (settings.run_dir(run_id) / "config.json").is_file()
    log = log_path.read_text()
    assert "[0/2][0/4] Loss_D:" in log and "D(G(z)):" in log  # the seed's log line


def test_cancel_stops_a_running_run_at_a_checkpoint(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = make_dataset(session_factory, settings, n=40)
    run_id = make_run(
        session_factory, dataset_id, epochs=50, batch_size=2
    )  # 1000 steps: far longer than the test
    log_path = tmp_path / "worker.log"
    with running_worker(settings, log_path):
        enqueue_train(settings, run_id)
        wait_for(
            lambda: max_metric_step(session_factory, run_id) >= 5,
            timeout=RUN_TIMEOUT_S,
            what="training to start",
            log_path=log_path,
        )
        set_cancel_requested(session_factory, run_id)
        wait_for(
            status_in(session_factory, run_id, "cancelled", "completed", "failed"),
            timeout=RUN_TIMEOUT_S,
            what="the run to stop",
            log_path=log_path,
        )

    run = get_run(session_factory, run_id)
    assert run.status == "cancelled" and run.finished_at is not None
    last_step = max_metric_step(session_factory, run_id)
    assert 5 <= last_step < 1000
    assert metric_steps(session_factory, run_id) == list(range(1, last_step + 1))
    # the loop saves the state it stopped at, so a resume loses nothing
    step, _, path = checkpoints(session_factory, run_id)[-1]
    assert step == last_step == run.step and path.is_file()


def test_failures_are_recorded_and_the_worker_keeps_going(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    small = make_dataset(session_factory, settings, n=8)
    too_big_batch = make_run(
        session_factory, small, batch_size=16
    )  # TrainingError: fewer images than a batch
    broken = make_dataset(session_factory, settings, n=8, name="broken")
    for image in (settings.dataset_dir(broken) / "raw").iterdir():
        image.write_bytes(b"not a png at all")
    undecodable = make_run(session_factory, broken)  # an exception from the dataset code
    fine = make_run(session_factory, small, epochs=1)
    log_path = tmp_path / "worker.log"
    with running_worker(settings, log_path) as worker:
        for run_id in (too_big_batch, undecodable, fine):
            enqueue_train(settings, run_id)
        wait_for(
            status_in(session_factory, fine, "completed", "failed"),
            timeout=RUN_TIMEOUT_S,
            what="the last run to finish",
            log_path=log_path,
        )
        assert worker.poll() is None  # the worker survived both failures

    failed = get_run(session_factory, too_big_batch)
    assert failed.status == "failed"
    assert "fewer than batch_size 16" in failed.error
    failed = get_run(session_factory, undecodable)
    assert failed.status == "failed"
    assert failed.error.startswith("NoImagesFound:") and "could be prepared" in failed.error
    assert get_run(session_factory, fine).status == "completed"
