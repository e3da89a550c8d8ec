"""The worker's view of one running run: heartbeat, abort checks and throttled progress updates.

The loop thread calls should_abort() every iteration (it reads the cancel flag at most once per
CANCEL_CHECK_EVERY_S) and on_progress() as it goes; a daemon ticker thread
beats runs.heartbeat_at and runs a periodic callback (the sink's flush_if_due) so new metric rows reach the
database within about a second even while the loop is busy with a long epoch-end step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Run, utcnow
from core.run_status import RUNNING

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0
CANCEL_CHECK_EVERY_S = 1.0  # a cancel takes effect within this long or one iteration, whichever is later
TICK_S = 0.25


class RunMonitor:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        run_id: int,
        identity: str,
        *,
        heartbeat_interval_s: float,
        shutdown: threading.Event | None = None,
        on_tick: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_factory = session_factory
        self.run_id = run_id
        self.identity = identity
        self.heartbeat_interval_s = heartbeat_interval_s
        self.shutdown = shutdown or threading.Event()
        self.on_tick = on_tick
        self.lost = threading.Event()  # the run stopped being ours (marked interrupted, taken over)
        self.cancel_seen = False
        self._stop_ticker = threading.Event()
        self._last_progress = 0.0
        self._clock = clock
        self._cancel_checked_at: float | None = None

    # called from the training loop

    def should_abort(self) -> bool:
        """Stop when the user cancelled, the worker is shutting down, or the run is no longer ours."""
        if self.shutdown.is_set() or self.lost.is_set():
            return True
        now = self._clock()
        if self._cancel_checked_at is not None and now - self._cancel_checked_at < CANCEL_CHECK_EVERY_S:
            return self.cancel_seen
        self._cancel_checked_at = now
        with self.session_factory() as session:
            self.cancel_seen = bool(session.scalar(select(Run.cancel_requested).where(Run.id == self.run_id)))
        return self.cancel_seen

    def on_progress(self, progress: Any, *, force: bool = False) -> None:
        """Store epoch/iteration/step/total_steps/images_per_s, at most once per PROGRESS_EVERY_S."""
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        values = {
            "epoch": progress.epoch,
            "iteration": progress.iteration,
            "step": progress.step,
            "total_steps": progress.total_steps,
            "images_per_s": progress.images_per_s,
        }
        self._update_own_run(values)

    # heartbeat

    def beat(self) -> bool:
        """Stamp heartbeat_at; False (and `lost` set) when the run is no longer running on this worker."""
        return self._update_own_run({"heartbeat_at": utcnow()})

    @contextmanager
    def running(self) -> Iterator[RunMonitor]:
        """Run the heartbeat/tick thread for the duration of the block."""
        thread = threading.Thread(target=self._tick_loop, name=f"run-{self.run_id}-monitor", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop_ticker.set()
            thread.join(timeout=30)

    def _tick_loop(self) -> None:
        next_beat = 0.0
        while not self._stop_ticker.wait(TICK_S):
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.heartbeat_interval_s
                    self.beat()
                if self.on_tick is not None:
                    self.on_tick()
            except Exception:  # a DB hiccup must not kill the heartbeat for good; the next tick retries
                log.exception("run %s: heartbeat/flush failed", self.run_id)

    def _update_own_run(self, values: dict[str, Any]) -> bool:
        with session_scope(self.session_factory) as session:
            result = session.execute(
                update(Run)
                .where(Run.id == self.run_id, Run.status == RUNNING, Run.worker == self.identity)
                .values(**values)
            )
            owned = result.rowcount == 1
        if not owned and not self.lost.is_set():
            log.warning("run %s is no longer running on %s; stopping", self.run_id, self.identity)
            self.lost.set()
        return owned
