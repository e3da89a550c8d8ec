"""What a new user runs into on the pages: unknown URLs, live panels after Resume, forms, uploads."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.run_timing import elapsed_seconds
from app.templating import EVENT_RUN_CHANGED
from core.run_status import transition
from core.settings import Settings
from tests.app.factories import add_grid, image_zip, make_dataset, make_run, png_bytes, zip_bytes

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


def test_new_run_form_opens_on_the_recommended_preset_and_explains_the_archs(
    client: TestClient, session: Session
) -> None:
    make_dataset(session)
    page = client.get("/runs/new").text
    assert re.search(r'<option value="recommended"\s+selected', page)
    assert re.search(r'name="ngf"[^>]*value="16"', page)  # recommended = fastgan-64, widths 16
    custom = client.get("/runs/new", params={"preset": ""}).text  # "custom (defaults)" stays a choice
    assert re.search(r'<option value=""\s+selected', custom) and re.search(
        r'name="ngf"[^>]*value="64"', custom
    )
    assert "dcgan64 — classic, 64 px</option>" in page
    assert "At 64 px dcgan and dcgan64 build the same network" in page
    assert "None = off" not in page and "Leave empty for none" in page


def test_estimate_says_so_for_invalid_epochs_and_tiny_datasets(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, image_count=20)
    config = {"arch": "dcgan64", "image_size": 64}
    make_run(session, dataset, status="completed", images_per_s=200.0, config=config)
    query = {"dataset_id": dataset.id, "arch": "dcgan64", "image_size": 64}
    negative = client.get("/runs/new/estimate", params={**query, "epochs": -1}, headers=HX).text
    assert "epochs must be at least 1" in negative and "-" not in negative.split(">", 1)[1].split("<")[0]
    tiny = client.get("/runs/new/estimate", params={**query, "epochs": 10}, headers=HX).text
    assert "under 1s</strong> per epoch" in tiny and "0s" not in tiny  # 20 images at 200 img/s
    assert "1s in all" in tiny  # 10 x 0.1 s


def test_size_that_does_not_fit_the_arch_is_shown_at_the_field_from_the_first_submit(
    client: TestClient, session: Session
) -> None:
    dataset = make_dataset(session)
    form = {"dataset_id": str(dataset.id), "preset": "", "arch": "dcgan64", "image_size": "72", "lr_g": "7"}
    response = client.post("/runs/new", data=form, headers=HX)
    assert response.status_code == 422
    text = response.text
    assert 'id="error-image_size"' in text and "image 72x72 does not fit arch" in text
    assert 'id="error-lr_g"' in text  # beside the other field's error, not after it is fixed
    assert "Value error" not in text
    assert re.search(
        r'id="f-image_size"[^>]*aria-invalid="true" aria-describedby="error-image_size"', text, re.S
    )
    network = re.search(r'<details class="more" ([^>]*)>\s*<summary>Network</summary>', text)
    assert network and "open" in network.group(1)
    assert (
        "Check the highlighted fields: image size, lr g." in text
        or "Check the highlighted fields: lr g, image size." in text
    )
    fixed = client.post("/runs/new", data={**form, "lr_g": "0.0002"}, headers=HX).text
    assert 'id="error-image_size"' in fixed and fixed.count("does not fit arch") == 1  # not again at the top
    assert not re.search(r'id="f-lr_g"[^>]*aria-invalid', fixed, re.S)


def test_upload_result_counts_without_a_stray_space(client: TestClient) -> None:
    ok = client.post("/datasets", data={"name": "z"}, files={"file": ("a.zip", image_zip(3))}, headers=HX)
    assert ok.status_code == 201
    assert "3 images imported." in ok.text and "imported ." not in ok.text
    page = client.get("/datasets").text
    assert 'id="upload-progress"' in page and "js/datasets_page.js" in page


def test_text_renamed_to_zip_is_not_a_valid_zip_archive(client: TestClient) -> None:
    refused = client.post(
        "/datasets", data={"name": "t"}, files={"file": ("notes.zip", b"just some notes\n")}, headers=HX
    )
    assert refused.status_code == 422
    assert "notes.zip is not a valid zip archive: it holds plain text." in refused.text


def test_dataset_preview_is_in_natural_order(client: TestClient, session: Session) -> None:
    names = ["sprite-10.png", "sprite-2.png", "sprite-1.png", "sprite-100.png"]
    archive = zip_bytes({name: png_bytes(i) for i, name in enumerate(names)})
    created = client.post("/api/datasets", data={"name": "n"}, files={"file": ("n.zip", archive)})
    assert created.status_code == 201, created.text
    page = client.get(f"/datasets/{created.json()['id']}").text
    shown = re.findall(r'/thumbs/(sprite-\d+)\.png\.png"', page)
    assert shown == ["sprite-1", "sprite-2", "sprite-10", "sprite-100"]


def test_elapsed_counts_only_the_time_spent_running(session: Session, client: TestClient) -> None:
    run = make_run(session, make_dataset(session), status="queued")
    transition(session, run, "running")
    run.running_since -= timedelta(seconds=60)  # it trained for a minute...
    transition(session, run, "cancelled")
    session.commit()
    run.started_at -= timedelta(hours=1)  # ...and then sat cancelled for an hour
    assert elapsed_seconds(run) == pytest.approx(60, abs=1)
    transition(session, run, "queued")
    transition(session, run, "running")
    run.running_since -= timedelta(seconds=30)  # resumed 30 s ago
    assert elapsed_seconds(run) == pytest.approx(90, abs=1)
    run.heartbeat_at = run.running_since + timedelta(seconds=10)
    transition(session, run, "interrupted")  # the worker was lost 10 s into the spell
    assert elapsed_seconds(run) == pytest.approx(70, abs=1)
    session.commit()
    assert client.get(f"/api/runs/{run.id}").json()["elapsed_s"] == pytest.approx(70, abs=1)


def test_compare_shows_dataset_and_preset_rows(client: TestClient, session: Session) -> None:
    a = make_run(session, make_dataset(session, name="gen 1"), status="completed", preset="recommended")
    b = make_run(session, make_dataset(session, name="gen 2"), status="completed")
    compare = client.get("/compare", params=[("run", a.id), ("run", b.id)]).text
    dataset_row = re.search(r'<tr class="diff"><td class="mono">dataset</td>(.*?)</tr>', compare, re.S)
    assert dataset_row and "gen 1 (32 images)" in dataset_row.group(1) and "gen 2" in dataset_row.group(1)
    preset_row = re.search(r'<tr class="diff"><td class="mono">preset</td>(.*?)</tr>', compare, re.S)
    assert preset_row and "recommended" in preset_row.group(1) and "custom" in preset_row.group(1)


def test_clone_suggests_a_name_that_follows_a_preset_change(client: TestClient, session: Session) -> None:
    source = make_run(session, make_dataset(session, name="gen 1"), name="orig", status="completed")
    other = make_dataset(session, name="gen 2")
    clone = client.get("/runs/new", params={"clone": source.id}).text
    assert re.search(r'id="f-suggested" name="suggested_name" value="orig \(copy\)"', clone)
    assert 'data-name="gen 2"' in clone and "js/new_run_page.js" in clone
    # the preset select re-renders the form with the dataset, name and suggestion: the suggestion follows
    params = {
        "preset": "cards",
        "dataset_id": other.id,
        "name": "orig (copy)",
        "suggested_name": "orig (copy)",
    }
    followed = client.get("/runs/new", params=params, headers=HX).text
    assert 'value="gen 2 · cards"' in followed
    typed = client.get("/runs/new", params={**params, "name": "mine"}, headers=HX).text
    assert 'id="f-name" type="text" name="name" value="mine"' in typed


def test_rename_and_delete_a_dataset_from_its_page(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, name="old name")
    page = client.get(f"/datasets/{dataset.id}").text
    assert 'id="rename-form"' in page and 'id="delete-dataset"' in page and "hx-confirm=" in page
    renamed = client.post(f"/datasets/{dataset.id}/rename", data={"name": "  new name "}, headers=HX)
    assert renamed.status_code == 200 and '<h1 id="dataset-title">new name</h1>' in renamed.text
    assert renamed.headers["HX-Trigger"] == "datasets-changed"
    empty = client.post(f"/datasets/{dataset.id}/rename", data={"name": " "}, headers=HX)
    assert empty.status_code == 422 and "give the dataset a name" in empty.text
    assert 'aria-invalid="true"' in empty.text
    run = make_run(session, dataset, name="uses it", status="completed")
    refused = client.delete(f"/datasets/{dataset.id}", headers=HX)
    assert refused.status_code == 409
    assert f"Runs use this dataset: #{run.id} uses it. Delete those runs first" in refused.text
    client.delete(f"/api/runs/{run.id}")
    deleted = client.delete(f"/datasets/{dataset.id}", headers=HX)
    assert deleted.status_code == 204 and deleted.headers["HX-Redirect"] == "/datasets"
    assert client.get(f"/api/datasets/{dataset.id}").status_code == 404


def test_api_renames_a_dataset_and_refuses_an_empty_patch(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, name="a")
    renamed = client.patch(f"/api/datasets/{dataset.id}", json={"name": "b"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "b"
    both = client.patch(f"/api/datasets/{dataset.id}", json={"name": "c", "prepare": {"fit": "nope"}})
    assert both.status_code == 422
    assert client.get(f"/api/datasets/{dataset.id}").json()["name"] == "b"  # nothing changed
    assert client.patch(f"/api/datasets/{dataset.id}", json={}).status_code == 422
