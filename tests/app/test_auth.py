"""With an API token configured, writes and artifact downloads need it; reads and pages stay open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.factories import add_grid, make_dataset, make_run

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def locked(tmp_path) -> Iterator[tuple[TestClient, Settings]]:
    settings = Settings(data_dir=tmp_path / "data", api_token=TOKEN)
    app = create_app(settings)
    with TestClient(app) as client:
        client.app_state = app.state  # type: ignore[attr-defined]
        yield client, settings


def test_writes_need_the_token(locked) -> None:
    client, _ = locked
    refused = client.post("/api/runs", json={"dataset_id": 1})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "API token" in refused.json()["detail"]
    allowed = client.post("/api/runs", json={"dataset_id": 1}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 404  # past the guard: the dataset does not exist
    wrong = client.post("/api/runs", json={"dataset_id": 1}, headers={"X-API-Token": "nope"})
    assert wrong.status_code == 401


def test_reads_stay_open_but_artifacts_need_the_token(locked) -> None:
    client, settings = locked
    with client.app_state.sessionmaker() as session:
        run = make_run(session, make_dataset(session))
        add_grid(session, settings, run, 1)
        run_id = run.id
    assert client.get("/api/runs").status_code == 200
    assert client.get(f"/runs/{run_id}").status_code == 200
    assert client.get(f"/api/runs/{run_id}/grids/1.png").status_code == 401
    headers = {"X-API-Token": TOKEN}
    assert client.get(f"/api/runs/{run_id}/grids/1.png", headers=headers).status_code == 200


def test_browser_login_sets_a_cookie_that_unlocks(locked) -> None:
    client, settings = locked
    with client.app_state.sessionmaker() as session:
        run = make_run(session, make_dataset(session))
        add_grid(session, settings, run, 1)
        run_id = run.id
    page = client.get(
        f"/api/runs/{run_id}/grids/1.png", headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    bad = client.post("/login", data={"token": "wrong", "next": "/"})
    assert bad.status_code == 401 and "not right" in bad.text
    ok = client.post("/login", data={"token": TOKEN, "next": "//evil.example"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert TOKEN not in ok.headers["set-cookie"]
    assert client.get(f"/api/runs/{run_id}/grids/1.png").status_code == 200
    client.post("/logout")
    assert client.get(f"/api/runs/{run_id}/grids/1.png").status_code == 401


def test_no_token_configured_means_open(client: TestClient) -> None:
    assert client.post("/api/runs", json={"dataset_id": 5}).status_code == 404


def test_top_bar_offers_log_in_then_log_out(locked) -> None:
    client, _ = locked
    assert 'href="/login?next=/"' in client.get("/").text
    client.post("/login", data={"token": TOKEN, "next": "/"})
    assert 'action="/logout"' in client.get("/").text
