"""The one place a dataset's status changes, like core/run_status.py for runs.

A CSV import is "importing" until the worker downloads it ("ready") or gives up ("failed"); archives,
images and folders are complete before their row exists and start "ready". A failed import can be queued
again ("importing"), which is how a dataset whose queueing failed gets a second chance.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.db.tables import Dataset

IMPORTING, READY, FAILED = "importing", "ready", "failed"
STATUSES = (IMPORTING, READY, FAILED)

ALLOWED: dict[str, frozenset[str]] = {
    IMPORTING: frozenset({IMPORTING, READY, FAILED}),  # importing -> importing: paused and queued again
    FAILED: frozenset({IMPORTING}),
    READY: frozenset(),
}


class InvalidDatasetTransition(ValueError):
    """A status change the dataset state machine does not allow (e.g. a ready dataset becoming importing)."""


def can_transition(current: str, new: str) -> bool:
    return new in ALLOWED.get(current, frozenset())


def transition(session: Session, dataset: Dataset, new: str, *, error: str | None = None) -> Dataset:
    """Move `dataset` to `new`; the caller commits. A failure records `error`; any other state clears it."""
    if not can_transition(dataset.status, new):
        raise InvalidDatasetTransition(f"dataset {dataset.id} is {dataset.status}; it cannot become {new}")
    dataset.status = new
    dataset.error = error if new == FAILED else None
    if new != IMPORTING:
        dataset.progress = 1.0
    session.add(dataset)
    return dataset
