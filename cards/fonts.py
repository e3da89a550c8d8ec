"""The card font: Atkinson Hyperlegible (SIL OFL 1.1), installed with the project from PyPI
(fontpkg-atkinson-hyperlegible), so every machine renders the same glyphs."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FILES = {
    "regular": "AtkinsonHyperlegible-Regular.ttf",
    "bold": "AtkinsonHyperlegible-Bold.ttf",
    "italic": "AtkinsonHyperlegible-Italic.ttf",
}


def font_dir() -> Path:
    import fontpkg_atkinson_hyperlegible as package

    return Path(package.ROOT) / "files"


@lru_cache(maxsize=256)
def font(style: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_dir() / FILES[style]), size)
