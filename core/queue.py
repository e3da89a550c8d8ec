"""Task and queue names shared by the producer (web) and the consumer (worker), and the producer itself.

The web process sends tasks by name: it never imports the worker, registers no task and loads no torch.
"""

from __future__ import annotations

import threading

from celery import Celery

from core.settings import Settings

TRAIN_TASK = "pokegan.train_run"
IMPORT_TASK = "pokegan.import_dataset"
DATASETS_QUEUE = "datasets"

_producers: dict[tuple[str, str, str], Celery] = {}
_lock = threading.Lock()


def enqueue_train(settings: Settings, run_id: int) -> str:
    """Queue "pokegan.train_run"(run_id) on settings.worker_queue; returns the Celery task id.

    The caller moves the run to "queued" (transition) before calling this.
    """
    result = _producer(settings).send_task(TRAIN_TASK, args=[run_id], queue=settings.worker_queue)
    return str(result.id)


def enqueue_import(settings: Settings, dataset_id: int) -> str:
    """Queue "pokegan.import_dataset"(dataset_id) on the "datasets" queue; returns the Celery task id."""
    result = _producer(settings).send_task(IMPORT_TASK, args=[dataset_id], queue=DATASETS_QUEUE)
    return str(result.id)


def _producer(settings: Settings) -> Celery:
    # one app (and so one connection pool) per broker, reused across requests
    key = (settings.resolved_broker_url, str(settings.broker_dir), settings.worker_queue)
    with _lock:
        if key not in _producers:
            from core.broker import configured_celery  # late: core.broker imports this module's names

            _producers[key] = configured_celery(settings)
        return _producers[key]
