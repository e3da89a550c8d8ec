"""HTML pages for datasets: the list with its upload (and server-folder) form, and one dataset's previews."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.crud import datasets
from app.crud import labels as label_crud
from app.crud.datasets import Upload
from app.deps import SessionDep, SettingsDep
from app.errors import AppError
from app.templating import EVENT_DATASETS_CHANGED, is_htmx, render
from core.dataset_status import IMPORTING
from core.db.tables import Dataset
from core.settings import Settings

router = APIRouter(include_in_schema=False)


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Upload form and every dataset with its preview."""
    return render(
        request, "pages/datasets.html", "partials/dataset_list.html", _list_context(session, settings)
    )


@router.get("/partials/datasets", response_class=HTMLResponse)
def dataset_list(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return render(request, "partials/dataset_list.html", None, _list_context(session, settings))


@router.post("/datasets", response_class=HTMLResponse)
async def upload_from_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The upload form's target: the same import as POST /api/datasets, result or refusal shown inline."""
    form = await request.form(max_part_size=1024 * 1024)
    files = [f for f in form.getlist("file") if not isinstance(f, str) and f.filename]
    uploads = [Upload(f.filename or "", f.file) for f in files]
    return await _import_result(
        request,
        lambda: datasets.create_dataset_from_upload(
            session, settings=settings, name=str(form.get("name") or ""), uploads=uploads
        ),
    )


@router.post("/datasets/folder", response_class=HTMLResponse)
async def folder_from_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The server-folder form's target: the same import as POST /api/datasets/folder."""
    form = await request.form()
    return await _import_result(
        request,
        lambda: datasets.create_dataset_from_folder(
            session,
            settings=settings,
            name=str(form.get("name") or ""),
            path=str(form.get("path") or ""),
        ),
    )


async def _import_result(request: Request, create: Callable[[], Dataset]) -> Response:
    """Run an import off the event loop; show the new dataset or the refusal inline (htmx), or redirect."""
    try:
        dataset = await run_in_threadpool(create)
    except AppError as exc:
        return render(
            request, "partials/upload_result.html", None, {"error": exc.message}, status_code=exc.status_code
        )
    if not is_htmx(request):
        return RedirectResponse(f"/datasets/{dataset.id}", status_code=303)
    return render(
        request,
        "partials/upload_result.html",
        None,
        {"dataset": dataset},
        status_code=201,
        headers={"HX-Trigger": EVENT_DATASETS_CHANGED},
    )


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    request: Request, dataset_id: int, session: SessionDep, settings: SettingsDep, preview: str | None = None
) -> HTMLResponse:
    """One dataset: image count, preview grid of thumbnails, what was skipped and why; `preview=HxW`
    picks the shape of the prepared preview."""
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    return render(
        request,
        "pages/dataset.html",
        "partials/dataset_detail.html",
        _detail_context(settings, dataset, preview=preview),
    )


@router.post("/datasets/{dataset_id}/prepare", response_class=HTMLResponse)
async def prepare_from_form(
    request: Request, dataset_id: int, session: SessionDep, settings: SettingsDep
) -> Response:
    """Save preparation options from the dataset page (same validation as PATCH /api/datasets/{id})."""
    form = await request.form()
    prepare = {
        "fit": str(form.get("fit", "pad")),
        "background": _rgb(str(form.get("background", "#ffffff"))),
        "trim_borders": form.get("trim_borders") == "on",
        "dedup": str(form.get("dedup", "none")),
        "augment_factor": str(form.get("augment_factor", "1")),
    }
    message, status_code = "Saved: new runs on this dataset use these options.", 200
    try:
        datasets.update_prepare(session, dataset_id=dataset_id, prepare=prepare)
    except AppError as exc:
        session.rollback()
        message, status_code = exc.message, exc.status_code
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    context = {
        **_detail_context(settings, dataset, preview=str(form.get("preview") or "") or None),
        "prepare_message": message,
        "prepare_ok": status_code == 200,
    }
    return render(request, "partials/dataset_detail.html", None, context, status_code=status_code)


@router.post("/datasets/{dataset_id}/labels", response_class=HTMLResponse)
async def labels_from_form(
    request: Request, dataset_id: int, session: SessionDep, settings: SettingsDep
) -> Response:
    """Label a CSV dataset by the column picked on its page (same checks as PUT /api/datasets/{id}/labels)."""
    form = await request.form()
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    message, status_code = "Labels saved.", 200
    try:
        label_crud.set_labels_from_column(
            session, settings=settings, dataset=dataset, column=str(form.get("column", ""))
        )
    except AppError as exc:
        session.rollback()
        message, status_code = exc.message, exc.status_code
    dataset = datasets.get_dataset(session, dataset_id=dataset_id)
    context = {
        **_detail_context(settings, dataset),
        "labels_message": message,
        "labels_ok": status_code == 200,
    }
    return render(request, "partials/dataset_detail.html", None, context, status_code=status_code)


def _rgb(value: str) -> list[int] | str:
    """'#f0a020' -> [240, 160, 32]; anything else is passed on for validation to refuse."""
    value = value.strip().lstrip("#")
    if len(value) == 6:
        try:
            return [int(value[i : i + 2], 16) for i in (0, 2, 4)]
        except ValueError:
            pass
    return value


def preview_shapes() -> list[tuple[str, str]]:
    """("HxW", label) for each image shape a preset trains at, e.g. ("128x96", "96 × 128 px (cards)")."""
    from models.presets import PRESETS

    shapes: dict[tuple[int, int], list[str]] = {}
    for preset in PRESETS.values():
        shapes.setdefault((preset.config.height, preset.config.width), []).append(preset.name)
    return [(f"{h}x{w}", f"{w} × {h} px ({', '.join(names)})") for (h, w), names in sorted(shapes.items())]


def _preview_shape(preview: str | None) -> tuple[int, int]:
    """'128x96' -> (128, 96) when it is one of the offered shapes; (64, 64) otherwise."""
    if preview in dict(preview_shapes()):
        height, width = (int(part) for part in str(preview).split("x"))
        return height, width
    return 64, 64


def _detail_context(settings: Settings, dataset: Dataset, *, preview: str | None = None) -> dict[str, Any]:
    background = (dataset.prepare or {}).get("background", [255, 255, 255])
    height, width = _preview_shape(preview)
    return {
        "nav": "datasets",
        "dataset": dataset,
        "thumbnails": datasets.thumbnail_names(settings, dataset),
        "label_rows": label_crud.preview_rows(settings, dataset),
        "csv_columns": label_crud.csv_columns(settings, dataset),
        "prepare": {
            "fit": "pad",
            "trim_borders": False,
            "dedup": "none",
            "augment_factor": 1,
            **dataset.prepare,
        },
        "background_hex": "#" + "".join(f"{int(c):02x}" for c in background),
        # changes with the options, so the browser fetches a fresh prepared preview after a save
        "prepare_version": hashlib.sha1(json.dumps(dataset.prepare, sort_keys=True).encode()).hexdigest()[:8],
        "preview_shapes": preview_shapes(),
        "preview_height": height,
        "preview_width": width,
        "preview_chosen": preview is not None,
    }


def _list_context(session: Session, settings: Settings) -> dict[str, Any]:
    all_datasets = datasets.list_datasets(session)
    return {
        "nav": "datasets",
        "datasets": all_datasets,
        "any_importing": any(d.status == IMPORTING for d in all_datasets),
        "max_upload_mb": settings.max_upload_mb,
        "folder_roots": [str(root) for root in settings.folder_import_roots],
    }
