"""The API token: when Settings.api_token is set, every write and every artifact download needs it.

Clients send `Authorization: Bearer <token>` (or `X-API-Token`); browsers log in once at /login and then
carry a signed, HttpOnly, SameSite=Lax cookie. A write carried only by that cookie also needs the CSRF
token: `X-CSRF-Token` header (htmx and fetch send it from the page's `<meta name="csrf-token">`) or a
`csrf_token` field in an urlencoded form body. Pages get the CSRF token only when the browser may write,
so someone without the API token cannot read it off a page. It is an HMAC of a fixed label with the
session secret, like the cookie: no server-side state, and knowing it reveals neither cookie nor token.
A cookie-only write whose Origin header names another host is refused too. /login and /logout stay open.
Token-carrying clients need neither. Without a token configured everything is open (`pokegan serve` then
binds to loopback only), except that a browser write from another website's page (a foreign Origin) is
refused, so a page elsewhere cannot drive the loopback server through its visitor's browser.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from core.settings import Settings

COOKIE_NAME = "pokegan_auth"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 256 * 1024  # the largest form body read here to look for the CSRF field
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_WRITES = frozenset({"/login", "/logout"})
ARTIFACT_PATHS = re.compile(
    r"^/api/runs/\d+/(grids/|real\.png|progress\.gif)|^/api/datasets/\d+/(thumbs/|preview\.png|prepared\.png)"
)
DEFAULT_PORTS = {"http": 80, "https": 443}

Credential = Literal["token", "cookie"]


def _signed(settings: Settings, label: bytes) -> str:
    secret = (
        settings.secret_key or hashlib.sha256(f"pokegan-cookie:{settings.api_token}".encode()).hexdigest()
    )
    return hmac.new(secret.encode(), label, hashlib.sha256).hexdigest()


def cookie_value(settings: Settings) -> str:
    """The session cookie's value: an HMAC of a fixed label, so the token itself never sits in a cookie."""
    return _signed(settings, b"pokegan-session-v1")


def csrf_token(settings: Settings) -> str:
    """The CSRF token pages carry: another label, so it differs from the HttpOnly cookie's value."""
    return _signed(settings, b"pokegan-csrf-v1")


def token_matches(settings: Settings, candidate: str | None) -> bool:
    return bool(settings.api_token and candidate) and hmac.compare_digest(
        str(candidate).encode(), str(settings.api_token).encode()
    )


def credential(settings: Settings, request: Request) -> Credential | None:
    """What authorises this request: the API token in a header, the session cookie, or nothing."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    if token_matches(settings, bearer) or token_matches(settings, request.headers.get("x-api-token")):
        return "token"
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie is not None and hmac.compare_digest(cookie.encode(), cookie_value(settings).encode()):
        return "cookie"
    return None


def is_authorised(settings: Settings, request: Request) -> bool:
    return credential(settings, request) is not None


def needs_token(request: Request) -> bool:
    path = request.url.path
    if request.method not in SAFE_METHODS:
        return path not in OPEN_WRITES
    return ARTIFACT_PATHS.match(path) is not None


def token_guard(
    settings: Settings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """HTTP middleware refusing protected requests without a valid token, or cookie writes without CSRF."""

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not needs_token(request):
            return await call_next(request)
        if not settings.api_token:
            # open (loopback) mode: another website must not drive this server from a visitor's browser
            if request.method not in SAFE_METHODS and not same_origin(request):
                return forbidden("cross-origin write refused: use this server's own pages")
            return await call_next(request)
        carried = credential(settings, request)
        if carried is None:
            return refusal(request)
        if carried == "cookie" and request.method not in SAFE_METHODS:
            if not same_origin(request):
                return forbidden("cross-origin write refused: use this server's own pages")
            if not await csrf_ok(settings, request):
                return forbidden("missing or invalid CSRF token: reload the page")
        return await call_next(request)

    return guard


def same_origin(request: Request) -> bool:
    """No Origin header (old browsers, some same-origin requests) passes; one naming another host fails."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in DEFAULT_PORTS:
        return False  # "null" (sandboxed frames, privacy redirects) and anything odd
    theirs = _endpoint(parts.netloc, parts.scheme)
    return theirs[0] is not None and theirs == _endpoint(request.headers.get("host", ""), parts.scheme)


def _endpoint(netloc: str, scheme: str) -> tuple[str | None, int | None]:
    """(host, port) of 'host[:port]', the scheme's default port filled in; (None, None) if malformed."""
    parts = urlsplit(f"//{netloc}")
    try:
        return parts.hostname, parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None, None


async def csrf_ok(settings: Settings, request: Request) -> bool:
    """The CSRF token from the header, or from the `csrf_token` field of a small urlencoded form body."""
    candidate = request.headers.get(CSRF_HEADER)
    if candidate is None and _is_small_form(request):
        # Starlette caches the body read here and replays it to the route.
        try:
            fields = parse_qs((await request.body()).decode("latin-1"), max_num_fields=1000)
        except ValueError:
            fields = {}
        candidate = (fields.get(CSRF_FIELD) or [None])[0]
    return candidate is not None and hmac.compare_digest(candidate.encode(), csrf_token(settings).encode())


def _is_small_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    return content_type == FORM_TYPE and declared.isdigit() and int(declared) <= MAX_FORM_BYTES


def forbidden(message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=403)


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
