"""How much of the last few seconds a thread spent busy: the budget that decides whether the next /generate
call may run at normal CPU priority (see app.generation.GenerationSlots)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class BusyWindow:
    """Busy intervals of the last `window_s` seconds; `busy_share()` is the fraction of that window they fill
    (1.0 = one thread busy the whole time). An interval still running counts up to now."""

    def __init__(self, window_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0:
            raise ValueError("the window must be longer than 0 s")
        self.window_s = window_s
        self._clock = clock
        self._done: deque[tuple[float, float]] = deque()
        self._running: dict[int, float] = {}  # job id -> start
        self._next_id = 0
        self._lock = threading.Lock()

    def start(self) -> int:
        with self._lock:
            self._next_id += 1
            self._running[self._next_id] = self._clock()
            return self._next_id

    def end(self, job: int) -> None:
        with self._lock:
            self._done.append((self._running.pop(job), self._clock()))

    def busy_share(self) -> float:
        with self._lock:
            now = self._clock()
            since = now - self.window_s
            while self._done and self._done[0][1] <= since:
                self._done.popleft()
            intervals = [*self._done, *((start, now) for start in self._running.values())]
            busy = sum(end - max(start, since) for start, end in intervals if end > since)
            return busy / self.window_s
