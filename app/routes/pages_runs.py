"""HTML pages for runs: the new-run form, the run page and its self-polling partials, run actions."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app import config_form
from app.c2st_chart import chart
from app.crud import artifacts, datasets, metrics, runs
from app.crud.runs import ConfigError
from app.deps import GeneratorCacheDep, MetricsCacheDep, SessionDep, SettingsDep
from app.errors import AppError, InvalidInputError
from app.form_errors import form_errors
from app.run_report import c2st_curve
from app.schemas.runs import RunCreate, RunPublic, run_public
from app.templating import EVENT_RUN_CHANGED, is_htmx, render
from core.dataset_status import READY
from core.db.tables import Run
from core.settings import Settings
from models.config import TrainConfig
from models.presets import list_presets

router = APIRouter(include_in_schema=False)
DEFAULT_PRESET = "recommended"


# ---- new-run form ----


@router.get("/runs/new", response_class=HTMLResponse)
def new_run_page(
    request: Request,
    session: SessionDep,
    dataset_id: int | None = None,
    preset: str | None = None,
    clone: int | None = None,
    name: str = "",
    suggested_name: str = "",
) -> HTMLResponse:
    """The new-run form; `clone=<run id>` prefills it from that run, `preset` from a preset. `name` and
    `suggested_name` come back when the preset changes: a suggested name follows the dataset and preset."""
    values: dict[str, Any] = {}
    policy = "warn"
    if preset is None and clone is None:
        preset = DEFAULT_PRESET  # the docs' advice; "custom (defaults)" is an explicit preset=""
    if clone is not None:
        source = runs.get_run(session, run_id=clone)
        values, preset, dataset_id, name = (
            dict(source.config),
            source.preset,
            source.dataset_id,
            f"{source.name} (copy)",
        )
        policy = source.policy
        suggested_name = name
    elif name and name == suggested_name:
        dataset = datasets.find_dataset(session, dataset_id=dataset_id) if dataset_id else None
        name = suggested_name = f"{dataset.name} · {preset or 'custom'}" if dataset else name
    context = _form_context(
        session, dataset_id=dataset_id, preset=preset, values=values, name=name, policy=policy
    )
    context["suggested_name"] = suggested_name
    return render(request, "pages/new_run.html", "partials/run_form.html", context)


@router.post("/runs/new", response_class=HTMLResponse)
async def create_run_from_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Validate with the same code as POST /api/runs; errors come back inline next to their fields."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    overrides = config_form.parse_form(fields, present_bools=set(form.getlist("bool_on")))
    preset = fields.get("preset") or None
    dataset_id = _int_or_none(fields.get("dataset_id"))
    try:
        if dataset_id is None:
            raise InvalidInputError("choose a dataset", loc=("body", "dataset_id"))
        data = RunCreate(
            dataset_id=dataset_id,
            name=fields.get("name") or None,
            preset=preset,
            config=overrides,
            policy=fields.get("policy") or "warn",
        )
        run = await run_in_threadpool(runs.create_run, session, settings=settings, data=data)
    except ValidationError as exc:  # the run name or preset field itself (config errors are ConfigError)
        errors = {str(e["loc"][-1]): e["msg"] for e in exc.errors(include_url=False)}
        return _form_error(request, session, fields, overrides, errors, None)
    except ConfigError as exc:
        errors, general = form_errors(exc.errors, overrides)
        return _form_error(request, session, fields, overrides, errors, " ".join(general) or None)
    except InvalidInputError as exc:
        field = str(exc.loc[-1]) if exc.loc else ""
        return _form_error(request, session, fields, overrides, {field: exc.message}, exc.message)
    except AppError as exc:
        return _form_error(request, session, fields, overrides, {}, exc.message, status_code=exc.status_code)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/runs/{run.id}"})
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.get("/runs/new/estimate", response_class=HTMLResponse)
def estimate(request: Request, session: SessionDep) -> HTMLResponse:
    """Estimated time per epoch for the form's dataset and config, from past runs' images/s."""
    params = request.query_params
    dataset_id = _int_or_none(params.get("dataset_id"))
    context = _estimate_context(
        session,
        dataset_id=dataset_id,
        arch=params.get("arch") or "dcgan64",
        image_size=_int_or_none(params.get("image_size")) or 64,
        epochs=_int_or_none(params.get("epochs")),
    )
    return render(request, "partials/estimate.html", None, context)


def _form_error(
    request: Request,
    session: Session,
    fields: dict[str, str],
    overrides: dict[str, Any],
    errors: dict[str, str],
    message: str | None,
    *,
    status_code: int = 422,
) -> HTMLResponse:
    context = _form_context(
        session,
        dataset_id=_int_or_none(fields.get("dataset_id")),
        preset=fields.get("preset") or None,
        values=overrides,
        name=fields.get("name", ""),
        policy=fields.get("policy") or "warn",
        errors=errors,
        message=message,
    )
    context["suggested_name"] = fields.get("suggested_name", "")
    return render(request, "pages/new_run.html", "partials/run_form.html", context, status_code=status_code)


def _form_context(
    session: Session,
    *,
    dataset_id: int | None,
    preset: str | None,
    values: dict[str, Any],
    name: str = "",
    policy: str = "warn",
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    try:
        base = runs.build_config(preset, {}).model_dump(mode="json")
    except AppError:
        base = TrainConfig().model_dump(mode="json")
    shown = {**base, **values}
    ready = [d for d in datasets.list_datasets(session) if d.status == READY]
    if dataset_id is None and ready:
        dataset_id = ready[0].id
    return {
        "nav": "new",
        "datasets": ready,
        "dataset_id": dataset_id,
        "presets": _presets(),
        "preset": preset or "",
        "name": name,
        "policy": policy,
        "sections": config_form.sections(),
        "values": shown,
        "errors": errors or {},
        "message": message,
        **_estimate_context(
            session,
            dataset_id=dataset_id,
            arch=str(shown.get("arch", "dcgan64")),
            image_size=_int_or_none(str(shown.get("image_size"))) or 64,
            epochs=_int_or_none(str(shown.get("epochs"))),
        ),
    }


def _estimate_context(
    session: Session, *, dataset_id: int | None, arch: str, image_size: int, epochs: int | None
) -> dict:
    dataset = datasets.find_dataset(session, dataset_id=dataset_id) if dataset_id else None
    speed = runs.typical_images_per_s(session, arch=arch, image_size=image_size)
    images = datasets.effective_image_count(dataset) if dataset else None
    per_epoch = images / speed if images and speed else None
    return {
        "estimate": {
            "images": images,
            "images_per_s": speed,
            "per_epoch_s": per_epoch,
            "total_s": per_epoch * epochs if per_epoch and epochs and epochs > 0 else None,
            "epochs": epochs,
        }
    }


def _presets() -> list[dict[str, str]]:
    return [{"name": p["name"], "description": p["description"]} for p in list_presets()]


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


# ---- run page ----


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Status, live charts, epoch grids, gradient flow and the timeline of events and quality of one run."""
    run = runs.get_run(session, run_id=run_id)
    context = {
        "nav": "runs",
        "run": run_public(run),
        "dataset": datasets.find_dataset(session, dataset_id=run.dataset_id),
        **_grids_context(session, settings, run),
        "grad": _grad_context(session, run.id),
        **_timeline_context(session, run),
    }
    return render(request, "pages/run.html", None, context)


@router.get("/runs/{run_id}/timeline", response_class=HTMLResponse)
def timeline_partial(request: Request, run_id: int, session: SessionDep) -> HTMLResponse:
    """The events and per-epoch quality panel (polls itself while the run is active)."""
    run = runs.get_run(session, run_id=run_id)
    context = {"run": run_public(run), **_timeline_context(session, run)}
    return render(request, "partials/events.html", None, context)


@router.get("/runs/{run_id}/status", response_class=HTMLResponse)
def run_status_partial(request: Request, run_id: int, session: SessionDep) -> HTMLResponse:
    return render(
        request, "partials/run_status.html", None, {"run": run_public(runs.get_run(session, run_id=run_id))}
    )


@router.get("/runs/{run_id}/grids", response_class=HTMLResponse)
def run_grids_partial(
    request: Request, run_id: int, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    run = runs.get_run(session, run_id=run_id)
    return render(
        request,
        "partials/run_grids.html",
        None,
        {"run": run_public(run), **_grids_context(session, settings, run)},
    )


@router.get("/runs/{run_id}/grad-flow", response_class=HTMLResponse)
def grad_flow_partial(request: Request, run_id: int, session: SessionDep) -> HTMLResponse:
    run = runs.get_run(session, run_id=run_id)
    return render(
        request,
        "partials/grad_flow.html",
        None,
        {"run": run_public(run), "grad": _grad_context(session, run_id)},
    )


@router.post("/runs/{run_id}/cancel", response_class=HTMLResponse)
def cancel_from_page(request: Request, run_id: int, session: SessionDep) -> HTMLResponse:
    return _status_after(request, session, run_id, lambda: runs.request_cancel(session, run_id=run_id))


@router.post("/runs/{run_id}/resume", response_class=HTMLResponse)
def resume_from_page(
    request: Request, run_id: int, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    return _status_after(
        request, session, run_id, lambda: runs.resume_run(session, settings=settings, run_id=run_id)
    )


@router.delete("/runs/{run_id}", response_class=HTMLResponse)
def delete_from_page(
    request: Request,
    run_id: int,
    session: SessionDep,
    settings: SettingsDep,
    generators: GeneratorCacheDep,
    metrics_cache: MetricsCacheDep,
) -> Response:
    try:
        removed = set(runs.delete_run(session, settings=settings, run_id=run_id))
    except AppError as exc:
        run = runs.get_run(session, run_id=run_id)
        return render(
            request, "partials/run_status.html", None, {"run": run_public(run), "message": exc.message}
        )
    generators.discard(lambda key: key[0] in removed)
    metrics_cache.discard(run_id)
    return Response(status_code=204, headers={"HX-Redirect": "/"})


def _status_after(request: Request, session: Session, run_id: int, action: Any) -> HTMLResponse:
    """Run a CRUD action and return the refreshed status panel (with the error sentence if it was refused)."""
    try:
        run: Run = action()
        message = None
    except AppError as exc:
        run = runs.get_run(session, run_id=run_id)
        message = exc.message
    public: RunPublic = run_public(run)
    return render(
        request,
        "partials/run_status.html",
        None,
        {"run": public, "message": message},
        headers={"HX-Trigger": EVENT_RUN_CHANGED} if message is None else None,
    )


def _grids_context(session: Session, settings: Settings, run: Run) -> dict[str, Any]:
    grids = list(reversed(artifacts.list_grids(session, run_id=run.id)))
    best = artifacts.best_checkpoint(session, run=run)
    return {
        "grids": grids,
        "has_real": (settings.run_dir(run.id) / "real.png").is_file(),
        "best_epoch": best.epoch if best else None,
    }


def _timeline_context(session: Session, run: Run) -> dict[str, Any]:
    checkpoints = artifacts.list_checkpoints(session, run_id=run.id)
    epochs = int(run.config.get("epochs") or 0)
    return {
        "events": metrics.list_events(session, run_id=run.id),
        "quality": [c for c in reversed(checkpoints) if c.quality],
        "c2st": chart(c2st_curve(checkpoints)),
        "best": artifacts.best_checkpoint(session, run=run),
        "iters_per_epoch": run.total_steps // epochs if epochs and run.total_steps else None,
    }


def _grad_context(session: Session, run_id: int) -> dict[str, Any] | None:
    latest = metrics.latest_grad_stats(session, run_id=run_id)
    if latest is None:
        return None
    step, rows = latest
    logs = [math.log10(r.mean_abs) for r in rows if r.mean_abs > 0]
    low, high = (min(logs), max(logs)) if logs else (0.0, 1.0)
    span = (high - low) or 1.0

    def width(value: float) -> float:
        return 2.0 if value <= 0 else 4.0 + 96.0 * (math.log10(value) - low) / span

    return {
        "step": step,
        "rows": [
            {
                "net": r.net,
                "layer": r.layer,
                "mean_abs": r.mean_abs,
                "max_abs": r.max_abs,
                "width": width(r.mean_abs),
            }
            for r in rows
        ],
    }
