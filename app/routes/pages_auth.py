"""HTML login for servers with an API token: exchange the token for a signed session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth import COOKIE_NAME, cookie_value, safe_next, token_matches
from app.deps import SettingsDep
from app.templating import render

router = APIRouter(include_in_schema=False)
COOKIE_MAX_AGE_S = 30 * 24 * 3600


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:
    """The token form (or a note that this server needs none)."""
    context = {"next": safe_next(next), "required": bool(settings.api_token), "error": None}
    return render(request, "pages/login.html", None, context)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, settings: SettingsDep, token: str = Form(""), next: str = Form("/")) -> Response:
    if not token_matches(settings, token):
        context = {
            "next": safe_next(next),
            "required": bool(settings.api_token),
            "error": "That token is not right.",
        }
        return render(request, "pages/login.html", None, context, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        cookie_value(settings),
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response
