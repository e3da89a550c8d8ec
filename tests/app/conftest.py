"""Web tests: each test gets its own Settings (data_dir in tmp_path), app, migrated DB and broker.

With POKEGAN_TEST_BACKEND=postgres the same tests run on a fresh Postgres database and a Redis prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.main import create_app
from core.settings import Settings
from tests.backends import backend_params, open_backend

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(params=backend_params())
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with open_backend(request.param, tmp_path / "data") as backend:
        yield Settings(
            data_dir=backend.data_dir, database_url=backend.database_url, broker_url=backend.broker_url
        )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """HTTP through the real ASGI app; entering it runs the lifespan (Alembic upgrade to head)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(client: TestClient, app: FastAPI) -> Iterator[Session]:
    """A session on the app's own database, for factories and for checking rows."""
    with app.state.sessionmaker() as db_session:
        yield db_session


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright: one per test module."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()
