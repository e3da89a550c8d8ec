"""Shared pieces of the HTML routes: the Jinja2 environment, whole-page-or-partial rendering, event names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.auth import csrf_token, is_authorised
from app.errors import AppError
from app.run_timing import format_duration
from models import series

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

# htmx events the server sends in HX-Trigger headers; templates listen for them with `from:body`.
EVENT_RUN_CHANGED = "run-changed"
EVENT_DATASETS_CHANGED = "datasets-changed"
EVENTS = {"run_changed": EVENT_RUN_CHANGED, "datasets_changed": EVENT_DATASETS_CHANGED}

ACTIVE_STATUSES = ("queued", "running")
JSON_PREFIXES = ("/api/", "/healthz", "/static/")

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["events"] = EVENTS
templates.env.globals["event_run_changed"] = EVENT_RUN_CHANGED  # `events` is rows in some
templates.env.globals["active_statuses"] = ACTIVE_STATUSES
templates.env.filters["duration"] = format_duration
templates.env.globals["metric_series"] = series.public_list  # a function: series declared later count too
templates.env.globals["metric_charts"] = series.CHARTS


def auth_state(request: Request) -> str:
    """'open' (no API token configured), 'in' (this browser is logged in) or 'out'."""
    settings = request.app.state.settings
    if not settings.api_token:
        return "open"
    return "in" if is_authorised(settings, request) else "out"


def page_csrf_token(request: Request) -> str:
    """The CSRF token for this page's writes; empty for a logged-out browser, so pages never leak it."""
    if auth_state(request) == "out":
        return ""
    return csrf_token(request.app.state.settings)


templates.env.globals["auth_state"] = auth_state
templates.env.globals["csrf_token"] = page_csrf_token


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_html(request: Request) -> bool:
    """True for page routes (errors there render a page or partial instead of JSON)."""
    path = request.url.path
    if path.startswith(JSON_PREFIXES) or (path.startswith("/generate") and request.method != "GET"):
        return False
    return is_htmx(request) or "text/html" in request.headers.get("accept", "")


def render(
    request: Request,
    page: str,
    partial: str | None = None,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The whole `page`, or only `partial` when htmx asks (HX-Request header) and a partial is given."""
    template = partial if partial and is_htmx(request) else page
    return templates.TemplateResponse(
        request, template, context or {}, status_code=status_code, headers=headers
    )


def error_page(request: Request, exc: AppError) -> HTMLResponse:
    return render(
        request,
        "pages/error.html",
        "partials/error.html",
        {"status_code": exc.status_code, "message": exc.message},
        status_code=exc.status_code,
        headers=exc.headers,
    )
