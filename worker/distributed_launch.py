"""The training task for a run with world_size > 1: torchrun as a child process, one rank per GPU.

Celery's prefork children are daemonic and cannot have children of their own through multiprocessing, so
the task starts `python -m torch.distributed.run` (torchrun) with subprocess in a session of its own and
waits on it. Rank 0 (worker/rank.py) trains under this task's identity and records the outcome. What
reaches every rank: cancel (rank 0 reads the flag, the ranks agree each iteration), warm shutdown (SIGTERM
to torchrun's group, which torchrun passes to its ranks), worker loss (torchrun gets SIGTERM when this
process dies, each rank SIGKILL when torchrun dies). A rank that dies ends torchrun; the run is marked
interrupted with the rank and the reason torchrun reports, and resumes from its last checkpoint.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import select as io_select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Checkpoint, Event, Run
from core.run_status import FAILED, INTERRUPTED, RUNNING, transition
from core.settings import Settings
from models.config import TrainConfig
from models.errors import TrainingError
from worker.rank import PEER_LOST_EXIT, SIGTERM_LINE, write_launch
from worker.recovery import process_is_gone
from worker.training import ClaimedRun, worker_config

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
RANKS_LOG = "ranks.log"
POLL_S = 0.2
_libc = ctypes.CDLL(None, use_errno=True)  # resolved before any fork: the child only calls it


def torchrun_command(config: TrainConfig, run_id: int, identity: str) -> list[str]:
    """torchrun (the same program as the `torchrun` script) starting worker.rank on this host's share."""
    per_host = config.world_size // config.nnodes
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(per_host)]
    if config.nnodes == 1:
        command.append("--standalone")
    else:
        command += ["--nnodes", str(config.nnodes), "--rdzv-backend", "c10d"]
        command += ["--rdzv-endpoint", config.rendezvous, "--rdzv-id", f"pokegan-run-{run_id}"]
    command += ["--max-restarts", "0", "-m", "worker.rank", str(run_id), identity, config.device]
    return command


def run_distributed(
    settings: Settings,
    session_factory: sessionmaker[Session],
    claimed: ClaimedRun,
    identity: str,
    *,
    shutdown: threading.Event | None = None,
) -> str | None:
    """Train a claimed world_size > 1 run through torchrun; returns the status it ended in."""
    shutdown = shutdown or threading.Event()
    try:
        config = worker_config(claimed.config, settings)
    except TrainingError as exc:
        return _mark(session_factory, claimed.run_id, identity, FAILED, str(exc))
    run_dir = settings.run_dir(claimed.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_launch(run_dir, claimed)
    log_path = run_dir / RANKS_LOG
    command = torchrun_command(config, claimed.run_id, identity)
    log.info("run %s: %s", claimed.run_id, " ".join(command))
    with log_path.open("ab") as out:
        log_start = out.tell()  # the log keeps earlier launches of this run: watch only this one's ranks
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_term_with_parent,
        )
    watch = RankWatch(log_path, log_start, claimed.run_id, config.world_size)
    returncode = _wait(process, shutdown, watch)
    _kill_leftover_ranks(log_path, claimed.run_id)
    if returncode == 0:
        return _status(session_factory, claimed.run_id)
    if shutdown.is_set():
        reason = "the worker shut down; the run continues from its last checkpoint when a worker starts"
    else:
        named = failed_rank(log_path.read_text(errors="replace"), first_gone=watch.first_gone)
        reason = f"{named}; it resumes from its last checkpoint"
    return _mark(session_factory, claimed.run_id, identity, INTERRUPTED, reason, event="rank_failed")


def _term_with_parent() -> None:
    _libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG: torchrun hears when the task dies


def _wait(process: subprocess.Popen[bytes], shutdown: threading.Event, watch: RankWatch) -> int:
    """Wait for torchrun; on warm shutdown pass SIGTERM to it (it stops its ranks at a checkpoint)."""
    signalled = False
    try:
        while process.poll() is None:
            if shutdown.is_set() and not signalled:
                signalled = True
                os.killpg(process.pid, signal.SIGTERM)
            watch.wait(POLL_S)
    finally:
        watch.close()
    return process.returncode


class RankWatch:
    """Which rank process went first. torchrun's summary cannot tell: it stamps failures to the second, and
    a rank blocked in a collective when its peer dies is SIGKILLed too (its SIGTERM handler never runs).
    The ranks are torchrun's children, not ours, so we hold a pidfd on each: select wakes on the first exit,
    well before torchrun has noticed it and stopped the others."""

    def __init__(self, log_path: Path, log_start: int, run_id: int, world_size: int) -> None:
        self.log_path, self.log_start, self.run_id, self.world_size = log_path, log_start, run_id, world_size
        self.pidfds: dict[int, str] = {}
        self.first_gone: str | None = None
        self.decided = False

    def wait(self, timeout: float) -> None:
        if self.decided or not self._watching():
            time.sleep(timeout)
            return
        gone, _, _ = io_select.select(list(self.pidfds), [], [], timeout)
        if gone:
            self.decided = True  # two at once cannot be ordered: leave it to torchrun's summary
            self.first_gone = self.pidfds[gone[0]] if len(gone) == 1 else None

    def _watching(self) -> bool:
        if not self.pidfds:
            with self.log_path.open("rb") as log_file:
                log_file.seek(self.log_start)
                found = dict(rank_pid_pairs(log_file.read().decode(errors="replace"), self.run_id))
            if len(found) == self.world_size:
                self._open(found)
        return bool(self.pidfds)

    def _open(self, pids: dict[str, int]) -> None:
        for rank, pid in pids.items():
            try:
                self.pidfds[os.pidfd_open(pid)] = rank
            except ProcessLookupError:  # already gone before we looked: its order is unknown
                self.close()
                self.decided = True
                return

    def close(self) -> None:
        for fd in self.pidfds:
            os.close(fd)
        self.pidfds = {}


def rank_pid_pairs(log_text: str, run_id: int) -> list[tuple[str, int]]:
    """(rank, pid) of every "rank R pid P run N" line worker.rank logged for run N, in log order."""
    found = re.findall(rf"^rank (\d+) pid (\d+) run {run_id}$", log_text, re.M)
    return [(rank, int(pid)) for rank, pid in found]


def rank_pids(log_text: str, run_id: int) -> list[int]:
    return [pid for _, pid in rank_pid_pairs(log_text, run_id)]


def _kill_leftover_ranks(log_path: Path, run_id: int) -> None:
    """torchrun has exited; make sure none of its ranks outlive it (PDEATHSIG should already have)."""
    for pid in rank_pids(log_path.read_text(errors="replace"), run_id):
        cmdline = Path(f"/proc/{pid}/cmdline")
        try:
            ours = b"worker.rank" in cmdline.read_bytes()
        except OSError:
            continue
        if ours and not process_is_gone(pid):
            log.warning("run %s: rank process %s outlived torchrun; killing it", run_id, pid)
            os.kill(pid, signal.SIGKILL)


FAILURE = re.compile(r"rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+).*?traceback\s*:\s*(.+?)\s*$", re.S | re.M)
FOLLOW_ON_EXITS = {PEER_LOST_EXIT, -int(signal.SIGTERM)}  # stopped because another rank failed


def failed_rank(log_text: str, *, first_gone: str | None = None) -> str:
    """Which rank failed and why, from torchrun's failure summary: the first that did not merely stop
    because another rank had gone (torchrun's "root cause" is only the earliest by the second): not one
    that exited as a follow-on, nor one that logged torchrun's SIGTERM before it was killed."""
    summary = log_text[log_text.rfind("worker.rank FAILED") :]
    failures = FAILURE.findall(summary) if "worker.rank FAILED" in log_text else []
    if not failures:
        tail = log_text.strip().splitlines()[-1:] or ["no output"]
        return f"torchrun ended without naming a failed rank ({tail[0][:200]})"
    asked_to_stop = set(re.findall(rf"^{re.escape(SIGTERM_LINE)} (\d+)$", log_text, re.M))
    follow_on = [f for f in failures if int(f[1]) in FOLLOW_ON_EXITS or f[0] in asked_to_stop]
    seen_first = [f for f in failures if f[0] == first_gone]  # the task watched it go before the others
    cause = next(iter(seen_first), None) or next((f for f in failures if f not in follow_on), failures[-1])
    rank, exitcode, why = cause
    if why.startswith("To enable traceback") or why.startswith("Traceback"):
        why = f"exit code {exitcode} (its traceback is in {RANKS_LOG})"
    return f"rank {rank} failed: {why[:300]}"


def _status(session_factory: sessionmaker[Session], run_id: int) -> str | None:
    with session_factory() as session:
        run = session.get(Run, run_id)
        return run.status if run is not None else None


def _mark(
    session_factory: sessionmaker[Session],
    run_id: int,
    identity: str,
    status: str,
    reason: str,
    *,
    event: str | None = None,
) -> str | None:
    """Record `status` if the run is still running here (rank 0 may have recorded an outcome already)."""
    with session_scope(session_factory) as session:
        run = session.get(Run, run_id, populate_existing=True)
        if run is None or run.status != RUNNING or run.worker != identity:
            return None
        transition(session, run, status, error=reason)
        if event is not None:  # at the step it resumes from, so the resume's truncation keeps it
            step = session.scalar(select(func.max(Checkpoint.step)).where(Checkpoint.run_id == run_id)) or 0
            session.add(Event(run_id=run_id, step=step, kind=event, severity="error", message=reason))
    log.warning("run %s %s: %s", run_id, status, reason)
    return status
