"""The worker's MetricSink: buffers rows and writes them to the database in batches.

A batch is one transaction: delete any rows it replaces, then one bulk insert per table. Replacing rather than
appending makes a redelivered or resumed task idempotent: a (run, step) metric row is never duplicated.
Whenever that deletes metric rows, the same transaction bumps runs.metrics_generation, so a reader that cached
the rows (app/metrics_cache.py) knows they were rewritten rather than appended to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from sqlalchemy import ColumnElement, delete, insert, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from core.db.metric_values import insert_values
from core.db.session import session_scope
from core.db.tables import Event, GradStat, Metric, Run
from models.sink import GradStat as GradRow
from models.sink import IterationMetrics, TrainEvent

BATCH_ROWS = 256
BATCH_AGE_S = 0.5


@dataclass
class _Batch:
    iterations: list[IterationMetrics] = field(default_factory=list)
    grads: list[GradRow] = field(default_factory=list)
    events: list[TrainEvent] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.iterations) + len(self.grads) + len(self.events)

    def drop_after(self, step: int) -> None:
        self.iterations = [r for r in self.iterations if r.step <= step]
        self.grads = [r for r in self.grads if r.step <= step]
        self.events = [e for e in self.events if e.step <= step]


class DbSink:
    """MetricSink for one run. Thread-safe: the loop logs while a ticker thread calls flush_if_due()."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        run_id: int,
        *,
        max_rows: int = BATCH_ROWS,
        max_age_s: float = BATCH_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_factory = session_factory
        self.run_id = run_id
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self._clock = clock
        self._pending = _Batch()
        self._oldest: float | None = None  # clock time of the oldest row not yet written
        self._buffer_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one writer at a time keeps truncate and flush ordered
        self.batches_written = 0

    # MetricSink

    def log_iteration(self, row: IterationMetrics) -> None:
        self._add(lambda b: b.iterations.append(row))

    def log_grad_stats(self, rows: list[GradRow]) -> None:
        self._add(lambda b: b.grads.extend(rows))

    def log_event(self, event: TrainEvent) -> None:
        self._add(lambda b: b.events.append(event))

    def flush(self) -> None:
        """Write everything buffered now, in one transaction."""
        with self._write_lock:
            batch = self._take()
            if batch:
                self._write(batch, truncate_after=None)

    def truncate_after(self, step: int) -> None:
        """Delete this run's metric, gradient and event rows with step > `step` (buffered ones too)."""
        with self._write_lock:
            with self._buffer_lock:
                self._pending.drop_after(step)
            self._write(self._take(), truncate_after=step)

    # batching

    def flush_if_due(self) -> None:
        """Flush when the buffer is full or its oldest row waited max_age_s (a ticker thread calls this)."""
        if self._due():
            self.flush()

    def _add(self, append: Callable[[_Batch], None]) -> None:
        with self._buffer_lock:
            append(self._pending)
            if self._oldest is None:
                self._oldest = self._clock()
        self.flush_if_due()

    def _due(self) -> bool:
        with self._buffer_lock:
            if not self._pending:
                return False
            return len(self._pending) >= self.max_rows or self._clock() - self._oldest >= self.max_age_s

    def _take(self) -> _Batch:
        with self._buffer_lock:
            batch, self._pending, self._oldest = self._pending, _Batch(), None
            return batch

    def _requeue(self, batch: _Batch) -> None:
        # a failed write keeps its rows (in order, before newer ones) for the next attempt
        with self._buffer_lock:
            self._pending = _Batch(
                batch.iterations + self._pending.iterations,
                batch.grads + self._pending.grads,
                batch.events + self._pending.events,
            )
            self._oldest = self._clock() if self._oldest is None else self._oldest

    def _write(self, batch: _Batch, *, truncate_after: int | None) -> None:
        try:
            with session_scope(self.session_factory) as session:
                if truncate_after is not None:
                    _delete_after(session, self.run_id, truncate_after)
                _write_batch(session, self.run_id, batch)
        except BaseException:
            self._requeue(batch)
            raise
        self.batches_written += 1


def _delete_after(session: Session, run_id: int, step: int) -> None:
    _delete_metrics(session, run_id, Metric.step > step)
    for table in (GradStat, Event):
        session.execute(delete(table).where(table.run_id == run_id, table.step > step))


def _delete_metrics(session: Session, run_id: int, which: ColumnElement[bool]) -> None:
    """Delete some of the run's metric rows; if any went, bump metrics_generation in the same transaction."""
    deleted = session.execute(delete(Metric).where(Metric.run_id == run_id, which)).rowcount
    if deleted:
        generation = Run.metrics_generation + 1
        session.execute(update(Run).where(Run.id == run_id).values(metrics_generation=generation))


def _write_batch(session: Session, run_id: int, batch: _Batch) -> None:
    if batch.iterations:
        by_step = {row.step: row for row in batch.iterations}  # the last row logged for a step wins
        _delete_metrics(session, run_id, Metric.step.in_(by_step))
        session.execute(insert(Metric), [insert_values(run_id, r) for r in by_step.values()])
    if batch.grads:
        by_key = {(r.step, r.net, r.layer): r for r in batch.grads}
        key = tuple_(GradStat.step, GradStat.net, GradStat.layer)
        session.execute(delete(GradStat).where(GradStat.run_id == run_id, key.in_(list(by_key))))
        session.execute(insert(GradStat), [{"run_id": run_id, **asdict(r)} for r in by_key.values()])
    if batch.events:
        by_key_e = {(e.step, e.kind, e.message): e for e in batch.events}
        key_e = tuple_(Event.step, Event.kind, Event.message)
        session.execute(delete(Event).where(Event.run_id == run_id, key_e.in_(list(by_key_e))))
        session.execute(insert(Event), [{"run_id": run_id, **asdict(e)} for e in by_key_e.values()])
