"""The card's design as data: boxes for each field, read from a JSON file and checked before any drawing.

The package ships layout.json; a user's file with the same shape replaces it. A box outside the card, two
boxes that overlap, or a missing field is a LayoutError naming the box, so a design mistake is never a
silently clipped card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Any

MM_PER_INCH = 25.4
CARD_MM = (63.0, 88.0)
MIN_SIZE = (744, 1039)  # 63 x 88 mm at 300 dpi
FONTS = ("regular", "bold", "italic")
ALIGNS = ("left", "center", "right")
TEXT_BOXES = (
    "name", "hp", "attack1_name", "attack1_damage", "attack2_name", "attack2_damage",
    "weakness", "resistance", "retreat", "flavor", "footer",
)  # fmt: skip
PLAIN_BOXES = ("symbol", "art", "attack1_cost", "attack2_cost")


class LayoutError(ValueError):
    """A layout file the composer refuses; the message names the file and the box."""


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int
    font: str = "regular"
    size: int = 0  # the largest font size in px; text shrinks from here
    min_size: int = 0  # the smallest before text is squeezed instead
    align: str = "left"

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def overlaps(self, other: Box) -> bool:
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    border: int
    corner_radius: int
    boxes: dict[str, Box]

    @property
    def dpi(self) -> float:
        return self.width / (CARD_MM[0] / MM_PER_INCH)


def default_layout() -> Layout:
    text = resources.files("cards").joinpath("layout.json").read_text(encoding="utf-8")
    return parse_layout(json.loads(text), source="the built-in layout")


def load_layout(path: Path | None = None) -> Layout:
    """The layout in `path`, or the built-in one; a LayoutError when the file is unreadable or wrong."""
    if path is None:
        return default_layout()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LayoutError(f"cannot read the layout file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise LayoutError(f"the layout file {path} is not valid JSON: {exc}") from exc
    return parse_layout(data, source=str(path))


def parse_layout(data: Any, *, source: str) -> Layout:
    if not isinstance(data, dict):
        raise LayoutError(f"{source}: the layout must be a JSON object")
    width, height = _size(data.get("size"), source)
    boxes_data = data.get("boxes")
    if not isinstance(boxes_data, dict):
        raise LayoutError(f"{source}: 'boxes' must be an object of named boxes")
    missing = [name for name in (*TEXT_BOXES, *PLAIN_BOXES) if name not in boxes_data]
    if missing:
        raise LayoutError(f"{source}: missing box(es): {', '.join(missing)}")
    unknown = sorted(set(boxes_data) - set(TEXT_BOXES) - set(PLAIN_BOXES))
    if unknown:
        raise LayoutError(f"{source}: unknown box(es): {', '.join(unknown)}")
    boxes = {name: _box(name, spec, source, name in TEXT_BOXES) for name, spec in boxes_data.items()}
    for name, box in boxes.items():
        if box.left < 0 or box.top < 0 or box.right > width or box.bottom > height:
            raise LayoutError(
                f"{source}: box '{name}' [{box.left}, {box.top}, {box.width}, {box.height}] lies outside "
                f"the {width}x{height} card"
            )
    for (name_a, a), (name_b, b) in combinations(boxes.items(), 2):
        if a.overlaps(b):
            raise LayoutError(f"{source}: boxes '{name_a}' and '{name_b}' overlap")
    return Layout(
        width=width,
        height=height,
        border=_int(data.get("border", 24), "border", source, minimum=0),
        corner_radius=_int(data.get("corner_radius", 24), "corner_radius", source, minimum=0),
        boxes=boxes,
    )


def _size(value: Any, source: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise LayoutError(f"{source}: 'size' must be [width, height] in whole pixels")
    width, height = value
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        raise LayoutError(
            f"{source}: size {width}x{height} is below {MIN_SIZE[0]}x{MIN_SIZE[1]} (63x88 mm at 300 dpi)"
        )
    if abs(width / height - CARD_MM[0] / CARD_MM[1]) > 0.005:
        raise LayoutError(f"{source}: size {width}x{height} is not the 63:88 shape of a card")
    return width, height


def _box(name: str, spec: Any, source: str, is_text: bool) -> Box:
    if not isinstance(spec, dict):
        raise LayoutError(f"{source}: box '{name}' must be an object with a 'box' list")
    rect = spec.get("box")
    if not (isinstance(rect, list) and len(rect) == 4 and all(isinstance(v, int) for v in rect)):
        raise LayoutError(f"{source}: box '{name}' needs 'box': [left, top, width, height] in whole pixels")
    if rect[2] <= 0 or rect[3] <= 0:
        raise LayoutError(f"{source}: box '{name}' has no area")
    if not is_text:
        return Box(*rect)
    font = spec.get("font", "regular")
    align = spec.get("align", "left")
    if font not in FONTS:
        raise LayoutError(f"{source}: box '{name}' font must be one of {', '.join(FONTS)}")
    if align not in ALIGNS:
        raise LayoutError(f"{source}: box '{name}' align must be one of {', '.join(ALIGNS)}")
    size = _int(spec.get("size"), f"{name}.size", source, minimum=6)
    min_size = _int(spec.get("min_size", size), f"{name}.min_size", source, minimum=6)
    if min_size > size:
        raise LayoutError(f"{source}: box '{name}' min_size {min_size} is larger than its size {size}")
    return Box(*rect, font=font, size=size, min_size=min_size, align=align)


def _int(value: Any, what: str, source: str, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise LayoutError(f"{source}: '{what}' must be a whole number of at least {minimum}")
    return value
