"""JSON API for runs: create, read, metrics, artifacts, cancel, resume, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import FileResponse, JSONResponse, Response

from app.crud import artifacts, metrics, runs
from app.deps import GeneratorCacheDep, MetricsCacheDep, SessionDep, SettingsDep
from app.errors import NotFoundError
from app.progress_gif import build_progress_gif
from app.schemas.runs import (
    CheckpointPublic,
    EventPublic,
    GradStatPublic,
    GridPublic,
    MetricPoint,
    RunCreate,
    RunPublic,
    run_public,
)

router = APIRouter(prefix="/api/runs", tags=["runs"])


def grid_url(run_id: int, epoch: int) -> str:
    return f"/api/runs/{run_id}/grids/{epoch}.png"


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RunPublic)
def create_run(data: RunCreate, session: SessionDep, settings: SettingsDep) -> RunPublic:
    """Queue a training run on a ready dataset; the config is validated and stored with every value filled."""
    return run_public(runs.create_run(session, settings=settings, data=data))


@router.get("", response_model=list[RunPublic])
def list_runs(session: SessionDep) -> list[RunPublic]:
    """All runs, newest first."""
    return [run_public(run) for run in runs.list_runs(session)]


@router.get("/{run_id}", response_model=RunPublic)
def get_run(run_id: int, session: SessionDep) -> RunPublic:
    """One run with its status, progress and timing."""
    return run_public(runs.get_run(session, run_id=run_id))


@router.get("/{run_id}/metrics", response_model=list[MetricPoint])
def get_metrics(
    run_id: int,
    session: SessionDep,
    cache: MetricsCacheDep,
    after_step: Annotated[int, Query(description="Only steps greater than this")] = -1,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="At most this many rows")] = None,
    max_points: Annotated[
        int | None,
        Query(ge=10, le=100_000, description="Downsample to at most this many rows (min/max buckets)"),
    ] = None,
) -> Response:
    """Per-step metrics in step order. With max_points, each bucket keeps every series' min and max row."""
    runs.get_run(session, run_id=run_id)
    if after_step < 0 and limit is None:  # the whole run (a page opening): the cache reads only newer rows
        points = metrics.downsampled_points(cache.metric_array(session, run_id=run_id), max_points=max_points)
    else:
        points = metrics.read_metrics(
            session, run_id=run_id, after_step=after_step, limit=limit, max_points=max_points
        )
    # Returned as a plain JSONResponse: validating 100k points through pydantic would cost seconds.
    return JSONResponse(points)


@router.get("/{run_id}/checkpoints", response_model=list[CheckpointPublic])
def list_checkpoints(run_id: int, session: SessionDep) -> list[CheckpointPublic]:
    """Saved checkpoints, oldest first."""
    runs.get_run(session, run_id=run_id)
    return [CheckpointPublic.model_validate(c) for c in artifacts.list_checkpoints(session, run_id=run_id)]


@router.get("/{run_id}/grids", response_model=list[GridPublic])
def list_grids(run_id: int, session: SessionDep) -> list[GridPublic]:
    """The fixed-noise grid of each finished epoch, oldest first."""
    runs.get_run(session, run_id=run_id)
    return [
        GridPublic(epoch=g.epoch, step=g.step, url=grid_url(run_id, g.epoch))
        for g in artifacts.list_grids(session, run_id=run_id)
    ]


@router.get("/{run_id}/grids/{epoch}.png", response_class=FileResponse)
def get_grid(run_id: int, epoch: int, session: SessionDep) -> FileResponse:
    """The PNG of one epoch's grid (served from the path its Grid row records)."""
    return FileResponse(artifacts.grid_file(session, run_id=run_id, epoch=epoch), media_type="image/png")


@router.get("/{run_id}/real.png", response_class=FileResponse)
def get_real_grid(run_id: int, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """A grid of real training images, for side-by-side comparison."""
    runs.get_run(session, run_id=run_id)
    path = settings.run_dir(run_id) / "real.png"
    if not path.is_file():
        raise NotFoundError(f"run {run_id} has no real-images grid yet")
    return FileResponse(path, media_type="image/png")


@router.get("/{run_id}/progress.gif", response_class=FileResponse)
def get_progress_gif(run_id: int, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """An animated GIF of the epoch grids, built once per set of grids and then served from disk."""
    runs.get_run(session, run_id=run_id)
    grids = artifacts.list_grids(session, run_id=run_id)
    if not grids:
        raise NotFoundError(f"run {run_id} has no epoch grids yet")
    dest = settings.run_dir(run_id) / f"progress-{len(grids)}-{grids[-1].epoch}.gif"
    if not dest.is_file():
        for stale in dest.parent.glob("progress-*.gif"):
            stale.unlink(missing_ok=True)
        build_progress_gif([artifacts.grid_file(session, run_id=run_id, epoch=g.epoch) for g in grids], dest)
    return FileResponse(
        dest,
        media_type="image/gif",
        filename=f"run-{run_id}-progress.gif",
        content_disposition_type="attachment",
    )


@router.get("/{run_id}/grad-stats", response_model=list[GradStatPublic])
def list_grad_stats(
    run_id: int,
    session: SessionDep,
    after_step: int = -1,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> list[GradStatPublic]:
    """Mean and max |grad| per layer of G and D at the logged steps."""
    runs.get_run(session, run_id=run_id)
    rows = metrics.list_grad_stats(session, run_id=run_id, after_step=after_step, limit=limit)
    return [GradStatPublic.model_validate(r) for r in rows]


@router.get("/{run_id}/events", response_model=list[EventPublic])
def list_events(run_id: int, session: SessionDep, after_step: int = -1) -> list[EventPublic]:
    """Detections and actions (collapse warnings, rollbacks, resumes) in step order."""
    runs.get_run(session, run_id=run_id)
    return [
        EventPublic.model_validate(e)
        for e in metrics.list_events(session, run_id=run_id, after_step=after_step)
    ]


@router.post("/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=RunPublic)
def cancel_run(run_id: int, session: SessionDep) -> RunPublic:
    """Ask the run to stop: a queued run is cancelled at once, a running one at its next step."""
    return run_public(runs.request_cancel(session, run_id=run_id))


@router.post("/{run_id}/resume", status_code=status.HTTP_202_ACCEPTED, response_model=RunPublic)
def resume_run(run_id: int, session: SessionDep, settings: SettingsDep) -> RunPublic:
    """Queue a stopped run again; it continues from its latest checkpoint."""
    return run_public(runs.resume_run(session, settings=settings, run_id=run_id))


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(
    run_id: int,
    session: SessionDep,
    settings: SettingsDep,
    generators: GeneratorCacheDep,
    metrics_cache: MetricsCacheDep,
) -> Response:
    """Delete a stopped run, its metrics, checkpoints and files."""
    removed = set(runs.delete_run(session, settings=settings, run_id=run_id))
    generators.discard(lambda key: key[0] in removed)
    metrics_cache.discard(run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
