"""How pokegan reaches its Celery broker: the embedded filesystem broker or Redis, from Settings.

Shared by the producer (core/queue.py, in the web process) and the worker (worker/celery_app.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from celery import Celery

from core.queue import DATASETS_QUEUE, IMPORT_TASK, TRAIN_TASK
from core.settings import Settings

# Redis hands an unacked message to another consumer after this long. A training task holds its message for
# the whole run, so this matters only after a crash, and recovery does not wait for it (worker/recovery.py).
REDIS_VISIBILITY_TIMEOUT_S = 12 * 3600
FILESYSTEM_POLL_S = 0.5


def configured_celery(settings: Settings) -> Celery:
    """A Celery app for `settings` with no task registered: JSON only, no results, late acks, one task at a
    time (solo pool). The worker registers its tasks on it; the web process only sends tasks by name."""
    broker_url, transport_options = broker_connection(settings)
    celery = Celery("pokegan", broker=broker_url, set_as_current=False)
    celery.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        worker_pool="solo",  # torch and fork do not mix; one training task per worker process
        task_default_queue=settings.worker_queue,
        task_routes={
            TRAIN_TASK: {"queue": settings.worker_queue},
            IMPORT_TASK: {"queue": DATASETS_QUEUE},
        },
        # broadcast queues of dead workers would pile up files in the filesystem broker; we never broadcast
        worker_enable_remote_control=not is_filesystem_broker(settings),
        enable_utc=True,
    )
    return celery


def is_filesystem_broker(settings: Settings) -> bool:
    return settings.resolved_broker_url.startswith("filesystem://")


def broker_connection(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The broker URL Celery should use and its transport options."""
    url = settings.resolved_broker_url
    if is_filesystem_broker(settings):
        # the transport ignores the host; naming one only silences kombu's "no hostname" warning
        return "filesystem://localhost//", filesystem_transport_options(settings.broker_dir)
    if url.startswith(("redis://", "rediss://")):
        url, prefix = _pop_query_param(url, "global_keyprefix")
        options: dict[str, Any] = {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_S}
        if prefix:
            # lets several installs (or parallel test runs) share one Redis database without stealing tasks
            options["global_keyprefix"] = prefix
        return url, options
    return url, {}


def filesystem_transport_options(broker_dir: Path) -> dict[str, Any]:
    """Folders of the embedded broker; producers and consumers share one message folder."""
    messages, processed, control = broker_dir / "messages", broker_dir / "processed", broker_dir / "control"
    for folder in (messages, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(messages),
        "data_folder_out": str(messages),
        # kombu claims a message by moving it to processed_folder; on the same filesystem that move is an
        # atomic rename, so two workers can never take the same message (the default /tmp may be a copy)
        "store_processed": True,
        "processed_folder": str(processed),
        "control_folder": str(control),
        "polling_interval": FILESYSTEM_POLL_S,
    }


def _pop_query_param(url: str, name: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    value = next((v for k, v in query if k == name), None)
    rest = urlencode([(k, v) for k, v in query if k != name])
    return urlunsplit(parts._replace(query=rest)), value
