"""The detectors in the worker: a real tiny run forced to saturate leaves event rows, quality numbers on its
checkpoints and a best checkpoint, which the API reports, /generate uses and the pages mark."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.main import create_app
from core.db.tables import Checkpoint, Event, Run
from core.settings import Settings
from tests.worker.factories import make_dataset, make_run
from tests.worker.helpers import get_run
from worker.training import run_training

# Short detector windows (4 rows to start, 8 to escalate) so a 16-step run shows whole episodes.
FAST_DETECTORS = {"window": 4, "rearm_after": 4, "escalate_after": 8}
# D much wider than G and 50x G's learning rate: D saturates within the first epochs.
SATURATING = {"ngf": 4, "ndf": 32, "lr_d": 1e-2, "epochs": 4, "grad_stats_every": 0}


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"detectors": FAST_DETECTORS})


@pytest.fixture
def client(fast_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(fast_settings)) as test_client:
        yield test_client


def train_run(
    settings: Settings, session_factory: sessionmaker[Session], *, policy: str, **overrides: object
) -> int:
    run_id = make_run(session_factory, make_dataset(session_factory, settings), **{**SATURATING, **overrides})
    with session_factory() as session, session.begin():
        session.get_one(Run, run_id).policy = policy
    run_training(settings, session_factory, run_id)
    return run_id


def event_rows(session_factory: sessionmaker[Session], run_id: int) -> list[Event]:
    with session_factory() as session:
        return list(
            session.scalars(select(Event).where(Event.run_id == run_id).order_by(Event.step, Event.id))
        )


def checkpoint_rows(session_factory: sessionmaker[Session], run_id: int) -> list[Checkpoint]:
    with session_factory() as session:
        query = select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step)
        return list(session.scalars(query))


def test_a_saturating_run_leaves_events_quality_and_a_best_checkpoint(
    fast_settings: Settings, session_factory: sessionmaker[Session], client: TestClient
) -> None:
    run_id = train_run(fast_settings, session_factory, policy="warn")
    run = get_run(session_factory, run_id)
    assert (run.status, run.error) == ("completed", None)

    saturation = [e for e in event_rows(session_factory, run_id) if e.kind == "d_saturation"]
    assert [(e.severity, e.evidence["state"]) for e in saturation] == [
        ("warning", "started"),
        ("error", "sustained"),
    ]
    checkpoints = checkpoint_rows(session_factory, run_id)
    assert [c.step for c in checkpoints] == [4, 8, 12, 16]
    for checkpoint in checkpoints:
        assert 0 <= checkpoint.quality["score"] <= 1 and checkpoint.quality["epoch"] == checkpoint.epoch
        assert "POKEGAN_INCEPTION_WEIGHTS" in checkpoint.quality["fid_note"]
    # Saturation started at step 8: only the checkpoint taken before it can be the best.
    best = next(c for c in checkpoints if c.id == run.best_checkpoint_id)
    assert best.step < saturation[0].step

    api_run = client.get(f"/api/runs/{run_id}").json()
    assert (api_run["best_checkpoint_id"], api_run["policy"]) == (best.id, "warn")
    api_events = client.get(f"/api/runs/{run_id}/events").json()
    assert [e["kind"] for e in api_events].count("d_saturation") == 2
    generated = client.post("/generate", json={"run_id": run_id, "n": 2, "seed": 1})
    assert generated.status_code == 200 and generated.headers["x-checkpoint-id"] == str(best.id)

    page = client.get(f"/runs/{run_id}", headers={"Accept": "text/html"}).text
    assert f'data-checkpoint-id="{best.id}"' in page and "★ Best checkpoint: epoch 1" in page
    assert 'data-kind="d_saturation"' in page and "Quality per epoch" in page
    assert "POKEGAN_INCEPTION_WEIGHTS" in page  # why there is no FID
    runs_list = client.get("/", headers={"Accept": "text/html"}).text
    assert 'class="event-count error"' in runs_list and 'class="event-count warning"' in runs_list


def test_rollback_policy_retries_twice_then_ends_the_run_with_the_reason(
    fast_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    run_id = train_run(fast_settings, session_factory, policy="rollback", epochs=8)
    run = get_run(session_factory, run_id)
    assert run.status == "completed"
    assert run.error.startswith("stopped early: Discriminator saturation persists")
    assert "still failing after 2 rollback(s)" in run.error
    kinds = [e.kind for e in event_rows(session_factory, run_id)]
    assert kinds.count("hook_rollback") == 2 and kinds[-1] == "hook_stop"
    steps = [c.step for c in checkpoint_rows(session_factory, run_id)]
    assert steps == sorted(set(steps)) and run.step == steps[-1]  # no row of an abandoned branch is left
    assert run.best_checkpoint_id is None or run.best_checkpoint_id in {
        c.id for c in checkpoint_rows(session_factory, run_id)
    }


def test_invalid_detector_settings_fail_the_run_with_a_clear_message(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    bad = settings.model_copy(update={"detectors": {"window": 1}})
    run_id = train_run(bad, session_factory, policy="warn")
    run = get_run(session_factory, run_id)
    assert run.status == "failed" and "POKEGAN_DETECTORS is not valid" in run.error and "window" in run.error


def test_the_api_takes_and_checks_the_policy(
    fast_settings: Settings, session_factory: sessionmaker[Session], client: TestClient
) -> None:
    dataset_id = make_dataset(session_factory, fast_settings)
    body = {"dataset_id": dataset_id, "config": {"image_size": 16, "arch": "dcgan", "batch_size": 8}}
    created = client.post("/api/runs", json={**body, "policy": "rollback"})
    assert created.status_code == 201 and created.json()["policy"] == "rollback"
    assert client.post("/api/runs", json=body).json()["policy"] == "warn"
    refused = client.post("/api/runs", json={**body, "policy": "panic"})
    assert refused.status_code == 422 and "policy" in refused.text

    form = {"dataset_id": str(dataset_id), "policy": "stop", "image_size": "16", "arch": "dcgan"}
    posted = client.post("/runs/new", data={**form, "batch_size": "8"}, follow_redirects=False)
    assert posted.status_code == 303
    run_id = int(posted.headers["location"].rsplit("/", 1)[1])
    assert client.get(f"/api/runs/{run_id}").json()["policy"] == "stop"
    timeline = client.get(f"/runs/{run_id}/timeline", headers={"HX-Request": "true"}).text
    assert 'id="timeline"' in timeline and "policy <code>stop</code>" in timeline
    assert 'hx-trigger="every 5s, run-changed from:body"' in timeline  # a queued run keeps polling
