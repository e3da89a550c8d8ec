"""The metric cache behind GET /api/runs/{id}/metrics (whole-run reads): re-opening a run reads no old rows,
appended rows are read alone, and rows the worker rewrites (resume, rollback, restart) are never served stale.

Rows are written the way the worker writes them (worker/dbsink.py DbSink, and real train() calls); the
oracle is the same endpoint with `limit`, which always reads the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event
from sqlalchemy.orm import Session

from app.metrics_cache import MetricsCache
from core.db.tables import Metric, Run
from models.config import TrainConfig
from models.hooks import EpochContext, HookAction
from models.sink import IterationMetrics, TrainEvent
from models.store import RunDirStore
from models.train import train
from tests.app.factories import add_metrics, make_dataset, make_run
from tests.conftest import synthetic_images
from worker.dbsink import DbSink
from worker.store import DbCheckpointStore

ORACLE = {"limit": 1_000_000}  # `limit` bypasses the cache: a plain read of every row


class RowReads:
    """The SQL statements that fetch metric rows (not the count/max-step check), seen on the app's engine."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "metrics.loss_d" in statement:
            self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def row_reads(app: FastAPI, client: TestClient) -> Iterator[RowReads]:
    reads = RowReads(app.state.engine)
    yield reads
    reads.close()


@pytest.fixture
def cache(app: FastAPI, client: TestClient) -> MetricsCache:
    return app.state.metrics_cache


def whole(client: TestClient, run_id: int, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/runs/{run_id}/metrics", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def row(step: int, loss_d: float = 1.0) -> IterationMetrics:
    values = {"loss_d": loss_d, "loss_g": float(step), "d_x": 0.5, "d_g_z1": 0.4, "d_g_z2": 0.3}
    return IterationMetrics(step, step // 100, step % 100, values)


def log_rows(sink: DbSink, steps: range, loss_d: float = 1.0) -> None:
    for step in steps:
        sink.log_iteration(row(step, loss_d))
    sink.flush()


def test_opening_a_run_again_reads_no_rows(
    client: TestClient, session: Session, cache: MetricsCache, row_reads: RowReads
) -> None:
    run = make_run(session, make_dataset(session), status="completed")
    add_metrics(session, run, 3000)
    first = whole(client, run.id, max_points=400)
    assert len(row_reads.statements) == 1 and cache.counters.rows_read == 3000

    second = whole(client, run.id, max_points=400)
    assert second == first
    assert len(row_reads.statements) == 1  # the cheap count/max-step check only
    assert (cache.counters.hits, cache.counters.loads, cache.counters.rows_read) == (1, 1, 3000)
    assert whole(client, run.id) == whole(client, run.id, **ORACLE)  # all rows, no max_points

    # Rows removed by something other than the worker's sink (no generation bump) are noticed by the count.
    session.execute(delete(Metric).where(Metric.run_id == run.id, Metric.step > 2500))
    session.commit()
    assert len(whole(client, run.id)) == 2500


def test_a_running_run_reads_only_the_rows_added_since(
    client: TestClient, app: FastAPI, session: Session, cache: MetricsCache, row_reads: RowReads
) -> None:
    run = make_run(session, make_dataset(session), status="running")
    sink = DbSink(app.state.sessionmaker, run.id)
    log_rows(sink, range(1, 301))
    assert [p["step"] for p in whole(client, run.id)] == list(range(1, 301))

    log_rows(sink, range(301, 351))
    reads_before = len(row_reads.statements)
    points = whole(client, run.id, max_points=40)
    assert len(row_reads.statements) == reads_before + 1
    assert cache.counters.rows_read == 300 + 50 and cache.counters.appends == 1
    assert points == whole(client, run.id, max_points=40, **ORACLE)
    assert whole(client, run.id)[-1]["step"] == 350


def resume(sink: DbSink, step: int) -> None:
    sink.truncate_after(step)  # as models.train._resume
    sink.log_event(TrainEvent(step=step, kind="resume", severity="info", message=f"resumed from step {step}"))


def roll_back(sink: DbSink, step: int) -> None:
    sink.truncate_after(step)  # as models.train._roll_back
    sink.log_event(TrainEvent(step=step, kind="nan_rollback", severity="warning", message="non-finite loss"))
    sink.flush()


def restart(sink: DbSink, step: int) -> None:
    sink.truncate_after(0)  # as models.train._forget_previous_attempt: no event at all


@pytest.mark.parametrize(
    ("rewrite", "kept"),
    [(resume, 200), (roll_back, 200), (restart, 0)],
    ids=["resume", "rollback", "restart"],
)
def test_rewritten_rows_are_never_served_stale(
    client: TestClient, app: FastAPI, session: Session, cache: MetricsCache, rewrite: Any, kept: int
) -> None:
    run = make_run(session, make_dataset(session), status="running")
    sink = DbSink(app.state.sessionmaker, run.id)
    log_rows(sink, range(1, 301))
    whole(client, run.id)

    # Rewritten up to the same count and last step: only the generation can tell the rows apart.
    rewrite(sink, kept)
    log_rows(sink, range(kept + 1, 301), loss_d=9.0)
    points = whole(client, run.id)
    assert points == whole(client, run.id, **ORACLE)
    assert [p["loss_d"] for p in points] == [1.0] * kept + [9.0] * (300 - kept)

    # A reader between the truncation and the new rows caches the shorter run, then appends to it.
    rewrite(sink, kept)
    assert len(whole(client, run.id)) == kept
    log_rows(sink, range(kept + 1, 321), loss_d=7.0)
    points = whole(client, run.id, max_points=50)
    assert points == whole(client, run.id, max_points=50, **ORACLE)
    assert cache.counters.appends >= 1


class RollBackAtEpoch3:
    """Reads the run over HTTP at the end of epoch 3 (filling the cache), then rolls back to step 4."""

    def __init__(self, read: Any, store: DbCheckpointStore) -> None:
        self.read, self.store = read, store
        self.seen: list[dict[str, Any]] = []
        self.done = False

    def on_iteration(self, row: IterationMetrics) -> None:
        pass

    def on_epoch_end(self, ctx: EpochContext) -> HookAction | None:
        if ctx.epoch != 3 or self.done:
            return None
        self.done = True
        self.seen = self.read()
        return HookAction("rollback", "test", lr_factor=0.01, checkpoint=self.store.files.checkpoints()[0])


def test_real_training_restart_and_rollback_replace_cached_rows(
    client: TestClient, app: FastAPI, session: Session, tmp_path: Path
) -> None:
    run = make_run(session, make_dataset(session), status="running")
    factory, data = app.state.sessionmaker, synthetic_images(16, 16)  # 4 steps per epoch
    config = TrainConfig(
        image_size=16, nz=8, ngf=8, ndf=8, batch_size=4, epochs=2, grad_stats_every=0, seed=0
    )

    # An attempt whose checkpoints were lost (its worker died before the first one was recorded) ...
    train(config, data, DbSink(factory, run.id), RunDirStore(tmp_path / "lost"))
    before = whole(client, run.id)
    # ... so the next attempt starts over: the same 8 steps, other values, no event.
    train(config.model_copy(update={"seed": 1}), data, DbSink(factory, run.id), RunDirStore(tmp_path / "new"))
    after = whole(client, run.id)
    assert len(after) == len(before) == 8 and after != before
    assert after == whole(client, run.id, **ORACLE)

    # A rollback from epoch 3 to step 4 rewrites steps 5..8 after the page read them.
    store = DbCheckpointStore(factory, run.id, tmp_path / "rollback")
    hook = RollBackAtEpoch3(lambda: whole(client, run.id), store)
    sink = DbSink(factory, run.id, max_age_s=60)  # epoch 3's rows stay buffered until the rollback
    train(config.model_copy(update={"epochs": 3}), data, sink, store, hooks=[hook])
    assert [p["step"] for p in hook.seen] == list(range(1, 9))
    points = whole(client, run.id)
    assert points == whole(client, run.id, **ORACLE)
    assert [p["step"] for p in points] == list(range(1, 13))
    assert points[4:8] != hook.seen[4:8]


def test_a_deleted_run_is_dropped(client: TestClient, session: Session, cache: MetricsCache) -> None:
    dataset = make_dataset(session)
    run = make_run(session, dataset, status="completed")
    add_metrics(session, run, 20)
    whole(client, run.id)
    assert run.id in cache.run_ids()
    assert client.delete(f"/api/runs/{run.id}").status_code == 204
    assert run.id not in cache.run_ids()
    assert client.get(f"/api/runs/{run.id}/metrics").status_code == 404

    # Deleted by another process (the cache is not told): a run that gets the same id is still read afresh.
    other = make_run(session, dataset, status="completed")
    add_metrics(session, other, 30)
    whole(client, other.id)
    session.execute(delete(Metric).where(Metric.run_id == other.id))
    session.execute(delete(Run).where(Run.id == other.id))
    session.commit()
    session.expunge_all()
    reused = make_run(session, dataset, status="completed")
    if session.get_bind().dialect.name == "sqlite":
        assert reused.id == other.id  # SQLite hands the freed id out again
    add_metrics(session, reused, 30, values=np.full((30, 5), 3.0))
    assert whole(client, reused.id) == whole(client, reused.id, **ORACLE)


def test_concurrent_readers_only_see_states_that_existed(
    client: TestClient, app: FastAPI, session: Session
) -> None:
    run = make_run(session, make_dataset(session), status="running")
    sink = DbSink(app.state.sessionmaker, run.id)
    states: set[tuple[float, ...]] = {()}  # loss_d by step after every committed write
    current: list[float] = []

    def write() -> None:
        for generation in range(1, 31):
            if generation % 5 == 0:
                kept = len(current) // 2
                resume(sink, kept)
                sink.flush()
                del current[kept:]
                states.add(tuple(current))
            start = len(current) + 1
            log_rows(sink, range(start, start + 20), loss_d=float(generation))
            current.extend([float(generation)] * 20)
            states.add(tuple(current))

    seen: list[tuple[float, ...]] = []
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(25):
                points = whole(client, run.id)
                assert [p["step"] for p in points] == list(range(1, len(points) + 1))
                seen.append(tuple(p["loss_d"] for p in points))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(seen) == 75
    assert all(state in states for state in seen)


def test_the_cache_keeps_a_bounded_number_of_runs_and_bytes(session: Session) -> None:
    dataset = make_dataset(session)
    runs = [make_run(session, dataset) for _ in range(5)]
    for run, n in zip(runs, (100, 100, 400, 60, 200), strict=True):
        add_metrics(session, run, n)
    cache = MetricsCache(max_runs=2, max_bytes=250 * 8 * 8)  # 250 rows of 8 float64

    def read(*indices: int) -> list[int]:
        for i in indices:
            cache.metric_array(session, run_id=runs[i].id)
        return [next(i for i, r in enumerate(runs) if r.id == run_id) for run_id in cache.run_ids()]

    assert read(0, 1, 0) == [1, 0]  # least recently used first
    assert read(2) == [1, 0]  # 400 rows: served, never kept
    assert read(3) == [0, 3]  # at most 2 runs
    assert read(4) == [4]  # 60 + 200 rows are more than 250
    assert len(cache.metric_array(session, run_id=runs[2].id)) == 400
