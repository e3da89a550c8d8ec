"""Preview grids and thumbnails so the UI can show what a dataset holds, raw and prepared."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms.v2.functional import to_pil_image
from torchvision.utils import make_grid

from datasets.decode import RGB, WHITE
from datasets.layout import list_raw_images
from datasets.limits import DatasetLimits
from datasets.parallel import map_files
from datasets.pipeline import DecodeSpec, FitSpec, make_thumbnail, prepare_image
from datasets.prepare import PreparedDataset


def preview_grid(
    source: torch.Tensor | PreparedDataset | Path,
    n: int = 64,
    *,
    cell: int = 64,
    limits: DatasetLimits | None = None,
    background: RGB = WHITE,
) -> Image.Image:
    """A square-ish grid of the first n images of a uint8 N x 3 x H x W tensor, a PreparedDataset or
    a folder of raw images (fitted into cell x cell squares)."""
    if isinstance(source, PreparedDataset):
        source = source.images
    images = (
        source[:n] if isinstance(source, torch.Tensor) else _raw_tensor(source, n, cell, limits, background)
    )
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[0] == 0:
        raise ValueError("preview_grid needs a non-empty uint8 tensor of shape N x 3 x H x W.")
    nrow = math.ceil(math.sqrt(images.shape[0]))
    return to_pil_image(make_grid(images, nrow=nrow, padding=2, pad_value=255))


def thumbnail_name(raw_name: str) -> str:
    """The thumbnail file for a raw image: 'pikachu.svg' -> 'pikachu.svg.png'."""
    return f"{raw_name}.png"


def thumbnails(
    raw_dir: Path,
    out_dir: Path,
    size: int = 96,
    *,
    limits: DatasetLimits | None = None,
    background: RGB = WHITE,
    workers: int | None = None,
) -> list[Path]:
    """A size x size PNG per raw image in out_dir (existing up-to-date ones are kept); returns them all."""
    limits = limits or DatasetLimits()
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(path, out_dir / thumbnail_name(path.name)) for path in list_raw_images(raw_dir)]
    stale = [
        (src, dest)
        for src, dest in jobs
        if not dest.exists() or dest.stat().st_mtime_ns < src.stat().st_mtime_ns
    ]
    spec = DecodeSpec(limits.max_image_pixels, limits.max_svg_bytes, background)
    map_files(
        partial(make_thumbnail, size=size, spec=spec),
        stale,
        max_pixels=limits.max_image_pixels,
        workers=workers,
    )
    return [dest for _, dest in jobs if dest.exists()]


def _raw_tensor(
    raw_dir: Path, n: int, cell: int, limits: DatasetLimits | None, background: RGB
) -> torch.Tensor:
    limits = limits or DatasetLimits()
    spec = FitSpec(
        cell, cell, "pad", False, 0, DecodeSpec(limits.max_image_pixels, limits.max_svg_bytes, background)
    )
    arrays = []
    for path in list_raw_images(raw_dir):
        if len(arrays) == n:
            break
        result = prepare_image(path, spec)
        if result.pixels is not None:
            arrays.append(torch.tensor(result.pixels).permute(2, 0, 1))
    if not arrays:
        raise ValueError(f"{raw_dir} holds no decodable image to preview.")
    return torch.stack(arrays)
