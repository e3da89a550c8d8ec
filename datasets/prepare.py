"""Turning raw/ into one uint8 tensor N x 3 x H x W, with statistics the UI can show."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datasets.augment import augmented_copies
from datasets.dedup import exact_duplicates, near_duplicates
from datasets.errors import NoImagesFound
from datasets.layout import list_raw_images
from datasets.limits import DatasetLimits
from datasets.options import PrepareOptions
from datasets.parallel import map_files
from datasets.pipeline import DecodeSpec, FitSpec, PreparedImage, prepare_image
from datasets.report import SkippedItem, summarise_skipped


@dataclass
class PrepareStats:
    count: int  # images in the tensor, augmented copies included
    source_count: int  # raw images decoded
    augmented: int  # copies added by augmentation
    duplicates_removed: int
    duplicates: list[tuple[str, str]]  # (dropped, kept) names
    skipped: dict[str, int]  # reason -> how many raw files
    skipped_items: list[tuple[str, str]]  # (name, reason)
    source_sizes: dict[str, Any]  # min/median/max width and height, count per format
    mean_color: list[float]  # mean R, G, B of the tensor, 0-255
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrepareStats:
        data = dict(data)
        data["duplicates"] = [tuple(pair) for pair in data["duplicates"]]
        data["skipped_items"] = [tuple(pair) for pair in data["skipped_items"]]
        return cls(**data)


@dataclass
class PreparedDataset:
    images: torch.Tensor  # N x 3 x H x W, uint8
    names: list[str]  # one per image; augmented copies are "<name>#aug<k>"
    stats: PrepareStats
    options: PrepareOptions = field(default_factory=PrepareOptions)

    def __len__(self) -> int:
        return self.images.shape[0]

    def as_float(self) -> torch.Tensor:
        """The images scaled to [-1, 1], the range a tanh generator produces."""
        return self.images.float().div_(127.5).sub_(1.0)


def prepare_dataset(
    raw_dir: Path,
    options: PrepareOptions,
    *,
    limits: DatasetLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> PreparedDataset:
    """Decode, trim, fit, de-duplicate and augment every image in raw_dir (decoding in parallel)."""
    started = time.perf_counter()
    limits = limits or DatasetLimits()
    paths = list_raw_images(raw_dir)
    spec = FitSpec(
        options.width,
        options.height,
        options.fit,
        options.trim_borders,
        options.trim_tolerance,
        DecodeSpec(limits.max_image_pixels, limits.max_svg_bytes, options.background),
    )
    results = map_files(
        partial(prepare_image, spec=spec),
        paths,
        max_pixels=limits.max_image_pixels,
        workers=workers,
        progress=progress,
    )
    decoded = [result for result in results if result.pixels is not None]
    skipped = [SkippedItem(result.name, result.reason or "") for result in results if result.pixels is None]
    if not decoded:
        raise NoImagesFound(
            f"No image in {raw_dir} could be prepared ({summarise_skipped(skipped)}).", skipped
        )

    dropped = _duplicates(decoded, options)
    kept = [result for index, result in enumerate(decoded) if index not in dropped]
    images, names = _stack_with_augmentation(kept, options)
    stats = PrepareStats(
        count=len(names),
        source_count=len(decoded),
        augmented=len(names) - len(kept),
        duplicates_removed=len(dropped),
        duplicates=[(decoded[drop].name, decoded[keep].name) for drop, keep in sorted(dropped.items())],
        skipped=dict(Counter(item.reason for item in skipped)),
        skipped_items=[tuple(item) for item in skipped],
        source_sizes=_size_summary(decoded),
        mean_color=[round(value, 2) for value in images.float().mean(dim=(0, 2, 3)).tolist()],
        seconds=round(time.perf_counter() - started, 3),
    )
    return PreparedDataset(images, names, stats, options)


def _duplicates(decoded: list[PreparedImage], options: PrepareOptions) -> dict[int, int]:
    if options.dedup == "exact":
        return exact_duplicates([result.pixels for result in decoded])  # type: ignore[misc]
    if options.dedup == "near":
        return near_duplicates([result.phash or 0 for result in decoded], options.near_threshold)
    return {}


def _stack_with_augmentation(
    kept: list[PreparedImage], options: PrepareOptions
) -> tuple[torch.Tensor, list[str]]:
    # HWC numpy arrays from the workers -> one NCHW tensor.
    base = torch.from_numpy(np.stack([result.pixels for result in kept])).permute(0, 3, 1, 2).contiguous()
    if options.augment_factor == 1:
        return base, [result.name for result in kept]
    tensors, names = [], []
    for index, (image, result) in enumerate(zip(base, kept, strict=True)):
        copies = augmented_copies(
            image, options.augment_factor - 1, seed=options.seed, index=index, background=options.background
        )
        tensors.extend([image, *copies])
        names.extend([result.name, *(f"{result.name}#aug{k}" for k in range(1, len(copies) + 1))])
    return torch.stack(tensors), names


def _size_summary(decoded: list[PreparedImage]) -> dict[str, Any]:
    widths = [result.source_size[0] for result in decoded if result.source_size]
    heights = [result.source_size[1] for result in decoded if result.source_size]
    return {
        "min": [min(widths), min(heights)],
        "median": [statistics.median(widths), statistics.median(heights)],
        "max": [max(widths), max(heights)],
        "formats": dict(Counter(result.format or "?" for result in decoded)),
    }
