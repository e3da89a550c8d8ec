"""GET /healthz: 200 when the database and broker answer, 503 naming the one that does not."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from app.main import create_app
from core.settings import Settings


def test_healthy(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_unreachable_redis_broker_is_named(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data", broker_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


def test_unusable_filesystem_broker_is_named(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        shutil.rmtree(settings.broker_dir)
        settings.broker_dir.write_text("a file where the broker folder should be")
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"].startswith("error")


def test_unreachable_database_is_named(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.engine.dispose()
        (settings.data_dir / "pokegan.db").unlink()
        (settings.data_dir / "pokegan.db").mkdir()  # a folder where the file was: SQLite cannot open it
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "ok"
    assert response.json()["database"].startswith("error")
