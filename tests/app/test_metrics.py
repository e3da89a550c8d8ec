"""GET /api/runs/{id}/metrics: order, after_step, limit, and min/max downsampling on a 100k-step run."""

from __future__ import annotations

import math
import time

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.downsample import minmax_indices
from models.series import SEED_SERIES, names
from tests.app.factories import add_metrics, make_dataset, make_run

SERIES = names()


def test_points_are_ordered_and_follow_after_step_and_limit(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session))
    values = add_metrics(session, run, 50)
    points = client.get(f"/api/runs/{run.id}/metrics").json()
    assert [p["step"] for p in points] == list(range(1, 51))
    assert points[0] == {
        "step": 1,
        "epoch": 0,
        "iteration": 0,
        **{name: float(values[0][i]) for i, name in enumerate(SEED_SERIES)},
        **{name: None for name in SERIES if name not in SEED_SERIES},  # the factory writes the seed's five
    }
    newer = client.get(f"/api/runs/{run.id}/metrics", params={"after_step": 45}).json()
    assert [p["step"] for p in newer] == [46, 47, 48, 49, 50]
    limited = client.get(f"/api/runs/{run.id}/metrics", params={"after_step": 10, "limit": 3}).json()
    assert [p["step"] for p in limited] == [11, 12, 13]


def test_unknown_run_and_bad_parameters(client: TestClient, session: Session) -> None:
    assert client.get("/api/runs/404/metrics").status_code == 404
    run = make_run(session, make_dataset(session))
    assert client.get(f"/api/runs/{run.id}/metrics", params={"max_points": 3}).status_code == 422
    assert client.get(f"/api/runs/{run.id}/metrics", params={"limit": 0}).status_code == 422


def test_max_points_on_a_100k_step_run_keeps_every_buckets_extremes(
    client: TestClient, session: Session
) -> None:
    run = make_run(session, make_dataset(session))
    n, max_points = 100_000, 1000
    rng = np.random.default_rng(7)
    values = rng.normal(1.0, 0.2, size=(n, 5))
    values[12_345, 0] = 50.0  # a spike in loss_d that must survive
    values[77_777, 4] = -3.0  # a dip in D(G(z)) after the G step
    add_metrics(session, run, n, values=values)

    started = time.perf_counter()
    response = client.get(f"/api/runs/{run.id}/metrics", params={"max_points": max_points})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    points = response.json()
    assert len(points) <= max_points
    steps = [p["step"] for p in points]
    assert steps == sorted(steps)
    kept = set(steps)
    assert 12_346 in kept and 77_778 in kept  # steps are 1-based

    # The documented buckets: max_points // (2 * 5 series) equal runs of rows.
    buckets = max_points // (2 * len(SERIES))
    size = math.ceil(n / buckets)
    for start in range(0, n, size):
        chunk = values[start : start + size]
        for column in range(values.shape[1]):
            assert start + int(chunk[:, column].argmin()) + 1 in kept
            assert start + int(chunk[:, column].argmax()) + 1 in kept
    # every returned row is a real step with its own values
    by_step = {p["step"]: p for p in points}
    assert by_step[12_346]["loss_d"] == 50.0
    print(f"max_points over 100k rows: {elapsed:.3f}s")
    assert elapsed < 5.0, f"downsampling 100k rows took {elapsed:.2f}s"


def test_minmax_indices_leaves_short_series_alone_and_bounds_long_ones() -> None:
    values = np.arange(30, dtype=float).reshape(15, 2)
    assert minmax_indices(values, 20).tolist() == list(range(15))
    long = np.random.default_rng(0).normal(size=(1001, 2))
    kept = minmax_indices(long, 40)
    assert len(kept) <= 40
    assert int(long[:, 0].argmax()) in kept and int(long[:, 1].argmin()) in kept


def test_nan_values_come_back_as_null(client: TestClient, session: Session) -> None:
    run = make_run(session, make_dataset(session))
    values = np.ones((3, 5))
    values[1, 1] = np.inf
    add_metrics(session, run, 3, values=values)
    points = client.get(f"/api/runs/{run.id}/metrics").json()
    assert points[1]["loss_g"] is None
    assert points[0]["loss_g"] == 1.0
