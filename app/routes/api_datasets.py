"""JSON API for datasets: upload (zip, tar, CSV or images) or a server folder, list, read, preview, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import FileResponse, Response

from app.crud import datasets
from app.crud import labels as label_crud
from app.crud.datasets import Upload
from app.deps import SessionDep, SettingsDep
from app.errors import InvalidInputError, NotFoundError
from app.schemas.datasets import DatasetFolderCreate, DatasetLabelsUpdate, DatasetPrepareUpdate, DatasetPublic
from core.db.tables import Dataset
from core.settings import Settings

router = APIRouter(prefix="/api/datasets", tags=["datasets"])


LABEL_FIELDS = ("labels", "unlabelled", "label_source", "label_rule", "label_warnings")


def dataset_public(settings: Settings, dataset: Dataset) -> DatasetPublic:
    base = f"/api/datasets/{dataset.id}"
    stats = dataset.stats or {}
    return DatasetPublic.model_validate(
        {
            **{c.name: getattr(dataset, c.name) for c in Dataset.__table__.columns},
            **{key: stats[key] for key in LABEL_FIELDS if stats.get(key) is not None},
            "preview_url": f"{base}/preview.png",
            "thumbnail_urls": [f"{base}/thumbs/{n}" for n in datasets.thumbnail_names(settings, dataset)],
        }
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DatasetPublic)
def upload_dataset(
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        list[UploadFile], File(description="A zip or tar of images, a CSV with image_url, or images")
    ],
    name: Annotated[str, Form(min_length=1, max_length=200)],
) -> DatasetPublic:
    """Create a dataset. Archives and images are imported now (corrupt images are skipped and listed);
    a CSV creates an 'importing' dataset that the worker downloads in the background."""
    uploads = [Upload(f.filename or "", f.file) for f in file]
    dataset = datasets.create_dataset_from_upload(session, settings=settings, name=name, uploads=uploads)
    return dataset_public(settings, dataset)


@router.post("/folder", status_code=status.HTTP_201_CREATED, response_model=DatasetPublic)
def import_folder(body: DatasetFolderCreate, session: SessionDep, settings: SettingsDep) -> DatasetPublic:
    """Create a dataset from the images under a server folder inside POKEGAN_FOLDER_IMPORT_ROOTS
    (422 naming the allowed folders otherwise; nothing is created on a refusal)."""
    dataset = datasets.create_dataset_from_folder(session, settings=settings, name=body.name, path=body.path)
    return dataset_public(settings, dataset)


@router.get("", response_model=list[DatasetPublic])
def list_datasets(session: SessionDep, settings: SettingsDep) -> list[DatasetPublic]:
    """All datasets, newest first."""
    return [dataset_public(settings, d) for d in datasets.list_datasets(session)]


@router.get("/{dataset_id}", response_model=DatasetPublic)
def get_dataset(dataset_id: int, session: SessionDep, settings: SettingsDep) -> DatasetPublic:
    """One dataset with its image count and skipped files."""
    return dataset_public(settings, datasets.get_dataset(session, dataset_id=dataset_id))


@router.get("/{dataset_id}/preview.png", response_class=Response)
def preview(dataset_id: int, session: SessionDep, settings: SettingsDep) -> Response:
    """A PNG grid of the dataset's first thumbnails."""
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    png = datasets.preview_png(settings, dataset)
    if png is None:
        raise NotFoundError(f"dataset {dataset_id} has no images to preview yet")
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=60"})


@router.patch("/{dataset_id}", response_model=DatasetPublic)
def update_dataset(
    dataset_id: int, body: DatasetPrepareUpdate, session: SessionDep, settings: SettingsDep
) -> DatasetPublic:
    """Rename the dataset (`name`) and/or set how its images are prepared for training (`prepare`: fit,
    background, trimming, dedup, augmentation)."""
    if body.name is None and body.prepare is None:
        raise InvalidInputError("give a new name or prepare options (or both)", loc=("body",))
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    if body.name is not None:
        datasets.checked_name(body.name)  # refuse before anything changes
    if body.prepare is not None:
        dataset = datasets.update_prepare(session, dataset_id=dataset_id, prepare=body.prepare)
    if body.name is not None:
        dataset = datasets.rename_dataset(session, dataset_id=dataset_id, name=body.name)
    return dataset_public(settings, dataset)


@router.put("/{dataset_id}/labels", response_model=DatasetPublic)
def set_labels(
    dataset_id: int, body: DatasetLabelsUpdate, session: SessionDep, settings: SettingsDep
) -> DatasetPublic:
    """Label a CSV dataset by a column of its CSV (422 naming the columns when it has no such column, or
    when the column gives more than 100 distinct labels; the labels stored before stay as they were)."""
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    dataset = label_crud.set_labels_from_column(
        session, settings=settings, dataset=dataset, column=body.column
    )
    return dataset_public(settings, dataset)


@router.delete("/{dataset_id}/labels", response_model=DatasetPublic)
def clear_labels(dataset_id: int, session: SessionDep, settings: SettingsDep) -> DatasetPublic:
    """Forget the dataset's labels (its images stay)."""
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    return dataset_public(settings, label_crud.clear_labels(session, settings=settings, dataset=dataset))


@router.get("/{dataset_id}/prepared.png", response_class=Response)
def prepared_preview(
    dataset_id: int,
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[int, Query(ge=8, le=256, description="Side of each square prepared image, px")] = 64,
    height: Annotated[int | None, Query(ge=8, le=256, description="Height in px (instead of size)")] = None,
    width: Annotated[int | None, Query(ge=8, le=256, description="Width in px; default: the height")] = None,
) -> Response:
    """The first images as training sees them: prepared with the dataset's options at height x width px
    (or size x size), cached like the worker's preparation."""
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    h = height or size
    png = datasets.prepared_preview_png(settings, dataset, height=h, width=width or h)
    return Response(png, media_type="image/png")


@router.get("/{dataset_id}/thumbs/{name}", response_class=FileResponse)
def thumbnail(dataset_id: int, name: str, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """One small PNG of the preview grid."""
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    return FileResponse(datasets.thumbnail_file(settings, dataset, name), media_type="image/png")


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(dataset_id: int, session: SessionDep, settings: SettingsDep) -> Response:
    """Delete a dataset no run uses, with its files."""
    datasets.delete_dataset(session, settings=settings, dataset_id=dataset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
