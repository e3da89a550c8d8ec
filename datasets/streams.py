"""Copying byte streams with a hard size limit, counted on the bytes actually seen."""

from __future__ import annotations

import gzip
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from datasets.errors import DatasetTooLarge
from datasets.limits import format_bytes

CHUNK_BYTES = 1 << 16

# What reading a damaged archive member can raise; the member is skipped, not the whole import.
CORRUPT_DATA_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    tarfile.TarError,
    gzip.BadGzipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
)


class SizeLimitExceeded(DatasetTooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(f"More than {format_bytes(limit)} of data.")
        self.limit = limit


def read_chunks(fileobj: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    while chunk := fileobj.read(chunk_bytes):
        yield chunk


def copy_limited(chunks: Iterable[bytes], dest: BinaryIO, limit: int) -> int:
    """Write chunks to dest; raise SizeLimitExceeded as soon as more than `limit` bytes arrive."""
    written = 0
    for chunk in chunks:
        written += len(chunk)
        if written > limit:
            raise SizeLimitExceeded(limit)
        dest.write(chunk)
    return written


def stream_to_disk(fileobj: BinaryIO, dest: Path, max_bytes: int) -> int:
    """Save an upload stream to dest, at most max_bytes; on any failure dest is removed.

    Raises DatasetTooLarge when the stream is longer than max_bytes. Returns the bytes written.
    """
    try:
        with open(dest, "wb") as out:
            return copy_limited(read_chunks(fileobj), out, max_bytes)
    except SizeLimitExceeded:
        dest.unlink(missing_ok=True)
        raise DatasetTooLarge(f"The upload is larger than the {format_bytes(max_bytes)} limit.") from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
