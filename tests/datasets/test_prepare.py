"""prepare_dataset: fitting, trimming, de-duplication, augmentation and statistics on tiny images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw, ImageEnhance

from datasets import NoImagesFound, PrepareOptions, prepare_dataset

from .factories import BLUE, GREEN, RED, WHITE, encode, image_bytes, sprite, stripes, write


def pixel(images: torch.Tensor, index: int, x: int, y: int) -> tuple[int, ...]:
    return tuple(images[index, :, y, x].tolist())


def near(color: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 8) -> bool:
    """Lanczos resampling rings a little near colour edges."""
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=True))


@pytest.fixture
def striped_raw(tmp_path: Path) -> Path:
    write(tmp_path / "raw" / "stripes.png", encode(stripes((48, 16), [RED, GREEN, BLUE])))
    return tmp_path / "raw"


def test_stretch_keeps_every_stripe(striped_raw: Path) -> None:
    images = prepare_dataset(striped_raw, PrepareOptions(height=16, width=16, fit="stretch")).images
    assert images.dtype == torch.uint8 and images.shape == (1, 3, 16, 16)
    assert near(pixel(images, 0, 1, 8), RED) and near(pixel(images, 0, 14, 8), BLUE)
    assert near(pixel(images, 0, 8, 8), GREEN)


def test_crop_fills_the_frame_with_the_centre(striped_raw: Path) -> None:
    images = prepare_dataset(striped_raw, PrepareOptions(height=16, width=16, fit="crop")).images
    assert {pixel(images, 0, x, y) for x in (0, 8, 15) for y in (0, 8, 15)} == {GREEN}


def test_pad_keeps_the_aspect_on_the_background(striped_raw: Path) -> None:
    images = prepare_dataset(striped_raw, PrepareOptions(height=16, width=16, fit="pad")).images
    assert pixel(images, 0, 8, 0) == WHITE and pixel(images, 0, 8, 15) == WHITE
    assert pixel(images, 0, 1, 8) == RED and pixel(images, 0, 14, 8) == BLUE
    black = prepare_dataset(striped_raw, PrepareOptions(height=16, width=16, background=(0, 0, 0))).images
    assert pixel(black, 0, 8, 0) == (0, 0, 0)


def test_non_square_card_shape(tmp_path: Path) -> None:
    write(tmp_path / "raw" / "card.png", image_bytes(size=(63, 88)))
    prepared = prepare_dataset(tmp_path / "raw", PrepareOptions(height=20, width=12))
    assert prepared.images.shape == (1, 3, 20, 12)


def test_transparent_sprites_are_white_not_black_after_preparation(tmp_path: Path) -> None:
    write(tmp_path / "raw" / "sprite.png", encode(sprite(32)))
    images = prepare_dataset(tmp_path / "raw", PrepareOptions(height=16, width=16)).images
    assert pixel(images, 0, 0, 0) == WHITE
    assert pixel(images, 0, 8, 8) == RED


def test_trim_borders_removes_a_uniform_margin(tmp_path: Path) -> None:
    framed = Image.new("RGB", (40, 40), WHITE)
    framed.paste(RED, (5, 5, 15, 15))
    write(tmp_path / "raw" / "framed.png", encode(framed))
    trimmed = prepare_dataset(tmp_path / "raw", PrepareOptions(height=8, width=8, trim_borders=True)).images
    untrimmed = prepare_dataset(tmp_path / "raw", PrepareOptions(height=8, width=8)).images
    assert {pixel(trimmed, 0, x, y) for x in range(1, 7) for y in range(1, 7)} == {RED}
    assert pixel(untrimmed, 0, 7, 7) == WHITE


def scene(seed: int) -> Image.Image:
    image = Image.new("RGB", (64, 64), WHITE)
    draw = ImageDraw.Draw(image)
    if seed == 0:
        draw.ellipse((4, 4, 36, 36), fill=RED)
        draw.rectangle((34, 30, 60, 60), fill=BLUE)
    else:
        for y in range(0, 64, 8):
            draw.rectangle((0, y, 63, y + 3), fill=GREEN)
    return image


@pytest.fixture
def raw_with_duplicates(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    write(raw / "a.png", encode(scene(0)))
    write(raw / "b.bmp", encode(scene(0), "BMP"))  # same pixels, other format: an exact duplicate
    brighter = ImageEnhance.Brightness(scene(0)).enhance(1.04)
    write(raw / "c.jpg", encode(brighter, "JPEG", quality=85))  # looks the same, pixels differ
    write(raw / "d.png", encode(scene(1)))
    return raw


def test_dedup_none_exact_near(raw_with_duplicates: Path) -> None:
    none = prepare_dataset(raw_with_duplicates, PrepareOptions(height=32, width=32))
    exact = prepare_dataset(raw_with_duplicates, PrepareOptions(height=32, width=32, dedup="exact"))
    near = prepare_dataset(raw_with_duplicates, PrepareOptions(height=32, width=32, dedup="near"))
    assert none.names == ["a.png", "b.bmp", "c.jpg", "d.png"]
    assert exact.names == ["a.png", "c.jpg", "d.png"]
    assert exact.stats.duplicates == [("b.bmp", "a.png")]
    assert near.names == ["a.png", "d.png"]
    assert near.stats.duplicates_removed == 2
    assert near.stats.duplicates == [("b.bmp", "a.png"), ("c.jpg", "a.png")]


def test_augmentation_multiplies_the_images_reproducibly(raw_with_duplicates: Path) -> None:
    base = PrepareOptions(height=32, width=32, dedup="exact")
    plain = prepare_dataset(raw_with_duplicates, base)
    tripled = prepare_dataset(raw_with_duplicates, base.model_copy(update={"augment_factor": 3}))
    again = prepare_dataset(raw_with_duplicates, base.model_copy(update={"augment_factor": 3}))
    reseeded = prepare_dataset(raw_with_duplicates, base.model_copy(update={"augment_factor": 3, "seed": 1}))

    assert len(tripled) == 3 * len(plain) == 9
    assert tripled.names[:3] == ["a.png", "a.png#aug1", "a.png#aug2"]
    assert tripled.stats.augmented == 6
    assert torch.equal(tripled.images[0::3], plain.images)
    for k in (1, 2):
        assert not torch.equal(tripled.images[k::3], plain.images)
    assert torch.equal(tripled.images, again.images)
    assert not torch.equal(tripled.images, reseeded.images)


def test_stats_and_skipped_files(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "red-small.png", image_bytes(size=(10, 20)))
    write(raw / "red-big.gif", image_bytes("GIF", size=(30, 40)))
    write(raw / "broken.png", image_bytes(size=(32, 32))[:50])
    write(raw / ".csv-import.jsonl", b"{}")  # state files are not images

    prepared = prepare_dataset(raw, PrepareOptions(height=8, width=8, fit="stretch"))

    stats = prepared.stats
    assert (stats.count, stats.source_count) == (2, 2)
    assert stats.skipped == {"corrupt or truncated image": 1}
    assert stats.skipped_items == [("broken.png", "corrupt or truncated image")]
    assert stats.source_sizes == {
        "min": [10, 20],
        "median": [20.0, 30.0],
        "max": [30, 40],
        "formats": {"gif": 1, "png": 1},
    }
    assert stats.mean_color[0] > 250 and stats.mean_color[1] < 5 and stats.mean_color[2] < 5
    assert prepared.as_float().min() >= -1 and prepared.as_float().max() <= 1


def test_no_usable_image_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "raw" / "broken.png", b"\x89PNG\r\n\x1a\nnope")
    with pytest.raises(NoImagesFound, match="1 corrupt or truncated image"):
        prepare_dataset(tmp_path / "raw", PrepareOptions())


def test_worker_processes_give_the_same_result(raw_with_duplicates: Path) -> None:
    options = PrepareOptions(height=16, width=16)
    progress: list[int] = []
    inline = prepare_dataset(raw_with_duplicates, options, workers=1)
    pooled = prepare_dataset(
        raw_with_duplicates, options, workers=2, progress=lambda n, _: progress.append(n)
    )
    assert torch.equal(inline.images, pooled.images)
    assert pooled.names == inline.names
    assert progress == [1, 2, 3, 4]


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        PrepareOptions(fit="zoom")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PrepareOptions(augment_factor=0)
    with pytest.raises(ValueError):
        PrepareOptions(background=(0, 0, 300))
    assert (
        PrepareOptions().cache_key() == PrepareOptions().cache_key() != PrepareOptions(width=32).cache_key()
    )
