"""`pokegan datasets add|list` against the configured database (Settings from the environment)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from cli.main import main
from core.db.migrate import upgrade_to_head
from core.db.session import make_engine, make_sessionmaker
from core.db.tables import Dataset
from core.settings import Settings
from datasets.cache import cache_path
from datasets.options import PrepareOptions
from tests.app.factories import image_zip, png_bytes, queued_tasks
from tests.datasets.http_server import ImageHost, serve
from tests.worker.processes import ROOT, wait_for


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI's Settings() at the test's private database, broker and data folder."""
    for name in ("DATABASE_URL", "BROKER_URL", "ALLOW_PRIVATE_URLS", "FOLDER_IMPORT_ROOTS", "MAX_UPLOAD_MB"):
        monkeypatch.delenv(f"POKEGAN_{name}", raising=False)
    monkeypatch.setenv("POKEGAN_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("POKEGAN_DATABASE_URL", settings.database_url)
    if settings.broker_url:
        monkeypatch.setenv("POKEGAN_BROKER_URL", settings.broker_url)
    return settings


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with serve() as host:
        yield host


def datasets(settings: Settings) -> list[Dataset]:
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(Dataset).order_by(Dataset.id)))
    finally:
        engine.dispose()


def write_pngs(folder: Path, names: list[str]) -> list[Path]:
    paths = []
    for index, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(index))
        paths.append(path)
    return paths


def test_a_folder_becomes_a_dataset_prepared_at_the_given_size(
    cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "sprites"
    write_pngs(folder, ["a.png", "b.png", "gen2/c.png"])
    (folder / "readme.txt").write_text("hello")
    preview = tmp_path / "out" / "preview.png"

    code = main(
        ["datasets", "add", str(folder), "--fit", "crop", "--size", "32x24", "--preview", str(preview)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    [dataset] = datasets(cli_env)
    assert (dataset.name, dataset.status, dataset.image_count, dataset.source_kind) == (
        "sprites",
        "ready",
        3,
        "folder",
    )
    assert dataset.prepare["fit"] == "crop"
    assert f"dataset {dataset.id} 'sprites': ready, 3 images (folder from {folder})" in out
    assert "skipped 1: 1 not an image" in out and "readme.txt: not an image" in out
    assert "prepared 3 images at 32x24 (fit crop)" in out and "decoded now" in out
    # the cache the worker loads for a run at 32x24 on this dataset is already there
    options = PrepareOptions(height=32, width=24, fit="crop")
    assert cache_path(cli_env.dataset_dir(dataset.id), options).is_file()
    with Image.open(preview) as grid:
        assert grid.size == (2 * (24 + 2) + 2, 2 * (32 + 2) + 2)  # 3 images: 2 columns, 2 rows

    # `prepare` on the same dataset: cached at the same options, decoded again after a change of fit
    assert main(["datasets", "prepare", str(dataset.id), "--size", "32x24"]) == 0
    assert "(fit crop)" in (out := capsys.readouterr().out) and "loaded from the cache" in out
    assert main(["datasets", "prepare", str(dataset.id), "--size", "32x24", "--fit", "pad"]) == 0
    assert "(fit pad)" in (out := capsys.readouterr().out) and "decoded now" in out
    assert datasets(cli_env)[0].prepare["fit"] == "pad"
    assert main(["datasets", "prepare", "999"]) == 2
    assert "dataset 999 does not exist" in capsys.readouterr().err


def test_archives_and_image_files_are_imported_like_uploads(
    cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "gen1.zip"
    archive.write_bytes(image_zip(4, extra={"notes.txt": b"not an image"}))
    assert main(["datasets", "add", str(archive)]) == 0
    images = write_pngs(tmp_path / "loose", ["x.png", "y.png"])
    text = tmp_path / "loose" / "z.txt"
    text.write_text("words")
    assert main(["datasets", "add", *map(str, images), str(text), "--name", "loose ones"]) == 0
    first, second = datasets(cli_env)
    assert (first.name, first.source_kind, first.image_count, first.status) == ("gen1", "zip", 4, "ready")
    assert (second.name, second.source_kind, second.image_count) == ("loose ones", "images", 2)
    assert second.skipped == [{"item": "z.txt", "reason": "not an image"}]

    capsys.readouterr()
    assert main(["datasets", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "loose ones" in listing[0] and "gen1" in listing[1] and "ready" in listing[1]


def csv_text(host: ImageHost) -> str:
    rows = [f"mon {i},{host.base}/img/{i}.png" for i in range(3)]
    return "name,image_url\n" + "\n".join([*rows, f"gone,{host.base}/gone.png", "ftp,ftp://x/y.png"]) + "\n"


def test_a_csv_is_downloaded_inline_with_a_progress_bar(
    cli_env: Settings,
    image_host: ImageHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POKEGAN_ALLOW_PRIVATE_URLS", "true")  # the image host is on loopback
    source = tmp_path / "cards.csv"
    source.write_text(csv_text(image_host))

    assert main(["datasets", "add", str(source)]) == 0
    captured = capsys.readouterr()
    [dataset] = datasets(cli_env)
    assert (dataset.name, dataset.status, dataset.image_count, dataset.source_kind) == (
        "cards",
        "ready",
        3,
        "csv",
    )
    assert f"dataset {dataset.id} 'cards': ready, 3 images (csv)" in captured.out
    assert "skipped 2: 1 only http and https URLs are allowed, 1 HTTP 404" in captured.out
    assert f"row 4 ({image_host.base}/gone.png): HTTP 404" in captured.out
    assert "downloading: 100%" in captured.err and "4/4" in captured.err  # tqdm over the 4 http rows
    assert queued_tasks(cli_env) == []  # imported here, not handed to a worker
    assert image_host.hits["/img/0.png"] == 1


def test_a_csv_url_is_fetched_with_the_address_checks(
    cli_env: Settings,
    image_host: ImageHost,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image_host.images["pokemon.csv"] = csv_text(image_host).encode()
    url = f"{image_host.base}/img/pokemon.csv"

    assert main(["datasets", "add", url]) == 2  # loopback is a private address: refused by default
    assert "could not download" in capsys.readouterr().err
    assert image_host.hits["/img/pokemon.csv"] == 0 and datasets(cli_env) == []

    monkeypatch.setenv("POKEGAN_ALLOW_PRIVATE_URLS", "true")
    assert main(["datasets", "add", url]) == 0
    [dataset] = datasets(cli_env)
    assert (dataset.name, dataset.status, dataset.image_count) == ("pokemon", "ready", 3)

    assert main(["datasets", "add", f"{image_host.base}/img/0.png"]) == 2
    assert "not a CSV of image URLs but an image file" in capsys.readouterr().err
    assert main(["datasets", "add", f"{image_host.base}/redirect-loop"]) == 2
    assert "more than 5 redirects" in capsys.readouterr().err
    assert len(datasets(cli_env)) == 1


def test_bad_input_exits_2_with_a_sentence_and_creates_nothing(
    cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "sprites"
    [image] = write_pngs(folder, ["a.png"])
    notes = tmp_path / "notes.txt"
    notes.write_text("just words")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        "does not exist": [str(tmp_path / "nowhere")],
        "is a folder: give one folder on its own": [str(folder), str(image)],
        "not a CSV with an image_url column": [str(notes)],
        "No usable image": [str(empty)],
        "only http and https": ["ftp://example.com/cards.csv"],
        "give one URL on its own": ["http://example.com/a.csv", str(image)],
    }
    for message, argv in cases.items():
        assert main(["datasets", "add", *argv]) == 2, message
        assert message in capsys.readouterr().err
    for flags in (["--size", "64"], ["--size", "4x4"], ["--fit", "zoom"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["datasets", "add", str(folder), *flags])
        assert exit_info.value.code == 2
        assert "--" in capsys.readouterr().err
    assert datasets(cli_env) == []
    assert [p.name for p in cli_env.datasets_dir.iterdir()] == []


def test_a_csv_where_nothing_downloads_exits_1_with_the_reasons(
    cli_env: Settings,
    image_host: ImageHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POKEGAN_ALLOW_PRIVATE_URLS", "true")
    source = tmp_path / "broken.csv"
    source.write_text(f"image_url\n{image_host.base}/gone.png\n{image_host.base}/page.html\n")
    assert main(["datasets", "add", str(source), "--size", "32x24"]) == 1
    out = capsys.readouterr().out
    assert "failed, 0 images" in out and "no image could be downloaded" in out and "prepared" not in out
    [dataset] = datasets(cli_env)
    assert dataset.status == "failed"


@pytest.fixture
def slow_host() -> Iterator[str]:
    """Every /slow/<n>.png answers after a second: an import of many takes long enough to interrupt."""
    body = png_bytes(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            time.sleep(1.0)
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_ctrl_c_keeps_the_downloads_and_queues_the_rest_for_a_worker(
    cli_env: Settings, slow_host: str, tmp_path: Path
) -> None:
    source = tmp_path / "slow.csv"
    source.write_text("image_url\n" + "".join(f"{slow_host}/slow/{i}.png\n" for i in range(40)))
    upgrade_to_head(cli_env)  # so the test can watch the row while the command runs
    env = {**os.environ, "POKEGAN_ALLOW_PRIVATE_URLS": "true"}  # with cli_env's POKEGAN_* settings
    cli = subprocess.Popen(
        [sys.executable, "-m", "cli", "datasets", "add", str(source)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: (rows := datasets(cli_env)) and rows[0].progress > 0,
            timeout=60,
            what="the first downloads",
        )
        cli.send_signal(signal.SIGINT)
        _out, err = cli.communicate(timeout=60)
    finally:
        cli.kill()
    assert cli.returncode == 130, err
    assert "interrupted: dataset 1 keeps what was downloaded" in err
    [dataset] = datasets(cli_env)
    assert dataset.status == "importing"
    downloaded = list((cli_env.dataset_dir(dataset.id) / "raw").glob("*.png"))
    assert 0 < len(downloaded) < 40
    assert queued_tasks(cli_env) == [("pokegan.import_dataset", "[1]")]  # a worker resumes it
