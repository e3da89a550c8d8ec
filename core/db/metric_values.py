"""Where each declared series (models/series.py) lives in the metrics table.

The seed's five series have columns of their own (fast to read and index); any series declared later is
stored in the row's `extra` JSON under its name, so adding a series needs no migration.
"""

from __future__ import annotations

import json
from typing import Any

from core.db.tables import Metric
from models import series
from models.sink import IterationMetrics

POSITION_COLUMNS = ("step", "epoch", "iteration")


def has_column(name: str) -> bool:
    return name in Metric.__table__.c and name not in POSITION_COLUMNS


def extra_series() -> tuple[str, ...]:
    """Declared series kept in the `extra` JSON."""
    return tuple(name for name in series.names() if not has_column(name))


def insert_values(run_id: int, row: IterationMetrics) -> dict[str, Any]:
    """The column values of one metrics row."""
    columns = {name: value for name, value in row.values.items() if has_column(name)}
    extra = {name: _json_float(value) for name, value in row.values.items() if not has_column(name)}
    position = {"step": row.step, "epoch": row.epoch, "iteration": row.iteration}
    return {"run_id": run_id, **position, **columns, "extra": extra or None}


def parse_extra(text: str | dict[str, Any] | None, names: tuple[str, ...]) -> list[float]:
    """One row's extra series as floats in `names` order (NaN where a row lacks one)."""
    values = (json.loads(text) if isinstance(text, str) else text) or {}  # SQL NULL or JSON null: none
    return [float("nan") if values.get(name) is None else float(values[name]) for name in names]


def _json_float(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None  # JSON has no NaN or infinity
