"""What the "pokegan.import_dataset" task does: download a CSV dataset's images, then mark it ready or failed.

The web app created the row ("importing") and stored the CSV at dataset_dir(id)/source.csv. Downloads are
resumable: when the worker shuts down mid-import the task queues itself again, and a worker that starts
queues every unfinished import (worker/lifecycle.py); a file lock keeps two workers off the same dataset.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.dataset_status import FAILED, IMPORTING, READY, transition
from core.db.session import session_scope
from core.db.tables import Dataset
from core.settings import Settings
from datasets.csv_import import import_csv
from datasets.errors import DatasetError
from datasets.layout import CSV_SOURCE_NAME, THUMBNAIL_PX, DatasetPaths, list_raw_images
from datasets.limits import dataset_limits
from datasets.report import IngestReport, summarise_skipped

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5
DOWNLOAD_SHARE = 0.9  # of the progress bar; thumbnails take the rest
LOCK_NAME = ".import.lock"


def run_import(
    settings: Settings,
    session_factory: sessionmaker[Session],
    dataset_id: int,
    *,
    shutdown: threading.Event | None = None,
) -> str | None:
    """Import dataset `dataset_id` from its CSV; returns the status it ended in (None: nothing to do)."""
    if not _still_importing(session_factory, dataset_id):
        return None
    paths = DatasetPaths(settings.dataset_dir(dataset_id))
    csv_path = paths.root / CSV_SOURCE_NAME
    if not csv_path.is_file():
        error = "the uploaded CSV file is missing; upload it again"
        return _finish(session_factory, dataset_id, FAILED, error=error)
    with _exclusive(paths.root / LOCK_NAME) as mine:
        if not mine:
            log.info("dataset %s is being imported by another worker; leaving it to that one", dataset_id)
            return None
        if not _still_importing(session_factory, dataset_id):  # finished by the worker that held the lock
            return None
        return _import(settings, session_factory, dataset_id, paths, shutdown or threading.Event())


def _import(
    settings: Settings,
    session_factory: sessionmaker[Session],
    dataset_id: int,
    paths: DatasetPaths,
    shutdown: threading.Event,
) -> str | None:
    try:
        report = _download(
            settings, session_factory, dataset_id, paths.root / CSV_SOURCE_NAME, paths, shutdown
        )
        if report.aborted:
            return _requeue(settings, dataset_id)
        return _conclude(session_factory, dataset_id, paths, report)
    except DatasetError as exc:
        return _finish(session_factory, dataset_id, FAILED, error=str(exc))
    except Exception as exc:
        log.exception("dataset %s: import failed", dataset_id)
        return _finish(session_factory, dataset_id, FAILED, error=f"{type(exc).__name__}: {exc}")


def _still_importing(session_factory: sessionmaker[Session], dataset_id: int) -> bool:
    with session_factory() as session:
        status = session.scalar(select(Dataset.status).where(Dataset.id == dataset_id))
    if status != IMPORTING:
        log.info("dataset %s is %s; nothing to import", dataset_id, status or "gone")
    return status == IMPORTING


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[bool]:
    """An advisory lock held while this process lives: a crashed worker never leaves it taken."""
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(
    settings: Settings,
    session_factory: sessionmaker[Session],
    dataset_id: int,
    csv_path: Path,
    paths: DatasetPaths,
    shutdown: threading.Event,
) -> IngestReport:
    progress = _ProgressWriter(session_factory, dataset_id)
    return import_csv(
        csv_path,
        paths.raw,
        dataset_limits(settings),
        progress=lambda done, total: progress.update(DOWNLOAD_SHARE * done / max(total, 1)),
        should_abort=shutdown.is_set,
    )


def _conclude(
    session_factory: sessionmaker[Session], dataset_id: int, paths: DatasetPaths, report: IngestReport
) -> str | None:
    from datasets import thumbnails

    image_count = len(list_raw_images(paths.raw))
    skipped = [{"item": item.name, "reason": item.reason} for item in report.skipped]
    if image_count == 0:
        error = f"no image could be downloaded from the CSV ({summarise_skipped(report.skipped)})"
        return _finish(session_factory, dataset_id, FAILED, error=error, skipped=skipped)
    thumbnails(paths.raw, paths.thumbs, size=THUMBNAIL_PX)
    stats = {
        "downloaded": report.accepted,
        "already_present": report.already_present,
        "skipped_by_reason": report.skipped_by_reason(),
    }
    return _finish(session_factory, dataset_id, READY, image_count=image_count, skipped=skipped, stats=stats)


def _requeue(settings: Settings, dataset_id: int) -> str:
    from core.queue import enqueue_import

    enqueue_import(settings, dataset_id)
    log.info("dataset %s: import paused by shutdown; queued again to resume", dataset_id)
    return IMPORTING


def _finish(
    session_factory: sessionmaker[Session],
    dataset_id: int,
    status: str,
    *,
    error: str | None = None,
    image_count: int | None = None,
    skipped: list[dict[str, Any]] | None = None,
    stats: dict[str, Any] | None = None,
) -> str | None:
    with session_scope(session_factory) as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            return None
        transition(session, dataset, status, error=error)
        if image_count is not None:
            dataset.image_count = image_count
        if skipped:
            known = {(s.get("item"), s.get("reason")) for s in dataset.skipped or []}
            dataset.skipped = [
                *(dataset.skipped or []),
                *(s for s in skipped if (s["item"], s["reason"]) not in known),
            ]
        if stats:
            dataset.stats = {**(dataset.stats or {}), **stats}
    log.info("dataset %s %s%s", dataset_id, status, f": {error}" if error else "")
    return status


class _ProgressWriter:
    """Writes datasets.progress at most every PROGRESS_EVERY_S (download threads call it often)."""

    def __init__(self, session_factory: sessionmaker[Session], dataset_id: int) -> None:
        self.session_factory = session_factory
        self.dataset_id = dataset_id
        self._last = 0.0
        self._lock = threading.Lock()

    def update(self, fraction: float) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < PROGRESS_EVERY_S and fraction < DOWNLOAD_SHARE:
                return
            self._last = now
        with session_scope(self.session_factory) as session:
            dataset = session.get(Dataset, self.dataset_id)
            if dataset is not None:
                dataset.progress = round(min(max(fraction, 0.0), 1.0), 4)
