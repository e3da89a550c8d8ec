"""Rendered cards read back under OCR (Tesseract): name and HP as the fields say, for every type, long and
short names, with and without metadata; long text stays inside its box."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cards import TYPE_NAMES, Provenance, TextModel, compose_card, default_layout, fit_art, read_records
from cards.textfit import draw_line
from tests.cards.ocr import reads_back

PROVENANCE = Provenance(run="run #1", checkpoint="checkpoint #2 (epoch 3)", seed=7, text_seed=7)


def art(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_type_reads_back_with_and_without_metadata(type_name: str, kaggle_csv: Path) -> None:
    layout = default_layout()
    index = TYPE_NAMES.index(type_name)
    model = TextModel(read_records(kaggle_csv)) if index % 2 else TextModel([])
    text = model.card(index, type_name=type_name)
    card = compose_card(art(index), text, PROVENANCE, layout)
    assert card.size == (744, 1039)
    name_ok, hp_ok, read_name, read_hp = reads_back(card, layout, text.name, text.hp)
    assert name_ok and hp_ok, (text.name, text.hp, read_name, read_hp)


@pytest.mark.parametrize("name", ["Mew", "Fletchinderquilladonfire", "Kangaskhan-Thunderwing Prime"])
def test_short_and_long_names_fit_and_read_back(name: str) -> None:
    layout = default_layout()
    text = replace(TextModel([]).card(3), name=name, hp=250)
    card = compose_card(art(), text, PROVENANCE, layout)
    name_ok, hp_ok, read_name, read_hp = reads_back(card, layout, name, 250)
    assert name_ok and hp_ok, (read_name, read_hp)


def test_long_text_only_changes_pixels_inside_its_box() -> None:
    layout = default_layout()
    base = TextModel([]).card(4)
    plain = np.asarray(compose_card(art(), replace(base, name="A"), PROVENANCE, layout), dtype=np.int16)
    long = compose_card(art(), replace(base, name="Wxyzwxyz" * 8, flavor="word " * 200), PROVENANCE, layout)
    changed = np.argwhere(np.abs(np.asarray(long, dtype=np.int16) - plain).sum(axis=2) > 0)
    inside = [layout.boxes["name"], layout.boxes["flavor"]]
    for y, x in changed:
        assert any(b.left <= x < b.right and b.top <= y < b.bottom for b in inside), (x, y)
    assert len(changed) > 1000


def test_a_name_that_cannot_fit_at_min_size_is_squeezed_not_cut() -> None:
    layout = default_layout()
    box = layout.boxes["name"]
    card = Image.new("RGB", (layout.width, layout.height), "white")
    size = draw_line(card, box, "M" * 60, (0, 0, 0))
    ink = Image.eval(card.convert("L"), lambda v: 255 - v).getbbox()
    assert size == box.min_size
    assert (
        ink is not None and box.left <= ink[0] and ink[2] <= box.right and ink[2] - ink[0] > box.width * 0.9
    )


def test_art_is_upscaled_into_the_window_without_cropping() -> None:
    source = Image.new("RGB", (16, 16), (255, 0, 0))
    source.paste((0, 0, 255), (0, 0, 8, 16))
    window = fit_art(source, 640, 400)
    assert window.size == (640, 400)
    pixels = np.asarray(window).astype(int)
    ys, xs = np.nonzero(np.abs(pixels - pixels[0, 0]).sum(axis=2) > 30)  # not the fill colour at the side
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (120, 520, 0, 400)  # all of it, 25x, centred
