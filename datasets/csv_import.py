"""Downloading the images a CSV lists into raw/: concurrent, resumable, abortable, and reported."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import httpx

from datasets.csv_rows import CsvRow, read_csv_rows
from datasets.decode import pillow_pixel_limit
from datasets.download import DownloadAborted, Downloaded, Downloader, DownloadFailed, make_client
from datasets.kinds import IMAGE_EXTENSIONS, SourceKind
from datasets.layout import list_raw_images
from datasets.limits import DatasetLimits
from datasets.naming import NameAllocator, member_stem
from datasets.netguard import Resolver, system_resolver
from datasets.report import IngestReport, SkippedItem

STATE_FILE = ".csv-import.jsonl"
METADATA_FILE = ".card-metadata.jsonl"  # name + CARD_COLUMNS per imported image, when the CSV has them
REASON_BUDGET = "dataset size limit reached"
_POLL_S = 0.2


def import_csv(
    csv_path: Path,
    raw_dir: Path,
    limits: DatasetLimits,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_abort: Callable[[], bool] | None = None,
    resolver: Resolver = system_resolver,
    transport: httpx.BaseTransport | None = None,
) -> IngestReport:
    """Download every image_url of a CSV into raw_dir; rows done by an earlier call are not fetched again.

    progress(done, total) follows the rows; when should_abort() turns true the import stops soon and
    returns with aborted=True. `resolver` and `transport` are the network boundary (tests, proxies).
    """
    rows, skipped = read_csv_rows(csv_path, limits)
    report = import_rows(
        rows,
        raw_dir,
        limits,
        progress=progress,
        should_abort=should_abort,
        resolver=resolver,
        transport=transport,
    )
    report.skipped[:0] = skipped
    return report


def import_rows(
    rows: list[CsvRow],
    raw_dir: Path,
    limits: DatasetLimits,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_abort: Callable[[], bool] | None = None,
    resolver: Resolver = system_resolver,
    transport: httpx.BaseTransport | None = None,
) -> IngestReport:
    """import_csv for rows already parsed (e.g. IngestReport.rows from ingest_upload)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    _remove_partial_downloads(raw_dir)
    run = _ImportRun(rows, raw_dir, limits, progress)
    todo = run.pending_rows()
    with (
        pillow_pixel_limit(limits.max_image_pixels),
        make_client(limits, transport) as client,
        ThreadPoolExecutor(limits.download_concurrency, thread_name_prefix="csv-import") as pool,
    ):
        downloader = Downloader(client, limits, resolver, run.abort)
        futures: dict[Future[Downloaded], CsvRow] = {
            pool.submit(downloader.fetch, row.url, raw_dir / f".part-{row.row}-{uuid.uuid4().hex[:8]}"): row
            for row in todo
        }
        pending: set[Future[Downloaded]] = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for future in finished:
                    run.record(futures[future], future)
                if not run.abort.is_set() and should_abort is not None and should_abort():
                    run.stop()
                if run.abort.is_set():
                    for future in pending:
                        future.cancel()
        finally:
            # On an unexpected error, downloads still running stop at their next chunk.
            run.abort.set()
            for future in pending:
                future.cancel()
    return run.report


def read_import_state(raw_dir: Path) -> dict[str, dict[str, str]]:
    """url -> {"file", "name", "label"} for every row a CSV import has downloaded into raw_dir."""
    state: dict[str, dict[str, str]] = {}
    path = raw_dir / STATE_FILE
    if not path.exists():
        return state
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            state[str(entry["url"])] = {key: str(entry.get(key, "")) for key in ("file", "name", "label")}
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line cut short by a crash
    return state


class _ImportRun:
    """The bookkeeping of one import; touched only by the calling thread."""

    def __init__(
        self,
        rows: list[CsvRow],
        raw_dir: Path,
        limits: DatasetLimits,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.rows = rows
        self.raw_dir = raw_dir
        self.limits = limits
        self.progress = progress
        self.abort = threading.Event()
        self.report = IngestReport(SourceKind.CSV, rows=list(rows))
        existing = list_raw_images(raw_dir)
        self.names = NameAllocator(path.name for path in raw_dir.iterdir())
        self.bytes_used = sum(path.stat().st_size for path in existing)
        self.done = 0
        self.budget_reached = False

    def pending_rows(self) -> list[CsvRow]:
        state = read_import_state(self.raw_dir)
        todo = []
        for row in self.rows:
            entry = state.get(row.url)
            if entry and entry["file"] and (self.raw_dir / entry["file"]).is_file():
                self.report.already_present += 1
                self.done += 1
            else:
                todo.append(row)
        self._report_progress()
        return todo

    def record(self, row: CsvRow, future: Future[Downloaded]) -> None:
        error = None if future.cancelled() else future.exception()
        if future.cancelled() or isinstance(error, DownloadAborted):
            if not self.budget_reached:
                return  # not attempted: a later call resumes it
            self.report.skipped.append(SkippedItem(row.display, REASON_BUDGET))
        elif isinstance(error, DownloadFailed):
            self.report.skipped.append(SkippedItem(row.display, error.reason))
        elif error is not None:
            raise error
        else:
            self._accept(row, future.result())
        self.done += 1
        self._report_progress()

    def stop(self) -> None:
        self.abort.set()
        self.report.aborted = True

    def _accept(self, row: CsvRow, download: Downloaded) -> None:
        if self.bytes_used + download.size > self.limits.max_total_uncompressed_bytes:
            download.path.unlink(missing_ok=True)
            self.report.skipped.append(SkippedItem(row.display, REASON_BUDGET))
            self.budget_reached = True
            self.abort.set()
            return
        stem = f"{row.row:05d}-{row.name or member_stem(httpx.URL(row.url).path) or 'image'}"
        name = self.names.allocate(stem, IMAGE_EXTENSIONS[download.format])
        os.replace(download.path, self.raw_dir / name)
        self.bytes_used += download.size
        self.report.accepted += 1
        self.report.files.append(name)
        _append_state(
            self.raw_dir, {"url": row.url, "file": name, "name": row.name or "", "label": row.label or ""}
        )
        if row.meta:
            _append_state(self.raw_dir, {"file": name, "name": row.name or "", **row.meta}, METADATA_FILE)

    def _report_progress(self) -> None:
        if self.progress is not None:
            self.progress(self.done, len(self.rows))


def _append_state(raw_dir: Path, entry: dict[str, str], file_name: str = STATE_FILE) -> None:
    with open(raw_dir / file_name, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _remove_partial_downloads(raw_dir: Path) -> None:
    for path in raw_dir.glob(".part-*"):
        path.unlink(missing_ok=True)
