"""Limits every import honours; the web app and the worker build one from their Settings (dataset_limits)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class DatasetLimits:
    max_upload_bytes: int = 512 * MiB
    max_members: int = 20_000
    max_total_uncompressed_bytes: int = 2 * GiB
    max_image_pixels: int = 50_000_000
    max_svg_bytes: int = 8 * MiB
    max_download_bytes: int = 20 * MiB
    download_timeout_s: float = 15.0
    download_deadline_s: float = 120.0
    download_concurrency: int = 4
    download_retries: int = 3
    download_backoff_s: float = 0.5
    allow_private_urls: bool = False
    allowed_folder_roots: Sequence[Path] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "max_members",
            "max_total_uncompressed_bytes",
            "max_image_pixels",
            "max_svg_bytes",
            "max_download_bytes",
            "download_concurrency",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"DatasetLimits.{name} must be at least 1.")
        for name in ("download_timeout_s", "download_deadline_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DatasetLimits.{name} must be positive.")
        if self.download_retries < 0 or self.download_backoff_s < 0:
            raise ValueError("DatasetLimits.download_retries and download_backoff_s cannot be negative.")
        # Frozen: normalise through object.__setattr__ so callers may pass any sequence of str/Path.
        object.__setattr__(self, "allowed_folder_roots", tuple(Path(p) for p in self.allowed_folder_roots))


def format_bytes(n: int) -> str:
    """512 MiB, 20 MiB, 900 KiB, 12 bytes: for messages."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def dataset_limits(settings: Settings) -> DatasetLimits:
    """The limits an install's settings ask for (upload size, private URLs, folder roots)."""
    return DatasetLimits(
        max_upload_bytes=settings.max_upload_mb * MiB,
        allow_private_urls=settings.allow_private_urls,
        allowed_folder_roots=tuple(settings.folder_import_roots),
    )
