"""Dataset actions from its page: rename, and delete (refused, with the reason, while runs use it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.crud import datasets
from app.deps import SessionDep, SettingsDep
from app.errors import AppError
from app.templating import EVENT_DATASETS_CHANGED, render

router = APIRouter(include_in_schema=False)


@router.post("/datasets/{dataset_id}/rename", response_class=HTMLResponse)
def rename_from_page(
    request: Request, dataset_id: int, session: SessionDep, name: Annotated[str, Form()] = ""
) -> HTMLResponse:
    """The same rename as PATCH /api/datasets/{id} {"name": ...}; the page head comes back."""
    try:
        dataset = datasets.rename_dataset(session, dataset_id=dataset_id, name=name)
    except AppError as exc:
        session.rollback()
        context = {"dataset": datasets.get_dataset(session, dataset_id=dataset_id)}
        context |= {"message": exc.message, "renaming": True}
        return render(request, "partials/dataset_head.html", None, context, status_code=exc.status_code)
    return render(
        request,
        "partials/dataset_head.html",
        None,
        {"dataset": dataset},
        headers={"HX-Trigger": EVENT_DATASETS_CHANGED},
    )


@router.delete("/datasets/{dataset_id}", response_class=HTMLResponse)
def delete_from_page(
    request: Request, dataset_id: int, session: SessionDep, settings: SettingsDep
) -> Response:
    """The same delete as DELETE /api/datasets/{id}; back to the list, or the refusal in the page head."""
    try:
        datasets.delete_dataset(session, settings=settings, dataset_id=dataset_id)
    except AppError as exc:
        session.rollback()
        dataset = datasets.get_dataset(session, dataset_id=dataset_id)
        context = {"dataset": dataset, "message": _refusal(exc, session, dataset_id)}
        return render(request, "partials/dataset_head.html", None, context, status_code=exc.status_code)
    return Response(status_code=204, headers={"HX-Redirect": "/datasets"})


def _refusal(exc: AppError, session: Session, dataset_id: int) -> str:
    """The CRUD sentence, with the runs to delete first named where that is the reason."""
    using = datasets.runs_using(session, dataset_id=dataset_id)
    if not using:
        return exc.message
    names = ", ".join(f"#{run.id} {run.name}" for run in using[:5])
    more = f" and {len(using) - 5} more" if len(using) > 5 else ""
    return f"Runs use this dataset: {names}{more}. Delete those runs first, then the dataset."
