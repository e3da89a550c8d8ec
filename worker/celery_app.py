"""The Celery application, built from Settings: one code path for the embedded broker and for Redis.

`celery -A worker.celery_app worker` finds `app` here; it is built from Settings() on first access, so
importing this module reads no environment and starts nothing. The web process never imports it: it sends
tasks by name through core/queue.py.
"""

from __future__ import annotations

from celery import Celery

# re-exported: the worker's tests and `celery -A worker.celery_app` look for them here
from core.broker import REDIS_VISIBILITY_TIMEOUT_S, broker_connection, configured_celery  # noqa: F401
from core.settings import Settings


def make_celery(settings: Settings) -> Celery:
    """The worker's Celery app for `settings`: the shared configuration plus the two tasks."""
    celery = configured_celery(settings)
    from worker.tasks import register_tasks  # late: tasks.py needs the app, not the other way round

    register_tasks(celery, settings)
    return celery


_app: Celery | None = None


def __getattr__(name: str) -> Celery:
    # `celery -A worker.celery_app` asks for `app`; build it once, from the environment, at worker start-up
    global _app
    if name not in ("app", "celery"):
        raise AttributeError(name)
    if _app is None:
        settings = Settings()
        settings.ensure_dirs()
        _app = make_celery(settings)
    return _app
