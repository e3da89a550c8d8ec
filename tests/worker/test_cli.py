"""The `pokegan` command: serve's address guard, migrate, and the worker's Celery arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from cli.main import main
from cli.serve import UnsafeBindError, check_bind
from cli.worker import worker_argv
from core.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("POKEGAN_API_TOKEN", "POKEGAN_DATABASE_URL", "POKEGAN_BROKER_URL", "POKEGAN_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POKEGAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def tables(data_dir: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{data_dir / 'pokegan.db'}")
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_serve_refuses_a_public_address_without_a_token(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    message = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in message and "POKEGAN_API_TOKEN" in message
    assert not (data_dir / "pokegan.db").exists()  # refused before touching anything


def test_only_loopback_is_served_without_a_token() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        check_bind(host, None)
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        with pytest.raises(UnsafeBindError):
            check_bind(host, None)
        with pytest.raises(UnsafeBindError):
            check_bind(host, "")  # an empty token is no token
        check_bind(host, "a-long-random-token")


def test_migrate_upgrades_and_a_downgrade_needs_confirmation(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert {"runs", "metrics", "checkpoints", "datasets"} <= tables(data_dir)
    assert main(["migrate", "downgrade"]) == 2
    assert "--yes" in capsys.readouterr().out
    assert "runs" in tables(data_dir)
    assert main(["migrate", "downgrade", "--yes"]) == 0
    assert "runs" not in tables(data_dir)
    assert main(["migrate", "upgrade"]) == 0
    assert "runs" in tables(data_dir)


def test_the_worker_runs_the_solo_pool_on_the_train_and_datasets_queues() -> None:
    argv = worker_argv(Settings(worker_queue="gpu1"), queues=None, hostname=None, loglevel="INFO")
    assert argv[0] == "worker"
    assert {"--pool=solo", "--concurrency=1", "--queues=gpu1,datasets"} <= set(argv)
    hostname = next(arg for arg in argv if arg.startswith("--hostname="))
    assert hostname.startswith("--hostname=pokegan-") and hostname.endswith("@%h")
    assert hostname != next(
        a
        for a in worker_argv(Settings(), queues=None, hostname=None, loglevel="INFO")
        if a.startswith("--hostname=")
    )  # unique per worker
    only = worker_argv(Settings(), queues="datasets", hostname="importer@%h", loglevel="DEBUG")
    assert {"--queues=datasets", "--hostname=importer@%h", "--loglevel=DEBUG"} <= set(only)
