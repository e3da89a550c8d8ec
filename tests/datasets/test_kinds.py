"""detect_kind judges files by their bytes: a misleading name never changes the answer."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from datasets import SourceKind, UnsupportedSource, detect_kind, sniff_image_format

from .factories import all_formats, make_tar, make_zip, write


@pytest.mark.parametrize("name", list(all_formats()))
def test_every_image_format_is_an_image_whatever_its_name(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / "upload.zip", all_formats()[name])
    assert detect_kind(path) is SourceKind.IMAGE


def test_sniffed_formats(tmp_path: Path) -> None:
    formats = {name: sniff_image_format(data[:4096]) for name, data in all_formats().items()}
    assert formats == {
        "a.png": "png",
        "b.jpg": "jpeg",
        "c.gif": "gif",
        "d.webp": "webp",
        "e.bmp": "bmp",
        "f.svg": "svg",
    }


def test_archives(tmp_path: Path) -> None:
    assert detect_kind(make_zip(tmp_path / "x.csv", {"a.png": b"x"})) is SourceKind.ZIP
    assert detect_kind(make_zip(tmp_path / "empty.bin", {})) is SourceKind.ZIP
    assert detect_kind(make_tar(tmp_path / "x.png", {"a.png": b"x"})) is SourceKind.TAR
    assert detect_kind(make_tar(tmp_path / "x.tar", {"a.png": b"x"}, gz=True)) is SourceKind.TAR_GZ


def test_csv_needs_an_image_url_header(tmp_path: Path) -> None:
    good = write(tmp_path / "cards.txt", "\ufeffid,Image_URL ,name\n1,http://x/a.png,Pikachu\n".encode())
    assert detect_kind(good) is SourceKind.CSV
    with pytest.raises(UnsupportedSource, match="image_url"):
        detect_kind(write(tmp_path / "other.csv", b"id,url\n1,http://x/a.png\n"))


def test_unknown_content_is_refused_with_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedSource, match="fake.zip is not a valid zip archive: it holds bytes of no"):
        detect_kind(write(tmp_path / "fake.zip", bytes(range(256)) * 4))
    with pytest.raises(UnsupportedSource, match="notes.zip is not a valid zip archive: it holds plain text"):
        detect_kind(write(tmp_path / "notes.zip", b"a text file renamed to .zip\n"))
    with pytest.raises(UnsupportedSource, match="not a zip or tar archive, a CSV"):
        detect_kind(write(tmp_path / "fake.bin", bytes(range(256)) * 4))
    with pytest.raises(UnsupportedSource, match="gzip-compressed but not a tar"):
        detect_kind(write(tmp_path / "x.tar.gz", gzip.compress(b"just text, no tar header" * 40)))


def test_html_with_inline_svg_is_not_an_svg_image(tmp_path: Path) -> None:
    assert sniff_image_format(b"<!doctype html><html><body><svg></svg></body></html>") is None
    prolog = b'<?xml version="1.0"?>\n<!-- drawn by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1">\n'
    assert sniff_image_format(prolog + b'<svg xmlns="http://www.w3.org/2000/svg"/>') == "svg"
    assert sniff_image_format(b" " * 4000 + b"x") is None
