"""Database + broker pairs for tests: SQLite + filesystem broker, or Postgres + Redis.

POKEGAN_TEST_BACKEND=postgres switches the integration suites (tests/worker, tests/app) to Postgres and Redis;
`./dev test` runs them a second time that way when both servers answer. Every test gets its own database
(pokegan_test_<random>, dropped afterwards) and its own Redis key prefix, so parallel runs never collide.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "POKEGAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("POKEGAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ("sqlite", "postgres")


def selected_backend() -> str:
    name = os.environ.get("POKEGAN_TEST_BACKEND", "sqlite")
    if name not in BACKENDS:
        raise ValueError(f"POKEGAN_TEST_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
    return name


def backend_params() -> list:
    """pytest params for a `backend` fixture: the selected back-end, marked postgres/redis when it is one."""
    name = selected_backend()
    marks = [pytest.mark.postgres, pytest.mark.redis] if name == "postgres" else []
    return [pytest.param(name, marks=marks, id=name)]


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Backend:
    name: str
    data_dir: Path
    database_url: str | None  # None: SQLite in data_dir
    broker_url: str | None  # None: the filesystem broker in data_dir

    def env(self) -> dict[str, str]:
        """POKEGAN_* variables that point a subprocess (worker, server) at this back-end."""
        env = {"POKEGAN_DATA_DIR": str(self.data_dir)}
        if self.database_url:
            env["POKEGAN_DATABASE_URL"] = self.database_url
        if self.broker_url:
            env["POKEGAN_BROKER_URL"] = self.broker_url
        return env


@contextmanager
def open_backend(name: str, data_dir: Path) -> Iterator[Backend]:
    """A fresh, private back-end of kind `name`; skips the test when its servers are not running."""
    if name == "sqlite":
        yield Backend(name, data_dir, None, None)
        return
    if not (reachable(POSTGRES_ADMIN_URL, 5432) and reachable(REDIS_URL, 6379)):
        pytest.skip("PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are needed for this back-end")
    with postgres_database() as database_url, redis_prefix() as broker_url:
        yield Backend(name, data_dir, database_url, broker_url)


@contextmanager
def postgres_database() -> Iterator[str]:
    """CREATE DATABASE pokegan_test_<random>; yields its URL; drops it (closing stray connections)."""
    name = f"pokegan_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A broker URL whose keys all start with a private prefix; the keys are deleted afterwards."""
    import redis

    prefix = f"pokegan-test-{uuid.uuid4().hex[:12]}:"
    separator = "&" if "?" in REDIS_URL else "?"
    try:
        yield f"{REDIS_URL}{separator}global_keyprefix={prefix}"
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
