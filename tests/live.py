"""A real pokegan stack for HTTP and browser tests: `pokegan serve` (web + one Celery worker) in a subprocess.

    with live_stack(tmp_path) as (base_url, data_dir, proc):
        httpx.get(f"{base_url}/healthz")

It listens on a free loopback port with its own POKEGAN_DATA_DIR (SQLite + the filesystem broker unless
database_url/broker_url are given), waits until /healthz answers 200, and on exit stops the server, which
stops its worker; anything left in its process group is killed. The server's output is in data_dir/serve.log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0


class LiveStack(NamedTuple):
    base_url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_env(
    data_dir: Path,
    port: int,
    *,
    database_url: str | None = None,
    broker_url: str | None = None,
    torch_threads: int | None = 1,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The server's environment: this one without POKEGAN_* settings, plus the stack's own.
    torch_threads sets OMP_NUM_THREADS (1 by default: a shared CI machine); None leaves it as it is here,
    as `./dev serve` does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POKEGAN_")}
    env.update(
        POKEGAN_DATA_DIR=str(data_dir),
        POKEGAN_HOST="127.0.0.1",
        POKEGAN_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    if torch_threads is not None:
        env["OMP_NUM_THREADS"] = str(torch_threads)
    if database_url:
        env["POKEGAN_DATABASE_URL"] = database_url
    if broker_url:
        env["POKEGAN_BROKER_URL"] = broker_url
    env.update(extra or {})
    return env


@contextmanager
def live_stack(
    tmp_path: Path | None = None,
    *,
    database_url: str | None = None,
    broker_url: str | None = None,
    worker: bool = True,
    env: Mapping[str, str] | None = None,
    torch_threads: int | None = 1,
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[LiveStack]:
    """Start `pokegan serve` and yield (base_url, data_dir, proc); `env` adds POKEGAN_* settings."""
    own_dir = tmp_path is None
    root = Path(tempfile.mkdtemp(prefix="pokegan-live-")) if tmp_path is None else Path(tmp_path)
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "cli", "serve", "--port", str(port)]
    if not worker:
        command.append("--no-worker")
    log_path = data_dir / "serve.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=stack_env(
                data_dir,
                port,
                database_url=database_url,
                broker_url=broker_url,
                torch_threads=torch_threads,
                extra=env,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the worker can be cleaned up with it
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, proc, log_path, startup_timeout)
        yield LiveStack(base_url, data_dir, proc)
    finally:
        stop_stack(proc)
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def stop_stack(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> int | None:
    """SIGTERM the server (it stops its worker first), then kill whatever is left of its process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait()
    return proc.returncode


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pokegan serve exited with {proc.returncode}{_tail(log_path)}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"pokegan serve was not healthy after {timeout:.0f} s (last: {last}){_tail(log_path)}")


def _tail(log_path: Path, lines: int = 40) -> str:
    if not log_path.exists():
        return ""
    text = log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- serve.log (tail) ---\n" + "\n".join(text)
