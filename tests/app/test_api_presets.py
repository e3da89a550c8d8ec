"""GET /api/presets: every preset with its description and full config, usable as is for a new run."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from models.config import TrainConfig
from models.presets import PRESETS
from tests.app.factories import make_dataset


def test_lists_every_preset_with_its_full_config(client: TestClient) -> None:
    response = client.get("/api/presets")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["name"] for p in body] == list(PRESETS)
    by_name = {p["name"]: p for p in body}
    fastgan = by_name["fastgan-64"]
    assert fastgan["description"] == PRESETS["fastgan-64"].description
    assert fastgan["config"] == PRESETS["fastgan-64"].config.model_dump(mode="json")
    assert set(fastgan["config"]) == set(TrainConfig.model_fields)  # defaults included, not only overrides
    assert by_name["seed-001-vit"]["config"]["arch"] == "vit"
    assert "/api/presets" in client.get("/openapi.json").json()["paths"]


def test_a_listed_config_starts_a_run_unchanged(client: TestClient, session: Session) -> None:
    dataset = make_dataset(session, image_count=500)
    listed = next(p for p in client.get("/api/presets").json() if p["name"] == "fastgan-64")
    response = client.post("/api/runs", json={"dataset_id": dataset.id, "config": listed["config"]})
    assert response.status_code == 201, response.text
    assert response.json()["config"] == listed["config"]
