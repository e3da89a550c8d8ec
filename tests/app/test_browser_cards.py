"""The Cards page in Chromium against a live server: make cards, re-roll text and art alone, download a
PDF sheet; screenshots at 1280 and 420 px wide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db.session import make_engine, make_sessionmaker
from core.settings import Settings
from models.config import TrainConfig
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.app.factories import TINY_CONFIG, add_checkpoint_row, make_dataset, make_run
from tests.conftest import synthetic_images
from tests.live import live_stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live web app (no worker) whose database holds one finished run with a real checkpoint."""
    root = tmp_path_factory.mktemp("cards-live")
    train(TrainConfig(**TINY_CONFIG), synthetic_images(8, 16), ListSink(), RunDirStore(root / "run"))
    checkpoint = sorted((root / "run").glob("ckpt-*.pt"))[-1]
    with live_stack(root, worker=False) as stack:
        engine = make_engine(Settings(data_dir=stack.data_dir))
        with make_sessionmaker(engine)() as session:
            run = make_run(session, make_dataset(session), status="completed", name="dream world")
            add_checkpoint_row(session, run, checkpoint, epoch=2, step=4)
        engine.dispose()
        yield stack.base_url


def seeds(page) -> tuple[str, str]:
    return page.input_value("#c-seed"), page.input_value("#c-text-seed")


@pytest.mark.parametrize("width", [1280, 420])
def test_make_reroll_and_download(server: str, browser, tmp_path: Path, width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/cards")
    page.select_option("#c-type", "Water")
    page.fill("#c-seed", "12")
    page.click("#cards-btn")
    page.wait_for_function("document.querySelectorAll('#card-deck img').length === 3")
    assert seeds(page) == ("12", "12")
    alts = page.eval_on_selector_all("#card-deck img", "els => els.map(e => e.alt)")
    assert all(alt.endswith("Water card") for alt in alts)
    page.screenshot(path=str(tmp_path / f"cards-{width}.png"), full_page=True)

    page.click("#reroll-text")
    page.wait_for_function("document.querySelector('#c-text-seed').value !== '12'")
    art_seed, text_seed = seeds(page)
    assert art_seed == "12" and text_seed != "12"
    page.click("#reroll-art")
    page.wait_for_function("document.querySelector('#c-seed').value !== '12'")
    assert seeds(page)[1] == text_seed

    with page.expect_download() as download:
        page.click("#download-pdf")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")

    page.fill("#c-n", "12")  # past one sheet: the form refuses before any request
    assert page.eval_on_selector("#c-n", "e => e.validity.rangeOverflow")
    assert not errors
    page.close()
