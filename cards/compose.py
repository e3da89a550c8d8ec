"""The card composer: creature art plus CardText drawn into a Layout, one RGB image at 300 dpi or more."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from cards.card import Attack, CardText, Provenance
from cards.layout import Box, Layout, default_layout
from cards.symbols import paste_symbol
from cards.textfit import draw_line, draw_paragraph
from cards.types import TYPES

INK = (28, 26, 30)
PAPER = (255, 255, 255)
Colour = tuple[int, int, int]


def compose_card(
    art: Image.Image, text: CardText, provenance: Provenance, layout: Layout | None = None
) -> Image.Image:
    """One card: frame in the type's colour, the art scaled into its window, every field in its box."""
    layout = layout or default_layout()
    boxes = layout.boxes
    card = _frame(layout, text.type)
    draw_line(card, boxes["name"], text.name, INK)
    draw_line(card, boxes["hp"], f"HP {text.hp}", INK)
    symbol = boxes["symbol"]
    paste_symbol(card, text.type, symbol.left, symbol.top, min(symbol.width, symbol.height))
    _art(card, boxes["art"], art, TYPES[text.type].frame)
    for index, attack in enumerate(text.attacks[:2], start=1):
        _attack(card, layout, index, attack)
    _stat(card, boxes["weakness"], "weakness", text.weakness, "×2" if text.weakness else "none")
    _stat(card, boxes["resistance"], "resistance", text.resistance, "-30" if text.resistance else "none")
    _retreat(card, boxes["retreat"], text.retreat)
    draw_paragraph(card, boxes["flavor"], text.flavor, INK)
    draw_line(card, boxes["footer"], provenance.footer(text.source), (70, 70, 76))
    return card


def fit_art(art: Image.Image, width: int, height: int) -> Image.Image:
    """The art scaled (LANCZOS) to fill the height or width of the window, whichever comes first, centred
    on its own border colour: a creature is never cropped."""
    art = art.convert("RGB")
    scale = min(width / art.width, height / art.height)
    size = (max(1, round(art.width * scale)), max(1, round(art.height * scale)))
    scaled = art.resize(size, Image.Resampling.LANCZOS)
    window = Image.new("RGB", (width, height), _border_colour(art))
    window.paste(scaled, ((width - size[0]) // 2, (height - size[1]) // 2))
    return window


def _frame(layout: Layout, type_name: str) -> Image.Image:
    frame = TYPES[type_name].frame
    card = Image.new("RGB", (layout.width, layout.height), PAPER)
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle(
        (0, 0, layout.width - 1, layout.height - 1), radius=layout.corner_radius, fill=_mix(frame, INK, 0.25)
    )
    inset = max(4, layout.border // 5)
    draw.rounded_rectangle(
        (inset, inset, layout.width - 1 - inset, layout.height - 1 - inset),
        radius=max(0, layout.corner_radius - inset),
        fill=frame,
    )
    border = layout.border
    draw.rounded_rectangle(
        (border, border, layout.width - 1 - border, layout.height - 1 - border),
        radius=max(0, layout.corner_radius - border // 2),
        fill=_mix(frame, PAPER, 0.72),
    )
    return card


def _art(card: Image.Image, box: Box, art: Image.Image, frame: Colour) -> None:
    edge = max(3, box.width // 120)
    inner = (box.width - 2 * edge, box.height - 2 * edge)
    ImageDraw.Draw(card).rectangle(
        (box.left, box.top, box.right - 1, box.bottom - 1), fill=_mix(frame, INK, 0.45)
    )
    card.paste(fit_art(art, *inner), (box.left + edge, box.top + edge))


def _attack(card: Image.Image, layout: Layout, index: int, attack: Attack) -> None:
    boxes = layout.boxes
    cost_box = boxes[f"attack{index}_cost"]
    _symbols(card, cost_box, attack.cost)
    draw_line(card, boxes[f"attack{index}_name"], attack.name, INK)
    if attack.damage:
        draw_line(card, boxes[f"attack{index}_damage"], str(attack.damage), INK)


def _symbols(card: Image.Image, box: Box, types: tuple[str, ...]) -> None:
    """A row of energy symbols, as large as the box's height allows, smaller when there are many."""
    if not types:
        return
    gap = max(2, box.height // 12)
    diameter = min(int(box.height * 0.8), (box.width - gap * (len(types) - 1)) // len(types))
    top = box.top + (box.height - diameter) // 2
    for position, type_name in enumerate(types):
        paste_symbol(card, type_name, box.left + position * (diameter + gap), top, diameter)


def _stat(card: Image.Image, box: Box, label: str, type_name: str | None, value: str) -> None:
    label_box, row = _split(box)
    draw_line(card, label_box, label, INK)
    if type_name is None:
        draw_line(card, row, value, INK)
        return
    diameter = row.height
    paste_symbol(card, type_name, row.left, row.top, diameter)
    draw_line(card, replace(row, left=row.left + diameter + 8, width=row.width - diameter - 8), value, INK)


def _retreat(card: Image.Image, box: Box, cost: int) -> None:
    label_box, row = _split(box)
    draw_line(card, label_box, "retreat", INK)
    if cost:
        _symbols(card, row, ("Colorless",) * cost)
    else:
        draw_line(card, row, "free", INK)


def _split(box: Box) -> tuple[Box, Box]:
    """A stat box as a label line above a row of symbols and value."""
    label_height = box.height * 2 // 5
    label_size = min(box.size, label_height)
    label = replace(box, height=label_height, size=label_size, min_size=min(box.min_size, label_size))
    row_height = box.height - label_height
    row_size = max(box.size, row_height - 6)
    row = replace(box, top=box.top + label_height, height=row_height, size=row_size)
    return label, row


def _border_colour(art: Image.Image) -> Colour:
    pixels = np.asarray(art, dtype=np.float32)
    edge = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    red, green, blue = (int(round(v)) for v in edge.mean(axis=0))
    return red, green, blue


def _mix(a: Colour, b: Colour, amount: float) -> Colour:
    red, green, blue = (round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))
    return red, green, blue
