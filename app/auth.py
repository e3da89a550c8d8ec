"""The API token: when Settings.api_token is set, every write and every artifact download needs it.

Clients send `Authorization: Bearer <token>` (or `X-API-Token`); browsers log in once at /login and then
carry a signed, HttpOnly, SameSite=Lax cookie (which cross-site form posts do not get, so it cannot be
used for CSRF). Without a token configured everything is open: `pokegan serve` then binds to loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.settings import Settings

COOKIE_NAME = "pokegan_auth"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_WRITES = frozenset({"/login", "/logout"})
ARTIFACT_PATHS = re.compile(
    r"^/api/runs/\d+/(grids/|real\.png|progress\.gif)|^/api/datasets/\d+/(thumbs/|preview\.png|prepared\.png)"
)


def cookie_value(settings: Settings) -> str:
    """The session cookie's value: an HMAC of a fixed label, so the token itself never sits in a cookie."""
    secret = (
        settings.secret_key or hashlib.sha256(f"pokegan-cookie:{settings.api_token}".encode()).hexdigest()
    )
    return hmac.new(secret.encode(), b"pokegan-session-v1", hashlib.sha256).hexdigest()


def token_matches(settings: Settings, candidate: str | None) -> bool:
    return bool(settings.api_token and candidate) and hmac.compare_digest(
        str(candidate).encode(), str(settings.api_token).encode()
    )


def is_authorised(settings: Settings, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    if token_matches(settings, bearer) or token_matches(settings, request.headers.get("x-api-token")):
        return True
    cookie = request.cookies.get(COOKIE_NAME)
    return cookie is not None and hmac.compare_digest(cookie, cookie_value(settings))


def needs_token(request: Request) -> bool:
    path = request.url.path
    if request.method not in SAFE_METHODS:
        return path not in OPEN_WRITES
    return ARTIFACT_PATHS.match(path) is not None


def token_guard(
    settings: Settings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """HTTP middleware refusing protected requests that carry no valid token or cookie."""

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not settings.api_token or not needs_token(request) or is_authorised(settings, request):
            return await call_next(request)
        return refusal(request)

    return guard


def refusal(request: Request) -> Response:
    login = f"/login?next={request.url.path}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": login})
    if "text/html" in request.headers.get("accept", "") and request.method in SAFE_METHODS:
        return RedirectResponse(login, status_code=303)
    return JSONResponse(
        {"detail": "this server needs its API token: send 'Authorization: Bearer <token>' or log in"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def safe_next(target: str | None) -> str:
    """Only same-site paths: '/runs/3' yes, '//evil.example' or 'https://...' no."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
