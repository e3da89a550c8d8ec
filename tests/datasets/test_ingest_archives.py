"""Archives reach raw/ only if safe: hostile members are skipped, limits refuse the whole upload."""

from __future__ import annotations

import io
import os
import re
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from datasets import (
    DatasetLimits,
    DatasetTooLarge,
    NoImagesFound,
    SourceKind,
    UnsupportedSource,
    ingest_upload,
    list_raw_images,
)
from datasets.decode import REASON_BOMB, REASON_CORRUPT, REASON_NOT_IMAGE
from datasets.staging import REASON_LYING_HEADER, Staging

from .factories import all_formats, image_bytes, make_tar, make_zip, tar_entry, write, zip_symlink

LIMITS = DatasetLimits(max_image_pixels=1_000_000)


def all_files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def reasons(report_skipped: list[tuple[str, str]]) -> dict[str, str]:
    return dict(report_skipped)


def test_zip_of_every_format_lands_flat_with_safe_names(tmp_path: Path) -> None:
    members = {f"Pokémon Sprites/{name}": data for name, data in all_formats().items()}
    members["readme.txt"] = b"not an image"
    archive = make_zip(tmp_path / "upload", members)
    raw = tmp_path / "ds" / "raw"

    report = ingest_upload([archive], raw, LIMITS)

    assert report.kind is SourceKind.ZIP
    assert report.accepted == 6
    assert sorted(report.files) == ["a.png", "b.jpg", "c.gif", "d.webp", "e.bmp", "f.svg"]
    assert [path.name for path in list_raw_images(raw)] == sorted(report.files)
    assert reasons(report.skipped) == {"readme.txt": REASON_NOT_IMAGE}
    assert not [p for p in raw.parent.iterdir() if p.name.startswith(".staging")]


def test_hostile_zip_paths_and_links_are_skipped_and_nothing_escapes(tmp_path: Path) -> None:
    png = image_bytes()
    archive = zip_symlink(
        tmp_path / "evil.zip",
        "link.png",
        "/etc/passwd",
        {
            "../escape.png": png,
            "/abs.png": png,
            "C:\\windows.png": png,
            "ok/../../up.png": png,
            "good.png": png,
        },
    )
    raw = tmp_path / "ds" / "raw"

    report = ingest_upload([archive], raw, LIMITS)

    assert report.files == ["good.png"]
    assert reasons(report.skipped) == {
        "link.png": "link or special file",
        "../escape.png": "unsafe path",
        "/abs.png": "unsafe path",
        "C:\\windows.png": "unsafe path",
        "ok/../../up.png": "unsafe path",
    }
    assert all_files(tmp_path) == {"evil.zip", "ds/raw/good.png"}


def test_hostile_tar_members_are_skipped(tmp_path: Path) -> None:
    png = image_bytes()
    special = (
        tar_entry("sym.png", tarfile.SYMTYPE, "/etc/passwd"),
        tar_entry("hard.png", tarfile.LNKTYPE, "good.png"),
        tar_entry("dev.png", tarfile.CHRTYPE),
        tar_entry("fifo.png", tarfile.FIFOTYPE),
        tar_entry("subdir", tarfile.DIRTYPE),
    )
    archive = make_tar(
        tmp_path / "evil.tgz", {"../up.png": png, "/abs.png": png, "good.png": png}, gz=True, special=special
    )
    raw = tmp_path / "ds" / "raw"

    report = ingest_upload([archive], raw, LIMITS)

    assert report.kind is SourceKind.TAR_GZ
    assert report.files == ["good.png"]
    assert reasons(report.skipped) == {
        "../up.png": "unsafe path",
        "/abs.png": "unsafe path",
        "sym.png": "link or special file",
        "hard.png": "link or special file",
        "dev.png": "link or special file",
        "fifo.png": "link or special file",
    }
    assert all_files(tmp_path) == {"evil.tgz", "ds/raw/good.png"}


def test_colliding_names_get_suffixes_also_against_earlier_imports(tmp_path: Path) -> None:
    raw = tmp_path / "ds" / "raw"
    write(raw / "pika.png", image_bytes())
    archive = make_tar(tmp_path / "a.tar", {"a/Pika.png": image_bytes(), "b/pika.PNG": image_bytes()})

    report = ingest_upload([archive], raw, LIMITS)

    assert report.kind is SourceKind.TAR
    assert report.files == ["pika-2.png", "pika-3.png"]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_broken_and_bomb_images_inside_an_archive_are_skipped(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "a.zip",
        {
            "good.png": image_bytes(),
            "cut.png": image_bytes(size=(64, 64))[:60],
            "huge.png": image_bytes(size=(2000, 1000), color=0, mode="L"),
        },
    )
    report = ingest_upload([archive], tmp_path / "raw", LIMITS)
    assert report.files == ["good.png"]
    assert reasons(report.skipped) == {"cut.png": REASON_CORRUPT, "huge.png": REASON_BOMB}


@pytest.mark.parametrize("gz", [False, True])
def test_too_many_tar_members_refuses_and_leaves_raw_untouched(tmp_path: Path, gz: bool) -> None:
    raw = tmp_path / "ds" / "raw"
    write(raw / "existing.png", image_bytes())
    archive = make_tar(tmp_path / "many.tar", {f"{i}.png": image_bytes() for i in range(5)}, gz=gz)

    with pytest.raises(DatasetTooLarge, match="more than 4 members"):
        ingest_upload([archive], raw, DatasetLimits(max_members=4))

    assert all_files(tmp_path / "ds") == {"raw/existing.png"}


def test_too_many_zip_members_is_refused_before_extracting(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "many.zip", {f"{i}.png": image_bytes() for i in range(5)})
    with pytest.raises(DatasetTooLarge, match="more than 4 members"):
        ingest_upload([archive], tmp_path / "ds" / "raw", DatasetLimits(max_members=4))
    assert all_files(tmp_path / "ds") == set()


def test_declared_uncompressed_size_over_the_limit_is_refused(tmp_path: Path) -> None:
    zeros = bytes(50_000)  # compresses to almost nothing
    limits = DatasetLimits(max_total_uncompressed_bytes=20_000)
    with pytest.raises(DatasetTooLarge, match="unpack to more than"):
        ingest_upload(
            [make_zip(tmp_path / "z.zip", {"a.png": image_bytes(), "zeros.bin": zeros})],
            tmp_path / "raw",
            limits,
        )
    with pytest.raises(DatasetTooLarge, match="unpack to more than"):
        ingest_upload([make_tar(tmp_path / "t.tgz", {"zeros.png": zeros}, gz=True)], tmp_path / "raw", limits)
    assert not (tmp_path / "raw").exists()


def lie_about_size(path: Path, member: str, fake_size: int) -> None:
    """Rewrite the uncompressed size of `member` in its local header and its central directory entry."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, name_offset, size_offset in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        for match in re.finditer(re.escape(signature), data):
            start = match.start()
            if data[start + name_offset : start + name_offset + len(name)] == name:
                struct.pack_into("<I", data, start + size_offset, fake_size)
    path.write_bytes(data)


def test_zip_member_lying_about_its_size_cannot_bypass_the_limit(tmp_path: Path) -> None:
    bomb = b"\x89PNG\r\n\x1a\n" + bytes(3_000_000)
    archive = make_zip(tmp_path / "lie.zip", {"good.png": image_bytes(), "bomb.png": bomb})
    lie_about_size(archive, "bomb.png", 100)
    with zipfile.ZipFile(archive) as check:
        assert check.getinfo("bomb.png").file_size == 100  # the header now claims 100 bytes

    report = ingest_upload([archive], tmp_path / "raw", DatasetLimits(max_total_uncompressed_bytes=1_000_000))

    assert report.files == ["good.png"]
    assert dict(report.skipped)["bomb.png"] == "corrupt archive member"  # zipfile stops at 100 bytes: bad CRC
    assert sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file() and p.name != "lie.zip") < 10_000


def test_staging_counts_bytes_actually_read_not_headers(tmp_path: Path) -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(200_000)
    limits = DatasetLimits(max_total_uncompressed_bytes=100_000)
    with Staging(tmp_path / "raw", limits) as staging:
        staging.add_stream("liar.png", io.BytesIO(big), declared_size=1000)  # more than its header says
        assert staging.skipped == [("liar.png", REASON_LYING_HEADER)]
        with pytest.raises(DatasetTooLarge, match="more than 97.7 KiB"):
            staging.add_stream("unknown-size.png", io.BytesIO(big))  # no header: the running total decides
        staging_dir = staging.dir
        assert list(staging_dir.iterdir()) == []
    assert not staging_dir.exists()


def test_fake_zip_empty_zip_and_zip_without_images(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    with pytest.raises(UnsupportedSource):
        ingest_upload([write(tmp_path / "fake.zip", b"this is not a zip file at all")], raw, LIMITS)
    with pytest.raises(NoImagesFound, match="nothing was found"):
        ingest_upload([make_zip(tmp_path / "empty.zip", {})], raw, LIMITS)
    with pytest.raises(NoImagesFound, match="2 not an image") as no_images:
        ingest_upload([make_zip(tmp_path / "docs.zip", {"a.txt": b"a", "b.csv": b"x,y"})], raw, LIMITS)
    assert len(no_images.value.skipped) == 2
    assert not raw.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_truncated_archive_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", {f"{i}.png": os.urandom(3000) for i in range(3)}, gz=True)
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(UnsupportedSource, match="not a readable tar"):
        ingest_upload([archive], tmp_path / "raw", LIMITS)
    assert not (tmp_path / "raw").exists()
