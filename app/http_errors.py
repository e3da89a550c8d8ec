"""Starlette's own HTTP errors (unknown URL, wrong method): a styled page for browsers, JSON otherwise."""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from app.templating import render, wants_html


async def http_error(request: Request, exc: Exception) -> Response:
    """A page with the sentence when a browser (Accept: text/html) or htmx asked; else FastAPI's JSON."""
    assert isinstance(exc, HTTPException)
    if not wants_html(request):
        return await http_exception_handler(request, exc)
    return render(
        request,
        "pages/error.html",
        "partials/error.html",
        {"status_code": exc.status_code, "message": _sentence(request, exc)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


def _sentence(request: Request, exc: HTTPException) -> str:
    if exc.status_code == 404 and exc.detail == "Not Found":
        return f"There is no page at {request.url.path}."
    if exc.status_code == 405:
        return f"{request.method} is not allowed on {request.url.path}."
    return str(exc.detail)
