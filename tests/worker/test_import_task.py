"""The dataset import task: a CSV of image URLs served by a local HTTP server becomes a ready dataset."""

from __future__ import annotations

import fcntl
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from app.crud.datasets import CSV_SOURCE_NAME
from core.db.session import session_scope
from core.db.tables import Dataset
from core.queue import enqueue_import
from core.settings import Settings
from datasets.layout import DatasetPaths, list_raw_images
from tests.worker.processes import running_worker, wait_for
from worker.importing import LOCK_NAME, run_import


def png_bytes(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), color).save(buffer, format="PNG")
    return buffer.getvalue()


IMAGES = {f"/img/{i}.png": png_bytes((40 * i, 200 - 30 * i, 90)) for i in range(4)}


class ImageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = IMAGES.get(self.path) or (
            b"just some text, not an image" if self.path == "/notes.txt" else None
        )
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png" if self.path.endswith(".png") else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def import_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_private_urls": True})  # the image server is on loopback


def make_csv_dataset(session_factory: sessionmaker[Session], settings: Settings, urls: list[str]) -> int:
    """What the web does for a CSV upload: an "importing" row and dataset_dir(id)/source.csv."""
    with session_scope(session_factory) as session:
        dataset = Dataset(
            name="from csv", status="importing", source_kind="csv", stats={"csv_rows": len(urls)}
        )
        session.add(dataset)
        session.flush()
        dataset_id = dataset.id
    folder = settings.dataset_dir(dataset_id)
    folder.mkdir(parents=True)
    (folder / CSV_SOURCE_NAME).write_text(
        "name,image_url\n" + "".join(f"card {i},{u}\n" for i, u in enumerate(urls))
    )
    return dataset_id


def get_dataset(session_factory: sessionmaker[Session], dataset_id: int) -> Dataset:
    with session_factory() as session:
        return session.get(Dataset, dataset_id)


def test_a_csv_import_downloads_the_images_and_reports_what_it_skipped(
    import_settings: Settings, session_factory: sessionmaker[Session], image_server: str
) -> None:
    urls = [f"{image_server}/img/{i}.png" for i in range(4)] + [
        f"{image_server}/gone.png",
        f"{image_server}/notes.txt",
    ]
    dataset_id = make_csv_dataset(session_factory, import_settings, urls)
    assert run_import(import_settings, session_factory, dataset_id) == "ready"

    dataset = get_dataset(session_factory, dataset_id)
    assert (dataset.status, dataset.error, dataset.image_count, dataset.progress) == ("ready", None, 4, 1.0)
    skipped = {item["item"]: item["reason"] for item in dataset.skipped}
    assert set(skipped) == {f"row 5 ({image_server}/gone.png)", f"row 6 ({image_server}/notes.txt)"}
    assert "404" in skipped[f"row 5 ({image_server}/gone.png)"]
    assert dataset.stats["csv_rows"] == 6 and dataset.stats["downloaded"] == 4
    paths = DatasetPaths(import_settings.dataset_dir(dataset_id))
    assert len(list_raw_images(paths.raw)) == 4
    assert len(list(paths.thumbs.glob("*.png"))) == 4
    assert run_import(import_settings, session_factory, dataset_id) is None  # ready: nothing more to do


def test_a_csv_with_no_reachable_image_fails_with_the_reasons(
    import_settings: Settings, session_factory: sessionmaker[Session], image_server: str
) -> None:
    dataset_id = make_csv_dataset(
        session_factory, import_settings, [f"{image_server}/gone-{i}.png" for i in range(2)]
    )
    assert run_import(import_settings, session_factory, dataset_id) == "failed"
    dataset = get_dataset(session_factory, dataset_id)
    assert dataset.status == "failed" and "no image could be downloaded" in dataset.error
    assert "2 skipped" in dataset.error and len(dataset.skipped) == 2


def test_a_missing_csv_fails_the_import(
    import_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    dataset_id = make_csv_dataset(session_factory, import_settings, ["http://127.0.0.1:9/x.png"])
    (import_settings.dataset_dir(dataset_id) / CSV_SOURCE_NAME).unlink()
    assert run_import(import_settings, session_factory, dataset_id) == "failed"
    assert "CSV file is missing" in get_dataset(session_factory, dataset_id).error


@pytest.mark.slow
def test_the_import_runs_in_a_worker_process(
    import_settings: Settings, session_factory: sessionmaker[Session], image_server: str, tmp_path: Path
) -> None:
    dataset_id = make_csv_dataset(
        session_factory, import_settings, [f"{image_server}/img/{i}.png" for i in range(3)]
    )
    log_path = tmp_path / "worker.log"
    with running_worker(import_settings, log_path):
        enqueue_import(import_settings, dataset_id)
        wait_for(
            lambda: get_dataset(session_factory, dataset_id).status != "importing",
            timeout=60,
            what="the import to finish",
            log_path=log_path,
        )
    dataset = get_dataset(session_factory, dataset_id)
    assert (dataset.status, dataset.image_count) == ("ready", 3)


def test_an_import_another_worker_holds_is_left_alone(
    import_settings: Settings, session_factory: sessionmaker[Session], image_server: str
) -> None:
    dataset_id = make_csv_dataset(session_factory, import_settings, [f"{image_server}/img/0.png"])
    lock_path = import_settings.dataset_dir(dataset_id) / LOCK_NAME
    with lock_path.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a live worker importing it would
        assert run_import(import_settings, session_factory, dataset_id) is None
        assert get_dataset(session_factory, dataset_id).status == "importing"
    assert run_import(import_settings, session_factory, dataset_id) == "ready"


@pytest.mark.slow
def test_a_starting_worker_finishes_imports_a_dead_worker_left_behind(
    import_settings: Settings, session_factory: sessionmaker[Session], image_server: str, tmp_path: Path
) -> None:
    dataset_id = make_csv_dataset(session_factory, import_settings, [f"{image_server}/img/1.png"])
    # no message on the broker: the worker that took it died
    log_path = tmp_path / "worker.log"
    with running_worker(import_settings, log_path):
        wait_for(
            lambda: get_dataset(session_factory, dataset_id).status != "importing",
            timeout=60,
            what="the unfinished import to be resumed",
            log_path=log_path,
        )
    assert get_dataset(session_factory, dataset_id).status == "ready"
