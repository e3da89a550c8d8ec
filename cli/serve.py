"""`pokegan serve`: upgrade the database, start the workers, serve the web app with uvicorn.

Two worker processes: one trains (POKEGAN_WORKER_QUEUE), one imports datasets, so a CSV download does
not wait hours behind a training run.

Without POKEGAN_API_TOKEN the server listens on loopback only: every other address is refused.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from cli.supervisor import WorkerSupervisor
from core.db.migrate import upgrade_to_head
from core.db.session import make_engine, make_sessionmaker
from core.queue import DATASETS_QUEUE
from core.settings import Settings

log = logging.getLogger("pokegan.serve")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class UnsafeBindError(ValueError):
    """Listening beyond this machine without an API token."""


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("serve", help="serve the web app (and start its workers)")
    parser.add_argument("--host", help="address to listen on (default POKEGAN_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default POKEGAN_PORT, 8000)")
    parser.add_argument("--no-worker", action="store_true", help="web only; workers run elsewhere (compose)")
    parser.set_defaults(handler=run)


def check_bind(host: str, api_token: str | None) -> None:
    """Refuse a non-loopback address unless an API token protects the writes and downloads."""
    if host not in LOOPBACK_HOSTS and not api_token:
        raise UnsafeBindError(
            f"refusing to listen on {host}: without POKEGAN_API_TOKEN anyone who can reach that address "
            "could start, delete and download runs. Set POKEGAN_API_TOKEN to a long random string, "
            "or serve on 127.0.0.1."
        )


def run(args: argparse.Namespace) -> int:
    overrides = {
        name: value for name, value in (("host", args.host), ("port", args.port)) if value is not None
    }
    settings = Settings(**overrides)
    try:
        check_bind(settings.host, settings.api_token)
    except UnsafeBindError as exc:
        print(f"pokegan: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    announce(settings, with_worker=not args.no_worker)
    upgrade_to_head(settings)
    serve(settings, with_worker=not args.no_worker)
    return 0


def announce(settings: Settings, *, with_worker: bool) -> None:
    access = (
        "API token required for writes and downloads"
        if settings.api_token
        else "no POKEGAN_API_TOKEN: listening on this machine only (127.0.0.1); set a token to serve others"
    )
    worker = "with a training and an import worker" if with_worker else "web only (--no-worker)"
    print(f"pokegan: http://{settings.host}:{settings.port} - {access}; {worker}", flush=True)


def serve(settings: Settings, *, with_worker: bool) -> None:
    """Run uvicorn in this process until SIGINT/SIGTERM, with the worker and the lost-run watch beside it."""
    import uvicorn

    from worker.recovery import watch_lost_runs

    engine = make_engine(settings)
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_lost_runs,
        args=(settings, make_sessionmaker(engine), stop),
        name="lost-runs",
        daemon=True,
    )
    supervisors = (
        [WorkerSupervisor(settings.worker_queue).start(), WorkerSupervisor(DATASETS_QUEUE).start()]
        if with_worker
        else []
    )
    # uvicorn re-raises the signal that stopped it once it is done; turn SIGTERM into SystemExit so the
    # `finally` below still stops the worker (SIGINT already arrives as KeyboardInterrupt)
    signal.signal(signal.SIGTERM, _exit)
    watcher.start()
    try:
        uvicorn.run(
            "app.main:create_app", factory=True, host=settings.host, port=settings.port, log_level="info"
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the worker's stop short
        stop.set()
        for supervisor in supervisors:
            supervisor.stop()
        engine.dispose()


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(0)
