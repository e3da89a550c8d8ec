"""Feeding the members of zip and tar archives into a Staging folder, refusing hostile archives.

Member names are never used as paths: each image gets a fresh flat name, so '../' or absolute names
cannot escape. Such names, links, devices and encrypted members are skipped and reported.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

from datasets.errors import DatasetTooLarge, UnsupportedSource
from datasets.limits import DatasetLimits, format_bytes
from datasets.naming import is_unsafe_member_path
from datasets.staging import Staging
from datasets.streams import CORRUPT_DATA_ERRORS

REASON_UNSAFE_PATH = "unsafe path"
REASON_LINK = "link or special file"
REASON_ENCRYPTED = "encrypted"


def extract_zip(path: Path, staging: Staging, limits: DatasetLimits) -> None:
    """Stage every image member of a zip; the member count and declared sizes are checked first."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError) as error:
        raise UnsupportedSource(f"{path.name} is not a readable zip archive ({error}).") from error
    with archive:
        members = archive.infolist()
        _check_member_count(len(members), limits)
        _check_declared_total(sum(info.file_size for info in members if not info.is_dir()), limits)
        for info in members:
            if info.is_dir():
                continue
            reason = _zip_refusal(info)
            if reason:
                staging.skip(info.filename, reason)
                continue
            try:
                with archive.open(info) as member:
                    staging.add_stream(info.filename, member, info.file_size)
            except CORRUPT_DATA_ERRORS:
                staging.skip(info.filename, "corrupt archive member")


def extract_tar(path: Path, staging: Staging, limits: DatasetLimits, *, gzipped: bool) -> None:
    """Stage every image member of a tar (read as a stream, so limits apply header by header)."""
    count = declared = 0
    try:
        with tarfile.open(path, "r|gz" if gzipped else "r|") as archive:
            for info in archive:
                count += 1
                _check_member_count(count, limits)
                if info.isdir():
                    continue
                if not info.isreg():
                    staging.skip(info.name, REASON_LINK)
                    continue
                if is_unsafe_member_path(info.name):
                    staging.skip(info.name, REASON_UNSAFE_PATH)
                    continue
                declared += info.size
                _check_declared_total(declared, limits)
                member = archive.extractfile(info)
                if member is not None:
                    staging.add_stream(info.name, member, info.size)
    except CORRUPT_DATA_ERRORS as error:
        raise UnsupportedSource(f"{path.name} is not a readable tar archive ({error}).") from error


def _zip_refusal(info: zipfile.ZipInfo) -> str | None:
    if is_unsafe_member_path(info.filename):
        return REASON_UNSAFE_PATH
    if info.flag_bits & 0x1:
        return REASON_ENCRYPTED
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type not in (0, stat.S_IFREG):
        return REASON_LINK
    return None


def _check_member_count(count: int, limits: DatasetLimits) -> None:
    if count > limits.max_members:
        raise DatasetTooLarge(f"The archive has more than {limits.max_members:,} members.")


def _check_declared_total(total: int, limits: DatasetLimits) -> None:
    if total > limits.max_total_uncompressed_bytes:
        raise DatasetTooLarge(
            f"The archive would unpack to more than {format_bytes(limits.max_total_uncompressed_bytes)}."
        )
