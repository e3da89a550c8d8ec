"""What a new user runs into on the pages: unknown URLs, live panels after Resume, forms, uploads."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.routes.html import EVENT_RUN_CHANGED
from app.settings import Settings
from tests.app.factories import add_grid, make_dataset, make_run

HX = {"HX-Request": "true"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_unknown_url_is_a_page_for_browsers_and_json_for_api_clients(client: TestClient) -> None:
    page = client.get("/nope", headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text and "There is no page at /nope." in page.text
    assert 'class="topbar"' in page.text  # the styled layout, with the menu
    api = client.get("/nope", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    under_api = client.get("/api/nope", headers=BROWSER)
    assert under_api.status_code == 404 and under_api.json() == {"detail": "Not Found"}
    wrong_method = client.put("/datasets", headers=BROWSER)
    assert wrong_method.status_code == 405 and "PUT is not allowed on /datasets." in wrong_method.text


def test_run_page_panels_refresh_on_run_changed_even_when_the_run_has_ended(
    client: TestClient, session: Session, settings: Settings
) -> None:
    run = make_run(session, make_dataset(session), status="cancelled")
    add_grid(session, settings, run, 1)
    page = client.get(f"/runs/{run.id}").text  # the whole page's context has `events` rows too
    assert page.count(f'hx-trigger="{EVENT_RUN_CHANGED} from:body"') == 4  # status grids grad timeline
    for path, interval in (("grids", "every 4s"), ("timeline", "every 5s"), ("grad-flow", "every 5s")):
        ended = client.get(f"/runs/{run.id}/{path}", headers=HX).text
        assert f'hx-trigger="{EVENT_RUN_CHANGED} from:body"' in ended, path  # resume brings it back to life
        run.status = "running"
        session.commit()
        live = client.get(f"/runs/{run.id}/{path}", headers=HX).text
        assert f'hx-trigger="{interval}, {EVENT_RUN_CHANGED} from:body"' in live, path
        run.status = "cancelled"
        session.commit()


def test_api_docs_load_their_scripts_from_this_server(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("http://testserver/static/") for s in sources), sources
        assert "fonts.googleapis" not in page.text and "cdn.jsdelivr" not in page.text
        for source in sources:
            assert client.get(source).status_code == 200, source
