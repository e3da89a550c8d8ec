"""What a file is, judged by its bytes: archives, CSV of image URLs, or an image."""

from __future__ import annotations

import codecs
import csv
import enum
import gzip
import re
import zlib
from pathlib import Path

from datasets.errors import UnsupportedSource

SNIFF_BYTES = 4096
IMAGE_EXTENSIONS = {
    "png": ".png",
    "jpeg": ".jpg",
    "gif": ".gif",
    "webp": ".webp",
    "bmp": ".bmp",
    "svg": ".svg",
}
_BMP_DIB_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_SVG_ROOT = re.compile(
    r"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*<svg[\s>/]", re.S | re.I
)


class SourceKind(enum.StrEnum):
    ZIP = "zip"
    TAR = "tar"
    TAR_GZ = "tar.gz"
    CSV = "csv"
    IMAGE = "image"
    FOLDER = "folder"


def sniff_image_format(head: bytes) -> str | None:
    """png, jpeg, gif, webp, bmp or svg from the first bytes of a file; None when it is none of them."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in _BMP_DIB_HEADER_SIZES
    ):
        return "bmp"
    if _looks_like_svg(head):
        return "svg"
    return None


def detect_kind(path: Path) -> SourceKind:
    """Classify an uploaded file by content; the file name is never trusted."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return SourceKind.ZIP
    if head.startswith(b"\x1f\x8b"):
        if _is_tar_header(_gunzip_head(path)):
            return SourceKind.TAR_GZ
        raise UnsupportedSource(f"{path.name} is gzip-compressed but not a tar archive.")
    if _is_tar_header(head):
        return SourceKind.TAR
    if sniff_image_format(head) is not None:
        return SourceKind.IMAGE
    text = _as_text(head)
    if text is not None and "image_url" in _csv_header(text):
        return SourceKind.CSV
    claimed = _claimed_archive(path.name)
    if claimed is not None:  # the name is only used to say what the user meant it to be
        what = "plain text" if text is not None else "bytes of no known archive or image format"
        raise UnsupportedSource(f"{path.name} is not a valid {claimed} archive: it holds {what}.")
    if text is not None:
        raise UnsupportedSource(
            f"{path.name} is a text file but not a CSV with an image_url column in its header row."
        )
    raise UnsupportedSource(
        f"{path.name} is not a zip or tar archive, a CSV of image URLs, or a PNG/JPEG/GIF/WebP/BMP/SVG image."
    )


def _claimed_archive(name: str) -> str | None:
    """ "zip", "tar" or "tar.gz" when the file name says it is one; None otherwise."""
    lower = name.lower()
    for suffixes, kind in (((".zip",), "zip"), ((".tar.gz", ".tgz", ".gz"), "tar.gz"), ((".tar",), "tar")):
        if lower.endswith(suffixes):
            return kind
    return None


def _csv_header(text: str) -> list[str]:
    """The normalised (stripped, lower-case) column names of a CSV's first row."""
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    try:
        row = next(csv.reader([first_line]), [])
    except csv.Error:
        return []
    return [cell.strip().lower() for cell in row]


def _is_tar_header(block: bytes) -> bool:
    return len(block) >= 262 and block[257:262] == b"ustar"


def _gunzip_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read(512)
    except (OSError, EOFError, zlib.error):
        return b""


def _as_text(head: bytes) -> str | None:
    if not head or b"\x00" in head:
        return None
    try:
        # Incremental: a multi-byte character cut at the end of the sniffed block is not an error.
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None


def _looks_like_svg(head: bytes) -> bool:
    # The root element must be <svg>: an HTML page with inline SVG icons is not an image.
    text = _as_text(head)
    return text is not None and _SVG_ROOT.match(text.lstrip("\ufeff")) is not None
