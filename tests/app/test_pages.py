"""HTML pages: whole page or htmx partial, self-stopping polling, forms with inline errors, actions."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config_form import SET_BY_SERVER
from app.templating import EVENT_RUN_CHANGED
from core.db.tables import Run
from core.settings import Settings
from models.config import TrainConfig
from tests.app.factories import TINY_CONFIG, add_grid, image_zip, make_dataset, make_run

HX = {"HX-Request": "true"}


def test_runs_page_and_partial(client: TestClient, session: Session, settings: Settings) -> None:
    dataset = make_dataset(session, name="gen1")
    run = make_run(session, dataset, name="first try", status="running", step=25, total_steps=100)
    add_grid(session, settings, run, 3)
    page = client.get("/")
    assert page.status_code == 200
    assert "<html" in page.text and "first try" in page.text and "gen1" in page.text
    assert f"/api/runs/{run.id}/grids/3.png" in page.text  # last-grid thumbnail
    assert 'style="width: 25.0%"' in page.text  # progress bar
    partial = client.get("/", headers=HX)
    assert "<html" not in partial.text and 'id="runs-table"' in partial.text
    assert 'hx-trigger="every 2s"' in partial.text  # something is active: poll


def test_runs_table_stops_polling_when_nothing_is_active(client: TestClient, session: Session) -> None:
    make_run(session, make_dataset(session), status="completed")
    partial = client.get("/partials/runs", headers=HX)
    assert 'id="runs-table"' in partial.text and "every 2s" not in partial.text


def test_upload_form_shows_result_or_refusal_inline(client: TestClient) -> None:
    ok = client.post(
        "/datasets", data={"name": "zip one"}, files={"file": ("a.zip", image_zip(3))}, headers=HX
    )
    assert ok.status_code == 201
    assert "3 images imported" in ok.text and ok.headers["HX-Trigger"] == "datasets-changed"
    refused = client.post(
        "/datasets", data={"name": "bad"}, files={"file": ("a.zip", b"\x00\x01nope")}, headers=HX
    )
    assert refused.status_code == 422
    assert 'id="upload-error"' in refused.text and "a.zip is not a valid zip archive" in refused.text
    listing = client.get("/datasets")
    assert "zip one" in listing.text and "bad" not in listing.text


def test_dataset_page_shows_count_and_thumbnails(client: TestClient) -> None:
    created = client.post(
        "/api/datasets", data={"name": "tiny"}, files={"file": ("a.zip", image_zip(5))}
    ).json()
    page = client.get(f"/datasets/{created['id']}")
    assert page.status_code == 200
    assert re.search(r'id="image-count">5<', page.text)
    assert page.text.count(f"/api/datasets/{created['id']}/thumbs/") == 5


def test_new_run_form_has_every_config_field_with_defaults(client: TestClient, session: Session) -> None:
    make_dataset(session)
    page = client.get("/runs/new")
    assert page.status_code == 200
    for name in TrainConfig.model_fields:
        assert (f'data-field="{name}"' in page.text) != (name in SET_BY_SERVER), name
    assert 'name="lr_g" step="any"' in page.text and 'value="0.0002"' in page.text


def test_new_run_form_shows_validation_errors_inline(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    response = client.post(
        "/runs/new", data={"dataset_id": str(dataset.id), "lr_g": "7", "epochs": "abc"}, headers=HX
    )
    assert response.status_code == 422
    assert 'id="error-lr_g"' in response.text and "less than or equal to 1" in response.text
    assert 'id="error-epochs"' in response.text
    assert 'value="7.0"' in response.text and 'value="abc"' in response.text  # the input is kept
    assert session.query(Run).count() == 0


def test_new_run_form_refuses_a_too_small_dataset_with_a_sentence(
    client: TestClient, session: Session
) -> None:
    dataset = make_dataset(session, image_count=3)
    response = client.post("/runs/new", data={"dataset_id": str(dataset.id), "batch_size": "8"}, headers=HX)
    assert response.status_code == 422
    assert "3 images, fewer than one batch" in response.text


def test_new_run_form_creates_and_redirects(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, image_count=64)
    form = {"dataset_id": str(dataset.id), "name": "from form", "epochs": "2", "batch_size": "8"}
    response = client.post("/runs/new", data={**form, "bool_on": "spectral_norm"}, headers=HX)
    assert response.status_code == 204
    run_id = int(response.headers["HX-Redirect"].rsplit("/", 1)[1])
    run = session.get(Run, run_id)
    assert run.name == "from form" and run.config["epochs"] == 2 and run.config["spectral_norm"] is True
    assert run.config["channels_last"] is False  # an unchecked box is False
    plain = client.post("/runs/new", data=form, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].startswith("/runs/")


def test_preset_switch_and_clone_prefill_the_form(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    preset = client.get("/runs/new", params={"preset": "recommended"}, headers=HX)
    assert "<html" not in preset.text
    assert re.search(r'<option value="hinge" selected>', preset.text)
    source = make_run(
        session, dataset, name="orig", config=TrainConfig(epochs=7, nz=12).model_dump(mode="json")
    )
    clone = client.get("/runs/new", params={"clone": source.id})
    assert 'value="orig (copy)"' in clone.text
    assert re.search(r'name="nz"[^>]*value="12"', clone.text, re.S)


def test_run_page_polls_while_running_and_stops_after(
    client: TestClient, session: Session, settings: Settings
) -> None:
    run = make_run(session, make_dataset(session), status="running", images_per_s=12.5, worker="w1")
    add_grid(session, settings, run, 1)
    page = client.get(f"/runs/{run.id}")
    assert page.status_code == 200
    assert 'id="chart-loss"' in page.text and 'id="epoch-slider"' in page.text and "12.5" in page.text
    status = client.get(f"/runs/{run.id}/status", headers=HX)
    assert "every 2s" in status.text and 'id="cancel-run"' in status.text
    run.status = "completed"
    session.commit()
    done = client.get(f"/runs/{run.id}/status", headers=HX)
    assert "every 2s" not in done.text and 'id="resume-run"' in done.text
    grids = client.get(f"/runs/{run.id}/grids", headers=HX)
    assert "every 4s" not in grids.text


def test_run_status_shows_the_world_size_and_throughput_per_rank(
    client: TestClient, session: Session
) -> None:
    config = {**TINY_CONFIG, "world_size": 4}
    run = make_run(session, make_dataset(session), status="running", images_per_s=90.0, config=config)
    status = client.get(f"/runs/{run.id}/status", headers=HX).text
    assert '<div class="v" id="stat-world">4</div>' in status
    assert '<div class="v" id="stat-rank-speed">22.5</div>' in status and ">90.0<" in status
    one = make_run(session, make_dataset(session), status="running", images_per_s=90.0)
    assert 'id="stat-world"' not in client.get(f"/runs/{one.id}/status", headers=HX).text


def test_cancel_and_delete_from_the_run_page(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session))
    cancelled = client.post(f"/runs/{run.id}/cancel", headers=HX)
    assert cancelled.status_code == 200
    assert ">cancelled<" in cancelled.text and cancelled.headers["HX-Trigger"] == EVENT_RUN_CHANGED
    again = client.post(f"/runs/{run.id}/cancel", headers=HX)
    assert "already cancelled" in again.text
    deleted = client.delete(f"/runs/{run.id}", headers=HX)
    assert deleted.status_code == 204 and deleted.headers["HX-Redirect"] == "/"


def test_generate_and_compare_pages(client: TestClient, session: Session, settings: Settings) -> None:
    dataset = make_dataset(session)
    a = make_run(session, dataset, name="A", status="completed", config=TrainConfig(lr_g=1e-4).model_dump())
    b = make_run(session, dataset, name="B", status="completed", config=TrainConfig(lr_g=3e-4).model_dump())
    for run in (a, b):
        add_grid(session, settings, run, 1)
    assert "No run has a checkpoint yet" in client.get("/generate").text
    compare = client.get("/compare", params=[("run", a.id), ("run", b.id)])
    assert compare.status_code == 200
    assert re.search(r'<tr class="diff"><td class="mono">lr_g</td>', compare.text)
    assert re.search(r'<tr class=""><td class="mono">nz</td>', compare.text)
    assert f"/api/runs/{a.id}/grids/1.png" in compare.text


def test_missing_run_page_is_an_html_404(client: TestClient) -> None:
    response = client.get("/runs/999", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "<html" in response.text and "run 999 does not exist" in response.text


def test_new_run_form_refuses_an_overlong_name_inline(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    response = client.post("/runs/new", data={"dataset_id": str(dataset.id), "name": "x" * 201}, headers=HX)
    assert response.status_code == 422
    assert "at most 200 characters" in response.text


def test_generate_page_lists_checkpoints_with_best_and_quality(client: TestClient, session: Session) -> None:
    from core.db.tables import Checkpoint

    run = make_run(session, make_dataset(session), name="trained", status="completed")
    old = Checkpoint(run_id=run.id, epoch=1, step=10, path="unused", quality={})
    best = Checkpoint(run_id=run.id, epoch=2, step=20, path="unused", quality={"fid": 123.456, "note": "x"})
    session.add_all([old, best])
    session.commit()
    run.best_checkpoint_id = best.id
    session.commit()
    page = client.get("/generate")
    assert f'<option value="{run.id}" selected>#{run.id} trained</option>' in page.text
    assert re.search(
        rf'<option value="{best.id}" selected>epoch 2 · step 20 · best · fid 123</option>', page.text
    )
    partial = client.get("/generate/checkpoints", params={"run_id": run.id}, headers=HX)
    assert 'id="g-checkpoint-field"' in partial.text and "<html" not in partial.text


def test_dataset_page_saves_preparation_options(client: TestClient) -> None:
    created = client.post("/api/datasets", data={"name": "p"}, files={"file": ("a.zip", image_zip(2))}).json()
    form = {
        "fit": "crop",
        "background": "#102030",
        "dedup": "exact",
        "augment_factor": "2",
        "trim_borders": "on",
    }
    saved = client.post(f"/datasets/{created['id']}/prepare", data=form, headers=HX)
    assert saved.status_code == 200 and 'id="prepare-message"' in saved.text
    prepare = client.get(f"/api/datasets/{created['id']}").json()["prepare"]
    assert (
        prepare["background"] == [16, 32, 48] and prepare["trim_borders"] is True and prepare["fit"] == "crop"
    )
    refused = client.post(
        f"/datasets/{created['id']}/prepare", data={**form, "augment_factor": "99"}, headers=HX
    )
    assert refused.status_code == 422 and "augment_factor" in refused.text


def test_grad_flow_and_estimate_partials(client: TestClient, session: Session) -> None:
    from tests.app.factories import add_grad_stats

    dataset = make_dataset(session, image_count=300)
    run = make_run(session, dataset, status="completed", images_per_s=100.0)
    empty = client.get(f"/runs/{run.id}/grad-flow", headers=HX)
    assert "No gradient statistics" in empty.text
    add_grad_stats(session, run, 7)
    bars = client.get(f"/runs/{run.id}/grad-flow", headers=HX)
    assert "step 7" in bars.text and bars.text.count('class="bar"') == 4
    params = {"dataset_id": dataset.id, "arch": run.config["arch"], "image_size": 16, "epochs": 10}
    estimate = client.get("/runs/new/estimate", params=params, headers=HX)
    assert "<strong>3s</strong> per epoch" in estimate.text and "30s in all" in estimate.text
