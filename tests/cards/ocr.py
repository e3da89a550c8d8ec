"""Reading a rendered card back with Tesseract (Debian's tesseract-ocr, installed by ./dev test)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from cards.layout import Box, Layout

TESSERACT = shutil.which("tesseract")


def ocr_box(card: Image.Image, box: Box, *, margin: int = 6) -> str:
    """The text Tesseract reads in one box of the card, as a single line."""
    assert TESSERACT is not None, "tesseract is missing: ./dev test installs Debian's tesseract-ocr"
    crop = card.crop((box.left - margin, box.top - margin, box.right + margin, box.bottom + margin))
    crop = crop.convert("L").resize((crop.width * 2, crop.height * 2), Image.Resampling.LANCZOS)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "box.png"
        crop.save(path)
        result = subprocess.run(
            [TESSERACT, str(path), "stdout", "--psm", "7", "-l", "eng"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    return " ".join(result.stdout.split())


def normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def reads_back(card: Image.Image, layout: Layout, name: str, hp: int) -> tuple[bool, bool, str, str]:
    """(name read right, HP read right, what was read in each box)."""
    read_name = ocr_box(card, layout.boxes["name"])
    read_hp = ocr_box(card, layout.boxes["hp"])
    return normalise(read_name) == normalise(name), normalise(read_hp) == f"hp{hp}", read_name, read_hp
