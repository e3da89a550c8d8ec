"""One rank of a world_size > 1 run: `python -m worker.rank RUN_ID IDENTITY DEVICE`, started by torchrun
from the training task (worker/distributed_launch.py).

Rank 0 does what the one-process task does (DB sink, checkpoint store, heartbeat and cancel checks under the
task's identity, detectors) and records the outcome; it sends the config, the images, a conditional run's
labels and any init_from weights to the others, which only train. SIGTERM (worker shutdown, torchrun
closing) stops every rank at the next iteration with a checkpoint; a rank whose torchrun dies is killed by
the kernel (PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from core.db.session import make_engine, make_sessionmaker
from core.settings import Settings
from models.config import TrainConfig
from models.distributed import NullSink, Parallel, RankEnv, peer_lost, process_group, rank_device
from models.errors import TrainingError
from models.train import train
from worker.training import ClaimedRun, train_claimed_run

log = logging.getLogger("worker.rank")
LAUNCH_FILE = "launch.json"  # the claimed run, written by the task for rank 0
PR_SET_PDEATHSIG = 1
PEER_LOST_EXIT = 75  # this rank stopped because another one went away
SIGTERM_LINE = "pokegan: asked to stop (SIGTERM): rank"


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits (Linux; a no-op elsewhere)."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main(argv: list[str]) -> None:
    run_id, identity, device = int(argv[0]), argv[1], argv[2]
    die_with_parent()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s rank %(message)s")
    stop = threading.Event()
    env = RankEnv.from_env()

    def on_sigterm(*_: object) -> None:
        # torchrun sends SIGTERM to the ranks still alive when one fails, and SIGKILL if they do not stop
        # in time: this line tells the launching task that this rank did not fail first.
        print(f"{SIGTERM_LINE} {env.rank}", flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"rank {env.rank} pid {os.getpid()} run {run_id}", flush=True)
    try:
        with process_group(env, rank_device(device, env.local_rank)) as parallel:
            if parallel.is_leader:
                lead(Settings(), run_id, identity, parallel, stop)
            else:
                follow(parallel, stop)
    except Exception as exc:
        if not peer_lost(exc):
            raise
        log.error("%s: another rank is gone: %s", env.rank, str(exc).splitlines()[0][:300])
        sys.exit(PEER_LOST_EXIT)  # the launching task names the rank that failed first, not this one


def lead(settings: Settings, run_id: int, identity: str, parallel: Parallel, stop: threading.Event) -> None:
    claimed = read_launch(settings.run_dir(run_id))
    session_factory = make_sessionmaker(make_engine(settings))
    train_claimed_run(settings, session_factory, claimed, identity, shutdown=stop, parallel=parallel)


def follow(parallel: Parallel, stop: threading.Event) -> None:
    config, data, labels, init_from = parallel.broadcast(None)
    try:
        train(
            TrainConfig.model_validate(config),
            data,
            NullSink(),
            None,  # type: ignore[arg-type]  # parallel.store gives this rank a RankStore without a store
            should_abort=stop.is_set,
            init_from=init_from,
            labels=labels,
            parallel=parallel,
        )
    except TrainingError:
        pass  # every rank meets it at the same step (the losses are averaged); rank 0 records it


def write_launch(run_dir: Path, claimed: ClaimedRun) -> Path:
    path = run_dir / LAUNCH_FILE
    fields = {**claimed.__dict__, "init_from_path": str(claimed.init_from_path or "") or None}
    path.write_text(json.dumps(fields), encoding="utf-8")
    return path


def read_launch(run_dir: Path) -> ClaimedRun:
    fields = json.loads((run_dir / LAUNCH_FILE).read_text(encoding="utf-8"))
    path = fields.pop("init_from_path")
    return ClaimedRun(**fields, init_from_path=Path(path) if path else None)


if __name__ == "__main__":
    main(sys.argv[1:])
