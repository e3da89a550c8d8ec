"""`pokegan datasets add|prepare|list`: create and prepare datasets in the configured database from a shell.

    pokegan datasets add PATH_OR_URL... [--name N] [--fit pad|crop|stretch] [--size HxW] [--preview FILE]
    pokegan datasets prepare ID [--fit pad|crop|stretch] [--size HxW] [--preview FILE]

PATH_OR_URL is a folder, a zip/tar(.gz), one or more images, a CSV of image URLs, or the http(s) URL of
such a CSV. The dataset is created by the same app.crud.datasets functions the web API calls; a CSV is
imported here and now by worker.importing.run_import, the function the worker's task runs. --size prepares
the images at that shape the way the worker will (cached, so a run at that size starts at once); `prepare`
does that again for an existing dataset and times it (the second time comes from the cache).
Exit codes: 0 ready, 1 the CSV import failed, 2 bad input (nothing created), 130 interrupted.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from cli.usage import EXIT_BAD_INPUT, UsageError
from core.dataset_status import IMPORTING, READY

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from core.db.tables import Dataset
    from core.settings import Settings

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
FIT_MODES = ("pad", "crop", "stretch")
SKIPPED_SHOWN = 10  # skipped items listed one per line; the rest are only counted by reason
POLL_S = 0.25
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "datasets",
        help="add datasets from folders, archives, images or CSVs; list them",
        description="Datasets of the configured database (POKEGAN_DATA_DIR or POKEGAN_DATABASE_URL).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="create a dataset from a folder, archive, images, a CSV or a CSV's URL",
        description="Create a dataset like the web app does. A CSV's images are downloaded now.",
    )
    add.add_argument(
        "sources",
        nargs="+",
        metavar="PATH_OR_URL",
        help="a folder, a .zip/.tar(.gz), images, a CSV with an image_url column, or a CSV's http(s) URL",
    )
    add.add_argument("--name", help="dataset name (default: the folder's or file's name)")
    _preparation_arguments(add)
    add.set_defaults(handler=run_add)
    prepare = actions.add_parser(
        "prepare",
        help="prepare a dataset at a size (as a run will) and time it; optionally change its fit",
        description="Prepare a dataset's images at HxW with its options, as the worker will (cached).",
    )
    prepare.add_argument(
        "dataset_id", type=int, metavar="ID", help="the dataset's id (see pokegan datasets list)"
    )
    _preparation_arguments(prepare)
    prepare.set_defaults(handler=run_prepare)
    listing = actions.add_parser("list", help="list the datasets, newest first")
    listing.set_defaults(handler=run_list)


def _preparation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fit", choices=FIT_MODES, help="how images meet the training shape (default pad)")
    parser.add_argument(
        "--size",
        type=parse_size,
        metavar="HxW",
        help="prepare the images now at height x width px (e.g. 128x96 for the cards preset) and time it",
    )
    parser.add_argument(
        "--preview", type=Path, metavar="FILE.png", help="write the prepared preview grid here"
    )


def parse_size(text: str) -> tuple[int, int]:
    """'128x96' -> (128, 96): height by width, each 8-1024 px."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not HEIGHTxWIDTH, e.g. 64x64 or 128x96")
    height, width = int(match[1]), int(match[2])
    if not (8 <= height <= 1024 and 8 <= width <= 1024):
        raise argparse.ArgumentTypeError(f"{text}: height and width must each be 8-1024 px")
    return height, width


def run_add(args: argparse.Namespace) -> int:
    from app.errors import AppError
    from datasets.errors import DatasetError

    try:
        with _database() as (settings, factory):
            return _add(args, settings, factory)
    except (UsageError, AppError, DatasetError) as exc:
        print(f"pokegan datasets: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def run_prepare(args: argparse.Namespace) -> int:
    from app.crud import datasets
    from app.errors import AppError
    from datasets.errors import DatasetError

    try:
        with _database() as (settings, factory), factory() as session:
            dataset = datasets.get_dataset(session, dataset_id=args.dataset_id)
            if args.fit:
                datasets.update_prepare(
                    session, dataset_id=dataset.id, prepare={**dataset.prepare, "fit": args.fit}
                )
            _prepare(settings, dataset, args.size or (64, 64), args.preview)
    except (AppError, DatasetError) as exc:
        print(f"pokegan datasets: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def run_list(args: argparse.Namespace) -> int:
    from app.crud.datasets import list_datasets

    with _database() as (_settings, factory), factory() as session:
        rows = list_datasets(session)
        if not rows:
            print("no datasets yet; add one with: pokegan datasets add PATH_OR_URL")
        for dataset in rows:
            print(
                f"{dataset.id:>4}  {dataset.status:<9} {dataset.image_count:>6} images  "
                f"{dataset.source_kind:<6}  {dataset.name}"
            )
    return 0


@contextmanager
def _database() -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    """Settings from the environment, the schema at its newest revision, a session factory."""
    from core.db.migrate import upgrade_to_head
    from core.db.session import make_engine, make_sessionmaker
    from core.settings import Settings

    settings = Settings()
    upgrade_to_head(settings)
    engine = make_engine(settings)
    try:
        yield settings, make_sessionmaker(engine)
    finally:
        engine.dispose()


def _add(args: argparse.Namespace, settings: Settings, factory: sessionmaker[Session]) -> int:
    from app.crud import datasets

    name = args.name or default_name(args.sources)
    with factory() as session:
        dataset = _create(session, settings, name, args.sources)
        if args.fit:
            datasets.update_prepare(
                session, dataset_id=dataset.id, prepare={**dataset.prepare, "fit": args.fit}
            )
        dataset_id = dataset.id
    if dataset.status == IMPORTING:
        status = _import_inline(settings, factory, dataset_id, rows=int(dataset.stats.get("csv_rows", 0)))
        if status == IMPORTING:
            print(
                f"interrupted: dataset {dataset_id} keeps what was downloaded; a worker (pokegan worker or "
                "pokegan serve) finishes the import",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
    with factory() as session:
        dataset = datasets.get_dataset(session, dataset_id=dataset_id)
        if dataset.status == IMPORTING:  # a worker that started meanwhile took the import's lock first
            print(f"dataset {dataset_id} is being imported by a worker; see `pokegan datasets list`")
            return 0
        _report(dataset)
        if dataset.status != READY:
            return EXIT_FAILED
        if args.size or args.preview:
            _prepare(settings, dataset, args.size or (64, 64), args.preview)
    return 0


def default_name(sources: list[str]) -> str:
    """The folder's, file's or URL's name without its extension: 'sprites/' -> 'sprites'."""
    first = sources[0]
    if _is_url(first):
        stem = Path(unquote(urlsplit(first).path)).stem
    else:
        path = Path(first)
        stem = (path.resolve().name if path.is_dir() else path.name.split(".", 1)[0]) or path.name
    return stem or "dataset"


def _create(session: Session, settings: Settings, name: str, sources: list[str]) -> Dataset:
    from app.crud.datasets import create_dataset_from_folder

    if len(sources) == 1 and _is_url(sources[0]):
        with tempfile.TemporaryDirectory(prefix="pokegan-csv-") as tmp:
            csv_path = download_csv(settings, sources[0], Path(tmp))
            return _create_from_files(session, settings, name, [csv_path])
    if any(_is_url(source) for source in sources):
        raise UsageError("give one URL on its own (a CSV of image URLs), not mixed with files")
    paths = [Path(source) for source in sources]
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} does not exist")
    folders = [path for path in paths if path.is_dir()]
    if folders and len(paths) > 1:
        raise UsageError(f"{folders[0]} is a folder: give one folder on its own, or image files")
    if folders:
        return create_dataset_from_folder(
            session, settings=settings, name=name, path=str(folders[0]), any_folder=True
        )
    return _create_from_files(session, settings, name, paths)


def _create_from_files(session: Session, settings: Settings, name: str, paths: list[Path]) -> Dataset:
    from app.crud.datasets import Upload, create_dataset_from_upload

    with ExitStack() as files:
        uploads = [Upload(path.name, files.enter_context(open(path, "rb"))) for path in paths]
        # queue_import=False: a CSV is downloaded by this process (below), not by a worker
        return create_dataset_from_upload(
            session, settings=settings, name=name, uploads=uploads, queue_import=False
        )


def _is_url(text: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text))


def download_csv(settings: Settings, url: str, folder: Path) -> Path:
    """Fetch a CSV of image URLs with the image downloads' safety: http(s) only, every redirect hop's
    address checked (private ones refused unless POKEGAN_ALLOW_PRIVATE_URLS), size and time limits."""
    from dataclasses import replace

    from datasets.download import DownloadAborted, DownloadFailed, make_client
    from datasets.limits import dataset_limits
    from datasets.netguard import system_resolver

    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise UsageError(f"{url}: only http and https URLs can be downloaded")
    limits = dataset_limits(settings)
    limits = replace(limits, max_download_bytes=limits.max_upload_bytes)  # a CSV may be an upload's size
    name = Path(unquote(urlsplit(url).path)).name or "source.csv"
    dest = folder / name
    with make_client(limits) as client:
        try:
            _csv_downloader(client, limits, system_resolver).fetch(url, dest)
        except DownloadFailed as exc:
            raise UsageError(f"could not download {url}: {exc.reason}") from exc
        except DownloadAborted as exc:  # nothing sets the abort flag here; kept for completeness
            raise UsageError(f"the download of {url} was stopped") from exc
    return dest


def _csv_downloader(client: Any, limits: Any, resolver: Any) -> Any:
    from datasets.download import Downloader, DownloadFailed
    from datasets.errors import UnsupportedSource
    from datasets.kinds import SourceKind, detect_kind

    class CsvDownloader(Downloader):
        """Downloader's checks (addresses, redirects, retries, limits) for one CSV; only the final
        content check differs: a CSV with an image_url column instead of an image."""

        def _validate(self, path: Path) -> str:
            try:
                kind = detect_kind(path)
            except UnsupportedSource as exc:
                raise DownloadFailed(f"not a CSV of image URLs ({exc})") from exc
            if kind is not SourceKind.CSV:
                article = "an" if kind.value[0] in "aeiou" else "a"
                raise DownloadFailed(f"not a CSV of image URLs but {article} {kind.value} file")
            return "csv"

    return CsvDownloader(client, limits, resolver, threading.Event())


def _import_inline(
    settings: Settings, factory: sessionmaker[Session], dataset_id: int, *, rows: int
) -> str | None:
    """worker.importing.run_import in a thread, with a tqdm bar fed from the progress it records.

    Ctrl-C or SIGTERM stops the downloads: what is done is kept and run_import queues the rest for a worker.
    """
    from tqdm import tqdm

    from worker.importing import run_import

    shutdown, done = threading.Event(), threading.Event()
    outcome: list[str | None] = []

    def work() -> None:
        try:
            outcome.append(run_import(settings, factory, dataset_id, shutdown=shutdown))
        finally:
            done.set()

    thread = threading.Thread(target=work, name="csv-import")
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: shutdown.set())
    bar = tqdm(total=rows, unit="img", desc=f"dataset {dataset_id}: downloading", dynamic_ncols=True)
    try:
        thread.start()
        # Waiting on an Event, not on thread.join(timeout): a Ctrl-C inside join() can leave the thread
        # marked as stopped while it still runs.
        while not done.is_set():
            try:
                done.wait(POLL_S)
                bar.update(_rows_done(factory, dataset_id, rows) - bar.n)
            except KeyboardInterrupt:  # the downloads stop at their next chunk; the loop waits for that
                shutdown.set()
        thread.join()
    finally:
        signal.signal(signal.SIGTERM, previous)
        bar.close()
    return outcome[0] if outcome else None


def _rows_done(factory: sessionmaker[Session], dataset_id: int, rows: int) -> int:
    from core.db.tables import Dataset
    from worker.importing import DOWNLOAD_SHARE

    with factory() as session:
        dataset = session.get(Dataset, dataset_id)
        progress = dataset.progress if dataset is not None else 0.0
    return min(rows, round(rows * progress / DOWNLOAD_SHARE))


def _report(dataset: Dataset) -> None:
    from collections import Counter

    where = f" from {dataset.stats['source']}" if dataset.stats.get("source") else ""
    print(
        f"dataset {dataset.id} {dataset.name!r}: {dataset.status}, {dataset.image_count} images "
        f"({dataset.source_kind}{where})"
    )
    if dataset.error:
        print(f"error: {dataset.error}")
    skipped = dataset.skipped or []
    if skipped:
        counts = Counter(item["reason"] for item in skipped)
        print(f"skipped {len(skipped)}: " + ", ".join(f"{n} {reason}" for reason, n in counts.most_common()))
        for item in skipped[:SKIPPED_SHOWN]:
            print(f"  {item['item']}: {item['reason']}")
        if len(skipped) > SKIPPED_SHOWN:
            print(f"  … and {len(skipped) - SKIPPED_SHOWN} more (see the dataset page)")


def _prepare(settings: Settings, dataset: Dataset, size: tuple[int, int], preview: Path | None) -> None:
    import datasets.cache  # noqa: F401 - loads torch before the clock starts: that is not preparing
    from app.crud.datasets import prepare_for_training, prepared_preview_png

    height, width = size
    started = time.perf_counter()
    with _LazyBar(f"preparing at {height}x{width}") as bar:
        prepared = prepare_for_training(settings, dataset, height=height, width=width, progress=bar.update)
    seconds = time.perf_counter() - started
    stats = prepared.stats
    notes = [f"{stats.duplicates_removed} duplicates dropped"] if stats.duplicates_removed else []
    notes += [f"{stats.augmented} augmented copies"] if stats.augmented else []
    notes += [f"{sum(stats.skipped.values())} unreadable"] if stats.skipped else []
    notes.append("decoded now" if bar.used else "loaded from the cache")
    print(
        f"prepared {len(prepared)} images at {height}x{width} (fit {prepared.options.fit}) "
        f"in {seconds:.2f} s ({', '.join(notes)}); runs at this size reuse it"
    )
    if preview is not None:
        preview.parent.mkdir(parents=True, exist_ok=True)
        preview.write_bytes(prepared_preview_png(settings, dataset, height=height, width=width))
        print(f"wrote the prepared preview to {preview}")


class _LazyBar:
    """A tqdm bar opened at the first progress report, so a cached preparation prints none."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar: Any = None

    @property
    def used(self) -> bool:
        return self.bar is not None

    def update(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="img", desc=self.description, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def __enter__(self) -> _LazyBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
