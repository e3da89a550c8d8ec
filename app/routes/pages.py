"""HTML pages: the runs list, the generate page and the compare page (datasets and runs have their own)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.crud import artifacts, datasets, metrics, runs
from app.crud.labels import run_labels
from app.deps import SessionDep
from app.schemas.runs import run_public
from app.templating import render
from core.db.tables import Run
from core.run_status import ACTIVE

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def runs_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Every run with its status, progress and newest grid."""
    return render(request, "pages/runs.html", "partials/runs_table.html", _runs_context(session))


@router.get("/partials/runs", response_class=HTMLResponse)
def runs_table(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, "partials/runs_table.html", None, _runs_context(session))


def _runs_context(session: Session) -> dict[str, Any]:
    all_runs = runs.list_runs(session)
    return {
        "nav": "runs",
        "runs": all_runs,
        "dataset_names": {d.id: d.name for d in datasets.list_datasets(session)},
        "latest_grids": artifacts.latest_grid_epochs(session, run_ids=[r.id for r in all_runs]),
        "event_counts": metrics.event_counts(session, run_ids=[r.id for r in all_runs]),
        "any_active": any(r.status in ACTIVE for r in all_runs),
    }


@router.get("/generate", response_class=HTMLResponse)
def generate_page(request: Request, session: SessionDep, run_id: int | None = None) -> HTMLResponse:
    """Pick a run and checkpoint, draw a grid; extras: ZIP download and seed interpolation."""
    with_checkpoints = artifacts.runs_with_checkpoints(session)
    choices = [r for r in runs.list_runs(session) if r.id in with_checkpoints]
    if run_id is None and choices:
        run_id = choices[0].id
    context = {"nav": "generate", "runs": choices, "run_id": run_id, **checkpoint_context(session, run_id)}
    return render(request, "pages/generate.html", None, context)


@router.get("/generate/checkpoints", response_class=HTMLResponse)
def checkpoint_options(request: Request, session: SessionDep, run_id: int) -> HTMLResponse:
    """The checkpoint <select> for one run (swapped in when the run choice changes)."""
    return render(request, "partials/checkpoint_select.html", None, checkpoint_context(session, run_id))


def checkpoint_context(session: Session, run_id: int | None) -> dict[str, Any]:
    if run_id is None:
        return {"checkpoints": [], "default_checkpoint_id": None, "label_names": []}
    run = runs.get_run(session, run_id=run_id)
    checkpoints = list(reversed(artifacts.list_checkpoints(session, run_id=run_id)))
    default = run.best_checkpoint_id or (checkpoints[0].id if checkpoints else None)
    return {
        "checkpoints": checkpoints,
        "default_checkpoint_id": default,
        "best_checkpoint_id": run.best_checkpoint_id,
        "label_names": run_labels(session, run_id)[0],
    }


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request, session: SessionDep, run: Annotated[list[int] | None, Query()] = None
) -> HTMLResponse:
    """Two or more runs side by side: hyperparameters (differences highlighted), curves, grids."""
    chosen = [runs.get_run(session, run_id=run_id) for run_id in (run or [])]
    keys = sorted({key for r in chosen for key in r.config})
    rows = _dataset_and_preset_rows(session, chosen)
    rows += [{"key": key, "values": [r.config.get(key) for r in chosen]} for key in keys]
    for row in rows:
        row["differs"] = len({repr(v) for v in row["values"]}) > 1
    grids = {r.id: [g.epoch for g in artifacts.list_grids(session, run_id=r.id)] for r in chosen}
    common = sorted(set.intersection(*(set(v) for v in grids.values()))) if grids else []
    context = {
        "nav": "compare",
        "all_runs": runs.list_runs(session),
        "chosen": [run_public(r) for r in chosen],
        "rows": rows,
        "common_epochs": common,
    }
    return render(request, "pages/compare.html", None, context)


def _dataset_and_preset_rows(session: Session, chosen: list[Run]) -> list[dict[str, Any]]:
    """What each run trained on and started from: often the real difference between two runs."""
    names = {d.id: f"#{d.id} {d.name} ({d.image_count} images)" for d in datasets.list_datasets(session)}
    return [
        {"key": "dataset", "values": [names.get(r.dataset_id, "a deleted dataset") for r in chosen]},
        {"key": "preset", "values": [r.preset or "custom" for r in chosen]},
    ]
