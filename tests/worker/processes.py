"""Real `pokegan worker` processes for tests, and a polling helper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment a worker needs to share `settings` with the test (one torch thread: shared CI box)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POKEGAN_")}
    env.update(
        POKEGAN_DATA_DIR=str(settings.data_dir),
        POKEGAN_HEARTBEAT_INTERVAL_S=str(settings.heartbeat_interval_s),
        POKEGAN_WORKER_LOST_AFTER_S=str(settings.worker_lost_after_s),
        POKEGAN_WORKER_QUEUE=settings.worker_queue,
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    if settings.database_url:
        env["POKEGAN_DATABASE_URL"] = settings.database_url
    if settings.broker_url:
        env["POKEGAN_BROKER_URL"] = settings.broker_url
    if settings.allow_private_urls:
        env["POKEGAN_ALLOW_PRIVATE_URLS"] = "true"
    return env


def start_worker(settings: Settings, log_path: Path, *extra_args: str) -> subprocess.Popen[bytes]:
    """`python -m cli worker` (the same entry point as `pokegan worker`), logging to log_path."""
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", *extra_args],
        cwd=ROOT,
        env=worker_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """Warm shutdown (SIGTERM), then SIGKILL if it hangs; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextmanager
def running_worker(settings: Settings, log_path: Path, *extra_args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(settings, log_path, *extra_args)
    try:
        yield process
    finally:
        stop_worker(process)


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    log_path: Path | None = None,
) -> T:
    """Poll probe() until it returns something truthy; fail with `what` (and the worker log) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    tail = ""
    if log_path is not None and log_path.exists():
        tail = "\n--- worker log (tail) ---\n" + "\n".join(
            log_path.read_text(errors="replace").splitlines()[-40:]
        )
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
