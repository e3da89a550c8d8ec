"""Reading a run's per-step metrics, grad stats and events, fast enough for 100k-step runs.

Metric rows are read with one SQL query straight into a numpy array (no ORM objects), then optionally
downsampled with app.downsample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.downsample import minmax_indices
from core.db.metric_values import POSITION_COLUMNS, extra_series, parse_extra
from core.db.tables import Event, GradStat, Metric
from models import series

INT_COLUMNS = POSITION_COLUMNS


def metric_columns() -> tuple[str, ...]:
    """The columns of a metric_array: position, then every declared series in declaration order."""
    return INT_COLUMNS + series.names()


def metric_array(
    session: Session,
    *,
    run_id: int,
    after_step: int = -1,
    up_to_step: int | None = None,
    limit: int | None = None,
) -> np.ndarray:
    """Rows with after_step < step <= up_to_step, in step order, x metric_columns() as float64 (NULL: NaN)."""
    table = Metric.__table__
    names = metric_columns()
    extras = extra_series()
    stored = [name for name in names if name not in extras]
    query = (
        select(*(table.c[name] for name in stored), *((table.c.extra,) if extras else ()))
        .where(table.c.run_id == run_id, table.c.step > after_step)
        .order_by(table.c.step)
    )
    if up_to_step is not None:
        query = query.where(table.c.step <= up_to_step)
    if limit is not None:
        query = query.limit(limit)
    # The DBAPI cursor's plain tuples: numpy converts them ~40x faster than SQLAlchemy Row objects.
    rows = session.connection().execute(query).cursor.fetchall()
    if not rows:
        return np.empty((0, len(names)))
    if not extras:
        return np.array(rows, dtype=np.float64)
    columns = np.array([row[:-1] for row in rows], dtype=np.float64)
    extra = np.array([parse_extra(row[-1], extras) for row in rows], dtype=np.float64)
    data = np.concatenate([columns, extra], axis=1)
    order = [(stored + list(extras)).index(name) for name in names]
    return data[:, order]


def read_metrics(
    session: Session,
    *,
    run_id: int,
    after_step: int = -1,
    limit: int | None = None,
    max_points: int | None = None,
) -> list[dict[str, Any]]:
    """Metric points with step > after_step, at most `limit` of them, then downsampled to max_points."""
    data = metric_array(session, run_id=run_id, after_step=after_step, limit=limit)
    return downsampled_points(data, max_points=max_points)


def downsampled_points(data: np.ndarray, *, max_points: int | None = None) -> list[dict[str, Any]]:
    """The rows of a metric_array as points, min/max-downsampled to max_points when given."""
    if max_points is not None and len(data) > max_points:
        data = data[minmax_indices(data[:, len(INT_COLUMNS) :], max_points)]
    return points_as_dicts(data)


def points_as_dicts(data: np.ndarray) -> list[dict[str, Any]]:
    names = series.names()
    ints = data[:, : len(INT_COLUMNS)].astype(np.int64).tolist()
    values = data[:, len(INT_COLUMNS) :]
    # JSON has no NaN or infinity: send null so a chart shows a gap instead of the request failing.
    cleaned = np.where(np.isfinite(values), values, np.nan).tolist()
    return [
        {
            **dict(zip(INT_COLUMNS, head, strict=True)),
            **{name: (None if value != value else value) for name, value in zip(names, tail, strict=True)},
        }
        for head, tail in zip(ints, cleaned, strict=True)
    ]


def list_grad_stats(
    session: Session, *, run_id: int, after_step: int = -1, limit: int | None = None
) -> list[GradStat]:
    query = (
        select(GradStat)
        .where(GradStat.run_id == run_id, GradStat.step > after_step)
        .order_by(GradStat.step, GradStat.net, GradStat.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def list_events(session: Session, *, run_id: int, after_step: int = -1) -> list[Event]:
    query = (
        select(Event).where(Event.run_id == run_id, Event.step > after_step).order_by(Event.step, Event.id)
    )
    return list(session.scalars(query))


def latest_grad_stats(session: Session, *, run_id: int) -> tuple[int, list[GradStat]] | None:
    """The per-layer gradient statistics of the newest logged step, G layers first, or None."""
    step = session.scalar(select(func.max(GradStat.step)).where(GradStat.run_id == run_id))
    if step is None:
        return None
    rows = session.scalars(
        select(GradStat)
        .where(GradStat.run_id == run_id, GradStat.step == step)
        .order_by(GradStat.net.desc(), GradStat.id)
    )
    return step, list(rows)


def event_counts(session: Session, *, run_ids: list[int]) -> dict[int, dict[str, int]]:
    """{run_id: {severity: number of events}} for the runs that have events (badges in the runs list)."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(Event.run_id, Event.severity, func.count())
        .where(Event.run_id.in_(run_ids))
        .group_by(Event.run_id, Event.severity)
    )
    counts: dict[int, dict[str, int]] = {}
    for run_id, severity, count in rows:
        counts.setdefault(run_id, {})[severity] = count
    return counts
