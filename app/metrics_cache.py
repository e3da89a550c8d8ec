"""Recently opened runs' metric rows, kept in memory so opening a run again reads only the rows added since.

Opening a run page asks for the whole run (GET /api/runs/{id}/metrics?max_points=N), and reading 100k rows
into numpy costs ~0.4 s of CPU, most of the page's time. The cache keeps each run's array with the run's
version, and per request asks the database one cheap question: the run's version (created_at, which tells a
reused id apart, and metrics_generation) plus the count and max step of its metric rows (an index-only scan
of uq_metrics_run_step). Then:

- same version and count: the cached rows are current, no row is read;
- same version, more rows: only the rows after the cached last step are read, and appended;
- otherwise (a resume, rollback or restart bumped the generation, rows went missing, the id was reused):
  everything is read again.

The worker bumps runs.metrics_generation in the same transaction as every deletion of metric rows
(worker/dbsink.py), so under one generation rows are only ever appended.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.crud.metrics import metric_array, metric_columns
from core.db.tables import Metric, Run


@dataclass(frozen=True)
class RunVersion:
    created_at: datetime
    generation: int


@dataclass(frozen=True)
class _Stat:
    version: RunVersion
    count: int
    last_step: int | None


@dataclass(frozen=True)
class _Entry:
    version: RunVersion
    data: np.ndarray  # read-only: handed to concurrent requests as is

    @property
    def last_step(self) -> int:
        return int(self.data[-1, 0]) if len(self.data) else -1


@dataclass
class CacheCounters:
    hits: int = 0  # served from memory, no row read
    appends: int = 0  # read only the newer rows
    loads: int = 0  # read every row
    rows_read: int = 0


class MetricsCache:
    """A thread-safe LRU of metric arrays, at most `max_runs` runs and `max_bytes` of arrays.

    The lock guards only the dict: database reads run outside it, so a slow read of one run never holds up
    requests for others. Two concurrent misses on one run may both read it; either result is correct.
    """

    def __init__(self, *, max_runs: int, max_bytes: int) -> None:
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self.counters = CacheCounters()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def metric_array(self, session: Session, *, run_id: int) -> np.ndarray:
        """All of the run's rows, as crud.metrics.metric_array returns them (do not modify the array)."""
        stat = _stat(session, run_id)
        if stat is None:
            self.discard(run_id)
            return np.empty((0, len(metric_columns())))
        entry = self._get(run_id)
        data = self._brought_up_to_date(session, run_id, entry, stat) if entry is not None else None
        if data is None:
            data = metric_array(session, run_id=run_id)
            self._count(loads=1, rows_read=len(data))
        data.flags.writeable = False
        # stat's version was read before these rows: if a truncation came in between, the next request sees a
        # newer generation and reloads; it can never pair older rows with a newer generation.
        self._put(run_id, _Entry(stat.version, data))
        return data

    def discard(self, run_id: int) -> None:
        """Forget a run (it was deleted)."""
        with self._lock:
            entry = self._entries.pop(run_id, None)
            if entry is not None:
                self._bytes -= entry.data.nbytes

    def run_ids(self) -> list[int]:
        with self._lock:
            return list(self._entries)

    def _brought_up_to_date(
        self, session: Session, run_id: int, entry: _Entry, stat: _Stat
    ) -> np.ndarray | None:
        """The cached rows plus any appended since, or None when rows were rewritten (read them all)."""
        cached = len(entry.data)
        if (
            entry.version != stat.version
            or stat.count < cached
            or entry.data.shape[1] != len(metric_columns())
        ):
            return None
        if stat.count == cached:
            self._count(hits=1)
            return entry.data
        # Up to the stat's last step, so rows appended after the stat cannot break the count check below.
        newer = metric_array(session, run_id=run_id, after_step=entry.last_step, up_to_step=stat.last_step)
        self._count(rows_read=len(newer))
        if cached + len(newer) != stat.count or _version(session, run_id) != stat.version:
            return None  # rows were deleted or inserted out of order meanwhile
        self._count(appends=1)
        return np.concatenate([entry.data, newer])

    def _get(self, run_id: int) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is not None:
                self._entries.move_to_end(run_id)
            return entry

    def _put(self, run_id: int, entry: _Entry) -> None:
        with self._lock:
            old = self._entries.pop(run_id, None)
            if old is not None:
                self._bytes -= old.data.nbytes
            if self.max_runs < 1 or entry.data.nbytes > self.max_bytes:
                return
            self._entries[run_id] = entry
            self._bytes += entry.data.nbytes
            while len(self._entries) > self.max_runs or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.data.nbytes

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self.counters, name, getattr(self.counters, name) + value)


def _stat(session: Session, run_id: int) -> _Stat | None:
    """The run's version and its metric rows' count and max step, in one statement (one snapshot)."""
    of_run = Metric.run_id == run_id
    query = select(
        Run.created_at,
        Run.metrics_generation,
        select(func.count()).select_from(Metric).where(of_run).scalar_subquery(),
        select(func.max(Metric.step)).where(of_run).scalar_subquery(),
    ).where(Run.id == run_id)
    row = session.execute(query).one_or_none()
    if row is None:
        return None
    created_at, generation, count, last_step = row
    return _Stat(RunVersion(created_at, generation), count, last_step)


def _version(session: Session, run_id: int) -> RunVersion | None:
    query = select(Run.created_at, Run.metrics_generation).where(Run.id == run_id)
    row = session.execute(query).one_or_none()
    return None if row is None else RunVersion(*row)
