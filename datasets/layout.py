"""Where a dataset's files live: <datasets_root>/<id>/{raw,cache,thumbs}/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets.kinds import IMAGE_EXTENSIONS

RAW_SUFFIXES = frozenset(IMAGE_EXTENSIONS.values())
CSV_SOURCE_NAME = "source.csv"  # a CSV dataset's uploaded file, beside raw/
PREVIEW_FILE = "preview.png"
THUMBNAIL_PX = 96


@dataclass(frozen=True)
class DatasetPaths:
    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def thumbs(self) -> Path:
        return self.root / "thumbs"


def list_raw_images(raw_dir: Path) -> list[Path]:
    """Image files in raw_dir, sorted by name; dot-files (import state, partial downloads) are not images."""
    if not raw_dir.is_dir():
        return []
    return sorted(
        path
        for path in raw_dir.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.suffix in RAW_SUFFIXES
    )
