"""Run a per-file function over many files: in a pool of spawned processes when it pays, inline otherwise.

Decoding SVGs is pure-Python heavy (GIL-bound), so threads would not help; processes are started with
`spawn` (never fork a process that may hold torch or web-server threads) and import only the light
decoding modules, not torch.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from PIL import Image

from datasets.decode import pillow_pixel_limit
from datasets.errors import DatasetError

T = TypeVar("T")
R = TypeVar("R")
ProgressFn = Callable[[int, int], None]

# Starting a worker costs ~0.3 s; below this many files per worker, inline is faster.
MIN_ITEMS_PER_WORKER = 48


def default_workers(n_items: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_items // MIN_ITEMS_PER_WORKER))


def map_files(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    max_pixels: int,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> list[R]:
    """fn(item) for each item, in order; `fn` must be a picklable top-level function (or partial of one)."""
    workers = default_workers(len(items)) if workers is None else workers
    if workers > 1 and len(items) > 1:
        try:
            return _map_in_processes(fn, items, max_pixels, workers, progress)
        except _PoolUnavailable:
            pass
    with pillow_pixel_limit(max_pixels):
        return [_report(fn(item), i, len(items), progress) for i, item in enumerate(items)]


class _PoolUnavailable(Exception):
    pass


def _map_in_processes(
    fn: Callable[[T], R], items: Sequence[T], max_pixels: int, workers: int, progress: ProgressFn | None
) -> list[R]:
    context = multiprocessing.get_context("spawn")
    chunksize = max(1, min(16, len(items) // (workers * 4)))
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(max_pixels,)
    ) as pool:
        try:
            results = pool.map(fn, items, chunksize=chunksize)
        except (AssertionError, OSError) as error:
            # A daemonic process (e.g. a Celery prefork child) may not start children: decode inline.
            raise _PoolUnavailable from error
        try:
            return [_report(result, i, len(items), progress) for i, result in enumerate(results)]
        except BrokenProcessPool as error:
            raise DatasetError(
                "An image-decoding worker process died (out of memory, a crash on a hostile file, or a "
                "script started without an `if __name__ == '__main__':` guard)."
            ) from error


def _init_worker(max_pixels: int) -> None:
    Image.MAX_IMAGE_PIXELS = max_pixels


def _report(result: R, index: int, total: int, progress: ProgressFn | None) -> R:
    if progress is not None:
        progress(index + 1, total)
    return result
