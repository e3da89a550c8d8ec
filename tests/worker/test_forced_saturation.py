"""The issue's forced-saturation recipe run for real through the worker: seed-000-classic with lr_d 0.01
(50x lr_g), batch 32, 6 epochs on 256 images (48 steps), default detector settings. It must leave a
d_saturation event with its window evidence within those 48 steps, reported by the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.main import create_app
from core.settings import Settings
from models.presets import apply_preset
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import get_run
from worker.training import run_training

pytestmark = pytest.mark.slow

FORCED = {"lr_d": 0.01, "batch_size": 32, "epochs": 6, "grad_stats_every": 0, "device": "cpu"}


def test_the_forced_saturation_run_raises_d_saturation_within_48_steps(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    config = apply_preset("seed-000-classic", FORCED).model_dump(mode="json")
    run_id = make_run(session_factory, make_dataset(session_factory, settings, n=256), **config)
    run_training(settings, session_factory, run_id)
    run = get_run(session_factory, run_id)
    assert run.status == "completed" and run.step == 48
    with TestClient(create_app(settings)) as client:
        events = client.get(f"/api/runs/{run_id}/events").json()
        checkpoints = client.get(f"/api/runs/{run_id}/checkpoints").json()
    saturation = [e for e in events if e["kind"] == "d_saturation"]
    assert saturation, [e["kind"] for e in events]
    first = saturation[0]
    assert first["step"] <= 48 and first["evidence"]["window"] == 30
    assert {"means", "thresholds", "rules"} <= set(first["evidence"])
    judged = [c["quality"] for c in checkpoints if c["quality"].get("c2st") is not None]
    assert judged and all(q["c2st_k"] == 8 and 0 <= q["c2st"] <= 1 for q in judged)
