"""map_files: a process pool when it can, inline where children are not allowed (Celery prefork)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue

from datasets.parallel import map_files


def test_pool_keeps_the_order() -> None:
    seen: list[tuple[int, int]] = []
    result = map_files(abs, [-3, -1, -2], max_pixels=10, workers=2, progress=lambda n, t: seen.append((n, t)))
    assert result == [3, 1, 2]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def _in_daemon(queue: Queue) -> None:
    queue.put(map_files(abs, [-1, -2, -3, -4], max_pixels=10, workers=2))


def test_daemonic_process_falls_back_to_inline() -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_in_daemon, args=(queue,), daemon=True)
    child.start()
    try:
        assert queue.get(timeout=30) == [1, 2, 3, 4]
    finally:
        child.join(timeout=10)
    assert child.exitcode == 0
