"""Per-file work run in worker processes: validate one image, prepare one image, make one thumbnail.

Kept free of torch so spawned workers start quickly; every function takes and returns picklable values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.decode import RGB, WHITE, decode_image
from datasets.errors import ImageRejected
from datasets.imageops import FitMode, fit_image, perceptual_hash, trim_borders

VALIDATION_SVG_SIZE = 32


@dataclass(frozen=True)
class DecodeSpec:
    max_pixels: int
    max_svg_bytes: int
    background: RGB = WHITE


@dataclass(frozen=True)
class FitSpec:
    width: int
    height: int
    fit: FitMode
    trim_borders: bool
    trim_tolerance: int
    decode: DecodeSpec

    @property
    def svg_size(self) -> int:
        # Render SVGs well above the target so the downscale, not cairo, decides the quality.
        return min(2048, max(256, 2 * max(self.width, self.height)))


@dataclass(frozen=True)
class PreparedImage:
    name: str
    pixels: np.ndarray | None = None  # H x W x 3 uint8; None when rejected
    reason: str | None = None
    format: str | None = None
    source_size: tuple[int, int] | None = None
    phash: int | None = None


def check_image(path: Path, spec: DecodeSpec) -> str | None:
    """None when the file decodes as an image within the limits, else the reason it does not."""
    try:
        decode_image(
            path, max_pixels=spec.max_pixels, max_svg_bytes=spec.max_svg_bytes, svg_size=VALIDATION_SVG_SIZE
        )
    except ImageRejected as error:
        return error.reason
    return None


def prepare_image(path: Path, spec: FitSpec) -> PreparedImage:
    """Decode, optionally trim, fit to the target size and hash one image."""
    try:
        decoded = decode_image(
            path,
            max_pixels=spec.decode.max_pixels,
            max_svg_bytes=spec.decode.max_svg_bytes,
            background=spec.decode.background,
            svg_size=spec.svg_size,
        )
    except ImageRejected as error:
        return PreparedImage(path.name, reason=error.reason)
    image = trim_borders(decoded.image, spec.trim_tolerance) if spec.trim_borders else decoded.image
    fitted = fit_image(image, spec.width, spec.height, spec.fit, spec.decode.background)
    return PreparedImage(
        path.name,
        np.asarray(fitted, dtype=np.uint8),
        None,
        decoded.format,
        decoded.source_size,
        perceptual_hash(fitted),
    )


def make_thumbnail(job: tuple[Path, Path], size: int, spec: DecodeSpec) -> bool:
    """Write a size x size padded PNG of job[0] to job[1]; False when the source cannot be decoded."""
    source, dest = job
    try:
        decoded = decode_image(
            source,
            max_pixels=spec.max_pixels,
            max_svg_bytes=spec.max_svg_bytes,
            background=spec.background,
            svg_size=max(256, 2 * size),
        )
    except ImageRejected:
        return False
    partial = dest.with_name(f".{dest.name}.tmp")
    fit_image(decoded.image, size, size, "pad", spec.background).save(partial, format="PNG")
    partial.replace(dest)
    return True
