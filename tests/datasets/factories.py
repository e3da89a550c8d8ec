"""Tiny images, archives and CSVs made inside the tests (never real Pokémon files)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from PIL import Image

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (16, 16), color: int | tuple[int, ...] = RED, mode: str = "RGB"
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt)
    return out.getvalue()


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def sprite(size: int = 16, color: tuple[int, int, int] = RED) -> Image.Image:
    """An RGBA sprite: fully transparent black background, an opaque square in the middle."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    quarter = size // 4
    image.paste((*color, 255), (quarter, quarter, size - quarter, size - quarter))
    return image


def stripes(size: tuple[int, int], colors: list[tuple[int, int, int]]) -> Image.Image:
    """Vertical stripes of equal width, left to right."""
    width, height = size
    image = Image.new("RGB", size)
    step = width // len(colors)
    for index, color in enumerate(colors):
        image.paste(
            color, (index * step, 0, width if index == len(colors) - 1 else (index + 1) * step, height)
        )
    return image


def svg_bytes(width: int = 20, height: int = 10, fill: str = "red") -> bytes:
    return (
        f'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" fill="{fill}"/></svg>'
    ).encode()


def animated_gif(colors: list[tuple[int, int, int]], size: int = 8) -> bytes:
    frames = [Image.new("RGB", (size, size), color) for color in colors]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def all_formats() -> dict[str, bytes]:
    """One small red image per supported format, keyed by a file name with a matching extension."""
    return {
        "a.png": image_bytes("PNG"),
        "b.jpg": image_bytes("JPEG"),
        "c.gif": image_bytes("GIF"),
        "d.webp": image_bytes("WEBP", mode="RGB"),
        "e.bmp": image_bytes("BMP"),
        "f.svg": svg_bytes(),
    }


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def zip_symlink(path: Path, name: str, target: str, extra: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o120777 << 16  # a unix symlink; its data is the target path
        archive.writestr(info, target)
        for member, data in extra.items():
            archive.writestr(member, data)
    return path


def make_tar(
    path: Path, members: dict[str, bytes], *, gz: bool = False, special: tuple[tarfile.TarInfo, ...] = ()
) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info in special:
            archive.addfile(info)
    return path


def tar_entry(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info
