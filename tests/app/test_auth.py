"""With an API token configured, writes and artifact downloads need it; reads and pages stay open."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.auth import cookie_value, csrf_token
from app.main import create_app
from core.settings import Settings
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


def logged_in(client: TestClient) -> str:
    """Log this client in and return the CSRF token its pages carry."""
    client.post("/login", data={"token": TOKEN, "next": "/"})
    match = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', client.get("/").text)
    assert match, "a logged-in page carries the CSRF token"
    return match.group(1)


def run_exists(client: TestClient, run_id: int) -> bool:
    return client.get(f"/api/runs/{run_id}").status_code == 200


def test_cookie_writes_need_the_pages_csrf_token(locked) -> None:
    client, _ = locked
    with client.app_state.sessionmaker() as session:
        run_id = make_run(session, make_dataset(session), status="completed").id
    csrf = logged_in(client)
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": ""}):
        refused = client.delete(f"/api/runs/{run_id}", headers=headers)
        assert refused.status_code == 403, headers
        assert "CSRF token" in refused.json()["detail"]
    htmx = client.delete(f"/runs/{run_id}", headers={"HX-Request": "true"})
    assert htmx.status_code == 403
    assert run_exists(client, run_id)
    assert client.delete(f"/api/runs/{run_id}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert not run_exists(client, run_id)


def test_plain_form_posts_carry_the_token_as_a_field(locked) -> None:
    client, _ = locked
    with client.app_state.sessionmaker() as session:
        dataset_id = make_dataset(session, image_count=64).id
    logged_in(client)
    page = client.get("/runs/new").text
    field = re.search(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">', page)
    assert field
    form = {"dataset_id": str(dataset_id), "name": "form run", "epochs": "2", "batch_size": "8"}
    refused = client.post("/runs/new", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/api/runs").json() == []
    created = client.post("/runs/new", data={**form, "csrf_token": field.group(1)}, follow_redirects=False)
    assert created.status_code == 303  # the route still read the body the guard looked into
    run_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert client.get(f"/api/runs/{run_id}").json()["name"] == "form run"


def test_token_clients_need_no_csrf_token(locked) -> None:
    client, _ = locked
    with client.app_state.sessionmaker() as session:
        run_id = make_run(session, make_dataset(session), status="completed").id
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://elsewhere.example"}
    assert client.delete(f"/api/runs/{run_id}", headers=headers).status_code == 204


def test_cookie_writes_from_another_origin_are_refused(locked) -> None:
    client, _ = locked
    with client.app_state.sessionmaker() as session:
        run_id = make_run(session, make_dataset(session)).id
    csrf = logged_in(client)
    for origin in ("http://evil.example", "http://testserver:8080", "https://testserver.evil", "null"):
        refused = client.post(f"/api/runs/{run_id}/cancel", headers={"X-CSRF-Token": csrf, "Origin": origin})
        assert refused.status_code == 403, origin
        assert "cross-origin" in refused.json()["detail"]
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "queued"
    same = client.post(
        f"/api/runs/{run_id}/cancel", headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"}
    )
    assert same.status_code == 202


def test_pages_give_the_csrf_token_only_to_browsers_that_may_write(locked) -> None:
    client, settings = locked
    out = client.get("/").text
    assert csrf_token(settings) not in out
    assert '<meta name="csrf-token" content="">' in out
    csrf = logged_in(client)
    page = client.get("/").text
    assert csrf == csrf_token(settings) != cookie_value(settings)
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in page
    assert cookie_value(settings) not in page and TOKEN not in page
    assert 'name="csrf_token"' not in client.get("/login").text  # logging in needs no CSRF token


def test_without_a_token_writes_need_no_csrf_token_but_other_sites_are_refused(client: TestClient) -> None:
    page = client.get("/").text
    assert re.search(r'<meta name="csrf-token" content="[0-9a-f]+">', page)  # sent, harmlessly
    plain = client.post("/api/runs", json={"dataset_id": 5})
    assert plain.status_code == 404  # past the guard: the dataset does not exist
    same = client.post("/api/runs", json={"dataset_id": 5}, headers={"Origin": "http://testserver"})
    assert same.status_code == 404
    # a page on another site cannot drive the loopback server through its visitor's browser
    elsewhere = client.post("/api/runs", json={"dataset_id": 5}, headers={"Origin": "http://x.example"})
    assert elsewhere.status_code == 403
    assert "cross-origin" in elsewhere.json()["detail"]
