"""JSON API: GET /healthz for load balancers and compose health checks."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.deps import SessionDep, SettingsDep
from app.health import check_broker, check_database
from app.schemas.health import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """200 when the database and the broker both answer; 503 naming the one that does not."""
    health = Health(
        database=await run_in_threadpool(check_database, session),
        broker=await run_in_threadpool(check_broker, settings),
    )
    healthy = health.database == "ok" and health.broker == "ok"
    return JSONResponse(health.model_dump(), status_code=200 if healthy else 503)
