"""Creating datasets from uploads or server folders and reading them back. Routes (JSON and HTML) and
the CLI share these functions.

An upload is streamed to a private folder under datasets_dir, ingested there and only then given a DB
row and its final folder (an atomic rename), so a refused upload leaves neither a row nor files behind.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import ConflictError, InvalidInputError, NotFoundError, TooLargeError, UnavailableError
from core import dataset_status
from core.dataset_status import FAILED, IMPORTING, READY
from core.db.tables import Dataset, Run
from core.settings import Settings
from datasets.errors import DatasetError, DatasetTooLarge, NoImagesFound
from datasets.ingest import ingest_folder, ingest_upload
from datasets.kinds import SourceKind, detect_kind
from datasets.layout import CSV_SOURCE_NAME, PREVIEW_FILE, THUMBNAIL_PX, DatasetPaths, list_raw_images
from datasets.limits import DatasetLimits, dataset_limits
from datasets.natural import natural_key
from datasets.report import IngestReport
from datasets.streams import stream_to_disk

if TYPE_CHECKING:
    from datasets.prepare import PreparedDataset

PREVIEW_COUNT = 64  # thumbnails listed on the dataset page
NAME_MAX = 200  # datasets.name is a String(200)
PREVIEW_GRID_COUNT = 32  # images in the preview.png grid
KIND_NAMES = {SourceKind.IMAGE: "images", SourceKind.TAR_GZ: "tar"}


@dataclass(frozen=True)
class Upload:
    filename: str
    stream: BinaryIO


def list_datasets(session: Session) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.id.desc())))


def find_dataset(session: Session, *, dataset_id: int | None) -> Dataset | None:
    return session.get(Dataset, dataset_id) if dataset_id is not None else None


def get_dataset(session: Session, *, dataset_id: int) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")
    return dataset


def create_dataset_from_upload(
    session: Session, *, settings: Settings, name: str, uploads: list[Upload], queue_import: bool = True
) -> Dataset:
    """Import a zip/tar of images, several images, or a CSV of image URLs (queued for the worker).

    Refusals raise an AppError with a sentence (422, or 413 when too large) and leave nothing behind.
    queue_import=False leaves a CSV dataset "importing" without queuing it: the caller (the CLI) runs
    worker.importing.run_import itself.
    """
    name = _dataset_name(name)
    if not uploads:
        raise InvalidInputError(
            "choose a zip or tar of images, a CSV, or some images to upload", loc=("body", "file")
        )
    limits = dataset_limits(settings)
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    incoming = settings.datasets_dir / f".incoming-{uuid.uuid4().hex}"
    try:
        paths = _save_uploads(uploads, incoming / "upload", limits.max_upload_bytes)
        kind = detect_kind(paths[0]) if len(paths) == 1 else SourceKind.IMAGE
        if kind is SourceKind.CSV:
            return _create_csv_dataset(
                session,
                settings=settings,
                name=name,
                csv_path=paths[0],
                incoming=incoming,
                queue_import=queue_import,
            )
        return _create_image_dataset(
            session, settings=settings, name=name, paths=paths, incoming=incoming, limits=limits
        )
    except DatasetTooLarge as exc:
        raise TooLargeError(str(exc)) from exc
    except DatasetError as exc:
        raise InvalidInputError(_refusal_message(exc), loc=("body", "file")) from exc
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _save_uploads(uploads: Iterable[Upload], folder: Path, max_bytes: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths, remaining = [], max_bytes
    for index, upload in enumerate(uploads):
        # The client's file name is only kept as a hint for skipped-item reports; content decides the kind.
        safe = Path(upload.filename or f"upload-{index}").name or f"upload-{index}"
        dest = folder / f"{index:05d}" / safe  # one folder each: messages name the file as the user did
        dest.parent.mkdir()
        remaining -= stream_to_disk(upload.stream, dest, max(remaining, 0))
        paths.append(dest)
    return paths


def _create_image_dataset(
    session: Session,
    *,
    settings: Settings,
    name: str,
    paths: list[Path],
    incoming: Path,
    limits: DatasetLimits,
) -> Dataset:
    staged = DatasetPaths(incoming / "dataset")
    report = ingest_upload(paths, staged.raw, limits)
    return _create_ready_dataset(session, settings=settings, name=name, staged=staged, report=report)


def create_dataset_from_folder(
    session: Session, *, settings: Settings, name: str, path: str, any_folder: bool = False
) -> Dataset:
    """Copy the images under a server folder (recursively, symlinks ignored) into a new ready dataset.

    The folder must lie inside settings.folder_import_roots; any_folder=True lifts that for the CLI, whose
    user can read the folder anyway. Refusals raise an AppError and leave neither a row nor files behind.
    """
    name = _dataset_name(name)
    if not path.strip():
        raise InvalidInputError("give the path of a folder on the server", loc=("body", "path"))
    folder = Path(path.strip())
    limits = dataset_limits(settings)
    if any_folder:
        limits = replace(limits, allowed_folder_roots=(folder,))
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    incoming = settings.datasets_dir / f".incoming-{uuid.uuid4().hex}"
    try:
        staged = DatasetPaths(incoming / "dataset")
        report = ingest_folder(folder, staged.raw, limits)
        return _create_ready_dataset(
            session, settings=settings, name=name, staged=staged, report=report, source=str(folder)
        )
    except DatasetTooLarge as exc:
        raise TooLargeError(str(exc)) from exc
    except DatasetError as exc:
        raise InvalidInputError(_refusal_message(exc), loc=("body", "path")) from exc
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _dataset_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInputError("give the dataset a name", loc=("body", "name"))
    return name


def _create_ready_dataset(
    session: Session,
    *,
    settings: Settings,
    name: str,
    staged: DatasetPaths,
    report: IngestReport,
    source: str | None = None,
) -> Dataset:
    """The row of an import that is already complete (archive, images, folder), with its thumbnails."""
    limits = dataset_limits(settings)
    image_count = len(list_raw_images(staged.raw))
    if image_count == 0:
        raise NoImagesFound("no readable image was found")
    thumbnails(staged.raw, staged.thumbs, THUMBNAIL_PX, limits=limits)
    from app.crud.labels import label_import

    stats: dict[str, Any] = {"skipped_by_reason": report.skipped_by_reason()}
    stats.update(label_import(report, staged.root, image_count))
    if source is not None:
        stats["source"] = source
    dataset = Dataset(
        name=name[:200],
        status=READY,
        source_kind=KIND_NAMES.get(report.kind, report.kind.value),
        image_count=image_count,
        progress=1.0,
        skipped=[{"item": item.name, "reason": item.reason} for item in report.skipped],
        stats=stats,
    )
    return _commit_with_folder(session, settings, dataset, staged.root)


def _create_csv_dataset(
    session: Session, *, settings: Settings, name: str, csv_path: Path, incoming: Path, queue_import: bool
) -> Dataset:
    from datasets.csv_rows import read_csv_rows

    rows, skipped = read_csv_rows(csv_path, dataset_limits(settings))
    if not rows:
        raise NoImagesFound("the CSV lists no usable image_url")
    folder = incoming / "dataset"
    folder.mkdir()
    shutil.move(csv_path, folder / CSV_SOURCE_NAME)
    dataset = Dataset(
        name=name[:200],
        status=IMPORTING,
        source_kind="csv",
        image_count=0,
        progress=0.0,
        skipped=[{"item": item.name, "reason": item.reason} for item in skipped],
        stats={"csv_rows": len(rows)},
    )
    dataset = _commit_with_folder(session, settings, dataset, folder)
    if not queue_import:
        return dataset
    from core.queue import enqueue_import

    try:
        enqueue_import(settings, dataset.id)
    except Exception as exc:  # the broker is down: record why instead of leaving it "importing" forever
        dataset_status.transition(session, dataset, FAILED, error=f"could not queue the import: {exc}")
        session.commit()
        raise UnavailableError(
            f"the task queue is unreachable ({exc}); dataset {dataset.id} was marked failed"
        ) from exc
    return dataset


def _commit_with_folder(session: Session, settings: Settings, dataset: Dataset, folder: Path) -> Dataset:
    """Insert the row and move its files into place; if the move fails the row is removed again."""
    session.add(dataset)
    session.flush()
    target = settings.dataset_dir(dataset.id)
    try:
        if target.exists():  # left over from a dataset deleted by hand; the new row owns the id now
            shutil.rmtree(target)
        folder.rename(target)
    except OSError:
        session.rollback()
        raise
    session.commit()
    return dataset


def thumbnails(raw_dir: Path, out_dir: Path, size: int, *, limits: DatasetLimits) -> list[Path]:
    # imported here: datasets.preview loads torch, which the web app only needs once it draws images
    from datasets.preview import thumbnails as make_thumbnails

    return make_thumbnails(raw_dir, out_dir, size, limits=limits)


def thumbnail_names(settings: Settings, dataset: Dataset, *, limit: int = PREVIEW_COUNT) -> list[str]:
    """File names of the dataset's thumbnails (made on first use for datasets imported by the worker)."""
    paths = DatasetPaths(settings.dataset_dir(dataset.id))
    if dataset.status == READY and not paths.thumbs.is_dir() and paths.raw.is_dir():
        thumbnails(paths.raw, paths.thumbs, THUMBNAIL_PX, limits=dataset_limits(settings))
    if not paths.thumbs.is_dir():
        return []
    names = (p.name for p in paths.thumbs.iterdir() if p.suffix == ".png" and not p.name.startswith("."))
    return sorted(names, key=natural_key)[:limit]


def thumbnail_file(settings: Settings, dataset: Dataset, name: str) -> Path:
    """A thumbnail by file name; only plain names listed in the thumbs folder are served."""
    if name not in thumbnail_names(settings, dataset, limit=1_000_000):
        raise NotFoundError(f"dataset {dataset.id} has no thumbnail {name!r}")
    return DatasetPaths(settings.dataset_dir(dataset.id)).thumbs / name


def runs_using(session: Session, *, dataset_id: int) -> list[Run]:
    """The runs trained on a dataset, newest first."""
    return list(session.scalars(select(Run).where(Run.dataset_id == dataset_id).order_by(Run.id.desc())))


def delete_dataset(session: Session, *, settings: Settings, dataset_id: int) -> None:
    dataset = get_dataset(session, dataset_id=dataset_id)
    if session.scalars(select(Run.id).where(Run.dataset_id == dataset_id).limit(1)).first() is not None:
        raise ConflictError(f"dataset {dataset_id} is used by runs; delete those runs first")
    session.delete(dataset)
    session.commit()
    shutil.rmtree(settings.dataset_dir(dataset_id), ignore_errors=True)


def _refusal_message(exc: DatasetError) -> str:
    message = str(exc)
    skipped = getattr(exc, "skipped", None)
    if isinstance(exc, NoImagesFound) and skipped:
        return f"{message} ({len(skipped)} file(s) skipped, e.g. {skipped[0][0]}: {skipped[0][1]})"
    return message


def preview_png(settings: Settings, dataset: Dataset) -> bytes | None:
    """A PNG grid of the first images, built once and kept beside the dataset (None when it has none)."""
    paths = DatasetPaths(settings.dataset_dir(dataset.id))
    cached = paths.root / PREVIEW_FILE
    if not cached.is_file():
        if dataset.status != READY or not list_raw_images(paths.raw):
            return None
        from datasets.preview import preview_grid

        image = preview_grid(paths.raw, PREVIEW_GRID_COUNT, cell=64, limits=dataset_limits(settings))
        tmp = cached.with_suffix(".tmp")
        image.save(tmp, format="PNG")
        tmp.replace(cached)
    return cached.read_bytes()


SIZE_FIELDS = ("height", "width")  # each run's config decides the size


def rename_dataset(session: Session, *, dataset_id: int, name: str) -> Dataset:
    """Give a dataset a new name (runs refer to it by id, so they follow)."""
    dataset = get_dataset(session, dataset_id=dataset_id)
    dataset.name = checked_name(name)
    session.commit()
    return dataset


def checked_name(name: str) -> str:
    """The name stripped; InvalidInputError when it is empty or too long."""
    name = _dataset_name(name)
    if len(name) > NAME_MAX:
        raise InvalidInputError(f"a dataset name has at most {NAME_MAX} characters", loc=("body", "name"))
    return name


def update_prepare(session: Session, *, dataset_id: int, prepare: dict[str, Any]) -> Dataset:
    """Validate and store preparation options; InvalidInputError naming the field when one is wrong."""
    from pydantic import ValidationError

    from datasets.options import PrepareOptions

    dataset = get_dataset(session, dataset_id=dataset_id)
    sized = [key for key in prepare if key in SIZE_FIELDS]
    if sized:
        raise InvalidInputError(
            "the image size comes from each run's config (image_size), not from the dataset",
            loc=("body", "prepare", sized[0]),
        )
    try:
        options = PrepareOptions(**prepare)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidInputError(
            f"{'.'.join(map(str, first['loc']))}: {first['msg']}", loc=("body", "prepare", *first["loc"])
        ) from exc
    dataset.prepare = options.model_dump(mode="json", exclude=set(SIZE_FIELDS))
    session.commit()
    return dataset


def prepare_for_training(
    settings: Settings,
    dataset: Dataset,
    *,
    height: int,
    width: int,
    progress: Callable[[int, int], None] | None = None,
) -> PreparedDataset:
    """The dataset prepared with its options at height x width, as the worker will load it (cached, so a
    run at this size starts without decoding); ConflictError while it is not ready."""
    from pydantic import ValidationError

    from datasets.cache import load_or_prepare
    from datasets.options import PrepareOptions

    if dataset.status != READY:
        raise ConflictError(f"dataset {dataset.id} is {dataset.status}; its images are not ready to prepare")
    try:
        options = PrepareOptions(**{**dataset.prepare, "height": height, "width": width})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidInputError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    try:
        return load_or_prepare(
            settings.dataset_dir(dataset.id), options, limits=dataset_limits(settings), progress=progress
        )
    except DatasetError as exc:  # e.g. no raw image decodes any more
        raise ConflictError(f"dataset {dataset.id} cannot be prepared: {exc}") from exc


def prepared_preview_png(
    settings: Settings, dataset: Dataset, *, height: int = 64, width: int | None = None, count: int = 32
) -> bytes:
    """A grid of the first images as training will see them: the dataset's options at height x width
    (square when width is None)."""
    import io

    from datasets.preview import preview_grid

    prepared = prepare_for_training(settings, dataset, height=height, width=width or height)
    buffer = io.BytesIO()
    preview_grid(prepared, count).save(buffer, format="PNG")
    return buffer.getvalue()


def effective_image_count(dataset: Dataset) -> int:
    """Images per epoch before deduplication: each raw image plus its augmented copies."""
    return dataset.image_count * int((dataset.prepare or {}).get("augment_factor", 1) or 1)
