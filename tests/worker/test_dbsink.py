"""DbSink: batched, idempotent writes and truncation, on the selected database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Event, GradStat, Metric, Run
from core.settings import Settings
from models.sink import GradStat as GradRow
from models.sink import IterationMetrics, TrainEvent
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import events, grad_stat_steps, metric_steps
from worker.dbsink import DbSink


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def row(step: int, loss_d: float = 1.0) -> IterationMetrics:
    return IterationMetrics(
        step=step, epoch=0, iteration=step - 1, loss_d=loss_d, loss_g=2.0, d_x=0.5, d_g_z1=0.4, d_g_z2=0.3
    )


def grads(step: int) -> list[GradRow]:
    return [GradRow(step, net, "conv1", 0.1, 0.2) for net in ("G", "D")]


@pytest.fixture
def run_id(settings: Settings, session_factory: sessionmaker[Session]) -> int:
    return make_run(session_factory, make_dataset(session_factory, settings, n=8))


def test_rows_wait_in_the_buffer_until_a_batch_is_full(
    session_factory: sessionmaker[Session], run_id: int
) -> None:
    sink = DbSink(session_factory, run_id, max_rows=4, max_age_s=60, clock=FakeClock())
    for step in (1, 2, 3):
        sink.log_iteration(row(step))
    assert metric_steps(session_factory, run_id) == []
    sink.log_iteration(row(4))  # the 4th row fills the batch
    assert metric_steps(session_factory, run_id) == [1, 2, 3, 4]
    assert sink.batches_written == 1


def test_old_rows_are_written_once_they_have_waited_max_age(
    session_factory: sessionmaker[Session], run_id: int
) -> None:
    clock = FakeClock()
    sink = DbSink(session_factory, run_id, max_rows=1000, max_age_s=1.0, clock=clock)
    sink.log_iteration(row(1))
    clock.now = 0.9
    sink.flush_if_due()
    assert metric_steps(session_factory, run_id) == []
    clock.now = 1.0
    sink.flush_if_due()  # what the ticker thread calls
    assert metric_steps(session_factory, run_id) == [1]


def test_flush_writes_metrics_grads_and_events_in_one_batch(
    session_factory: sessionmaker[Session], run_id: int
) -> None:
    sink = DbSink(session_factory, run_id, max_rows=1000, max_age_s=60, clock=FakeClock())
    sink.log_iteration(row(1))
    sink.log_grad_stats(grads(1))
    sink.log_event(TrainEvent(step=1, kind="d_saturation", severity="warning", message="D(x) near 1"))
    sink.flush()
    assert sink.batches_written == 1
    assert metric_steps(session_factory, run_id) == [1]
    assert grad_stat_steps(session_factory, run_id) == [1]
    assert events(session_factory, run_id) == [(1, "d_saturation", "D(x) near 1")]
    sink.flush()  # nothing pending: no empty transaction
    assert sink.batches_written == 1


def test_writing_the_same_steps_again_replaces_them(
    session_factory: sessionmaker[Session], run_id: int
) -> None:
    first = DbSink(session_factory, run_id, max_rows=1000)
    for step in range(1, 6):
        first.log_iteration(row(step, loss_d=1.0))
        first.log_grad_stats(grads(step))
    first.log_event(TrainEvent(step=5, kind="resume", severity="info", message="resumed from step 5"))
    first.flush()
    # a redelivered task replays steps 3..7 without truncating first
    second = DbSink(session_factory, run_id, max_rows=1000)
    for step in range(3, 8):
        second.log_iteration(row(step, loss_d=9.0))
        second.log_grad_stats(grads(step))
    second.log_event(TrainEvent(step=5, kind="resume", severity="info", message="resumed from step 5"))
    second.flush()

    assert metric_steps(session_factory, run_id) == [1, 2, 3, 4, 5, 6, 7]
    with session_factory() as session:
        losses = dict(
            session.execute(select(Metric.step, Metric.loss_d).where(Metric.run_id == run_id)).all()
        )
        grad_rows = session.scalar(
            select(func.count()).select_from(GradStat).where(GradStat.run_id == run_id)
        )
    assert losses == {1: 1.0, 2: 1.0, 3: 9.0, 4: 9.0, 5: 9.0, 6: 9.0, 7: 9.0}
    assert grad_rows == 7 * 2
    assert events(session_factory, run_id) == [(5, "resume", "resumed from step 5")]


def test_truncate_after_forgets_later_rows_written_and_buffered(
    session_factory: sessionmaker[Session], run_id: int
) -> None:
    sink = DbSink(session_factory, run_id, max_rows=1000)
    for step in range(1, 11):
        sink.log_iteration(row(step))
        sink.log_grad_stats(grads(step))
        sink.log_event(TrainEvent(step=step, kind="tick", severity="info", message=f"step {step}"))
        if step == 6:
            sink.flush()  # 1..6 in the database, 7..10 still buffered
    sink.truncate_after(4)
    sink.flush()
    assert metric_steps(session_factory, run_id) == [1, 2, 3, 4]
    assert grad_stat_steps(session_factory, run_id) == [1, 2, 3, 4]
    assert [step for step, _, _ in events(session_factory, run_id)] == [1, 2, 3, 4]


def test_truncate_touches_only_its_own_run(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    other = make_run(session_factory, make_dataset(session_factory, settings, n=8))
    for rid in (run_id, other):
        sink = DbSink(session_factory, rid)
        for step in range(1, 4):
            sink.log_iteration(row(step))
        sink.flush()
    DbSink(session_factory, run_id).truncate_after(0)
    assert metric_steps(session_factory, run_id) == []
    assert metric_steps(session_factory, other) == [1, 2, 3]


def test_a_failed_write_keeps_its_rows_for_the_next_flush(
    settings: Settings, session_factory: sessionmaker[Session], run_id: int
) -> None:
    missing_run = run_id + 1000  # no such run yet: the foreign key refuses the rows
    sink = DbSink(session_factory, missing_run, max_rows=1000)
    sink.log_iteration(row(1))
    sink.log_event(TrainEvent(step=1, kind="tick", severity="info", message="one"))
    with pytest.raises(IntegrityError):
        sink.flush()
    sink.log_iteration(row(2))
    with session_scope(session_factory) as session:
        template = session.get(Run, run_id)
        session.add(Run(id=missing_run, name="late", dataset_id=template.dataset_id, config=template.config))
    sink.flush()
    assert metric_steps(session_factory, missing_run) == [1, 2]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Event).where(Event.run_id == missing_run)) == 1
