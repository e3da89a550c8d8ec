"""POST /cards through the app against a checkpoint of a really trained tiny GAN; the Cards page renders."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from cards import default_layout
from core.settings import Settings
from datasets.csv_import import METADATA_FILE
from datasets.layout import DatasetPaths
from models.config import TrainConfig
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.app.factories import TINY_CONFIG, add_checkpoint_row, make_dataset, make_run
from tests.cards.kaggle import KAGGLE_ROWS
from tests.cards.ocr import reads_back
from tests.conftest import synthetic_images


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("trained")
    train(TrainConfig(**TINY_CONFIG), synthetic_images(8, 16), ListSink(), RunDirStore(run_dir))
    return sorted(run_dir.glob("ckpt-*.pt"))[-1]


@pytest.fixture
def run(session: Session, checkpoint_file: Path):
    run = make_run(session, make_dataset(session), status="completed")
    add_checkpoint_row(session, run, checkpoint_file, epoch=2, step=4)
    return run


def post(client: TestClient, **body):
    return client.post("/cards", json=body)


def test_png_card_reads_back_as_its_header_fields(client: TestClient, run) -> None:
    response = post(client, run_id=run.id, seed=5)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    fields = json.loads(response.headers["x-card"])
    assert (
        response.headers["x-seed"] == "5" and fields["seed"] == 5 and fields["source"] == "built-in syllables"
    )
    card = Image.open(io.BytesIO(response.content))
    assert card.size == (744, 1039)
    name_ok, hp_ok, read_name, read_hp = reads_back(
        card.convert("RGB"), default_layout(), fields["name"], fields["hp"]
    )
    assert name_ok and hp_ok, (fields["name"], fields["hp"], read_name, read_hp)


def test_json_cards_follow_their_seeds_and_text_rerolls_alone(client: TestClient, run) -> None:
    first = post(client, run_id=run.id, seed=3, n=3, format="json", label="fire").json()
    assert [c["seed"] for c in first["cards"]] == [3, 4, 5] and first["text_seed"] == 3
    assert {c["type"] for c in first["cards"]} == {"Fire"}
    card = first["cards"][0]
    assert set(card) >= {"name", "hp", "type", "attacks", "flavor", "image", "weakness", "retreat"}
    assert all({"name", "cost", "damage"} <= set(a) for a in card["attacks"])
    again = post(client, run_id=run.id, seed=3, n=3, format="json", label="Fire").json()
    assert again == first
    reroll = post(client, run_id=run.id, seed=3, text_seed=99, n=1, format="json", label="Fire").json()
    assert reroll["cards"][0]["name"] != card["name"]
    window = default_layout().boxes["art"]
    crop = (window.left, window.top, window.right, window.bottom)

    def art(c: dict) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(c["image"]))).crop(crop))

    assert np.array_equal(art(reroll["cards"][0]), art(card))  # same art seed, same art


def test_pdf_sheet(client: TestClient, run) -> None:
    response = post(client, run_id=run.id, n=9, format="pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and b"/MediaBox" in response.content


def test_text_comes_from_the_datasets_card_metadata(client: TestClient, run, settings: Settings) -> None:
    raw = DatasetPaths(settings.dataset_dir(run.dataset_id)).raw
    raw.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"file": f"{i:05d}.png", **row}) for i, row in enumerate(KAGGLE_ROWS)]
    (raw / METADATA_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = post(client, run_id=run.id, seed=1, n=4, format="json").json()
    assert {c["source"].split(";")[0] for c in data["cards"]} == {
        f"n-gram on dataset #{run.dataset_id} (4 cards)"
    }
    assert {c["type"] for c in data["cards"]} <= {"Fire", "Water"}
    assert {c["hp"] for c in data["cards"]} <= {50, 60, 80, 90}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"n": 0, "format": "json"}, 422, "greater than or equal to 1"),
        ({"n": 10, "format": "json"}, 422, "less than or equal to 9"),
        ({"n": 2, "format": "png"}, 422, "png is one card"),
        ({"label": "banana"}, 422, "unknown label 'banana'.*Grass, Fire, Water"),
        ({"layout": {"size": [744, 1039], "boxes": {}}}, 422, "missing box"),
    ],
)
def test_bad_input(client: TestClient, run, body: dict, status: int, message: str) -> None:
    response = post(client, run_id=run.id, **body)
    assert response.status_code == status, response.text
    assert re.search(message, response.text), response.text


def test_layout_with_text_outside_the_card_is_refused(client: TestClient, run) -> None:
    layout = json.loads((Path(__file__).resolve().parents[2] / "cards" / "layout.json").read_text())
    layout["boxes"]["name"]["box"] = [700, 36, 438, 66]
    response = post(client, run_id=run.id, layout=layout)
    assert response.status_code == 422
    assert "box 'name'" in response.text and "outside" in response.text


def test_run_without_checkpoint_and_unknown_run(client: TestClient, session: Session) -> None:
    empty = make_run(session, make_dataset(session))
    response = post(client, run_id=empty.id)
    assert response.status_code == 409 and "no checkpoint" in response.json()["detail"]
    assert post(client, run_id=9999).status_code == 404


def test_cards_page_lists_runs_and_types(client: TestClient, run) -> None:
    page = client.get("/cards")
    assert page.status_code == 200
    assert 'id="cards-form"' in page.text and f'value="{run.id}"' in page.text
    assert '<option value="Lightning">' in page.text and 'href="/cards"' in page.text


def test_the_openapi_schema_has_only_component_references(client: TestClient) -> None:
    """A raw pydantic schema with its own $defs breaks ReDoc ("Invalid reference token: $defs")."""
    text = client.get("/openapi.json").text
    assert "$defs" not in text and '"CardPublic"' in text
