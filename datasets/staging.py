"""A temporary folder beside raw/ where an import collects candidate images before they are accepted.

Nothing reaches raw/ until every limit has been checked and each image decoded; a refusal discards
the staging folder, so raw/ never holds half an import.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from datasets.decode import REASON_NOT_IMAGE
from datasets.errors import DatasetTooLarge, NoImagesFound
from datasets.kinds import IMAGE_EXTENSIONS, SNIFF_BYTES, sniff_image_format
from datasets.labels import MAX_LABELS_CSV_BYTES, is_labels_table
from datasets.limits import DatasetLimits, format_bytes
from datasets.naming import NameAllocator, member_stem
from datasets.parallel import map_files
from datasets.pipeline import DecodeSpec, check_image
from datasets.report import SkippedItem, summarise_skipped
from datasets.streams import CORRUPT_DATA_ERRORS, SizeLimitExceeded, copy_limited, read_chunks

REASON_LYING_HEADER = "larger than its archive header says"
REASON_CORRUPT_MEMBER = "corrupt archive member"


class Staging:
    def __init__(self, raw_dir: Path, limits: DatasetLimits, *, workers: int | None = None) -> None:
        raw_dir.parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=".staging-", dir=raw_dir.parent))
        self.skipped: list[SkippedItem] = []
        self._raw_dir = raw_dir
        self._limits = limits
        self._workers = workers
        self._names = (
            NameAllocator(path.name for path in raw_dir.iterdir()) if raw_dir.is_dir() else NameAllocator()
        )
        self._staged: list[tuple[str, Path]] = []
        self._bytes = 0
        self.members: dict[str, str] = {}  # raw name -> path inside the source (labels from folders)
        self.label_tables: list[tuple[str, bytes]] = []  # (path, content) of each labels.csv found

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append(SkippedItem(name, reason))

    def add_stream(self, name: str, stream: BinaryIO, declared_size: int | None = None) -> None:
        """Stage one candidate: non-images are skipped after reading their first bytes only."""
        if is_labels_table(name):
            self._keep_label_table(name, stream)
            return
        try:
            head = stream.read(SNIFF_BYTES)
        except CORRUPT_DATA_ERRORS:
            self.skip(name, REASON_CORRUPT_MEMBER)
            return
        image_format = sniff_image_format(head)
        if image_format is None:
            self.skip(name, REASON_NOT_IMAGE)
            return
        staged = self.dir / self._names.allocate(member_stem(name), IMAGE_EXTENSIONS[image_format])
        if self._copy(name, itertools.chain([head], read_chunks(stream)), staged, declared_size):
            self._staged.append((name, staged))

    def commit(self, source: str) -> list[str]:
        """Decode every staged file, move the good ones into raw/ and return their names."""
        spec = DecodeSpec(self._limits.max_image_pixels, self._limits.max_svg_bytes)
        paths = [path for _, path in self._staged]
        reasons = map_files(
            partial(check_image, spec=spec),
            paths,
            max_pixels=self._limits.max_image_pixels,
            workers=self._workers,
        )
        accepted = []
        for (name, path), reason in zip(self._staged, reasons, strict=True):
            if reason is None:
                accepted.append(path)
            else:
                self.skip(name, reason)
        if not accepted:
            raise NoImagesFound(
                f"No usable image in {source} ({summarise_skipped(self.skipped)}).", self.skipped
            )
        self._raw_dir.mkdir(parents=True, exist_ok=True)
        for path in accepted:
            os.replace(path, self._raw_dir / path.name)
        member_of = {path: name for name, path in self._staged}
        self.members = {path.name: member_of[path] for path in accepted}
        return [path.name for path in accepted]

    def labelling(self) -> dict[str, object]:
        """The IngestReport fields labels are read from (after commit)."""
        return {"members": dict(self.members), "label_tables": list(self.label_tables)}

    def _keep_label_table(self, name: str, stream: BinaryIO) -> None:
        data = stream.read(MAX_LABELS_CSV_BYTES + 1)
        if len(data) > MAX_LABELS_CSV_BYTES:
            raise DatasetTooLarge(f"{name} is larger than {format_bytes(MAX_LABELS_CSV_BYTES)}.")
        self.label_tables.append((name, data))

    def _copy(self, name: str, chunks: Iterable[bytes], staged: Path, declared_size: int | None) -> bool:
        # The running total is enforced on bytes actually read, so a header that under-reports a member's
        # size cannot smuggle more data past the limit.
        budget = self._limits.max_total_uncompressed_bytes - self._bytes
        limit = budget if declared_size is None else min(declared_size, budget)
        try:
            with open(staged, "wb") as out:
                self._bytes += copy_limited(chunks, out, limit)
            return True
        except SizeLimitExceeded:
            staged.unlink()
            if declared_size is not None and declared_size < budget:
                self.skip(name, REASON_LYING_HEADER)
                return False
            limit = format_bytes(self._limits.max_total_uncompressed_bytes)
            raise DatasetTooLarge(f"The images add up to more than {limit} once uncompressed.") from None
        except CORRUPT_DATA_ERRORS:
            staged.unlink(missing_ok=True)
            self.skip(name, REASON_CORRUPT_MEMBER)
            return False
