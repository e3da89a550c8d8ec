"""decode_image: every format to RGB, transparency on the background colour, broken files refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from datasets import ImageRejected, decode_image, pillow_pixel_limit
from datasets.decode import REASON_BOMB, REASON_CORRUPT, REASON_NOT_IMAGE, REASON_SVG

from .factories import (
    BLUE,
    RED,
    WHITE,
    all_formats,
    animated_gif,
    encode,
    image_bytes,
    sprite,
    svg_bytes,
    write,
)

LIMIT = 1_000_000


def decode(path: Path, **kwargs: object) -> Image.Image:
    return decode_image(path, max_pixels=LIMIT, **kwargs).image  # type: ignore[arg-type]


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", list(all_formats()))
def test_each_format_decodes_to_rgb(tmp_path: Path, name: str) -> None:
    decoded = decode_image(write(tmp_path / name, all_formats()[name]), max_pixels=LIMIT)
    assert decoded.image.mode == "RGB"
    assert close(decoded.image.getpixel((4, 4)), RED)
    assert decoded.format == {"jpg": "jpeg"}.get(name[2:], name[2:])


def test_transparent_sprite_is_composited_on_white_not_black(tmp_path: Path) -> None:
    path = write(tmp_path / "sprite.png", encode(sprite(16)))
    image = decode(path)
    assert image.getpixel((0, 0)) == WHITE  # transparent black pixels: a plain convert("RGB") gives (0,0,0)
    assert image.getpixel((8, 8)) == RED
    assert decode(path, background=BLUE).getpixel((0, 0)) == BLUE


def palette_sprite() -> Image.Image:
    """P mode: index 0 is black and transparent, index 1 red; a plain convert('RGB') shows black."""
    image = Image.new("P", (16, 16), 0)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.paste(1, (4, 4, 12, 12))
    return image


TRANSPARENT_SOURCES = {
    "la.png": lambda: encode(sprite(16).convert("LA")),
    "palette.png": lambda: encode(palette_sprite(), "PNG", transparency=0),
    "palette.gif": lambda: encode(palette_sprite(), "GIF", transparency=0),
    "keyed-rgb.png": lambda: encode(sprite(16).convert("RGB"), "PNG", transparency=(0, 0, 0)),
    "rgba.webp": lambda: encode(sprite(16), "WEBP", lossless=True),
}


@pytest.mark.parametrize("name", list(TRANSPARENT_SOURCES))
def test_other_transparent_modes_use_the_background(tmp_path: Path, name: str) -> None:
    image = decode(write(tmp_path / name, TRANSPARENT_SOURCES[name]()))
    assert image.getpixel((0, 0)) == WHITE
    assert image.getpixel((8, 8)) != WHITE


def test_gif_uses_the_first_frame(tmp_path: Path) -> None:
    image = decode(write(tmp_path / "anim.gif", animated_gif([RED, BLUE, BLUE])))
    assert close(image.getpixel((2, 2)), RED)


def test_truncated_and_corrupt_files_are_rejected(tmp_path: Path) -> None:
    png = encode(Image.effect_noise((64, 64), 60).convert("RGB"))
    with pytest.raises(ImageRejected) as truncated:
        decode(write(tmp_path / "cut.png", png[: len(png) // 2]))
    assert truncated.value.reason == REASON_CORRUPT
    with pytest.raises(ImageRejected) as garbage:
        decode(write(tmp_path / "bad.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8))
    assert garbage.value.reason == REASON_CORRUPT
    with pytest.raises(ImageRejected) as text:
        decode(write(tmp_path / "notes.png", b"hello, world"))
    assert text.value.reason == REASON_NOT_IMAGE


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(1200, 1000), (3000, 3000)])  # above the limit; and above twice the limit
def test_decompression_bombs_are_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    path = write(tmp_path / "bomb.png", image_bytes("PNG", size, 255, mode="L"))
    with pillow_pixel_limit(LIMIT), pytest.raises(ImageRejected) as bomb:
        decode(path)
    assert bomb.value.reason == REASON_BOMB
    with pytest.raises(ImageRejected):  # the explicit check holds even without the Pillow global
        decode(path)


def test_pixel_limit_context_restores_pillows_setting() -> None:
    before = Image.MAX_IMAGE_PIXELS
    with pillow_pixel_limit(1234):
        with pillow_pixel_limit(99):
            assert Image.MAX_IMAGE_PIXELS == 99
        assert Image.MAX_IMAGE_PIXELS == 1234
    assert Image.MAX_IMAGE_PIXELS == before


def test_svg_is_rasterised_keeping_its_aspect(tmp_path: Path) -> None:
    decoded = decode_image(
        write(tmp_path / "wide.svg", svg_bytes(40, 20, "blue")), max_pixels=LIMIT, svg_size=64
    )
    assert decoded.image.size == (64, 32)
    assert decoded.source_size == (40, 20)
    assert decoded.image.getpixel((32, 16)) == BLUE


@pytest.mark.parametrize(
    "svg",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5"></svg>',  # not well-formed XML
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><text>&b;</text></svg>',  # entities
    ],
)
def test_broken_or_entity_laden_svgs_are_rejected(tmp_path: Path, svg: bytes) -> None:
    with pytest.raises(ImageRejected) as rejected:
        decode(write(tmp_path / "x.svg", svg))
    assert rejected.value.reason == REASON_SVG


def test_oversized_svg_is_rejected_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path / "big.svg", svg_bytes() + b"<!--" + b"x" * 5000 + b"-->")
    with pytest.raises(ImageRejected, match="file too large"):
        decode_image(path, max_pixels=LIMIT, max_svg_bytes=1000)


def test_decoded_image_survives_closing_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.png", image_bytes())
    image = decode(path)
    path.unlink()
    assert io.BytesIO(encode(image)).getvalue()
