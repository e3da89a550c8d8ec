"""Pick the checkpoint to keep: the best-scoring one that was not taken during or after a failure.

"The last non-collapsed epoch": checkpoints at or after the start of a failure episode that never cleared are
out, and so are those taken while an episode that did clear later was still open. Among the rest, once any
was judged (models.monitoring.judge), the lowest C2ST among the judged ones that are not copying wins.
Runs from before the judge: the lowest FID when every candidate has one, else the highest
EpochQuality.score. Ties go to the later step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from models.monitoring.quality import EpochQuality
from models.sink import TrainEvent

# Kinds that ruin samples. D overfitting only warns: samples can still be good while D memorises.
DISQUALIFYING_KINDS = frozenset({"d_saturation", "g_overpowers_d", "mode_collapse", "divergence", "d_stuck"})


def failure_spans(events: Iterable[TrainEvent]) -> list[tuple[int, float]]:
    """[start, end) step spans of failure episodes; an episode with no 'info' event yet ends at infinity."""
    spans: list[tuple[int, float]] = []
    open_since: dict[str, int] = {}
    for event in sorted(events, key=lambda e: e.step):
        if event.kind not in DISQUALIFYING_KINDS:
            continue
        if event.severity == "info":
            if event.kind in open_since:
                spans.append((open_since.pop(event.kind), event.step))
        else:
            open_since.setdefault(event.kind, event.step)
    spans.extend((start, math.inf) for start in open_since.values())
    return spans


def choose_best_epoch(
    qualities: Sequence[tuple[int, int, EpochQuality]], events: Iterable[TrainEvent]
) -> int | None:
    """Step of the best checkpoint among (epoch, step, quality) entries; None if all are disqualified."""
    spans = failure_spans(events)
    eligible = [
        (step, quality)
        for _epoch, step, quality in qualities
        if not any(start <= step < end for start, end in spans)
    ]
    if not eligible:
        return None
    if any(q.c2st is not None for _, q in eligible):
        judged = [(step, q) for step, q in eligible if _finite(q.c2st) and not q.copying]
        return max(judged, key=lambda sq: (-sq[1].c2st, sq[0]))[0] if judged else None
    if all(q.fid is not None and math.isfinite(q.fid) for _, q in eligible):
        return max(eligible, key=lambda sq: (-sq[1].fid, sq[0]))[0]
    return max(eligible, key=lambda sq: (_finite_or_worst(sq[1].score), sq[0]))[0]


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _finite_or_worst(score: float) -> float:
    return score if math.isfinite(score) else -math.inf  # NaN samples must never win a comparison
