"""Datasets end to end through the web app: server folders, CSV imports finished by a real worker, and
previews of the preparation at a run's height x width."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from app.main import create_app
from core.db.tables import Dataset
from core.settings import Settings
from tests.app.factories import image_zip, png_bytes
from tests.datasets.http_server import ImageHost, serve
from tests.worker.processes import running_worker, wait_for

RED = (255, 0, 0)


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    root = tmp_path / "imports"
    root.mkdir()
    return root


@pytest.fixture
def folder_client(settings: Settings, roots: Path) -> Iterator[TestClient]:
    """The app with `roots` as its only import folder."""
    app = create_app(settings.model_copy(update={"folder_import_roots": [roots]}))
    with TestClient(app) as client:
        yield client


def write_images(folder: Path, names: list[str]) -> None:
    for index, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(png_bytes(index))


def dataset_rows(client: TestClient) -> int:
    with client.app.state.sessionmaker() as session:
        return session.scalar(select(func.count()).select_from(Dataset))


def leftovers(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.datasets_dir.iterdir()) if settings.datasets_dir.exists() else []


def refusal(response: Any) -> str:
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "path"]
    return error["msg"]


def test_a_folder_under_an_import_root_becomes_a_ready_dataset(
    folder_client: TestClient, roots: Path, tmp_path: Path
) -> None:
    sprites = roots / "sprites"
    write_images(sprites, ["a.png", "b.png", "gen2/c.png"])
    (sprites / "notes.txt").write_text("not an image")
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(9))
    os.symlink(secret, sprites / "link.png")  # a link must not pull in a file from outside the root

    response = folder_client.post("/api/datasets/folder", json={"name": "sprites", "path": str(sprites)})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["image_count"], body["source_kind"]) == ("ready", 3, "folder")
    assert {s["item"]: s["reason"] for s in body["skipped"]} == {
        "notes.txt": "not an image",
        "link.png": "link or special file",
    }
    assert body["stats"]["source"] == str(sprites)
    assert len(body["thumbnail_urls"]) == 3
    assert folder_client.get(body["preview_url"]).headers["content-type"] == "image/png"


def test_folders_outside_the_roots_are_refused_and_nothing_is_created(
    folder_client: TestClient, settings: Settings, roots: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    write_images(outside, ["x.png"])
    os.symlink(outside, roots / "escape")
    (roots / "empty").mkdir()
    (roots / "file.png").write_bytes(png_bytes(1))

    def post(path: str) -> str:
        return refusal(folder_client.post("/api/datasets/folder", json={"name": "n", "path": path}))

    assert "is not inside an allowed import folder" in post(str(outside))
    assert str(roots) in post(str(outside))  # the message names the folders that are allowed
    assert "is not inside an allowed import folder" in post(f"{roots}/../outside")
    assert "is not inside an allowed import folder" in post(str(roots / "escape"))
    assert "does not exist" in post(str(roots / "nowhere"))
    assert "is not a folder" in post(str(roots / "file.png"))
    assert "No usable image" in post(str(roots / "empty"))
    assert refusal(folder_client.post("/api/datasets/folder", json={"name": "n", "path": "  "}))
    blank_name = folder_client.post("/api/datasets/folder", json={"name": " ", "path": str(roots)})
    assert blank_name.status_code == 422 and blank_name.json()["detail"][0]["loc"] == ["body", "name"]
    assert dataset_rows(folder_client) == 0
    assert leftovers(settings) == []


def test_folder_imports_are_off_and_hidden_without_roots(client: TestClient, roots: Path) -> None:
    write_images(roots / "sprites", ["a.png"])
    message = refusal(client.post("/api/datasets/folder", json={"name": "n", "path": str(roots / "sprites")}))
    assert "no import folders are configured" in message
    assert 'id="folder-form"' not in client.get("/datasets").text
    assert dataset_rows(client) == 0


def test_the_datasets_page_imports_a_folder_inline(folder_client: TestClient, roots: Path) -> None:
    write_images(roots / "gen1", ["a.png", "b.png"])
    page = folder_client.get("/datasets").text
    assert 'id="folder-form"' in page and str(roots) in page

    htmx = {"HX-Request": "true"}
    ok = folder_client.post(
        "/datasets/folder", data={"name": "gen 1", "path": str(roots / "gen1")}, headers=htmx
    )
    assert ok.status_code == 201 and 'id="upload-ok"' in ok.text and "2 images imported" in ok.text
    assert ok.headers["HX-Trigger"] == "datasets-changed"
    refused = folder_client.post("/datasets/folder", data={"name": "x", "path": "/etc"}, headers=htmx)
    assert refused.status_code == 422 and "not inside an allowed import folder" in refused.text
    plain = folder_client.post(
        "/datasets/folder", data={"name": "again", "path": str(roots / "gen1")}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"].startswith("/datasets/")


def grid_cells(png: bytes, columns: int, rows: int) -> tuple[Image.Image, tuple[int, int]]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    return image, ((width - 2) // columns - 2, (height - 2) // rows - 2)


def test_the_prepared_preview_uses_the_datasets_options_at_any_shape(client: TestClient) -> None:
    created = client.post("/api/datasets", data={"name": "squares"}, files={"file": ("s.zip", image_zip(4))})
    url = f"/api/datasets/{created.json()['id']}"
    patched = client.patch(url, json={"prepare": {"fit": "pad", "background": list(RED)}})
    assert patched.status_code == 200, patched.text

    card = client.get(f"{url}/prepared.png", params={"height": 32, "width": 24})
    assert card.status_code == 200, card.text
    image, cell = grid_cells(card.content, 2, 2)
    assert cell == (24, 32)
    # 20 px squares padded into 24 x 32: four red rows above each image, none beside it
    assert image.getpixel((2 + 12, 2 + 1)) == RED
    assert image.getpixel((2 + 12, 2 + 16)) != RED
    square = client.get(f"{url}/prepared.png", params={"size": 16})
    assert grid_cells(square.content, 2, 2)[1] == (16, 16)
    wide = client.get(f"{url}/prepared.png", params={"height": 16, "width": 48})
    assert grid_cells(wide.content, 2, 2)[1] == (48, 16)
    assert client.get(f"{url}/prepared.png", params={"height": 4}).status_code == 422

    page = client.get(f"/datasets/{created.json()['id']}", params={"preview": "128x96"}).text
    assert "prepared.png?height=128&width=96" in page and "96 × 128 px (cards)" in page
    fallback = client.get(f"/datasets/{created.json()['id']}", params={"preview": "9999x1"}).text
    assert "prepared.png?height=64&width=64" in fallback


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with serve() as host:
        yield host


@pytest.mark.slow
def test_csv_imports_report_what_failed_and_end_ready_or_failed(
    settings: Settings, image_host: ImageHost, tmp_path: Path
) -> None:
    """Two CSVs uploaded through the API, imported by a real worker process from a local image host."""
    settings = settings.model_copy(update={"allow_private_urls": True})  # the host is on loopback
    base = image_host.base
    mixed = "\n".join(
        [
            "name,image_url",
            *(f"mon {i},{base}/img/{i}.png" for i in range(3)),
            f"gone,{base}/gone.png",
            f"page,{base}/page.html",
            "ftp,ftp://example.com/x.png",
            f"again,{base}/img/0.png",
        ]
    )
    broken = f"image_url\n{base}/gone-1.png\n{base}/gone-2.png\n"
    with TestClient(create_app(settings)) as client:
        ids = []
        for name, csv in (("mixed", mixed), ("broken", broken)):
            created = client.post("/api/datasets", data={"name": name}, files={"file": (f"{name}.csv", csv)})
            assert created.status_code == 201 and created.json()["status"] == "importing", created.text
            ids.append(created.json()["id"])
        log_path = tmp_path / "worker.log"
        with running_worker(settings, log_path):
            wait_for(
                lambda: all(client.get(f"/api/datasets/{i}").json()["status"] != "importing" for i in ids),
                timeout=60,
                what="the worker to import both CSVs",
                log_path=log_path,
            )
        ready, failed = (client.get(f"/api/datasets/{i}").json() for i in ids)
        ready_page = client.get(f"/datasets/{ids[0]}").text
        failed_page = client.get(f"/datasets/{ids[1]}").text

    assert (ready["status"], ready["image_count"], ready["error"]) == ("ready", 3, None)
    reasons = {s["item"]: s["reason"] for s in ready["skipped"]}
    assert reasons == {
        f"row 4 ({base}/gone.png)": "HTTP 404",
        f"row 5 ({base}/page.html)": "not an image",
        "row 6 (ftp://example.com/x.png)": "only http and https URLs are allowed",
        f"row 7 ({base}/img/0.png)": "duplicate URL",
    }
    assert len(ready["thumbnail_urls"]) == 3
    assert "HTTP 404" in ready_page and "duplicate URL" in ready_page

    assert (failed["status"], failed["image_count"]) == ("failed", 0)
    assert "no image could be downloaded" in failed["error"] and "2 skipped: 2 HTTP 404" in failed["error"]
    assert [s["reason"] for s in failed["skipped"]] == ["HTTP 404", "HTTP 404"]
    assert "no image could be downloaded" in failed_page
