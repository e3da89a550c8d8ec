"""A world_size 2 run through the API and a real `pokegan worker`: torchrun, two Gloo ranks, rank 0 writes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.main import create_app
from core.queue import enqueue_train
from core.settings import Settings
from tests.app.test_conditional_runs import labelled_zip, upload
from tests.worker.factories import TINY_CONFIG, make_dataset, make_run
from tests.worker.helpers import (
    checkpoints,
    events,
    get_run,
    grids,
    max_metric_step,
    metric_steps,
    set_cancel_requested,
    status_in,
)
from tests.worker.processes import running_worker, wait_for
from worker.distributed_launch import RANKS_LOG, rank_pid_pairs, rank_pids
from worker.recovery import process_is_gone

pytestmark = pytest.mark.slow  # real worker, torchrun and rank processes

RUN_TIMEOUT_S = 180


def _ranks(settings: Settings, run_id: int) -> list[int]:
    path = settings.run_dir(run_id) / RANKS_LOG
    return rank_pids(path.read_text(errors="replace"), run_id) if path.exists() else []


def _pid_of_rank(settings: Settings, run_id: int, rank: int) -> int:
    """The pid rank `rank` logged (the ranks log in whatever order they start)."""
    text = (settings.run_dir(run_id) / RANKS_LOG).read_text(errors="replace")
    return dict(rank_pid_pairs(text, run_id))[str(rank)]


def _all_gone(pids: list[int]) -> bool:
    return all(process_is_gone(pid) for pid in pids)


def _run_to_the_end(
    client: TestClient, session_factory: sessionmaker[Session], dataset_id: int, config: dict, log_path: Path
) -> int:
    """POST the run (the API queues it for the worker) and wait until it has stopped; its id."""
    created = client.post("/api/runs", json={"dataset_id": dataset_id, "config": config})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    wait_for(
        status_in(session_factory, run_id, "completed", "failed", "interrupted"),
        timeout=RUN_TIMEOUT_S,
        what="the two-rank run to finish",
        log_path=log_path,
    )
    return run_id


def test_a_two_rank_run_completes_with_rank_zero_writing(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = make_dataset(session_factory, settings, n=32)
    log_path = tmp_path / "worker.log"
    config = {**TINY_CONFIG, "epochs": 2, "batch_size": 8, "world_size": 2}
    with running_worker(settings, log_path), TestClient(create_app(settings)) as client:
        run_id = _run_to_the_end(client, session_factory, dataset_id, config, log_path)
    run = get_run(session_factory, run_id)
    assert (run.status, run.error) == ("completed", None), (settings.run_dir(run_id) / RANKS_LOG).read_text()
    assert (run.step, run.epoch, run.total_steps) == (8, 2, 8)
    assert metric_steps(session_factory, run_id) == list(range(1, 9))  # one row per step: rank 0's
    assert [(step, epoch) for step, epoch, _ in checkpoints(session_factory, run_id)] == [(4, 1), (8, 2)]
    assert [(epoch, step) for epoch, step, _ in grids(session_factory, run_id)] == [(1, 4), (2, 8)]
    pids = _ranks(settings, run_id)
    assert len(pids) == 2 and _all_gone(pids)


def test_a_two_rank_conditional_fastgan_run_with_ada_completes(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Rank 0 reads the labels with the images and sends both; every rank steers ADA's p alike."""
    log_path = tmp_path / "worker.log"
    config = {
        **TINY_CONFIG,
        "arch": "fastgan",
        "loss": "hinge",
        "spectral_norm": True,
        "d_norm": "batch",
        "diffaugment": "color,translation",
        "ada_target": 0.6,
        "ada_interval": 1,
        "ada_kimg": 0.05,
        "conditional": True,
        "cond_transition_start_epochs": 0,
        "cond_transition_epochs": 1,
        "epochs": 2,
        "batch_size": 8,
        "world_size": 2,
    }
    with running_worker(settings, log_path), TestClient(create_app(settings)) as client:
        typed = upload(client, labelled_zip(per_label=8, unlabelled=2), "typed")
        run_id = _run_to_the_end(client, session_factory, typed["id"], config, log_path)
        points = client.get(f"/api/runs/{run_id}/metrics").json()
    run = get_run(session_factory, run_id)
    assert (run.status, run.error) == ("completed", None), (settings.run_dir(run_id) / RANKS_LOG).read_text()
    assert run.config["label_names"] == ["Fire", "Water"]
    assert (run.step, run.total_steps) == (4, 4)  # 16 labelled images, the 2 unlabelled left out
    assert [p["step"] for p in points] == [1, 2, 3, 4]
    assert len({p["aug_p"] for p in points}) > 1  # ADA moved p
    assert _all_gone(_ranks(settings, run_id))


def test_cancel_reaches_every_rank(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = make_dataset(session_factory, settings, n=40)
    run_id = make_run(session_factory, dataset_id, epochs=50, batch_size=4, world_size=2)
    log_path = tmp_path / "worker.log"
    with running_worker(settings, log_path):
        enqueue_train(settings, run_id)
        wait_for(
            lambda: max_metric_step(session_factory, run_id) >= 3,
            timeout=RUN_TIMEOUT_S,
            what="training to start",
            log_path=log_path,
        )
        set_cancel_requested(session_factory, run_id)
        wait_for(
            status_in(session_factory, run_id, "cancelled", "completed", "failed", "interrupted"),
            timeout=RUN_TIMEOUT_S,
            what="the run to stop",
            log_path=log_path,
        )
        pids = _ranks(settings, run_id)
        wait_for(lambda: _all_gone(pids), timeout=30, what="every rank to exit")
    run = get_run(session_factory, run_id)
    assert run.status == "cancelled" and len(pids) == 2
    last = max_metric_step(session_factory, run_id)
    assert metric_steps(session_factory, run_id) == list(range(1, last + 1))
    assert checkpoints(session_factory, run_id)[-1][0] == last == run.step


def test_a_killed_rank_interrupts_the_run_which_resumes(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset_id = make_dataset(session_factory, settings, n=40)
    run_id = make_run(session_factory, dataset_id, epochs=6, batch_size=4, world_size=2)  # 60 steps
    log_path = tmp_path / "worker.log"
    with running_worker(settings, log_path):
        enqueue_train(settings, run_id)
        wait_for(
            lambda: max_metric_step(session_factory, run_id) >= 14,
            timeout=RUN_TIMEOUT_S,
            what="training into epoch 2",
            log_path=log_path,
        )
        first = _ranks(settings, run_id)
        os.kill(_pid_of_rank(settings, run_id, 1), signal.SIGKILL)  # mid-epoch
        wait_for(lambda: _all_gone(first), timeout=60, what="no rank left behind", log_path=log_path)
        wait_for(
            lambda: any(kind == "rank_failed" for _, kind, _ in events(session_factory, run_id)),
            timeout=60,
            what="the rank failure recorded",
            log_path=log_path,
        )
        wait_for(
            status_in(session_factory, run_id, "completed", "failed"),
            timeout=RUN_TIMEOUT_S,
            what="the resumed run to finish",
            log_path=log_path,
        )
    failure = next(msg for _, kind, msg in events(session_factory, run_id) if kind == "rank_failed")
    assert failure.startswith("rank 1 failed: Signal 9 (SIGKILL)"), failure
    run = get_run(session_factory, run_id)
    assert run.status == "completed" and run.step == 60
    assert metric_steps(session_factory, run_id) == list(range(1, 61))  # continuous, no duplicates
    assert any(kind == "resume" for _, kind, _ in events(session_factory, run_id))
    assert _all_gone(_ranks(settings, run_id))
