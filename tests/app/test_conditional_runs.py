"""Conditional runs through HTTP: labels from a zip's folders, POST /api/runs (422 without labels), the
worker's training function on the labelled images, a grid with one row per label, and POST /generate
by label."""

from __future__ import annotations

import io

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from core.db.tables import Checkpoint, Grid, Run
from core.settings import Settings
from tests.app.factories import TINY_CONFIG, zip_bytes
from worker.training import run_training

COLOURS = {"Fire": (230, 40, 30), "Water": (30, 60, 230)}


def colour_png(colour: tuple[int, int, int], seed: int) -> bytes:
    rng = torch.Generator().manual_seed(seed)
    noise = (torch.randn(16, 16, 3, generator=rng) * 10).round().to(torch.int16)
    pixels = (torch.tensor(colour, dtype=torch.int16) + noise).clamp(0, 255).to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def labelled_zip(per_label: int = 12, unlabelled: int = 2) -> bytes:
    members = {
        f"types/{name}/{name.lower()}-{i}.png": colour_png(colour, 100 * k + i)
        for k, (name, colour) in enumerate(COLOURS.items())
        for i in range(per_label)
    }
    members |= {f"types/loose-{i}.png": colour_png((128, 128, 128), 900 + i) for i in range(unlabelled)}
    return zip_bytes(members)


def upload(client: TestClient, data: bytes, name: str) -> dict:
    response = client.post("/api/datasets", data={"name": name}, files={"file": (f"{name}.zip", data)})
    assert response.status_code == 201, response.text
    return response.json()


CONDITIONAL = {
    **TINY_CONFIG,
    "conditional": True,
    "cond_transition_start_epochs": 1,
    "cond_transition_epochs": 1,
}


def test_a_conditional_run_needs_labels_and_trains_on_the_labelled_images(
    client: TestClient, session: Session, settings: Settings
) -> None:
    plain = upload(client, zip_bytes({f"m{i}.png": colour_png((9 * i, 0, 0), i) for i in range(8)}), "plain")
    refused = client.post("/api/runs", json={"dataset_id": plain["id"], "config": CONDITIONAL})
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["loc"] == ["body", "config", "conditional"]
    assert "at least two labels; dataset 'plain' has no labels" in error["msg"]
    assert session.query(Run).count() == 0

    typed = upload(client, labelled_zip(), "typed")
    assert typed["labels"] == {"Fire": 12, "Water": 12} and typed["unlabelled"] == 2
    named = client.post(
        "/api/runs", json={"dataset_id": typed["id"], "config": {**CONDITIONAL, "label_names": ["x", "y"]}}
    )
    assert named.status_code == 422 and "set from the dataset's labels" in named.text

    created = client.post("/api/runs", json={"dataset_id": typed["id"], "config": CONDITIONAL})
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["config"]["label_names"] == ["Fire", "Water"]
    assert run["total_steps"] == 2 * (24 // 4)  # the two unlabelled images are left out

    assert run_training(settings, client.app.state.sessionmaker, run["id"]) == "completed"
    session.expire_all()
    grid = session.query(Grid).filter_by(run_id=run["id"]).order_by(Grid.epoch.desc()).first()
    assert Image.open(grid.path).size == (2 + 8 * 18, 2 + 2 * 18)  # one row per label
    checkpoint = (
        session.query(Checkpoint).filter_by(run_id=run["id"]).order_by(Checkpoint.step.desc()).first()
    )
    state = torch.load(checkpoint.path, map_location="cpu", weights_only=True)
    assert state["config"]["label_names"] == ["Fire", "Water"] and state["step"] == 12

    report = client.get(f"/api/runs/{run['id']}/report").json()["class_consistency"]
    assert set(report["per_label"]) == {"Fire", "Water"} and report["held_out"] == 6
    assert report["held_out_accuracy"] == 1.0  # red and blue tiles are easy to tell apart
    assert set(client.get(f"/api/runs/{run['id']}/report").json()["class_consistency"]["labels"]) == {
        "Fire",
        "Water",
    }
    assert client.get(f"/api/runs/{run['id']}/report").json()["unlabelled"] == {"count": 2, "kept": False}
    page = client.get(f"/runs/{run['id']}/report").text
    assert 'id="class-consistency"' in page and '<tr data-label="Water"><td>Water</td>' in page
    assert "2 images of the dataset have no label: left out of this run" in page


@pytest.fixture
def conditional_run(client: TestClient, settings: Settings) -> dict:
    typed = upload(client, labelled_zip(per_label=12, unlabelled=0), "typed")
    run = client.post("/api/runs", json={"dataset_id": typed["id"], "config": CONDITIONAL}).json()
    assert run_training(settings, client.app.state.sessionmaker, run["id"]) == "completed"
    return run


def generate(client: TestClient, run_id: int, **fields) -> dict:
    response = client.post(
        "/generate", json={"run_id": run_id, "n": 8, "seed": 5, "format": "json", **fields}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_generate_by_label_in_proportion_and_one_of_each(client: TestClient, conditional_run: dict) -> None:
    run_id = conditional_run["id"]
    fire = generate(client, run_id, label="Fire")
    assert fire["labels"] == ["Fire"] * 8
    water = generate(client, run_id, label="Water")
    assert fire["images"] != water["images"]  # same seeds, the label changes the images
    assert generate(client, run_id, label="Fire")["images"] == fire["images"]  # reproducible

    each = generate(client, run_id, labels=["Fire", "Water"] * 4)
    assert each["labels"] == ["Fire", "Water"] * 4
    assert each["images"][0] == fire["images"][0] and each["images"][1] == water["images"][1]

    drawn = client.post("/generate", json={"run_id": run_id, "n": 200, "seed": 1, "format": "json"}).json()
    assert 70 <= drawn["labels"].count("Fire") <= 130  # the data is half Fire, half Water

    png = client.post("/generate", json={"run_id": run_id, "n": 2, "seed": 5, "label": "Water"})
    assert png.headers["content-type"] == "image/png" and png.headers["X-Labels"] == "Water,Water"

    unknown = client.post("/generate", json={"run_id": run_id, "n": 2, "label": "Psychic"})
    assert unknown.status_code == 422
    assert "unknown label 'Psychic'; this run knows Fire, Water" in unknown.json()["detail"][0]["msg"]
    short = client.post("/generate", json={"run_id": run_id, "n": 3, "labels": ["Fire"]})
    assert short.status_code == 422 and "labels has 1 entries but n is 3" in short.text

    strip = client.post(
        "/generate/interpolate", json={"run_id": run_id, "seed_a": 1, "seed_b": 2, "label": "Fire"}
    )
    assert strip.status_code == 200 and strip.headers["content-type"] == "image/png"
    page = client.get(f"/generate?run_id={run_id}").text
    assert '<option value="__each__">one of each, in turn</option>' in page and ">Water</option>" in page


def test_generate_by_label_on_an_unconditional_run_is_a_422(client: TestClient, settings: Settings) -> None:
    plain = upload(client, zip_bytes({f"m{i}.png": colour_png((9 * i, 0, 0), i) for i in range(8)}), "plain")
    run = client.post(
        "/api/runs", json={"dataset_id": plain["id"], "config": {**TINY_CONFIG, "epochs": 1}}
    ).json()
    assert run_training(settings, client.app.state.sessionmaker, run["id"]) == "completed"
    response = client.post("/generate", json={"run_id": run["id"], "n": 2, "label": "Fire"})
    assert response.status_code == 422 and "trained without labels" in response.text
    assert generate(client, run["id"])["labels"] is None


def strip_frames(png: bytes, steps: int) -> list[bytes]:
    strip = Image.open(io.BytesIO(png)).convert("RGB")
    size = (strip.width - 2) // steps - 2  # grid_image pads 2 px around and between frames
    return [
        strip.crop((2 + i * (size + 2), 2, 2 + i * (size + 2) + size, 2 + size)).tobytes()
        for i in range(steps)
    ]


def test_interpolation_between_two_labels_at_fixed_noise(client: TestClient, conditional_run: dict) -> None:
    def strip(**fields: object) -> bytes:
        body = {"run_id": conditional_run["id"], "seed_a": 3, "seed_b": 3, "steps": 4, **fields}
        response = client.post("/generate/interpolate", json=body)
        assert response.status_code == 200, response.text
        return response.content

    fire = strip_frames(strip(label="Fire"), 4)
    water = strip_frames(strip(label="Water"), 4)
    assert len(set(fire)) == 1 and fire != water  # fixed noise, fixed label: four equal frames
    blend = strip_frames(strip(label="Fire", label_b="Water"), 4)
    assert blend[0] == fire[0] and blend[-1] == water[0]  # from all Fire to all Water
    assert strip_frames(strip(label="Fire", label_b="Fire"), 4) == fire

    body = {"run_id": conditional_run["id"], "seed_a": 3, "seed_b": 3, "label_b": "Water"}
    alone = client.post("/generate/interpolate", json=body)
    assert alone.status_code == 422 and "label_b needs label" in alone.text
    unknown = client.post("/generate/interpolate", json={**body, "label": "Fire", "label_b": "Psychic"})
    assert unknown.status_code == 422 and "unknown label 'Psychic'" in unknown.text


def test_a_run_may_keep_the_unlabelled_images_as_a_label_of_their_own(
    client: TestClient, session: Session, settings: Settings
) -> None:
    typed = upload(client, labelled_zip(per_label=12, unlabelled=4), "typed")
    kept = client.post(
        "/api/runs", json={"dataset_id": typed["id"], "config": {**CONDITIONAL, "keep_unlabelled": True}}
    )
    assert kept.status_code == 201, kept.text
    run = kept.json()
    assert run["config"]["label_names"] == ["Fire", "Water", "(unlabelled)"]
    assert run["total_steps"] == 2 * (28 // 4)  # the four unlabelled images train too
    assert run_training(settings, client.app.state.sessionmaker, run["id"]) == "completed"
    session.expire_all()
    last = session.query(Checkpoint).filter_by(run_id=run["id"]).order_by(Checkpoint.step.desc()).first()
    assert last.step == 14
    assert client.get(f"/api/runs/{run['id']}/report").json()["unlabelled"] == {"count": 4, "kept": True}
    grey = generate(client, run["id"], label="(unlabelled)")
    assert grey["labels"] == ["(unlabelled)"] * 8

    full = upload(client, labelled_zip(per_label=12, unlabelled=0), "full")
    plain = client.post(
        "/api/runs", json={"dataset_id": full["id"], "config": {**CONDITIONAL, "keep_unlabelled": True}}
    )
    assert plain.json()["config"]["label_names"] == ["Fire", "Water"]  # nothing to keep
    refused = client.post(
        "/api/runs", json={"dataset_id": full["id"], "config": {**TINY_CONFIG, "keep_unlabelled": True}}
    )
    assert refused.status_code == 422 and "keep_unlabelled only applies to conditional runs" in refused.text


def test_a_card_of_one_of_the_runs_labels_draws_its_art_for_that_label(
    client: TestClient, conditional_run: dict
) -> None:
    def card(label: str) -> tuple[dict, bytes]:
        body = {"run_id": conditional_run["id"], "seed": 4, "label": label, "n": 1, "format": "png"}
        response = client.post("/cards", json=body)
        assert response.status_code == 200, response.text
        return response.headers, response.content

    fire, fire_png = card("Fire")
    assert fire["X-Art-Label"] == "Fire"
    water, _ = card("water")  # card types are matched in any case
    assert water["X-Art-Label"] == "Water"
    psychic, _ = card("Psychic")  # a card type the run has no label for: art as without one
    assert "X-Art-Label" not in psychic
    assert card("Fire")[1] == fire_png  # the same seed and label give the same card
