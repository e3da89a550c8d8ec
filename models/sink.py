"""How statistics leave the training loop: a small sink interface and two plain sinks.

The worker's sink writes to the database in batches; the CLI's writes JSON lines; tests collect in lists.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, init=False)
class IterationMetrics:
    """One row per optimisation step: its position and the value of every declared series (models/series.py).

    In the seed's vocabulary D_x, D_G_z1 are measured before the D step, D_G_z2 after it (in the G step).
    Series read as attributes too (row.loss_d), and may be given as keywords, which dataclasses.replace uses:
    replace(row, loss_d=0.0) changes one series."""

    step: int
    epoch: int
    iteration: int
    values: dict[str, float]

    def __init__(
        self, step: int, epoch: int, iteration: int, values: dict[str, float] | None = None, **series: float
    ) -> None:
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "epoch", epoch)
        object.__setattr__(self, "iteration", iteration)
        object.__setattr__(self, "values", {**(values or {}), **series})

    def __getattr__(self, name: str) -> float:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(f"IterationMetrics has no series {name!r}") from None

    def flat(self) -> dict[str, Any]:
        """{step, epoch, iteration, <series>...}: the row as the CLI's metrics.jsonl and the API spell it."""
        return {"step": self.step, "epoch": self.epoch, "iteration": self.iteration, **self.values}


@dataclass(frozen=True)
class GradStat:
    """Mean and max |grad| of one layer of G or D at one step (gradient-flow plots)."""

    step: int
    net: str  # "G" or "D"
    layer: str
    mean_abs: float
    max_abs: float


@dataclass(frozen=True)
class TrainEvent:
    """Something worth a marker on the charts: a detection, a rollback, a NaN, a resume."""

    step: int
    kind: str
    severity: str  # "info" | "warning" | "error"
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


class MetricSink(Protocol):
    def log_iteration(self, row: IterationMetrics) -> None: ...

    def log_grad_stats(self, rows: list[GradStat]) -> None: ...

    def log_event(self, event: TrainEvent) -> None: ...

    def flush(self) -> None:
        """Make everything logged so far durable (called at least once per epoch and at the end)."""

    def truncate_after(self, step: int) -> None:
        """Forget rows with step > `step` (resume from a checkpoint replaces, never duplicates)."""


class ListSink:
    """Collects everything in memory; for tests and notebooks."""

    def __init__(self) -> None:
        self.iterations: list[IterationMetrics] = []
        self.grad_stats: list[GradStat] = []
        self.events: list[TrainEvent] = []
        self.flushes = 0

    def log_iteration(self, row: IterationMetrics) -> None:
        self.iterations.append(row)

    def log_grad_stats(self, rows: list[GradStat]) -> None:
        self.grad_stats.extend(rows)

    def log_event(self, event: TrainEvent) -> None:
        self.events.append(event)

    def flush(self) -> None:
        self.flushes += 1

    def truncate_after(self, step: int) -> None:
        self.iterations = [r for r in self.iterations if r.step <= step]
        self.grad_stats = [r for r in self.grad_stats if r.step <= step]
        self.events = [e for e in self.events if e.step <= step]


class JsonlSink:
    """Appends one JSON object per line to `metrics.jsonl` in a run directory (the CLI's sink)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending: list[dict[str, Any]] = []

    def log_iteration(self, row: IterationMetrics) -> None:
        self._pending.append({"type": "iteration", **row.flat()})

    def log_grad_stats(self, rows: list[GradStat]) -> None:
        self._pending.extend({"type": "grad", **asdict(r)} for r in rows)

    def log_event(self, event: TrainEvent) -> None:
        self._pending.append({"type": "event", **asdict(event)})

    def flush(self) -> None:
        if not self._pending:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in self._pending)
        self._pending.clear()

    def truncate_after(self, step: int) -> None:
        self.flush()
        if not self.path.exists():
            return
        kept = [
            line
            for line in self.path.read_text(encoding="utf-8").splitlines()
            if line and json.loads(line)["step"] <= step
        ]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
