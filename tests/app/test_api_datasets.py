"""POST/GET /api/datasets: uploads are imported by content, refusals leave nothing behind."""

from __future__ import annotations

import io
import tarfile

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.tables import Dataset
from core.settings import Settings
from tests.app.factories import image_zip, png_bytes, queued_tasks, zip_bytes


def upload(client: TestClient, data: bytes, *, name: str = "sprites", filename: str = "sprites.zip"):
    return client.post("/api/datasets", data={"name": name}, files={"file": (filename, data)})


def leftovers(settings: Settings) -> list[str]:
    return [p.name for p in settings.datasets_dir.iterdir()] if settings.datasets_dir.exists() else []


def dataset_rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Dataset))


def test_zip_upload_creates_a_ready_dataset(client: TestClient, settings: Settings) -> None:
    response = upload(client, image_zip(6))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "sprites"
    assert body["status"] == "ready"
    assert body["image_count"] == 6
    assert body["source_kind"] == "zip"
    assert body["skipped"] == []
    assert len(body["thumbnail_urls"]) == 6
    raw = settings.dataset_dir(body["id"]) / "raw"
    assert len(list(raw.iterdir())) == 6


def test_corrupt_and_non_image_members_are_skipped_and_counted(client: TestClient) -> None:
    broken = png_bytes(1)[:40]  # a PNG signature with the rest cut off
    archive = image_zip(3, extra={"bad/broken.png": broken, "readme.txt": b"hello"})
    response = upload(client, archive)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["image_count"] == 3
    reasons = {item["item"]: item["reason"] for item in body["skipped"]}
    assert set(reasons) == {"bad/broken.png", "readme.txt"}
    assert "corrupt" in reasons["bad/broken.png"]


def test_non_archive_is_refused_without_leftovers(
    client: TestClient, settings: Settings, session: Session
) -> None:
    response = upload(client, b"\x00\x01 definitely not an archive", filename="x.zip")
    assert response.status_code == 422
    assert "x.zip is not a valid zip archive" in response.json()["detail"][0]["msg"]
    assert dataset_rows(session) == 0
    assert leftovers(settings) == []


def test_zip_without_images_is_refused_without_leftovers(
    client: TestClient, settings: Settings, session: Session
) -> None:
    response = upload(client, zip_bytes({"notes.txt": b"no pictures here", "data.bin": b"\x00" * 50}))
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert "image" in message.lower()
    assert dataset_rows(session) == 0
    assert leftovers(settings) == []


def test_too_large_upload_is_refused_with_413(tmp_path) -> None:
    from app.main import create_app

    settings = Settings(data_dir=tmp_path / "data", max_upload_mb=1)
    with TestClient(create_app(settings)) as client:
        big = zip_bytes({f"noise-{i}.bin": bytes(range(256)) * 2600 for i in range(3)})  # ~2 MiB stored
        response = upload(client, big)
        assert response.status_code == 413
        assert "1 MiB" in response.json()["detail"]
        assert client.get("/api/datasets").json() == []
    assert leftovers(settings) == []


def test_tar_and_several_images_are_accepted(client: TestClient) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for i in range(2):
            data = png_bytes(i)
            info = tarfile.TarInfo(f"mon-{i}.png")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    response = upload(client, buffer.getvalue(), filename="sprites.tar")
    assert response.status_code == 201, response.text
    assert response.json()["image_count"] == 2
    assert response.json()["source_kind"] == "tar"

    files = [("file", (f"p{i}.png", png_bytes(10 + i))) for i in range(3)]
    response = client.post("/api/datasets", data={"name": "loose"}, files=files)
    assert response.status_code == 201, response.text
    assert response.json()["image_count"] == 3
    assert response.json()["source_kind"] == "images"


def test_csv_upload_is_queued_for_the_worker(client: TestClient, settings: Settings) -> None:
    csv = b"name,image_url\npikachu,https://example.org/25.png\nbulbasaur,https://example.org/1.png\n"
    response = upload(client, csv, filename="pokemon.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "importing"
    assert body["source_kind"] == "csv"
    assert (settings.dataset_dir(body["id"]) / "source.csv").read_bytes() == csv
    assert ("pokegan.import_dataset", f"[{body['id']}]") in queued_tasks(settings)


def test_missing_name_or_file_is_a_422(client: TestClient) -> None:
    assert client.post("/api/datasets", files={"file": ("a.zip", image_zip(1))}).status_code == 422
    assert client.post("/api/datasets", data={"name": "x"}).status_code == 422


def test_list_get_and_404(client: TestClient) -> None:
    first = upload(client, image_zip(2), name="first").json()
    second = upload(client, image_zip(3), name="second").json()
    listed = client.get("/api/datasets").json()
    assert [d["id"] for d in listed] == [second["id"], first["id"]]
    assert client.get(f"/api/datasets/{first['id']}").json()["image_count"] == 2
    missing = client.get("/api/datasets/999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "dataset 999 does not exist"


def test_preview_and_thumbnails_are_pngs(client: TestClient) -> None:
    body = upload(client, image_zip(4)).json()
    preview = client.get(body["preview_url"])
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/png"
    assert preview.content.startswith(b"\x89PNG")
    thumb = client.get(body["thumbnail_urls"][0])
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    assert client.get(f"/api/datasets/{body['id']}/thumbs/..%2F..%2Fpokegan.db").status_code == 404


def test_delete_dataset(client: TestClient, settings: Settings) -> None:
    body = upload(client, image_zip(2)).json()
    assert client.delete(f"/api/datasets/{body['id']}").status_code == 204
    assert client.get(f"/api/datasets/{body['id']}").status_code == 404
    assert not settings.dataset_dir(body["id"]).exists()


def test_preparation_options_are_validated_and_used(client: TestClient, session: Session) -> None:
    body = upload(client, image_zip(5)).json()
    assert body["prepare"] == {}
    url = f"/api/datasets/{body['id']}"
    bad = client.patch(url, json={"prepare": {"augment_factor": 40}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "prepare", "augment_factor"]
    sized = client.patch(url, json={"prepare": {"height": 32}})
    assert sized.status_code == 422 and "image_size" in sized.json()["detail"][0]["msg"]
    ok = client.patch(url, json={"prepare": {"fit": "crop", "augment_factor": 4, "background": [0, 0, 0]}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["prepare"]["augment_factor"] == 4 and "height" not in ok.json()["prepare"]
    # 5 images x 4 augmented copies = 20 per epoch: a batch of 16 fits now
    run = client.post("/api/runs", json={"dataset_id": body["id"], "config": {"batch_size": 16, "epochs": 1}})
    assert run.status_code == 201, run.text
    assert run.json()["total_steps"] == 1
    preview = client.get(f"{url}/prepared.png", params={"size": 16})
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")


def test_declared_oversize_is_refused_before_the_body_is_read(tmp_path) -> None:
    from app.main import create_app

    settings = Settings(data_dir=tmp_path / "data", max_upload_mb=1)
    with TestClient(create_app(settings)) as client:
        headers = {"Content-Length": str(5 * 1024 * 1024), "Content-Type": "multipart/form-data; boundary=x"}
        response = client.post("/api/datasets", content=b"--x--", headers=headers)
        assert response.status_code == 413
        assert response.json()["detail"] == "the upload is larger than the 1 MiB limit"
        page = client.post("/datasets", content=b"--x--", headers={**headers, "HX-Request": "true"})
        assert page.status_code == 413 and 'id="upload-error"' in page.text
