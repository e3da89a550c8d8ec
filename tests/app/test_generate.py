"""POST /generate against a checkpoint made by really training a tiny GAN for a few steps (no mocks)."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from app.generator_cache import GenerationSlots, GeneratorCache
from models.config import TrainConfig
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.app.factories import TINY_CONFIG, add_checkpoint_row, make_dataset, make_run
from tests.conftest import synthetic_images


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """{epoch: checkpoint path} of a tiny DCGAN (16 px, EMA on) trained 2 epochs on 8 synthetic images."""
    run_dir = tmp_path_factory.mktemp("trained")
    config = TrainConfig(**{**TINY_CONFIG, "ema_decay": 0.9})
    train(config, synthetic_images(8, 16), ListSink(), RunDirStore(run_dir))
    paths = sorted(run_dir.glob("ckpt-*.pt"))
    assert len(paths) == 2
    return {1: paths[0], 2: paths[1]}


@pytest.fixture
def run_with_checkpoints(session: Session, trained: dict[int, Path]):
    run = make_run(session, make_dataset(session), status="completed")
    first = add_checkpoint_row(session, run, trained[1], epoch=1, step=2)
    second = add_checkpoint_row(session, run, trained[2], epoch=2, step=4)
    return run, first, second


def generate(client: TestClient, **body):
    return client.post("/generate", json=body)


def test_png_grid_with_seed_header(client: TestClient, run_with_checkpoints) -> None:
    run, _, latest = run_with_checkpoints
    response = generate(client, run_id=run.id, n=4, seed=11)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-seed"] == "11"
    assert response.headers["x-checkpoint-id"] == str(latest.id)  # no best: the latest
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2)  # 2 x 2 tiles of 16 px with 2 px padding
    again = generate(client, run_id=run.id, n=4, seed=11)
    assert again.content == response.content  # same checkpoint + seed: same picture


def test_random_seed_is_reported(client: TestClient, run_with_checkpoints) -> None:
    run, _, _ = run_with_checkpoints
    response = generate(client, run_id=run.id, n=1)
    assert response.status_code == 200
    assert response.headers["x-seed"].isdigit()


def test_json_format_returns_base64_pngs(client: TestClient, run_with_checkpoints) -> None:
    run, first, _ = run_with_checkpoints
    response = generate(client, run_id=run.id, checkpoint_id=first.id, n=3, seed=5, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["seed"] == 5 and body["checkpoint_id"] == first.id
    assert body["epoch"] == first.epoch == int(response.headers["x-checkpoint-epoch"])
    assert len(body["images"]) == 3
    tile = Image.open(io.BytesIO(base64.b64decode(body["images"][0])))
    assert tile.size == (16, 16)


def test_zip_format_holds_single_pngs(client: TestClient, run_with_checkpoints) -> None:
    run, _, _ = run_with_checkpoints
    response = generate(client, run_id=run.id, n=3, seed=2, format="zip")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names == ["seed2-000.png", "seed2-001.png", "seed2-002.png"]


def test_best_checkpoint_is_the_default(client: TestClient, session: Session, run_with_checkpoints) -> None:
    run, first, _ = run_with_checkpoints
    run.best_checkpoint_id = first.id
    session.commit()
    response = generate(client, run_id=run.id, n=1, seed=0)
    assert response.headers["x-checkpoint-id"] == str(first.id)


def test_ema_and_raw_weights_differ(client: TestClient, run_with_checkpoints) -> None:
    run, _, _ = run_with_checkpoints
    ema = generate(client, run_id=run.id, n=2, seed=3, format="json", use_ema=True).json()["images"]
    raw = generate(client, run_id=run.id, n=2, seed=3, format="json", use_ema=False).json()["images"]
    assert ema != raw


def test_repeated_calls_hit_the_generator_cache(
    client: TestClient, app: FastAPI, run_with_checkpoints
) -> None:
    run, first, latest = run_with_checkpoints
    cache: GeneratorCache = app.state.generators
    for seed in range(3):
        assert generate(client, run_id=run.id, n=1, seed=seed).status_code == 200
    assert cache.loads == 1 and cache.hits == 2
    generate(client, run_id=run.id, checkpoint_id=first.id, n=1, seed=0)
    assert cache.loads == 2
    assert set(cache.keys()) == {(latest.id, True), (first.id, True)}


def test_cache_evicts_the_least_recently_used() -> None:
    cache = GeneratorCache(2)
    for key in ("a", "b", "a", "c"):
        cache.get(key, lambda key=key: key.upper())
    assert cache.keys() == ["a", "c"]
    assert cache.loads == 3 and cache.hits == 1


def test_busy_server_answers_429_with_retry_after(
    client: TestClient, app: FastAPI, run_with_checkpoints
) -> None:
    run, _, _ = run_with_checkpoints
    slots = app.state.generation_slots
    taken = 0
    while slots.try_acquire():  # occupy every slot, as concurrent generations would
        taken += 1
    try:
        response = generate(client, run_id=run.id, n=1)
    finally:
        for _ in range(taken):
            slots.release()
    assert taken == 2  # settings.generate_concurrency
    assert response.status_code == 429
    assert response.headers["retry-after"]
    assert "already generating" in response.json()["detail"]
    assert generate(client, run_id=run.id, n=1).status_code == 200


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread CPU priority is Linux only")
def test_generation_threads_run_at_the_priority_asked_and_nothing_else_does() -> None:
    def policy_and_nice() -> tuple[int, int]:
        thread = threading.get_native_id()
        return os.sched_getscheduler(thread), os.getpriority(os.PRIO_PROCESS, thread)

    web = policy_and_nice()
    idle = asyncio.run(GenerationSlots(1, policy="idle").run(policy_and_nice))
    low = asyncio.run(GenerationSlots(1, policy="low").run(policy_and_nice))
    normal = asyncio.run(GenerationSlots(1, policy="normal").run(policy_and_nice))
    assert idle[0] == os.SCHED_IDLE
    assert low == (web[0], 19)
    assert normal == web
    assert policy_and_nice() == web  # the calling thread (the web app's) keeps its priority


def test_bad_requests(client: TestClient, session: Session, run_with_checkpoints) -> None:
    run, _, _ = run_with_checkpoints
    assert generate(client, run_id=run.id, n=0).status_code == 422
    too_many = generate(client, run_id=run.id, n=257)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["body", "n"]
    assert generate(client, run_id=run.id, format="webp").status_code == 422
    assert generate(client, run_id=999).status_code == 404
    assert generate(client, run_id=run.id, checkpoint_id=999).status_code == 404
    empty = make_run(session, make_dataset(session))
    no_checkpoint = generate(client, run_id=empty.id)
    assert no_checkpoint.status_code == 409
    assert "no checkpoint yet" in no_checkpoint.json()["detail"]


def test_server_cap_on_n(tmp_path, trained: dict[int, Path]) -> None:
    from app.main import create_app
    from core.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "data", generate_max_n=8))
    with TestClient(app) as client, app.state.sessionmaker() as session:
        run = make_run(session, make_dataset(session), status="completed")
        add_checkpoint_row(session, run, trained[2], epoch=2, step=4)
        response = generate(client, run_id=run.id, n=9)
        assert response.status_code == 422
        assert "at most 8" in response.json()["detail"][0]["msg"]
        assert generate(client, run_id=run.id, n=8).status_code == 200


def test_interpolation_strip_and_gif(client: TestClient, run_with_checkpoints) -> None:
    import imageio.v3 as iio

    run, _, _ = run_with_checkpoints
    strip = client.post(
        "/generate/interpolate", json={"run_id": run.id, "seed_a": 1, "seed_b": 2, "steps": 5}
    )
    assert strip.status_code == 200 and strip.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(strip.content)))
    assert image.shape[:2] == (16 + 4, 5 * 18 + 2)  # one row of five 16 px tiles
    gif = client.post(
        "/generate/interpolate",
        json={"run_id": run.id, "seed_a": 1, "seed_b": 2, "steps": 5, "format": "gif"},
    )
    assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
    assert len(iio.imread(gif.content, index=None, extension=".gif")) == 8  # forth and back: 5 + 3
    # the ends of the strip are exactly the images of seeds 1 and 2
    single = generate(client, run_id=run.id, n=2, seed=1, format="json").json()["images"]
    first_tile = np.asarray(Image.open(io.BytesIO(base64.b64decode(single[0]))))
    assert np.array_equal(image[2:18, 2:18], first_tile)
