"""Putting uploaded files or a server folder into a dataset's raw/ folder, safely."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from datasets.archives import REASON_LINK, extract_tar, extract_zip
from datasets.csv_rows import read_csv_rows
from datasets.decode import REASON_NOT_IMAGE
from datasets.errors import DatasetError, DatasetTooLarge, FolderNotAllowed, UnsupportedSource
from datasets.kinds import SourceKind, detect_kind
from datasets.limits import DatasetLimits, format_bytes
from datasets.report import IngestReport
from datasets.staging import Staging

REASON_UNREADABLE = "unreadable"


def ingest_upload(
    paths: list[Path], raw_dir: Path, limits: DatasetLimits, *, workers: int | None = None
) -> IngestReport:
    """Import one archive, one CSV, or several images into raw_dir, judged by content, not names.

    A CSV is only parsed: the report's `rows` are what `import_csv` will download. Refusals raise
    DatasetError and leave raw_dir as it was.
    """
    if not paths:
        raise DatasetError("Nothing was uploaded.")
    total = sum(path.stat().st_size for path in paths)
    if total > limits.max_upload_bytes:
        raise DatasetTooLarge(f"The upload is larger than the {format_bytes(limits.max_upload_bytes)} limit.")
    if len(paths) > 1:
        return _ingest_images(paths, raw_dir, limits, workers)
    kind = detect_kind(paths[0])
    if kind is SourceKind.CSV:
        rows, skipped = read_csv_rows(paths[0], limits)
        return IngestReport(kind, skipped=skipped, rows=rows)
    if kind is SourceKind.IMAGE:
        return _ingest_images(paths, raw_dir, limits, workers)
    with Staging(raw_dir, limits, workers=workers) as staging:
        if kind is SourceKind.ZIP:
            extract_zip(paths[0], staging, limits)
        else:
            extract_tar(paths[0], staging, limits, gzipped=kind is SourceKind.TAR_GZ)
        files = staging.commit(f"the {kind.value} archive")
        return IngestReport(kind, len(files), files, staging.skipped, **staging.labelling())


def ingest_folder(
    src: Path, raw_dir: Path, limits: DatasetLimits, *, workers: int | None = None
) -> IngestReport:
    """Copy the images under a server folder (recursively, symlinks ignored) into raw_dir.

    The folder must lie, after resolving symlinks, inside one of limits.allowed_folder_roots.
    """
    folder = _allowed_folder(src, limits)
    with Staging(raw_dir, limits, workers=workers) as staging:
        for path, relative in _walk_files(folder, limits, staging):
            try:
                # O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed.
                stream = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
            except OSError:
                staging.skip(relative, REASON_UNREADABLE)
                continue
            with stream:
                staging.add_stream(relative, stream)
        files = staging.commit(f"folder {src}")
        return IngestReport(SourceKind.FOLDER, len(files), files, staging.skipped, **staging.labelling())


def _ingest_images(
    paths: list[Path], raw_dir: Path, limits: DatasetLimits, workers: int | None
) -> IngestReport:
    if len(paths) > limits.max_members:
        raise DatasetTooLarge(f"More than {limits.max_members:,} files were uploaded at once.")
    with Staging(raw_dir, limits, workers=workers) as staging:
        for path in paths:
            try:
                kind = detect_kind(path)
            except UnsupportedSource:
                kind = None
            if kind is not SourceKind.IMAGE:
                if kind is not None:
                    raise DatasetError(
                        f"{path.name} is a {kind.value} file: upload one archive or CSV on its own, "
                        "or several images together."
                    )
                staging.skip(path.name, REASON_NOT_IMAGE)
                continue
            with open(path, "rb") as f:
                staging.add_stream(path.name, f)
        files = staging.commit("the uploaded files")
        return IngestReport(SourceKind.IMAGE, len(files), files, staging.skipped, **staging.labelling())


def _allowed_folder(src: Path, limits: DatasetLimits) -> Path:
    if not limits.allowed_folder_roots:
        raise FolderNotAllowed("Importing from server folders is disabled: no import folders are configured.")
    try:
        folder = src.resolve(strict=True)
    except (OSError, RuntimeError) as error:
        raise FolderNotAllowed(f"{src} does not exist on the server.") from error
    roots = [root.resolve() for root in limits.allowed_folder_roots]
    if not any(folder.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise FolderNotAllowed(f"{src} is not inside an allowed import folder ({allowed}).")
    if not folder.is_dir():
        raise FolderNotAllowed(f"{src} is not a folder.")
    return folder


def _walk_files(folder: Path, limits: DatasetLimits, staging: Staging) -> list[tuple[Path, str]]:
    """Regular files under folder (sorted), after checking the count and total size limits."""
    found: list[tuple[Path, str]] = []
    total = 0
    for directory, subdirs, names in os.walk(folder):  # followlinks=False: linked folders are not entered
        for name in [name for name in subdirs if Path(directory, name).is_symlink()]:
            staging.skip(str(Path(directory, name).relative_to(folder)), REASON_LINK)
        subdirs.sort()
        for name in sorted(names):
            path = Path(directory, name)
            relative = str(path.relative_to(folder))
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                staging.skip(relative, REASON_LINK)
                continue
            found.append((path, relative))
            total += info.st_size
            if len(found) > limits.max_members:
                raise DatasetTooLarge(f"{folder} holds more than {limits.max_members:,} files.")
            if total > limits.max_total_uncompressed_bytes:
                raise DatasetTooLarge(
                    f"{folder} holds more than {format_bytes(limits.max_total_uncompressed_bytes)} of files."
                )
    return found
