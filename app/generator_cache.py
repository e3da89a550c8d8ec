"""Generators kept loaded between /generate calls (an LRU keyed by checkpoint) and a cap on concurrent calls.

Inference is CPU/GPU bound, so routes run it on the slots' own threads; the slots make extra callers get a
429 instead of queueing behind each other until their HTTP clients time out, and keep a flood of calls from
starving a run that trains on the same machine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from app.cpu_share import CpuWindow

log = logging.getLogger(__name__)

T = TypeVar("T")
Priority = Literal["idle", "low", "normal"]
Policy = Literal["shared", "idle", "low", "normal"]


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
    """At most `limit` generations accepted at once (`try_acquire` never waits: callers past it get a 429),
    run on threads of their own with `torch_threads` torch threads each.

    policy "shared" (the default): one thread at normal priority runs the calls, one at a time, while
    generation took less than `share` of one core's CPU time over the last `window_s` seconds; past that
    share the next call waits (a few seconds at most) until older calls leave the window. One person
    clicking Generate is answered at full speed; a flood of calls costs a run training beside it about
    `share` of one core, never more. (The CPU is counted on the calling thread: exact with
    torch_threads=1, too low with more.)
    "idle", "low", "normal": `limit` threads at that fixed priority (bench/generate_latency.py compares them).
    At "idle" a run training on every core leaves generation almost nothing (training's OpenMP threads spin
    while they wait for each other), so one 64-image call can take a minute.
    """

    def __init__(
        self,
        limit: int,
        *,
        policy: Policy = "shared",
        torch_threads: int | None = None,
        share: float = 0.25,
        window_s: float = 10.0,
    ) -> None:
        self.limit, self.policy, self.share = limit, policy, share
        self._semaphore = threading.BoundedSemaphore(limit)
        self._cpu = CpuWindow(window_s)
        lanes: dict[Priority, int] = {"normal": 1} if policy == "shared" else {policy: limit}
        self._lanes = {
            priority: ThreadPoolExecutor(
                threads,
                thread_name_prefix=f"pokegan-generate-{priority}",
                initializer=_init_thread,
                initargs=(priority, torch_threads),
            )
            for priority, threads in lanes.items()
        }
        self._counts = {"waiting": 0, "running": 0}
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        return self._semaphore.acquire(blocking=False)

    def release(self) -> None:
        self._semaphore.release()

    async def run(self, work: Callable[[], T]) -> T:
        """Run `work` on a generation thread (normal or idle priority if "shared"); hold a slot meanwhile."""
        lane = self._lane()
        self._count("waiting", +1)

        def timed() -> T:
            self._wait_for_share()
            self._count("waiting", -1)
            self._count("running", +1)
            cpu_before = time.thread_time()  # with one torch thread the work runs on this thread
            try:
                return work()
            finally:
                if lane == "normal":
                    self._cpu.add(time.thread_time() - cpu_before)
                self._count("running", -1)

        return await asyncio.get_running_loop().run_in_executor(self._lanes[lane], timed)

    def throttled(self) -> bool:
        """True while a call waits for training: generation used up its CPU share ("shared"), or it only
        gets the CPU training leaves ("idle")."""
        return self.policy == "idle" or (self.policy == "shared" and self._cpu.share() >= self.share)

    def state(self) -> dict[str, Any]:
        """What a waiting caller may want to know: calls queued, calls computing, and `throttled`."""
        with self._lock:
            counts = dict(self._counts)
        return {**counts, "limit": self.limit, "policy": self.policy, "throttled": self.throttled()}

    def _lane(self) -> Priority:
        return "normal" if self.policy == "shared" else self.policy

    def _wait_for_share(self) -> None:
        """Under "shared", hold the call (on its own thread) until generation is back under its share."""
        while self.policy == "shared" and (wait := self._cpu.wait_s(self.share)) > 0:
            time.sleep(wait)

    def _count(self, key: str, delta: int) -> None:
        with self._lock:
            self._counts[key] += delta


def _init_thread(priority: Priority, torch_threads: int | None) -> None:
    set_thread_priority(priority)
    if torch_threads is not None:
        import torch

        # process-wide: the web process runs no other torch work worth more threads
        torch.set_num_threads(torch_threads)


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
