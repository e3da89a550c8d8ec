"""Pure Pillow operations on decoded RGB images: trimming borders, fitting to a size, hashing."""

from __future__ import annotations

from typing import Literal

import imagehash
from PIL import Image, ImageChops, ImageOps

from datasets.decode import RGB

FitMode = Literal["pad", "crop", "stretch"]
_RESAMPLE = Image.Resampling.LANCZOS


def trim_borders(image: Image.Image, tolerance: int = 8) -> Image.Image:
    """Cut away a uniform border whose colour is the top-left pixel's (within `tolerance` per channel)."""
    border = Image.new("RGB", image.size, image.getpixel((0, 0)))
    red, green, blue = ImageChops.difference(image, border).split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    box = largest.point(lambda value: 255 if value > tolerance else 0).getbbox()
    if box is None or box == (0, 0, *image.size):
        return image
    return image.crop(box)


def fit_image(image: Image.Image, width: int, height: int, mode: FitMode, background: RGB) -> Image.Image:
    """Resize to exactly width x height: pad keeps the aspect and fills with background, crop fills and
    centre-crops, stretch ignores the aspect."""
    if mode == "stretch":
        return image.resize((width, height), _RESAMPLE)
    if mode == "crop":
        return ImageOps.fit(image, (width, height), _RESAMPLE)
    if mode == "pad":
        return ImageOps.pad(image, (width, height), _RESAMPLE, color=background)
    raise ValueError(f"Unknown fit mode {mode!r}: use pad, crop or stretch.")


def perceptual_hash(image: Image.Image) -> int:
    """64-bit DCT hash; near-duplicates differ in few bits."""
    return int(str(imagehash.phash(image)), 16)
