"""Generators kept loaded between /generate calls (an LRU keyed by checkpoint) and a cap on concurrent calls.

Inference is CPU/GPU bound, so routes run it in a worker thread; the slots make extra callers get a 429
instead of queueing behind each other until their HTTP clients time out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


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
    """At most `limit` generations at once; `try_acquire` never waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)

    def try_acquire(self) -> bool:
        return self._semaphore.acquire(blocking=False)

    def release(self) -> None:
        self._semaphore.release()
