"""The prepared-tensor cache, preview grids and thumbnails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from datasets import (
    DatasetPaths,
    PrepareOptions,
    cache_path,
    load_or_prepare,
    preview_grid,
    thumbnail_name,
    thumbnails,
)

from .factories import BLUE, GREEN, RED, all_formats, image_bytes, write

OPTIONS = PrepareOptions(height=12, width=8)


@pytest.fixture
def dataset(tmp_path: Path) -> DatasetPaths:
    paths = DatasetPaths(tmp_path / "7")
    for index, color in enumerate((RED, GREEN, BLUE)):
        write(paths.raw / f"{index}.png", image_bytes(color=color))
    return paths


def test_second_load_uses_the_cache_even_without_raw_files(dataset: DatasetPaths) -> None:
    first = load_or_prepare(dataset.root, OPTIONS)
    tensor_file = cache_path(dataset.root, OPTIONS)
    assert tensor_file.is_file() and tensor_file.with_suffix(".json").is_file()
    assert torch.equal(torch.load(tensor_file, weights_only=True)["images"], first.images)

    shutil.rmtree(dataset.raw)  # nothing left to decode: only the cache can answer
    second = load_or_prepare(dataset.root, OPTIONS)

    assert torch.equal(second.images, first.images)
    assert second.names == first.names == ["0.png", "1.png", "2.png"]
    assert second.stats == first.stats
    assert second.images.shape == (3, 3, 12, 8)


def test_cache_is_keyed_by_options_and_invalidated_by_new_raw_files(dataset: DatasetPaths) -> None:
    load_or_prepare(dataset.root, OPTIONS)
    other = PrepareOptions(height=12, width=8, fit="crop")
    assert cache_path(dataset.root, other) != cache_path(dataset.root, OPTIONS)
    assert len(load_or_prepare(dataset.root, other)) == 3

    write(dataset.raw / "3.png", image_bytes(color=(9, 9, 9)))
    refreshed = load_or_prepare(dataset.root, OPTIONS)

    assert len(refreshed) == 4
    meta = json.loads(cache_path(dataset.root, OPTIONS).with_suffix(".json").read_text())
    assert meta["names"][-1] == "3.png"
    assert meta["options"]["height"] == 12


def test_a_damaged_cache_is_rebuilt(dataset: DatasetPaths) -> None:
    load_or_prepare(dataset.root, OPTIONS)
    cache_path(dataset.root, OPTIONS).write_bytes(b"not a torch file")
    assert len(load_or_prepare(dataset.root, OPTIONS)) == 3
    assert torch.load(cache_path(dataset.root, OPTIONS), weights_only=True)["images"].shape[0] == 3


def test_preview_grid_from_a_tensor_and_from_raw_files(dataset: DatasetPaths) -> None:
    prepared = load_or_prepare(dataset.root, OPTIONS)
    grid = preview_grid(prepared, n=64)
    assert grid.size == (2 * (8 + 2) + 2, 2 * (12 + 2) + 2)  # 3 images on a 2 x 2 grid, 2 px padding
    raw_grid = preview_grid(dataset.raw, n=2, cell=10)
    assert raw_grid.size == (2 * (10 + 2) + 2, 10 + 4)
    assert raw_grid.getpixel((6, 6)) == RED
    with pytest.raises(ValueError, match="no decodable image"):
        preview_grid(dataset.root / "empty")


def test_thumbnails_are_made_once_per_raw_image(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    for name, data in all_formats().items():
        write(raw / name, data)
    write(raw / "broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out = tmp_path / "thumbs"

    made = thumbnails(raw, out, size=24)

    assert sorted(path.name for path in made) == sorted(thumbnail_name(name) for name in all_formats())
    assert all(_size(path) == (24, 24) for path in made)
    stamps = {path: path.stat().st_mtime_ns for path in made}
    assert thumbnails(raw, out, size=24) == made
    assert {path: path.stat().st_mtime_ns for path in made} == stamps  # up to date: not rewritten


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size
