"""`pokegan worker`: one Celery worker process (solo pool: one task at a time, torch never forked)."""

from __future__ import annotations

import argparse
import uuid

from core.queue import DATASETS_QUEUE
from core.settings import Settings


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "worker", help="run a training/import worker (for compose or a second GPU)"
    )
    parser.add_argument(
        "--queues", help=f"comma list of queues to consume (default: POKEGAN_WORKER_QUEUE,{DATASETS_QUEUE})"
    )
    parser.add_argument(
        "--hostname", help="Celery node name, unique per worker (default: pokegan-<random>@%%h)"
    )
    parser.add_argument("--loglevel", default="INFO")
    parser.set_defaults(handler=run)


def worker_argv(settings: Settings, *, queues: str | None, hostname: str | None, loglevel: str) -> list[str]:
    return [
        "worker",
        "--pool=solo",
        "--concurrency=1",
        f"--queues={queues or default_queues(settings)}",
        f"--hostname={hostname or default_hostname()}",
        f"--loglevel={loglevel}",
        # no broadcast chatter: the filesystem broker would keep a message file per dead worker
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def default_queues(settings: Settings) -> str:
    return f"{settings.worker_queue},{DATASETS_QUEUE}"


def default_hostname() -> str:
    return f"pokegan-{uuid.uuid4().hex[:8]}@%h"


def run(args: argparse.Namespace) -> int:
    from worker.celery_app import make_celery

    settings = Settings()
    settings.ensure_dirs()
    argv = worker_argv(settings, queues=args.queues, hostname=args.hostname, loglevel=args.loglevel)
    make_celery(settings).worker_main(argv)
    return 0
