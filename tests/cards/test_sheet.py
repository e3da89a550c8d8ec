"""The PDF sheet: one A4 page; rendered back with pdftoppm, cards measure 63 x 88 mm, with cut marks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cards import Provenance, TextModel, compose_card, sheet_pdf
from tests.cards.sheet_check import media_boxes

PDFTOPPM = shutil.which("pdftoppm")
DPI = 300
MM = DPI / 25.4


def cards(n: int) -> list[Image.Image]:
    model = TextModel([])
    art = Image.new("RGB", (16, 16), (90, 140, 200))
    return [compose_card(art, model.card(i), Provenance("run #1", "checkpoint #1", i, i)) for i in range(n)]


def rendered(pdf: bytes, tmp_path: Path) -> np.ndarray:
    assert PDFTOPPM is not None, "pdftoppm is missing: ./dev test installs Debian's poppler-utils"
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    subprocess.run(
        [PDFTOPPM, "-r", str(DPI), "-png", "-singlefile", "sheet.pdf", "page"], cwd=tmp_path, check=True
    )
    return np.asarray(Image.open(tmp_path / "page.png").convert("L"))


def ink_span(line: np.ndarray) -> float:
    """Millimetres from the first to the last non-white pixel of a row or column of the page."""
    dark = np.nonzero(line < 235)[0]
    return (dark[-1] - dark[0] + 1) / MM


def test_the_page_is_a4() -> None:
    pdf = sheet_pdf(cards(2))
    assert pdf.startswith(b"%PDF")
    [box] = media_boxes(pdf)  # one page
    assert box[2] / 72 * 25.4 == pytest.approx(210, abs=0.1)
    assert box[3] / 72 * 25.4 == pytest.approx(297, abs=0.1)


def test_nine_cards_print_at_63_by_88_mm_with_cut_marks(tmp_path: Path) -> None:
    page = rendered(sheet_pdf(cards(9)), tmp_path)
    assert page.shape == (round(297 * MM), round(210 * MM))
    middle_row, middle_column = page[page.shape[0] // 2], page[:, page.shape[1] // 2]
    assert ink_span(middle_row) == pytest.approx(3 * 63, abs=0.3)
    assert ink_span(middle_column) == pytest.approx(3 * 88, abs=0.3)
    grid_left = round((210 - 189) / 2 * MM)
    grid_top = round((297 - 264) / 2 * MM)
    for x in (grid_left, grid_left + round(63 * MM)):  # marks in the top margin continue each cut line
        assert page[grid_top - round(5 * MM) : grid_top - round(2 * MM), x - 2 : x + 3].min() < 80


def test_one_card_alone_is_true_size(tmp_path: Path) -> None:
    page = rendered(sheet_pdf(cards(1)), tmp_path)
    left = round((210 - 189) / 2 * MM)
    top = round((297 - 264) / 2 * MM)
    assert ink_span(
        page[top + round(44 * MM), left - round(1 * MM) : left + round(70 * MM)]
    ) == pytest.approx(63, abs=0.3)
    assert ink_span(page[top - round(1 * MM) : top + round(95 * MM), left + round(31 * MM)]) == pytest.approx(
        88, abs=0.3
    )


def test_more_than_nine_is_refused() -> None:
    with pytest.raises(ValueError, match="1 to 9 cards"):
        sheet_pdf(cards(1) * 10)
