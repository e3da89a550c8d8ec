"""A new user's stumbling blocks, in Chromium against a live server and worker: the run page after Resume,
phone width, offline API docs, unknown URLs, the new-run form."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.test_browser import TINY_FORM, http, shapes_zip
from tests.live import live_stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright = pytest.importorskip("playwright.sync_api")

PHONE = {"width": 420, "height": 900}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_stack(tmp_path_factory.mktemp("live-ux")) as stack:
        yield stack.base_url


@pytest.fixture(scope="module")
def dataset_id(server: str, tmp_path_factory: pytest.TempPathFactory) -> int:
    archive = shapes_zip(tmp_path_factory.mktemp("ux-data") / "shapes.zip")
    with archive.open("rb") as f:
        created = http.post(f"{server}/api/datasets", data={"name": "ux shapes"}, files={"file": f})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def wait_until(check, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def cancelled_run_with_grids(server: str, dataset_id: int, name: str) -> int:
    """A long tiny run, cancelled once it has saved two epoch grids."""
    config = {k: int(v) if v.isdigit() else v for k, v in TINY_FORM.items()}
    created = http.post(f"{server}/api/runs", json={"dataset_id": dataset_id, "name": name, "config": config})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    wait_until(lambda: len(http.get(f"{server}/api/runs/{run_id}/grids").json()) >= 2, what="two grids")
    assert http.post(f"{server}/api/runs/{run_id}/cancel").status_code == 202
    wait_until(lambda: http.get(f"{server}/api/runs/{run_id}").json()["status"] == "cancelled", what="cancel")
    return run_id


def test_resumed_run_page_shows_new_grids_quality_and_gradients_without_a_reload(
    server: str, browser, dataset_id: int
) -> None:
    run_id = cancelled_run_with_grids(server, dataset_id, "resume me")
    page = browser.new_page(viewport=DESKTOP)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/runs/{run_id}")
    grids_before = page.locator("#epoch-strip a").count()
    quality_before = page.locator("#quality-table tbody tr").count()
    grad_before = page.inner_text("#grad-flow .panel-head")
    newest_before = int(page.inner_text("#epoch-label"))

    page.click("#resume-run")
    page.wait_for_function(
        f"document.querySelectorAll('#epoch-strip a').length > {grids_before}", timeout=90_000
    )
    page.wait_for_function(
        f"Number(document.querySelector('#epoch-label').textContent) > {newest_before}"
    )  # the viewer follows the newest grid
    page.wait_for_function(
        f"document.querySelectorAll('#quality-table tbody tr').length > {quality_before}", timeout=30_000
    )
    page.wait_for_function(
        f"document.querySelector('#grad-flow .panel-head').innerText !== {grad_before!r}", timeout=30_000
    )
    http.post(f"{server}/api/runs/{run_id}/cancel")
    page.wait_for_selector("#run-status-pill:text('cancelled')", timeout=60_000)
    assert errors == []
    page.close()


def test_pages_fit_a_420_px_phone(server: str, browser, dataset_id: int) -> None:
    config = {k: int(v) if v.isdigit() else v for k, v in TINY_FORM.items()} | {"epochs": 1}
    name = "a run with a name long enough to wrap on a phone"
    run = http.post(f"{server}/api/runs", json={"dataset_id": dataset_id, "name": name, "config": config})
    run_id = run.json()["id"]
    wait_until(lambda: http.get(f"{server}/api/runs/{run_id}").json()["status"] == "completed", what="run")
    page = browser.new_page(viewport=PHONE)
    for path in ("/", f"/runs/{run_id}", "/datasets"):
        page.goto(f"{server}{path}")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide"
        api_link = page.locator("a[href='/docs']").bounding_box()
        assert api_link["x"] + api_link["width"] <= PHONE["width"], f"the API link is off-screen on {path}"
    page.close()


def test_api_docs_render_with_other_hosts_blocked(server: str, browser) -> None:
    page = browser.new_page(viewport=DESKTOP)
    outside: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def only_this_server(route) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/api/runs']", timeout=30_000)
    assert page.locator(".opblock").count() > 10
    page.goto(f"{server}/redoc")
    page.wait_for_selector("h2:has-text('Cancel Run')", timeout=30_000)  # ReDoc's operation headings
    assert page.locator("[data-section-id^='tag/']").count() >= 3
    assert outside == [] and errors == []
    page.close()


def test_unknown_url_gets_the_styled_not_found_page(server: str, browser) -> None:
    page = browser.new_page(viewport=DESKTOP)
    response = page.goto(f"{server}/nope")
    assert response.status == 404
    assert page.inner_text("h1") == "Not found"
    assert "There is no page at /nope." in page.inner_text("main")
    assert page.locator("nav.nav a[href='/datasets']").is_visible()
    page.close()


def set_field(page, name: str, value: str) -> None:
    """Set a form field as typing would, even inside a collapsed section, and fire its change event."""
    page.evaluate(
        """([name, value]) => { const el = document.querySelector(`#run-form [name="${name}"]`);
               el.value = value; el.dispatchEvent(new Event("change", { bubbles: true })); }""",
        [name, value],
    )


def test_new_run_form_logs_no_errors_and_shows_the_size_error_at_its_field(
    server: str, browser, dataset_id: int
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{server}/runs/new?dataset_id={dataset_id}")
    assert page.input_value("#f-preset") == "recommended"

    with page.expect_response(lambda response: "/runs/new/estimate" in response.url):
        set_field(page, "epochs", "-1")
    page.wait_for_function("document.querySelector('#estimate').innerText.includes('at least 1')")
    set_field(page, "epochs", "5")
    set_field(page, "arch", "dcgan64")
    set_field(page, "image_size", "72")  # not a multiple of 16
    page.wait_for_timeout(500)  # let the estimate requests settle: htmx logs its errors to the console

    page.click("#start-run")
    size = page.locator("#f-image_size[aria-invalid='true']")
    size.wait_for(state="visible")  # its section was opened
    assert "image 72x72 does not fit arch 'dcgan64'" in page.inner_text("#error-image_size")
    assert "Value error" not in page.inner_text("#run-form")
    assert "image size" in page.inner_text("#form-message")
    assert page.locator("[aria-invalid='true']").count() == 1
    refused = "Failed to load resource: the server responded with a status of 422"  # the submit, as meant
    assert [p for p in problems if not p.startswith(refused)] == []
    page.close()


def test_clone_with_edits_renames_the_run_when_its_dataset_changes(
    server: str, browser, dataset_id: int, tmp_path: Path
) -> None:
    with shapes_zip(tmp_path / "second.zip").open("rb") as f:
        other = http.post(f"{server}/api/datasets", data={"name": "second shapes"}, files={"file": f}).json()
    config = {k: int(v) if v.isdigit() else v for k, v in TINY_FORM.items()} | {"epochs": 1}
    body = {"dataset_id": dataset_id, "name": "to clone", "config": config}
    source = http.post(f"{server}/api/runs", json=body).json()["id"]
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{server}/runs/new?clone={source}")
    assert page.input_value("#f-name") == "to clone (copy)"
    page.select_option("#f-dataset", str(other["id"]))
    assert page.input_value("#f-name") == "second shapes · custom"
    page.fill("#f-name", "my own name")
    page.select_option("#f-dataset", str(dataset_id))
    assert page.input_value("#f-name") == "my own name"  # typed names are kept
    page.close()
    wait_until(lambda: http.get(f"{server}/api/runs/{source}").json()["status"] == "completed", what="run")
