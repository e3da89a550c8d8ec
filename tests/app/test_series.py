"""A declared series goes from the worker's sink through the database to the API and the run page's charts."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from models.series import Series, declared
from models.sink import IterationMetrics
from tests.app.factories import make_dataset, make_run
from worker.dbsink import DbSink

LR_RATIO = Series("lr_ratio", "lr ratio", "d_output", None, "#123456", "a test series")


def test_a_declared_series_is_stored_served_and_charted(
    client: TestClient, app: FastAPI, session: Session
) -> None:
    run = make_run(session, make_dataset(session))
    seed = {"loss_d": 1.0, "loss_g": 2.0, "d_x": 0.6, "d_g_z1": 0.4, "d_g_z2": 0.45}
    with declared(LR_RATIO):
        sink = DbSink(app.state.sessionmaker, run.id)
        for step in (1, 2, 3):
            sink.log_iteration(IterationMetrics(step, 0, step - 1, {**seed, "lr_ratio": step / 10}))
        sink.log_iteration(IterationMetrics(4, 0, 3, {**seed, "lr_ratio": float("nan")}))
        sink.flush()

        points = client.get(f"/api/runs/{run.id}/metrics").json()
        assert [p["lr_ratio"] for p in points] == [0.1, 0.2, 0.3, None]
        assert points[0]["loss_g"] == 2.0
        assert client.get(f"/api/runs/{run.id}/metrics?after_step=2").json()[0]["lr_ratio"] == 0.3
        listed = client.get("/api/series").json()
        assert [s["name"] for s in listed][-1] == "lr_ratio" and listed[-1]["label"] == "lr ratio"

        page = client.get(f"/runs/{run.id}").text
        embedded = json.loads(re.search(r'id="series-list">(.*?)</script>', page).group(1))
        assert embedded == listed
        assert 'data-chart="d_output"' in page and 'data-chart="loss"' in page

    # undeclared, the same rows serve the seed's five series only
    points = client.get(f"/api/runs/{run.id}/metrics").json()
    assert "lr_ratio" not in points[0] and points[0]["d_x"] == 0.6
