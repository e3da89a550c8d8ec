"""Energy symbols drawn with Pillow: a disc in the type's colour with a simple glyph, drawn 4x larger and
scaled down (LANCZOS) for smooth edges. Glyphs are polygons in a unit square, (0, 0) top left."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from cards.types import TYPES

SUPERSAMPLE = 4
Point = tuple[float, float]


def symbol_image(type_name: str, diameter: int) -> Image.Image:
    """The energy symbol of a type as an RGBA image diameter x diameter."""
    kind = TYPES[type_name]
    size = diameter * SUPERSAMPLE
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    rim = max(2, size // 16)
    draw.ellipse((0, 0, size - 1, size - 1), fill=(255, 255, 255, 255))
    draw.ellipse((rim, rim, size - 1 - rim, size - 1 - rim), fill=(*kind.frame, 255))
    GLYPHS[type_name](draw, size, (*kind.ink, 255), (*kind.frame, 255))
    return image.resize((diameter, diameter), Image.Resampling.LANCZOS)


def paste_symbol(card: Image.Image, type_name: str, left: int, top: int, diameter: int) -> None:
    symbol = symbol_image(type_name, diameter)
    card.paste(symbol, (left, top), symbol)


def _scaled(points: list[Point], size: int) -> list[Point]:
    return [(x * size, y * size) for x, y in points]


def _star(points: int, outer: float, inner: float, turn: float = -math.pi / 2) -> list[Point]:
    corners = []
    for index in range(points * 2):
        radius = outer if index % 2 == 0 else inner
        angle = turn + index * math.pi / points
        corners.append((0.5 + radius * math.cos(angle), 0.5 + radius * math.sin(angle)))
    return corners


def _grass(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    leaf = [(0.5 + 0.26 * math.sin(t / 20 * math.pi), 0.2 + 0.6 * t / 20) for t in range(21)]
    leaf += [(0.5 - 0.26 * math.sin(t / 20 * math.pi), 0.8 - 0.6 * t / 20) for t in range(21)]
    draw.polygon(_scaled(leaf, size), fill=ink)
    draw.line(_scaled([(0.5, 0.26), (0.5, 0.86)], size), fill=bg, width=max(2, size // 24))


def _fire(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    flame = [(0.5, 0.16), (0.64, 0.36), (0.7, 0.3), (0.76, 0.52), (0.72, 0.7), (0.6, 0.82), (0.4, 0.82),
             (0.28, 0.7), (0.25, 0.52), (0.34, 0.36), (0.4, 0.46)]  # fmt: skip
    draw.polygon(_scaled(flame, size), fill=ink)
    draw.polygon(_scaled([(0.5, 0.52), (0.6, 0.68), (0.55, 0.78), (0.45, 0.78), (0.4, 0.68)], size), fill=bg)


def _water(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    draw.ellipse(_scaled([(0.3, 0.42), (0.7, 0.82)], size), fill=ink)
    draw.polygon(_scaled([(0.5, 0.16), (0.69, 0.56), (0.31, 0.56)], size), fill=ink)


def _lightning(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    bolt = [(0.58, 0.14), (0.3, 0.54), (0.48, 0.54), (0.4, 0.86), (0.72, 0.42), (0.53, 0.42)]
    draw.polygon(_scaled(bolt, size), fill=ink)


def _psychic(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    draw.ellipse(_scaled([(0.18, 0.32), (0.82, 0.68)], size), fill=ink)
    draw.ellipse(_scaled([(0.38, 0.36), (0.62, 0.64)], size), fill=bg)
    draw.ellipse(_scaled([(0.45, 0.43), (0.55, 0.57)], size), fill=ink)


def _fighting(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    draw.rounded_rectangle(_scaled([(0.26, 0.3), (0.74, 0.72)], size), radius=size * 0.08, fill=ink)
    for x in (0.38, 0.5, 0.62):
        draw.line(_scaled([(x, 0.3), (x, 0.46)], size), fill=bg, width=max(2, size // 28))
    draw.line(_scaled([(0.26, 0.5), (0.5, 0.5)], size), fill=bg, width=max(2, size // 28))


def _darkness(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    draw.ellipse(_scaled([(0.22, 0.2), (0.78, 0.76)], size), fill=ink)
    draw.ellipse(_scaled([(0.36, 0.14), (0.86, 0.64)], size), fill=bg)


def _metal(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    hexagon = _star(3, 0.3, 0.3, turn=0.0)
    draw.polygon(_scaled(hexagon, size), fill=ink)
    draw.polygon(_scaled(_star(3, 0.2, 0.1), size), fill=bg)


def _fairy(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    draw.polygon(_scaled(_star(4, 0.34, 0.1), size), fill=ink)
    draw.ellipse(_scaled([(0.44, 0.44), (0.56, 0.56)], size), fill=bg)


def _dragon(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    fang = [(0.22, 0.2), (0.5, 0.48), (0.78, 0.2), (0.66, 0.6), (0.5, 0.84), (0.34, 0.6)]
    draw.polygon(_scaled(fang, size), fill=ink)


def _colorless(draw: ImageDraw.ImageDraw, size: int, ink: tuple, bg: tuple) -> None:
    draw.polygon(_scaled(_star(6, 0.34, 0.16), size), fill=ink)


GLYPHS = {
    "Grass": _grass, "Fire": _fire, "Water": _water, "Lightning": _lightning, "Psychic": _psychic,
    "Fighting": _fighting, "Darkness": _darkness, "Metal": _metal, "Fairy": _fairy, "Dragon": _dragon,
    "Colorless": _colorless,
}  # fmt: skip
