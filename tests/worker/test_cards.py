"""Cards at card shape through the whole stack: a CSV of card images on a local host, imported by the real
worker, prepared with the dataset's options, trained with the `cards` preset and drawn by POST /generate,
all at 96 x 128 px (w x h). One `pokegan serve` (web + real Celery worker) serves every test here."""

from __future__ import annotations

import base64
import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from datasets.options import PrepareOptions
from models.archs import base_grid
from models.presets import PRESETS
from tests.live import LiveStack, live_stack
from tests.worker.processes import wait_for

CARD_MM = (63, 88)  # width, height of a trading card
SOURCE_PX = (36, 50)  # the served card images: the card's shape, scaled down
N_CARDS = 16
BACKGROUND = (0, 0, 255)  # the dataset's pad colour: must show in what the worker trained on
GRID_PAD = 2  # padding torchvision's make_grid and app.sampling.grid_image put around cells
TINY = {  # the preset's shape and arch, with widths that train an epoch in well under a second
    "nz": 8, "ngf": 4, "ndf": 4, "batch_size": 8, "epochs": 1, "device": "cpu",
    "log_every": 1, "grad_stats_every": 1, "holdout_fraction": 0,
}  # fmt: skip


def card_png(i: int) -> bytes:
    """A white card with a coloured frame and a disc: full-bleed, so padding is the only BACKGROUND."""
    width, height = SOURCE_PX
    image = Image.new("RGB", SOURCE_PX, "white")
    draw = ImageDraw.Draw(image)
    frame = (200, 40 + 12 * i, 30)
    draw.rectangle((0, 0, width - 1, height - 1), outline=frame, width=3)
    draw.ellipse((8, 10 + i % 8, 28, 30 + i % 8), fill=(30 * (i % 8), 160, 90))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def card_host() -> Iterator[str]:
    cards = {f"/cards/{i}.png": card_png(i) for i in range(N_CARDS)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = cards.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    env = {"POKEGAN_ALLOW_PRIVATE_URLS": "true"}  # the card host is on loopback
    with live_stack(tmp_path_factory.mktemp("cards"), env=env) as live:
        yield live


@dataclass(frozen=True)
class TrainedCards:
    base_url: str
    dataset: dict[str, Any]
    run: dict[str, Any]


@pytest.fixture(scope="module")
def trained(stack: LiveStack, card_host: str) -> Iterator[TrainedCards]:
    """Upload the CSV, let the worker import it, set fit=pad on a blue background, train one epoch."""
    with httpx.Client(base_url=stack.base_url, timeout=60) as client:
        rows = "".join(f"card {i},{card_host}/cards/{i}.png\n" for i in range(N_CARDS))
        csv = f"name,image_url\n{rows}lost card,{card_host}/cards/lost.png\n"
        created = client.post("/api/datasets", data={"name": "cards"}, files={"file": ("cards.csv", csv)})
        assert created.status_code == 201, created.text
        dataset_id = created.json()["id"]
        dataset = wait_for(
            lambda: _if(
                client.get(f"/api/datasets/{dataset_id}").json(), lambda d: d["status"] != "importing"
            ),
            timeout=60,
            what="the worker to import the CSV",
            log_path=stack.data_dir / "serve.log",
        )
        patched = client.patch(
            f"/api/datasets/{dataset_id}", json={"prepare": {"fit": "pad", "background": list(BACKGROUND)}}
        )
        assert patched.status_code == 200, patched.text
        started = client.post("/api/runs", json={"dataset_id": dataset_id, "preset": "cards", "config": TINY})
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        run = wait_for(
            lambda: _if(
                client.get(f"/api/runs/{run_id}").json(), lambda r: r["status"] not in ("queued", "running")
            ),
            timeout=120,
            what="the worker to train the cards run",
            log_path=stack.data_dir / "serve.log",
        )
    yield TrainedCards(stack.base_url, dataset, run)


def _if(value: dict[str, Any], condition: Any) -> dict[str, Any] | None:
    return value if condition(value) else None


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def cell_shape(grid_size: tuple[int, int], columns: int, rows: int) -> tuple[int, int]:
    """(width, height) of one cell of a grid with GRID_PAD px around every cell."""
    width, height = grid_size
    return (width - GRID_PAD) // columns - GRID_PAD, (height - GRID_PAD) // rows - GRID_PAD


def test_the_cards_preset_is_the_card_like_shape_that_wastes_least() -> None:
    config = PRESETS["cards"].config
    assert (config.width, config.height) == (96, 128)
    assert base_grid(config.arch, config.height, config.width) == (4, 3)  # 3 wide x 4 tall, x32

    def padded_share(width: int, height: int) -> float:
        """Share of a width x height image a padded card leaves empty."""
        scale = min(width / CARD_MM[0], height / CARD_MM[1])
        return 1 - (CARD_MM[0] * scale * CARD_MM[1] * scale) / (width * height)

    assert padded_share(96, 128) < 0.05 < padded_share(64, 96)


@pytest.mark.slow
def test_a_csv_of_cards_imports_through_the_worker_with_its_failures_reported(trained: TrainedCards) -> None:
    dataset = trained.dataset
    assert (dataset["status"], dataset["image_count"], dataset["error"]) == ("ready", N_CARDS, None)
    [skipped] = dataset["skipped"]
    assert skipped["item"].startswith(f"row {N_CARDS + 1} (") and "404" in skipped["reason"]


@pytest.mark.slow
def test_the_run_trains_at_card_shape_on_the_datasets_preparation(
    trained: TrainedCards, stack: LiveStack
) -> None:
    run = trained.run
    assert run["status"] == "completed", run["error"]
    config = run["config"]
    assert (config["arch"], config["image_size"], config["image_width"]) == ("dcgan128", 128, 96)

    # The worker prepared the images with the dataset's options at the run's height x width ...
    options = PrepareOptions(height=128, width=96, fit="pad", background=BACKGROUND)
    cache = stack.data_dir / "datasets" / str(trained.dataset["id"]) / "cache"
    assert (cache / f"prepared-{options.cache_key()}.pt").is_file()
    with httpx.Client(base_url=trained.base_url, timeout=60) as client:
        real = client.get(f"/api/runs/{run['id']}/real.png")
        grid = client.get(f"/api/runs/{run['id']}/grids/1.png")
    # ... and trained on them: the real-images grid shows card cells with blue padding at the sides.
    with Image.open(io.BytesIO(real.content)) as image:
        columns = min(8, N_CARDS)
        assert cell_shape(image.size, columns, math.ceil(N_CARDS / columns)) == (96, 128)
        assert image.convert("RGB").getpixel((GRID_PAD, GRID_PAD + 64)) == BACKGROUND
        assert image.convert("RGB").getpixel((GRID_PAD + 48, GRID_PAD + 64)) != BACKGROUND
    assert cell_shape(png_size(grid.content), 8, 8) == (96, 128)  # 64 fixed-noise samples


@pytest.mark.slow
def test_generate_draws_card_shaped_images(trained: TrainedCards) -> None:
    with httpx.Client(base_url=trained.base_url, timeout=60) as client:
        grid = client.post("/generate", json={"run_id": trained.run["id"], "n": 6, "seed": 3})
        single = client.post("/generate", json={"run_id": trained.run["id"], "n": 2, "format": "json"})
    assert grid.status_code == 200 and grid.headers["content-type"] == "image/png", grid.text
    width, height = cell_shape(png_size(grid.content), 3, 2)
    assert (width, height) == (96, 128)
    assert abs(width / height - CARD_MM[0] / CARD_MM[1]) < 0.04
    assert [png_size(base64.b64decode(b64)) for b64 in single.json()["images"]] == [(96, 128)] * 2


@pytest.mark.slow
@pytest.mark.browser
def test_the_pages_show_card_images_at_their_aspect(trained: TrainedCards) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    run_id, dataset_id = trained.run["id"], trained.dataset["id"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{trained.base_url}/runs/{run_id}")
            assert_shown_at_natural_aspect(page, "#viewer-img")
            page.goto(f"{trained.base_url}/generate?run_id={run_id}")
            page.fill("#g-n", "6")
            page.click("#generate-btn")
            page.wait_for_selector("#generated-grid")
            assert_shown_at_natural_aspect(page, "#generated-grid")
            page.goto(f"{trained.base_url}/datasets/{dataset_id}?preview=128x96")
            assert_shown_at_natural_aspect(page, "#prepared-preview")
        finally:
            browser.close()


def assert_shown_at_natural_aspect(page: Any, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
        timeout=30_000,
    )
    natural_w, natural_h, shown_w, shown_h = page.eval_on_selector(
        selector, "i => [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight]"
    )
    assert natural_w < natural_h * 1.5  # card cells: the grids are not wide strips
    assert shown_w > 0 and abs(shown_w / shown_h - natural_w / natural_h) < 0.02, (
        selector,
        natural_w,
        natural_h,
    )
