"""Decode any supported image file to RGB, refusing decompression bombs and reporting broken files.

Both ingestion (validation) and preparation go through `decode_image`, so what is accepted into raw/
is exactly what preparation can read.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from datasets.errors import ImageRejected
from datasets.kinds import SNIFF_BYTES, sniff_image_format

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)

REASON_NOT_IMAGE = "not an image"
REASON_CORRUPT = "corrupt or truncated image"
REASON_BOMB = "too many pixels (decompression bomb)"
REASON_SVG = "SVG could not be rasterised"
REASON_FILE_TOO_LARGE = "file too large"

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}

_limit_lock = threading.Lock()
_active_limits: list[int] = []
_pillow_default_limit: int | None = Image.MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # always RGB, transparency already composited
    format: str  # png, jpeg, gif, webp, bmp or svg
    source_size: tuple[int, int]  # (width, height) before any resizing; intrinsic size for SVG


@contextmanager
def pillow_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Set Image.MAX_IMAGE_PIXELS while the block runs; overlapping users get the strictest active limit."""
    global _pillow_default_limit
    with _limit_lock:
        if not _active_limits:
            _pillow_default_limit = Image.MAX_IMAGE_PIXELS
        _active_limits.append(max_pixels)
        Image.MAX_IMAGE_PIXELS = min(_active_limits)
    try:
        yield
    finally:
        with _limit_lock:
            _active_limits.remove(max_pixels)
            Image.MAX_IMAGE_PIXELS = min(_active_limits) if _active_limits else _pillow_default_limit


def decode_image(
    path: Path,
    *,
    max_pixels: int,
    max_svg_bytes: int = 8 * 1024 * 1024,
    background: RGB = WHITE,
    svg_size: int = 512,
) -> DecodedImage:
    """Read one image (first frame of animations) as RGB on `background`; raise ImageRejected if unusable."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    image_format = sniff_image_format(head)
    if image_format is None:
        raise ImageRejected(REASON_NOT_IMAGE)
    if image_format == "svg":
        image, source_size = _rasterise_svg(path, svg_size, max_svg_bytes)
    else:
        image = _decode_raster(path, _PIL_FORMATS[image_format], max_pixels)
        source_size = image.size
    return DecodedImage(flatten(image, background), image_format, source_size)


def flatten(image: Image.Image, background: RGB = WHITE) -> Image.Image:
    """RGB copy of `image`; transparent pixels show `background` (a plain convert would turn them black)."""
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def _decode_raster(path: Path, pil_format: str, max_pixels: int) -> Image.Image:
    try:
        # Only the sniffed format's plugin may parse the file; open() reads the header, not the pixels.
        with Image.open(path, formats=[pil_format]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(REASON_BOMB, f"{width}x{height} is more than {max_pixels:,} pixels")
            image.load()
            return ImageOps.exif_transpose(image)
    except ImageRejected:
        raise
    except Image.DecompressionBombError as error:
        raise ImageRejected(REASON_BOMB, str(error)) from error
    except Exception as error:  # Pillow signals malformed data with OSError, SyntaxError, ValueError, ...
        raise ImageRejected(REASON_CORRUPT, str(error)) from error


def _rasterise_svg(path: Path, size: int, max_svg_bytes: int) -> tuple[Image.Image, tuple[int, int]]:
    # Imported here so process-pool workers that never see an SVG do not pay for cairo.
    from cairosvg.helpers import node_format
    from cairosvg.parser import Tree
    from cairosvg.surface import PNGSurface

    if path.stat().st_size > max_svg_bytes:
        raise ImageRejected(REASON_FILE_TOO_LARGE, f"SVG larger than {max_svg_bytes:,} bytes")
    try:
        # unsafe=False (the default) forbids XML entities, external files and any URL but data: URIs.
        tree = Tree(bytestring=path.read_bytes(), unsafe=False)
        width, height, _ = node_format(None, tree)
        out_width, out_height = _longest_side(width, height, size)
        png = io.BytesIO()
        PNGSurface(tree, png, 96, output_width=out_width, output_height=out_height).finish()
        with Image.open(io.BytesIO(png.getvalue()), formats=["PNG"]) as image:
            image.load()
            rendered = image.copy()
    except Exception as error:  # cairosvg raises assorted parser and cairo errors
        raise ImageRejected(REASON_SVG, str(error) or type(error).__name__) from error
    intrinsic = (round(width), round(height)) if width > 0 and height > 0 else rendered.size
    return rendered, intrinsic


def _longest_side(width: float, height: float, size: int) -> tuple[int, int]:
    """Output size with the longer side `size`, keeping the SVG's aspect; square when it is unknown."""
    if width <= 0 or height <= 0:
        return size, size
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
