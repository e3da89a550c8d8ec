"""The FastAPI application factory: `create_app(settings)` wires the DB, routes, templates, static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from app import templating
from app.auth import token_guard
from app.errors import AppError, InvalidInputError
from app.generator_cache import GenerationSlots, GeneratorCache
from app.http_errors import http_error
from app.metrics_cache import MetricsCache
from app.routes import (
    api_datasets,
    api_presets,
    api_runs,
    api_series,
    cards,
    docs,
    generate,
    health,
    pages,
    pages_auth,
    pages_cards,
    pages_dataset_actions,
    pages_datasets,
    pages_runs,
    report,
)
from app.upload_guard import upload_size_guard
from core.db.migrate import upgrade_to_head
from core.db.session import make_engine, make_sessionmaker
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
STATIC_DIR = ROOT / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app. Pass `settings` (tests build one per test); default: from the environment."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(upgrade_to_head, settings)
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="pokegan",
        summary="Train DCGANs on your own Pokémon images and draw new ones.",
        lifespan=lifespan,
        docs_url=None,  # app/routes/docs.py serves both from static/vendor
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.generators = GeneratorCache(settings.generator_cache_size)
    app.state.generation_slots = GenerationSlots(
        settings.generate_concurrency,
        policy=settings.generate_priority,
        torch_threads=settings.generate_torch_threads,
        share=settings.generate_share,
        window_s=settings.generate_share_window_s,
    )
    app.state.metrics_cache = MetricsCache(
        max_runs=settings.metrics_cache_runs, max_bytes=settings.metrics_cache_mb * 1024 * 1024
    )
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(HTTPException, http_error)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.middleware("http")(upload_size_guard(settings))
    app.middleware("http")(token_guard(settings))
    for module in (
        health,
        api_datasets,
        api_runs,
        api_series,
        generate,
        pages,
        pages_auth,
        pages_datasets,
        pages_runs,
    ):
        app.include_router(module.router)
    app.include_router(cards.router)
    app.include_router(pages_cards.router)
    app.include_router(report.router)
    app.include_router(api_presets.router)
    app.include_router(docs.router)
    app.include_router(pages_dataset_actions.router)
    return app


async def _app_error(request: Request, exc: Exception) -> Response:
    """CRUD errors become JSON with the sentence in `detail` (FastAPI-style lists for field errors)."""
    assert isinstance(exc, AppError)
    if templating.wants_html(request):
        return templating.error_page(request, exc)
    if isinstance(exc, InvalidInputError):
        errors = getattr(exc, "errors", None) or [
            {"loc": list(exc.loc), "msg": exc.message, "type": "value_error"}
        ]
        return JSONResponse({"detail": errors}, status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=exc.headers)
