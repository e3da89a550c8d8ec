"""How much CPU a kind of work used over the last few seconds: the budget that decides whether the next
/generate call may run at normal priority (see app.generator_cache.GenerationSlots)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class CpuWindow:
    """CPU seconds of the jobs that ended in the last `window_s` seconds; `share()` is that as a fraction of
    one core over the window (0.25 = a quarter of a core). CPU time, not wall time: on a busy machine a job
    waits for the CPU much of its wall time, and only the CPU it took was taken from training."""

    def __init__(self, window_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0:
            raise ValueError("the window must be longer than 0 s")
        self.window_s = window_s
        self._clock = clock
        self._jobs: deque[tuple[float, float]] = deque()  # (ended at, CPU seconds)
        self._lock = threading.Lock()

    def add(self, cpu_s: float) -> None:
        with self._lock:
            self._jobs.append((self._clock(), cpu_s))

    def share(self) -> float:
        with self._lock:
            since = self._clock() - self.window_s
            while self._jobs and self._jobs[0][0] <= since:
                self._jobs.popleft()
            return sum(cpu for _, cpu in self._jobs) / self.window_s

    def wait_s(self, limit: float) -> float:
        """Seconds until the share drops below `limit` by itself, as the oldest jobs leave the window."""
        with self._lock:
            now = self._clock()
            live = [(ended, cpu) for ended, cpu in self._jobs if ended > now - self.window_s]
            total, allowed, wait = sum(cpu for _, cpu in live), limit * self.window_s, 0.0
            for ended, cpu in live:  # oldest first
                if total < allowed:
                    break
                total -= cpu
                wait = ended + self.window_s - now
            return max(0.0, wait)
