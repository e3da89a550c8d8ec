"""Dataset labels through HTTP: from folders and labels.csv in a zip, from a column of an imported CSV;
bad input is refused (422) or warned about, and a refusal changes nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from core.settings import Settings
from datasets.labels import LABELS_FILE
from tests.app.factories import png_bytes, zip_bytes
from tests.datasets.http_server import ImageHost, serve
from worker.importing import run_import


def upload_zip(client: TestClient, members: dict[str, bytes], name: str = "typed"):
    data = zip_bytes(members)
    return client.post("/api/datasets", data={"name": name}, files={"file": ("typed.zip", data)})


def test_folder_names_in_a_zip_become_labels(client: TestClient, settings: Settings) -> None:
    members = {f"mons/Fire/f{i}.png": png_bytes(i) for i in range(3)}
    members |= {f"mons/Water/w{i}.png": png_bytes(10 + i) for i in range(2)}
    members["mons/loose.png"] = png_bytes(99)
    response = upload_zip(client, members)
    assert response.status_code == 201, response.text
    body = client.get(f"/api/datasets/{response.json()['id']}").json()
    assert body["labels"] == {"Fire": 3, "Water": 2}
    assert body["unlabelled"] == 1 and body["label_source"] == "folders"
    assert any("fewer images than a batch of 64" in w for w in body["label_warnings"])
    stored = json.loads((settings.dataset_dir(body["id"]) / LABELS_FILE).read_text())
    assert sorted(stored["labels"].values()) == ["Fire", "Fire", "Fire", "Water", "Water"]
    page = client.get(f"/datasets/{body['id']}").text
    assert "Fire" in page and "folder it was in" in page
    assert page.count('class="label-row"') == 2


def test_a_labels_csv_in_the_zip_labels_by_file(client: TestClient) -> None:
    members = {f"m{i}.png": png_bytes(i) for i in range(4)}
    members["labels.csv"] = b"file,label\nm0.png,Grass\nm1.png,Grass\nm2.png,Bug\n"
    body = upload_zip(client, members).json()
    assert body["labels"] == {"Grass": 2, "Bug": 1}
    assert body["unlabelled"] == 1 and body["label_source"] == "labels.csv"
    assert body["image_count"] == 4 and body["skipped"] == []  # the table is not reported as a bad image


def test_path_characters_are_sanitised_and_too_many_labels_refused(
    client: TestClient, settings: Settings
) -> None:
    members = {"a.png": png_bytes(1), "b.png": png_bytes(2), "labels.csv": b"file,label\na.png,../../etc\n"}
    body = upload_zip(client, members).json()
    assert body["labels"] == {"etc": 1}
    assert any("renamed 'etc'" in w for w in body["label_warnings"])
    assert any("same label" in w for w in body["label_warnings"])

    many = {f"k{i}/m{i}.png": png_bytes(i) for i in range(101)}
    before = sorted(p.name for p in settings.datasets_dir.iterdir())
    refused = upload_zip(client, many)
    assert refused.status_code == 422
    assert "101 distinct labels; at most 100 are allowed" in refused.json()["detail"][0]["msg"]
    assert sorted(p.name for p in settings.datasets_dir.iterdir()) == before  # nothing left behind


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with serve() as host:
        yield host


def test_a_csv_column_labels_an_imported_csv_and_refusals_keep_the_labels(
    settings: Settings, image_host: ImageHost, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"allow_private_urls": True})  # the image host is on loopback
    base = image_host.base
    csv = (
        "name,image_url,types,supertype\n"
        f"a,{base}/img/red.png,\"['Fire', 'Flying']\",Pokémon\n"
        f"b,{base}/img/green.png,['Grass'],Pokémon\n"
        f"c,{base}/img/blue.png,['Water'],Pokémon\n"
        f"d,{base}/img/1.png,['Fire'],Pokémon\n"
    )
    app = create_app(settings)
    with TestClient(app) as client:
        created = client.post("/api/datasets", data={"name": "cards"}, files={"file": ("cards.csv", csv)})
        dataset_id = created.json()["id"]
        assert run_import(settings, app.state.sessionmaker, dataset_id) == "ready"

        labelled = client.put(f"/api/datasets/{dataset_id}/labels", json={"column": "types"})
        assert labelled.status_code == 200, labelled.text
        body = labelled.json()
        assert body["labels"] == {"Fire": 2, "Grass": 1, "Water": 1}
        assert "['Fire', 'Flying']" in body["label_rule"]
        stored = (settings.dataset_dir(dataset_id) / LABELS_FILE).read_bytes()

        missing = client.put(f"/api/datasets/{dataset_id}/labels", json={"column": "colour"})
        assert missing.status_code == 422
        assert "no column 'colour'; its columns are name, image_url, types, supertype" in missing.text
        assert (settings.dataset_dir(dataset_id) / LABELS_FILE).read_bytes() == stored  # unchanged
        assert client.get(f"/api/datasets/{dataset_id}").json()["labels"] == body["labels"]
        same = client.put(f"/api/datasets/{dataset_id}/labels", json={"column": "supertype"})
        assert same.status_code == 200 and any("same label" in w for w in same.json()["label_warnings"])
        page = client.post(f"/datasets/{dataset_id}/labels", data={"column": "types"}).text
        assert "Labels saved." in page and page.count('class="label-row"') == 3

        cleared = client.delete(f"/api/datasets/{dataset_id}/labels").json()
        assert cleared["labels"] == {} and cleared["unlabelled"] is None
        assert not (settings.dataset_dir(dataset_id) / LABELS_FILE).exists()


def test_an_archive_dataset_has_no_columns_to_label_by(client: TestClient) -> None:
    body = upload_zip(client, {"a.png": png_bytes(1), "b.png": png_bytes(2)}).json()
    assert body["labels"] == {} and body["unlabelled"] is None
    response = client.put(f"/api/datasets/{body['id']}/labels", json={"column": "types"})
    assert response.status_code == 422 and "not imported from a CSV" in response.text
