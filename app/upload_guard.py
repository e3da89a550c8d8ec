"""Refuse an upload whose declared size is over the limit before its body is read.

FastAPI parses multipart bodies (spooling files to disk) before a route runs, so the route cannot stop a
too-large upload early; this middleware can. The streamed copy in app.crud.datasets still enforces the
limit on the bytes actually received, for clients that send no or a false Content-Length.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from core.settings import Settings

UPLOAD_PATHS = frozenset({"/api/datasets", "/datasets"})
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def too_large(request: Request, settings: Settings) -> bool:
    declared = request.headers.get("content-length", "")
    limit = settings.max_upload_mb * 1024 * 1024 + MULTIPART_OVERHEAD_BYTES
    return declared.isdigit() and int(declared) > limit


def upload_size_guard(
    settings: Settings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        is_upload = request.method == "POST" and request.url.path in UPLOAD_PATHS
        if not is_upload or not too_large(request, settings):
            return await call_next(request)
        message = f"the upload is larger than the {settings.max_upload_mb} MiB limit"
        if request.url.path == "/datasets":
            html = f'<div class="form-error" role="alert" id="upload-error">{message}</div>'
            return HTMLResponse(html, status_code=413, headers={"Connection": "close"})
        return JSONResponse({"detail": message}, status_code=413, headers={"Connection": "close"})

    return guard
