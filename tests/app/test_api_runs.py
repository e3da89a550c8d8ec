"""The runs API: create (validation, presets, enqueue), read, artifacts, cancel, resume, delete."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.tables import Metric, Run
from core.settings import Settings
from models.config import TrainConfig
from tests.app.factories import (
    TINY_CONFIG,
    add_event,
    add_grad_stats,
    add_grid,
    add_metrics,
    make_dataset,
    make_run,
    queued_tasks,
)


def test_create_fills_every_config_value_and_enqueues(
    client: TestClient, session: Session, settings: Settings
) -> None:
    dataset = make_dataset(session, image_count=40)
    response = client.post(
        "/api/runs", json={"dataset_id": dataset.id, "config": {"epochs": 3, "batch_size": 8}}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["config"] == TrainConfig(epochs=3, batch_size=8).model_dump(mode="json")
    assert body["total_steps"] == 3 * (40 // 8)
    assert body["name"] == "shapes · custom"
    assert ("pokegan.train_run", f"[{body['id']}]") in queued_tasks(settings)
    assert session.get(Run, body["id"]).celery_task_id


def test_preset_with_overrides(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, image_count=500)
    response = client.post(
        "/api/runs",
        json={"dataset_id": dataset.id, "preset": "recommended", "name": "mine", "config": {"epochs": 2}},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["preset"] == "recommended"
    assert body["name"] == "mine"
    assert body["config"]["epochs"] == 2
    assert body["config"]["loss"] == "hinge"  # from the preset


def test_unknown_config_field_is_a_422_naming_it(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    response = client.post("/api/runs", json={"dataset_id": dataset.id, "config": {"learning_rate": 0.1}})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", "config", "learning_rate"]
    assert "unknown config field" in detail[0]["msg"]


def test_out_of_range_value_is_a_422_naming_the_field(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    response = client.post("/api/runs", json={"dataset_id": dataset.id, "config": {"lr_g": 5, "epochs": 0}})
    assert response.status_code == 422
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert fields == {("body", "config", "lr_g"), ("body", "config", "epochs")}


def test_unknown_preset_is_a_422(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    response = client.post("/api/runs", json={"dataset_id": dataset.id, "preset": "nope"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "preset"]
    assert "unknown preset" in response.json()["detail"][0]["msg"]


def test_missing_dataset_is_a_404(client: TestClient, settings: Settings) -> None:
    response = client.post("/api/runs", json={"dataset_id": 77})
    assert response.status_code == 404
    assert response.json()["detail"] == "dataset 77 does not exist"
    assert queued_tasks(settings) == []


def test_dataset_not_ready_is_a_409(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, status="importing")
    response = client.post("/api/runs", json={"dataset_id": dataset.id})
    assert response.status_code == 409
    assert "not ready" in response.json()["detail"]


def test_dataset_smaller_than_one_batch_is_a_422(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, image_count=10)
    response = client.post("/api/runs", json={"dataset_id": dataset.id, "config": {"batch_size": 16}})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "config", "batch_size"]
    assert "10 images, fewer than one batch" in detail["msg"]
    assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_list_and_get(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    first, second = make_run(session, dataset, name="a"), make_run(session, dataset, name="b")
    assert [r["id"] for r in client.get("/api/runs").json()] == [second.id, first.id]
    body = client.get(f"/api/runs/{first.id}").json()
    for key in (
        "id",
        "name",
        "status",
        "epoch",
        "step",
        "total_steps",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "config",
        "dataset_id",
        "preset",
        "images_per_s",
        "worker",
        "best_checkpoint_id",
    ):
        assert key in body
    missing = client.get("/api/runs/999")
    assert missing.status_code == 404 and missing.json()["detail"] == "run 999 does not exist"


def test_cancel_a_queued_run_cancels_it_now(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session))
    response = client.post(f"/api/runs/{run.id}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"] is not None


def test_cancel_a_running_run_sets_the_flag(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session), status="running")
    response = client.post(f"/api/runs/{run.id}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "running"
    assert response.json()["cancel_requested"] is True
    session.refresh(run)
    assert run.cancel_requested is True


def test_cancel_a_finished_run_is_a_409(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session), status="completed")
    response = client.post(f"/api/runs/{run.id}/cancel")
    assert response.status_code == 409
    assert "already completed" in response.json()["detail"]


def test_resume_requeues_a_stopped_run(client: TestClient, session: Session, settings: Settings) -> None:
    run = make_run(session, make_dataset(session), status="cancelled", cancel_requested=True)
    response = client.post(f"/api/runs/{run.id}/resume")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert response.json()["cancel_requested"] is False
    assert ("pokegan.train_run", f"[{run.id}]") in queued_tasks(settings)


def test_resume_a_running_run_is_a_409(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session), status="running")
    response = client.post(f"/api/runs/{run.id}/resume")
    assert response.status_code == 409
    assert "running" in response.json()["detail"]


def test_delete_removes_rows_and_artifacts(client: TestClient, session: Session, settings: Settings) -> None:
    run = make_run(session, make_dataset(session), status="completed")
    add_metrics(session, run, 20)
    add_grid(session, settings, run, 1)
    add_event(session, run, 5)
    add_grad_stats(session, run, 5)
    run_id = run.id
    assert settings.run_dir(run_id).is_dir()
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    assert client.get(f"/api/runs/{run_id}").status_code == 404
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Metric)) == 0
    assert not settings.run_dir(run_id).exists()


def test_delete_a_running_run_is_a_409(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session), status="running")
    response = client.delete(f"/api/runs/{run.id}")
    assert response.status_code == 409
    assert client.get(f"/api/runs/{run.id}").status_code == 200


def test_grids_list_and_png(client: TestClient, session: Session, settings: Settings) -> None:
    run = make_run(session, make_dataset(session))
    add_grid(session, settings, run, 2)
    add_grid(session, settings, run, 1)
    grids = client.get(f"/api/runs/{run.id}/grids").json()
    assert [g["epoch"] for g in grids] == [1, 2]
    png = client.get(grids[1]["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert client.get(f"/api/runs/{run.id}/grids/9.png").status_code == 404


def test_progress_gif_animates_every_grid(client: TestClient, session: Session, settings: Settings) -> None:
    import imageio.v3 as iio

    run = make_run(session, make_dataset(session))
    assert client.get(f"/api/runs/{run.id}/progress.gif").status_code == 404
    for epoch in (1, 2, 3):
        add_grid(session, settings, run, epoch, color=epoch * 60)
    response = client.get(f"/api/runs/{run.id}/progress.gif")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert "attachment" in response.headers["content-disposition"]
    frames = iio.imread(response.content, index=None, extension=".gif")
    assert len(frames) == 3


def test_grad_stats_and_events(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session))
    add_grad_stats(session, run, 10)
    add_grad_stats(session, run, 20)
    add_event(session, run, 15, "collapse")
    stats = client.get(f"/api/runs/{run.id}/grad-stats", params={"after_step": 10}).json()
    assert {s["step"] for s in stats} == {20}
    assert {(s["net"], s["layer"]) for s in stats} == {
        ("G", "body.0"),
        ("G", "head"),
        ("D", "body.0"),
        ("D", "head"),
    }
    events = client.get(f"/api/runs/{run.id}/events").json()
    assert [(e["step"], e["kind"]) for e in events] == [(15, "collapse")]


def test_checkpoints_list_is_empty_for_a_new_run(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session), config=dict(TINY_CONFIG))
    assert client.get(f"/api/runs/{run.id}/checkpoints").json() == []
    assert client.get("/api/runs/999/checkpoints").status_code == 404


def test_real_images_grid(client: TestClient, session: Session, settings: Settings) -> None:
    from PIL import Image

    run = make_run(session, make_dataset(session))
    missing = client.get(f"/api/runs/{run.id}/real.png")
    assert missing.status_code == 404 and "no real-images grid" in missing.json()["detail"]
    settings.run_dir(run.id).mkdir(parents=True)
    Image.new("RGB", (10, 10), "white").save(settings.run_dir(run.id) / "real.png")
    found = client.get(f"/api/runs/{run.id}/real.png")
    assert found.status_code == 200 and found.content.startswith(b"\x89PNG")


def test_an_interrupted_run_can_be_cancelled_or_resumed(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session)
    first = make_run(session, dataset, status="interrupted")
    second = make_run(session, dataset, status="interrupted")
    assert client.post(f"/api/runs/{first.id}/cancel").json()["status"] == "cancelled"
    assert client.post(f"/api/runs/{second.id}/resume").json()["status"] == "queued"
