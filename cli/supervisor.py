"""Keeps one `pokegan worker` child process alive next to the web server, and stops it cleanly."""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
import uuid

log = logging.getLogger("pokegan.serve")

STOP_GRACE_S = 60.0  # a warm shutdown lets the running epoch step end and the run become "interrupted"
MAX_RESTART_DELAY_S = 30.0
PR_SET_PDEATHSIG = 1


class WorkerSupervisor:
    """Starts the worker, restarts it if it dies (with back-off), and stops it on exit."""

    def __init__(self, queues: str, *, env: dict[str, str] | None = None) -> None:
        self.queues = queues
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="pokegan-worker-supervisor", daemon=True)

    def start(self) -> WorkerSupervisor:
        self._spawn()
        self._thread.start()
        return self

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Warm-stop the worker (SIGTERM), then kill it if it has not exited after grace_s."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None or process.poll() is not None:
            return
        log.info("stopping worker pid %s", process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("worker pid %s did not stop within %.0f s; killing it", process.pid, grace_s)
            process.kill()
            process.wait()

    def _spawn(self) -> None:
        command = [
            sys.executable, "-m", "cli", "worker",
            f"--queues={self.queues}",
            f"--hostname=pokegan-serve-{uuid.uuid4().hex[:8]}@%h",
        ]  # fmt: skip
        with self._lock:
            self.process = subprocess.Popen(command, env=self.env, preexec_fn=_die_with_parent)
        log.info("started worker pid %s (queues %s)", self.process.pid, self.queues)

    def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            with self._lock:
                process = self.process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, MAX_RESTART_DELAY_S)
            log.error("worker pid %s exited with %s; restarting in %.0f s", process.pid, code, delay)
            if self._stopping.wait(delay):
                return
            self._spawn()


def _die_with_parent() -> None:
    # if `pokegan serve` is killed outright, its worker gets SIGTERM and ends its run as "interrupted"
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
