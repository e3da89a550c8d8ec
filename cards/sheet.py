"""A print sheet: up to nine cards at true size (63 x 88 mm) on an A4 page, with cut marks, as a PDF."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from cards.layout import CARD_MM, MM_PER_INCH

A4_MM = (210.0, 297.0)
PER_SHEET = 9
COLUMNS = 3
MARK_GAP_MM, MARK_LENGTH_MM = 1.5, 6.0
MARK_INK = (0, 0, 0)


def sheet_image(cards: Sequence[Image.Image], *, dpi: float = 300.0) -> Image.Image:
    """The page as an image at `dpi`: cards edge to edge in a centred 3 x 3 grid, cut marks around it."""
    if not 1 <= len(cards) <= PER_SHEET:
        raise ValueError(f"a sheet holds 1 to {PER_SHEET} cards, got {len(cards)}")
    px = dpi / MM_PER_INCH
    page = Image.new("RGB", (round(A4_MM[0] * px), round(A4_MM[1] * px)), (255, 255, 255))
    card_w, card_h = round(CARD_MM[0] * px), round(CARD_MM[1] * px)
    left0 = (page.width - COLUMNS * card_w) // 2
    top0 = (page.height - COLUMNS * card_h) // 2
    for index, card in enumerate(cards):
        if card.size != (card_w, card_h):
            card = card.resize((card_w, card_h), Image.Resampling.LANCZOS)
        row, column = divmod(index, COLUMNS)
        page.paste(card.convert("RGB"), (left0 + column * card_w, top0 + row * card_h))
    columns = min(len(cards), COLUMNS)
    rows = math.ceil(len(cards) / COLUMNS)
    xs = [left0 + c * card_w for c in range(columns + 1)]
    ys = [top0 + r * card_h for r in range(rows + 1)]
    _cut_marks(page, xs, ys, px)
    return page


def sheet_pdf(cards: Sequence[Image.Image], *, dpi: float = 300.0, title: str = "pokegan cards") -> bytes:
    """The sheet as a one-page A4 PDF (the page image at `dpi`, so cards print at 63 x 88 mm)."""
    buffer = io.BytesIO()
    sheet_image(cards, dpi=dpi).save(buffer, format="PDF", resolution=dpi, quality=92, title=title)
    return buffer.getvalue()


def _cut_marks(page: Image.Image, xs: list[int], ys: list[int], px: float) -> None:
    """Short lines in the margin continuing every cut line, so the grid can be cut with a ruler."""
    draw = ImageDraw.Draw(page)
    gap, length, width = round(MARK_GAP_MM * px), round(MARK_LENGTH_MM * px), max(1, round(0.2 * px))
    top, bottom, left, right = ys[0], ys[-1], xs[0], xs[-1]
    for x in xs:
        draw.line((x, top - gap - length, x, top - gap), fill=MARK_INK, width=width)
        draw.line((x, bottom + gap, x, bottom + gap + length), fill=MARK_INK, width=width)
    for y in ys:
        draw.line((left - gap - length, y, left - gap, y), fill=MARK_INK, width=width)
        draw.line((right + gap, y, right + gap + length, y), fill=MARK_INK, width=width)
