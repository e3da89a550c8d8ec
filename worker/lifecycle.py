"""Worker start-up and shutdown hooks: crash recovery on start and periodically, abort on warm shutdown."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready, worker_shutting_down
from sqlalchemy import select

from core.dataset_status import IMPORTING
from core.db.tables import Dataset
from worker.context import WorkerContext
from worker.recovery import recover_runs, recovery_interval_s, worker_identity

log = logging.getLogger(__name__)

PROCESSED_MESSAGES_KEEP_S = 24 * 3600


def install_lifecycle(celery: Celery, context: WorkerContext) -> None:
    def on_ready(sender: object = None, **_: object) -> None:
        if getattr(sender, "app", None) is not celery:
            return
        recover_on_start(context)
        import worker.training  # noqa: F401  (torch now, so the first task starts training at once)

        thread = threading.Thread(
            target=_recovery_loop, args=(context,), name="pokegan-recovery", daemon=True
        )
        thread.start()

    def on_shutting_down(**_: object) -> None:
        # a running training notices this at its next iteration and ends "interrupted" (resumable)
        context.shutdown.set()

    worker_ready.connect(on_ready, weak=False)
    worker_shutting_down.connect(on_shutting_down, weak=False)


def recover_on_start(context: WorkerContext) -> None:
    """Resume runs a dead worker left behind. Our own host:pid on a run at start-up is a previous life
    of this process (a restarted container reuses pids), so it counts as dead too."""
    try:
        report = recover_runs(
            context.settings, context.session_factory, dead_identities=frozenset({worker_identity()})
        )
        log.info("start-up recovery: %s", report)
    except Exception:
        log.exception("start-up recovery failed; the periodic pass will retry")
    try:
        requeue_unfinished_imports(context)
    except Exception:
        log.exception("could not queue the unfinished dataset imports again")
    prune_processed_messages(context.settings.broker_dir / "processed")


def requeue_unfinished_imports(context: WorkerContext) -> list[int]:
    """Queue every dataset still "importing" (its worker may have died); one already being imported,
    or queued twice, is skipped by the import's own lock and status check."""
    from core.queue import enqueue_import

    with context.session_factory() as session:
        dataset_ids = list(session.scalars(select(Dataset.id).where(Dataset.status == IMPORTING)))
    for dataset_id in dataset_ids:
        enqueue_import(context.settings, dataset_id)
        log.info("dataset %s: unfinished import queued again", dataset_id)
    return dataset_ids


def _recovery_loop(context: WorkerContext) -> None:
    interval = recovery_interval_s(context.settings)
    while not context.shutdown.wait(interval):
        try:
            report = recover_runs(context.settings, context.session_factory)
            if report.interrupted or report.requeued:
                log.warning("recovery: %s", report)
        except Exception:
            log.exception("periodic recovery failed; retrying in %.0f s", interval)


def prune_processed_messages(folder: Path, *, keep_s: float = PROCESSED_MESSAGES_KEEP_S) -> int:
    """Delete consumed filesystem-broker messages older than a day (kept that long for debugging)."""
    if not folder.is_dir():
        return 0
    cutoff, removed = time.time() - keep_s, 0
    for path in folder.glob("*.msg"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed
