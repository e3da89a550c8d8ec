"""The card font: Fira Sans (SIL Open Font License 1.1), installed with the project from PyPI
(fontpkg-fira-sans), so every machine renders the same glyphs. Its plain zero reads back under OCR."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FILES = {
    "regular": "FiraSans-Regular.ttf",
    "bold": "FiraSans-SemiBold.ttf",
    "italic": "FiraSans-Italic.ttf",
}


def font_dir() -> Path:
    import fontpkg_fira_sans as package

    return Path(package.ROOT) / "files"


@lru_cache(maxsize=256)
def font(style: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_dir() / FILES[style]), size)
