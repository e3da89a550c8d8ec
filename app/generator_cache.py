"""Generators kept loaded between /generate calls (an LRU keyed by checkpoint) and a cap on concurrent calls.

Inference is CPU/GPU bound, so routes run it on the slots' own threads; the slots make extra callers get a
429 instead of queueing behind each other until their HTTP clients time out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Priority = Literal["idle", "low", "normal"]


class GeneratorCache:
    """A thread-safe LRU of loaded generators; `loads` counts real loads so callers can see cache hits."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the generator cache needs room for at least one generator")
        self.capacity = capacity
        self.loads = 0
        self.hits = 0
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The cached value for `key`; on a miss `load()` it and evict the least recently used."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            # Loading under the lock keeps two concurrent misses from loading the same checkpoint twice.
            value = load()
            self.loads += 1
            self._items[key] = value
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return value

    def discard(self, predicate: Callable[[Hashable], bool]) -> None:
        """Forget every entry whose key matches (e.g. the checkpoints of a deleted run)."""
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                del self._items[key]

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)


class GenerationSlots:
    """At most `limit` generations at once (`try_acquire` never waits), run on `limit` threads of their own
    at the CPU `priority` given.

    On a small machine the worker trains beside the web app. At "idle" priority generation only takes the
    CPU time training leaves, instead of half of it (training's OpenMP threads wait for each other, so every
    time slice lost to another thread stalls them all); on an otherwise idle machine it runs at full speed.
    """

    def __init__(self, limit: int, *, priority: Priority = "normal") -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._threads = ThreadPoolExecutor(
            limit,
            thread_name_prefix="pokegan-generate",
            initializer=set_thread_priority,
            initargs=(priority,),
        )

    def try_acquire(self) -> bool:
        return self._semaphore.acquire(blocking=False)

    def release(self) -> None:
        self._semaphore.release()

    async def run(self, work: Callable[[], T]) -> T:
        """Run `work` on a generation thread; hold a slot while it runs."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)


def set_thread_priority(priority: Priority) -> None:
    """Lower the calling thread's CPU priority: "idle" = SCHED_IDLE, "low" = nice 19. Threads it starts later
    (torch's OpenMP team) inherit it. Linux only: there both are per thread, elsewhere they reach the whole
    process. A refusal leaves the thread as it was: generation still works, only at normal priority."""
    if priority == "normal" or sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        if priority == "idle":
            os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.setpriority(os.PRIO_PROCESS, thread, 19)
    except OSError as exc:
        log.warning(
            "could not give /generate %s CPU priority (%s); it runs at normal priority", priority, exc
        )
