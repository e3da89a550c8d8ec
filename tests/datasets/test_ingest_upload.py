"""Loose images, CSV uploads, server folders and the upload stream limit."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from datasets import (
    DatasetError,
    DatasetLimits,
    DatasetTooLarge,
    FolderNotAllowed,
    SourceKind,
    ingest_folder,
    ingest_upload,
    stream_to_disk,
)

from .factories import all_formats, image_bytes, make_zip, svg_bytes, write

LIMITS = DatasetLimits(max_image_pixels=1_000_000)


def test_several_images_are_accepted_and_non_images_reported(tmp_path: Path) -> None:
    paths = [write(tmp_path / "up" / name, data) for name, data in all_formats().items()]
    paths.append(write(tmp_path / "up" / "notes.png", b"plain text pretending to be a PNG"))

    report = ingest_upload(paths, tmp_path / "raw", LIMITS)

    assert report.kind is SourceKind.IMAGE
    assert report.accepted == 6
    assert report.skipped == [("notes.png", "not an image")]


def test_an_archive_among_several_files_is_refused(tmp_path: Path) -> None:
    paths = [write(tmp_path / "a.png", image_bytes()), make_zip(tmp_path / "b.zip", {"c.png": image_bytes()})]
    with pytest.raises(DatasetError, match="upload one archive or CSV on its own"):
        ingest_upload(paths, tmp_path / "raw", LIMITS)
    assert not (tmp_path / "raw").exists()


def test_a_single_image_named_like_an_archive_is_an_image(tmp_path: Path) -> None:
    report = ingest_upload([write(tmp_path / "sprites.zip", svg_bytes())], tmp_path / "raw", LIMITS)
    assert report.kind is SourceKind.IMAGE
    assert report.files == ["sprites.svg"]


def test_upload_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "a.png", image_bytes(size=(64, 64)))
    with pytest.raises(DatasetTooLarge, match="larger than the 100 bytes limit"):
        ingest_upload([path], tmp_path / "raw", DatasetLimits(max_upload_bytes=100))


def test_csv_upload_is_only_parsed(tmp_path: Path) -> None:
    csv = write(
        tmp_path / "cards.csv",
        (
            b"id,image_url,name,label\n"
            b"1,https://img.example/1.png,Pikachu,electric\n"
            b"2,,Empty,\n"
            b"3,ftp://img.example/3.png,Ftp,\n"
            b"4,https://img.example/1.png,Again,\n"
            b'5,http://img.example/5.png,"Mr. Mime, Galar",psychic\n'
        ),
    )

    report = ingest_upload([csv], tmp_path / "raw", LIMITS)

    assert report.kind is SourceKind.CSV
    assert report.accepted == 0
    assert [(row.row, row.url, row.name, row.label) for row in report.rows] == [
        (1, "https://img.example/1.png", "Pikachu", "electric"),
        (5, "http://img.example/5.png", "Mr. Mime, Galar", "psychic"),
    ]
    assert [reason for _, reason in report.skipped] == [
        "empty image_url",
        "only http and https URLs are allowed",
        "duplicate URL",
    ]
    assert not (tmp_path / "raw").exists()


def test_csv_with_too_many_rows_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"http://x.example/{i}.png\n" for i in range(6))
    csv = write(tmp_path / "c.csv", f"image_url\n{rows}".encode())
    with pytest.raises(DatasetTooLarge, match="more than 5 rows"):
        ingest_upload([csv], tmp_path / "raw", DatasetLimits(max_members=5))


def test_stream_to_disk_enforces_the_limit_and_cleans_up(tmp_path: Path) -> None:
    dest = tmp_path / "upload.bin"
    assert stream_to_disk(io.BytesIO(b"x" * 1000), dest, 1000) == 1000
    assert dest.stat().st_size == 1000
    with pytest.raises(DatasetTooLarge, match="larger than the 999 bytes limit"):
        stream_to_disk(io.BytesIO(b"x" * 1000), dest, 999)
    assert not dest.exists()


def folder_limits(*roots: Path) -> DatasetLimits:
    return DatasetLimits(max_image_pixels=1_000_000, allowed_folder_roots=list(roots))


def test_folder_import_copies_images_recursively_and_skips_links(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    write(root / "sprites" / "a.png", image_bytes())
    write(root / "sprites" / "deep" / "b.gif", all_formats()["c.gif"])
    write(root / "sprites" / "deep" / "readme.md", b"# hi")
    outside = write(tmp_path / "secret.png", image_bytes())
    os.symlink(outside, root / "sprites" / "leak.png")
    os.symlink(tmp_path, root / "sprites" / "loop")

    report = ingest_folder(root / "sprites", tmp_path / "ds" / "raw", folder_limits(root))

    assert report.kind is SourceKind.FOLDER
    assert sorted(report.files) == ["a.png", "b.gif"]
    assert dict(report.skipped) == {
        "leak.png": "link or special file",
        "loop": "link or special file",
        "deep/readme.md": "not an image",
    }


def test_folder_outside_the_allowed_roots_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    write(root / "ok" / "a.png", image_bytes())
    write(tmp_path / "private" / "b.png", image_bytes())
    os.symlink(tmp_path / "private", root / "shortcut")
    raw = tmp_path / "ds" / "raw"

    with pytest.raises(FolderNotAllowed, match="not inside an allowed import folder"):
        ingest_folder(tmp_path / "private", raw, folder_limits(root))
    with pytest.raises(FolderNotAllowed, match="not inside an allowed import folder"):
        ingest_folder(root / "shortcut", raw, folder_limits(root))  # resolves outside the root
    with pytest.raises(FolderNotAllowed, match="not inside"):
        ingest_folder(root / "ok" / ".." / ".." / "private", raw, folder_limits(root))
    with pytest.raises(FolderNotAllowed, match="disabled"):
        ingest_folder(root / "ok", raw, folder_limits())
    with pytest.raises(FolderNotAllowed, match="does not exist"):
        ingest_folder(root / "missing", raw, folder_limits(root))
    assert not raw.exists()


def test_folder_with_too_many_files_is_refused(tmp_path: Path) -> None:
    for i in range(4):
        write(tmp_path / "f" / f"{i}.png", image_bytes())
    limits = DatasetLimits(max_members=3, allowed_folder_roots=[tmp_path])
    with pytest.raises(DatasetTooLarge, match="more than 3 files"):
        ingest_folder(tmp_path / "f", tmp_path / "ds" / "raw", limits)
