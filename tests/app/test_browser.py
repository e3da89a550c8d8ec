"""The UI in Chromium against a live server and a real worker: upload, train, watch, cancel, generate."""

from __future__ import annotations

import io
import random
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from tests.live import live_stack

# the first upload to a fresh server can take seconds while its workers import torch beside it
http = httpx.Client(timeout=60.0)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright = pytest.importorskip("playwright.sync_api")

LOCKED_TOKEN = "browser-test-token"
TINY_FORM = {
    "arch": "dcgan", "image_size": "16", "nz": "8", "ngf": "4", "ndf": "4", "batch_size": "4",
    "epochs": "3000", "device": "cpu", "grad_stats_every": "5", "log_every": "100",
}  # fmt: skip


def shapes_zip(path: Path, n: int = 24) -> Path:
    rng = random.Random(4)
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(n):
            image = Image.new("RGB", (24, 24), "white")
            x, y = rng.randrange(8), rng.randrange(8)
            fill = tuple(rng.randrange(256) for _ in range(3))
            (ImageDraw.Draw(image).ellipse if i % 2 else ImageDraw.Draw(image).rectangle)(
                (x, y, x + 12, y + 12), fill=fill
            )
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            archive.writestr(f"shape-{i:02d}.png", buffer.getvalue())
    return path


def fill_tiny_form(page) -> None:
    page.evaluate(
        """(values) => { for (const [name, value] of Object.entries(values)) {
               document.querySelector(`#run-form [name="${name}"]`).value = value; } }""",
        TINY_FORM,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_stack(tmp_path_factory.mktemp("live")) as stack:
        yield stack.base_url


def test_upload_train_watch_cancel_and_generate(server: str, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Upload a zip made here.
    page.goto(f"{server}/datasets")
    page.fill("#dataset-name", "browser shapes")
    page.set_input_files("#dataset-file", str(shapes_zip(tmp_path / "shapes.zip")))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-ok")
    assert "24 images imported" in page.inner_text("#upload-ok")
    page.wait_for_selector("#dataset-list .card >> text=browser shapes")

    # Start a run with a tiny config through the form.
    page.click("#upload-ok >> text=Train on it")
    page.wait_for_selector("#run-form")
    fill_tiny_form(page)
    page.fill("#f-name", "browser run")
    page.click("#start-run")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = page.url.rsplit("/", 1)[1]

    # The charts grow while it trains.
    charts = page.locator("#charts")
    page.wait_for_function(
        "Number(document.querySelector('#charts').dataset.points || 0) > 20", timeout=60_000
    )
    first = int(charts.get_attribute("data-points"))
    page.wait_for_function(
        f"Number(document.querySelector('#charts').dataset.points) > {first}", timeout=30_000
    )
    assert page.locator("#chart-loss canvas").count() == 1

    # Epoch grids arrive; the slider and arrow keys move between them.
    page.wait_for_function("document.querySelectorAll('#epoch-strip a').length >= 3", timeout=60_000)
    newest = page.inner_text("#epoch-label")
    page.locator("body").press("ArrowLeft")
    assert page.inner_text("#epoch-label") != newest
    shown = page.get_attribute("#viewer-img", "src")
    assert shown.endswith(f"/grids/{page.inner_text('#epoch-label')}.png")

    # Cancel: the status turns cancelled and the chart polling stops by itself.
    page.click("#cancel-run")
    page.wait_for_selector("#run-status-pill:text('cancelled')", timeout=60_000)
    page.wait_for_function("document.querySelector('#charts').dataset.polling === 'stopped'", timeout=15_000)

    # Generate from the run's checkpoint and download the PNG.
    page.goto(f"{server}/generate?run_id={run_id}")
    page.fill("#g-n", "16")
    page.fill("#g-seed", "42")
    page.click("#generate-btn")
    page.wait_for_function("document.querySelector('#generated-grid')?.naturalWidth > 0")
    assert "seed 42" in page.inner_text("#result-meta")
    with page.expect_download() as download_info:
        page.click("#download-png")
    saved = tmp_path / "download.png"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert errors == []
    page.close()


def finished_run(server: str, dataset_id: int, name: str, lr_g: float, **extra: object) -> int:
    """Start a 3-epoch tiny run through the API and wait until the worker completes it."""
    config = {k: int(v) if v.isdigit() else v for k, v in TINY_FORM.items()} | {"epochs": 3, "lr_g": lr_g}
    config |= extra
    body = {"dataset_id": dataset_id, "name": name, "config": config}
    created = http.post(f"{server}/api/runs", json=body)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = http.get(f"{server}/api/runs/{run_id}").json()["status"]
        if status == "completed":
            return run_id
        assert status in ("queued", "running"), status
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not complete")


def test_dashboard_tools_compare_clone_and_delete(server: str, browser, tmp_path: Path) -> None:
    with shapes_zip(tmp_path / "s.zip").open("rb") as f:
        dataset = http.post(f"{server}/api/datasets", data={"name": "api shapes"}, files={"file": f}).json()
    first = finished_run(server, dataset["id"], "slow lr", 1e-4)
    second = finished_run(server, dataset["id"], "fast lr", 4e-4)

    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Chart tools: smoothing, log y, reset zoom; the finished run does not poll.
    page.goto(f"{server}/runs/{first}")
    page.wait_for_function("document.querySelector('#charts').dataset.polling === 'stopped'")
    page.locator("#smoothing").fill("0.9")
    assert page.inner_text("#smoothing-value") == "0.90"
    page.check("#log-y")
    page.click("#reset-zoom")
    assert page.locator("#chart-loss canvas").count() == 1
    with page.expect_download() as gif:
        page.click("#download-gif")
    assert gif.value.suggested_filename == f"run-{first}-progress.gif"

    # Compare: the differing hyperparameter is highlighted and both curves are drawn.
    page.goto(f"{server}/compare?run={first}&run={second}")
    assert page.locator("#hyperparameters tr.diff td.mono").first.inner_text() == "lr_g"
    page.wait_for_selector("#chart-loss-g canvas")
    page.wait_for_selector(f"img.compare-grid[data-run='{second}']")

    # Clone with edits prefills the form from the run.
    page.goto(f"{server}/runs/{second}")
    page.click("text=Clone with edits")
    page.wait_for_selector("#run-form")
    assert page.input_value("#f-name") == "fast lr (copy)"
    assert page.input_value("#f-lr_g") == "0.0004"

    # Delete asks for confirmation, then goes back to the runs list.
    page.goto(f"{server}/runs/{second}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-run")
    page.wait_for_url(f"{server}/")
    assert http.get(f"{server}/api/runs/{second}").status_code == 404
    assert errors == []
    page.close()


def typed_zip(path: Path, per_label: int = 8) -> Path:
    """Red tiles in Fire/, blue ones in Water/: labels from folder names."""
    with zipfile.ZipFile(path, "w") as archive:
        for label, fill in (("Fire", (220, 40, 30)), ("Water", (30, 60, 220))):
            for i in range(per_label):
                buffer = io.BytesIO()
                Image.new("RGB", (16, 16), tuple(max(0, c - 9 * i) for c in fill)).save(buffer, format="PNG")
                archive.writestr(f"{label}/{label.lower()}-{i}.png", buffer.getvalue())
    return path


def test_generate_by_label_and_interpolate_between_labels(server: str, browser, tmp_path: Path) -> None:
    with typed_zip(tmp_path / "t.zip").open("rb") as f:
        dataset = http.post(f"{server}/api/datasets", data={"name": "typed"}, files={"file": f}).json()
    assert dataset["labels"] == {"Fire": 8, "Water": 8}
    run_id = finished_run(
        server,
        dataset["id"],
        "typed",
        2e-4,
        conditional=True,
        cond_transition_start_epochs=0,
        cond_transition_epochs=0,
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/generate?run_id={run_id}")
    page.fill("#g-n", "4")
    page.fill("#g-seed", "7")
    page.select_option("#g-label", "Water")
    page.click("#generate-btn")
    page.wait_for_function("document.querySelector('#result-meta').textContent.includes('labels Water')")
    page.select_option("#g-label", "__each__")
    page.click("#generate-btn")
    page.wait_for_function(
        "document.querySelector('#result-meta').textContent.includes('labels Fire, Water')"
    )

    assert not page.locator("#i-label-b-field").is_hidden()
    page.select_option("#g-label", "Fire")
    page.fill("#i-a", "3")
    page.fill("#i-b", "3")
    page.fill("#i-steps", "5")
    page.select_option("#i-label-b", "Water")
    page.click("#interpolate-form button[type=submit]")
    page.wait_for_function("document.querySelector('#interpolation-png')?.naturalWidth > 0")
    assert page.inner_text("#interpolation h3") == "Fire → Water, seed 3 → 3 (PNG)"
    assert page.evaluate("document.querySelector('#interpolation-png').naturalWidth") == 2 + 5 * 18
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_stack(tmp_path_factory.mktemp("locked"), env={"POKEGAN_API_TOKEN": LOCKED_TOKEN}) as stack:
        yield stack.base_url


def test_logged_in_browser_writes_carry_the_csrf_token(locked_server: str, browser, tmp_path: Path) -> None:
    server = locked_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{server}/login?next=/datasets")
    page.fill("#token", LOCKED_TOKEN)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{server}/datasets")

    # htmx writes (multipart upload, form post) carry the header from <body hx-headers>.
    page.fill("#dataset-name", "locked shapes")
    page.set_input_files("#dataset-file", str(shapes_zip(tmp_path / "shapes.zip")))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-ok", timeout=90_000)  # slow while the workers start on a busy machine
    page.click("#upload-ok >> text=Train on it")
    page.wait_for_selector("#run-form")
    fill_tiny_form(page)
    page.fill("#f-epochs", "1")
    page.fill("#f-name", "locked run")
    page.click("#start-run")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#run-status-pill:text('completed')", timeout=90_000)

    # The generate page's fetch() sends the token from <meta name="csrf-token">.
    page.goto(f"{server}/generate?run_id={run_id}")
    page.fill("#g-n", "4")
    page.click("#generate-btn")
    page.wait_for_function("document.querySelector('#generated-grid')?.naturalWidth > 0")

    # A script without the token gets 403 and changes nothing; the page's hx-delete button works.
    status = page.evaluate(f"fetch('/api/runs/{run_id}', {{method: 'DELETE'}}).then((r) => r.status)")
    assert status == 403
    assert http.get(f"{server}/api/runs/{run_id}").status_code == 200
    page.goto(f"{server}/runs/{run_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-run")
    page.wait_for_url(f"{server}/")
    assert http.get(f"{server}/api/runs/{run_id}").status_code == 404
    assert errors == []
    page.close()
