"""Elapsed time and ETA of a run, from its timestamps and measured images/s."""

from __future__ import annotations

from datetime import UTC, datetime

from core.db.tables import Run


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def elapsed_seconds(run: Run, now: datetime | None = None) -> float | None:
    """Seconds the run has spent running, over all its spells (not the time it sat queued or cancelled)."""
    started = as_utc(run.started_at)
    if started is None:
        return None
    if run.active_s is None:  # a run from before running time was counted: first start to end
        end = as_utc(run.finished_at) or now or datetime.now(UTC)
        return max(0.0, (end - started).total_seconds())
    since = as_utc(run.running_since)
    current = (as_utc(now) or datetime.now(UTC)) - since if since and run.status == "running" else None
    return run.active_s + (max(0.0, current.total_seconds()) if current else 0.0)


def eta_seconds(run: Run) -> float | None:
    if run.status != "running" or not run.images_per_s or run.total_steps <= 0:
        return None
    batch_size = int(run.config.get("batch_size", 0) or 0)
    remaining_steps = max(0, run.total_steps - run.step)
    return remaining_steps * batch_size / run.images_per_s


def format_duration(seconds: float | None) -> str:
    """'1h 02m', '3m 05s', '42s' or an em dash."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
