"""The layout file: the shipped one is valid and its boxes do not overlap; bad files are clear errors."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from cards.layout import MIN_SIZE, LayoutError, default_layout, load_layout

SHIPPED = Path(__file__).resolve().parents[2] / "cards" / "layout.json"


def shipped() -> dict[str, Any]:
    return json.loads(SHIPPED.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "layout.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_shipped_layout_is_a_300_dpi_card_with_disjoint_boxes_inside_it() -> None:
    layout = default_layout()
    assert (layout.width, layout.height) == MIN_SIZE
    assert layout.dpi == pytest.approx(300, abs=0.2)
    for name, box in layout.boxes.items():
        assert 0 <= box.left and box.right <= layout.width and 0 <= box.top and box.bottom <= layout.height, (
            name
        )
    for (name_a, a), (name_b, b) in combinations(layout.boxes.items(), 2):
        disjoint = a.right <= b.left or b.right <= a.left or a.bottom <= b.top or b.bottom <= a.top
        assert disjoint, f"{name_a} overlaps {name_b}"


def test_a_user_file_replaces_the_shipped_layout(tmp_path: Path) -> None:
    data = shipped()
    data["boxes"]["name"]["size"] = 40
    assert load_layout(write(tmp_path, data)).boxes["name"].size == 40


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["boxes"]["flavor"].update(box=[46, 822, 720, 122]), "box 'flavor' .* lies outside"),
        (lambda d: d["boxes"]["hp"].update(box=[400, 36, 146, 66]), "boxes 'name' and 'hp' overlap"),
        (lambda d: d["boxes"].pop("footer"), "missing box.*footer"),
        (lambda d: d["boxes"].update(logo={"box": [0, 0, 5, 5]}), "unknown box.*logo"),
        (lambda d: d.update(size=[600, 840]), "below 744x1039"),
        (lambda d: d.update(size=[1000, 1039]), "not the 63:88 shape"),
        (lambda d: d["boxes"]["name"].update(font="comic"), "font must be one of"),
        (lambda d: d["boxes"]["name"].update(min_size=80), "min_size 80 is larger"),
    ],
)
def test_bad_layouts_are_refused_with_the_box_named(tmp_path: Path, change, message: str) -> None:
    data = shipped()
    change(data)
    with pytest.raises(LayoutError, match=message):
        load_layout(write(tmp_path, data))


def test_unreadable_layout_files(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="cannot read"):
        load_layout(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LayoutError, match="not valid JSON"):
        load_layout(tmp_path / "bad.json")
