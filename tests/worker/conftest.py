"""Fixtures for worker tests: a private back-end per test, migrated, with a session factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.db.migrate import upgrade_to_head
from core.db.session import make_engine, make_sessionmaker
from core.settings import Settings
from tests.backends import Backend, backend_params, open_backend

# Short enough that lost-worker tests finish quickly, long enough for a busy CI machine.
HEARTBEAT_INTERVAL_S = 0.5
WORKER_LOST_AFTER_S = 20.0


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with open_backend(request.param, tmp_path_factory.mktemp("pokegan") / "data") as opened:
        yield opened


@pytest.fixture
def settings(backend: Backend) -> Settings:
    settings = Settings(
        data_dir=backend.data_dir,
        database_url=backend.database_url,
        broker_url=backend.broker_url,
        heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
        worker_lost_after_s=WORKER_LOST_AFTER_S,
    )
    upgrade_to_head(settings)
    return settings


@pytest.fixture
def session_factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings)
    yield make_sessionmaker(engine)
    engine.dispose()
