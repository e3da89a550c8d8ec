"""What a worker process shares between its tasks: settings, one DB engine, and the shutdown flag."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings


class WorkerContext:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shutdown = threading.Event()  # set on warm shutdown: a running training stops and is resumable
        self._session_factory: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    @property
    def session_factory(self) -> sessionmaker[Session]:
        # built on first use, in the worker process only (the web imports the Celery app to enqueue)
        with self._lock:
            if self._session_factory is None:
                from core.db.session import make_engine, make_sessionmaker

                self._session_factory = make_sessionmaker(make_engine(self.settings))
            return self._session_factory
