"""The API docs pages (/docs Swagger UI, /redoc ReDoc) from vendored files, so they work without internet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

# static/vendor, from `npm pack swagger-ui-dist@5.35.0` and `npm pack redoc@2.5.4` (the majors FastAPI's
# CDN defaults name)
SWAGGER_JS = "vendor/swagger-ui-bundle-5.35.0.js"
SWAGGER_CSS = "vendor/swagger-ui-5.35.0.css"
REDOC_JS = "vendor/redoc.standalone-2.5.4.js"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# Only this server: ReDoc would otherwise try its logo from cdn.redoc.ly (harmless offline, but a request out)
SELF_ONLY = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"
}


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json: try each operation from the browser."""
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=str(request.url_for("static", path=SWAGGER_JS)),
        swagger_css_url=str(request.url_for("static", path=SWAGGER_CSS)),
        swagger_favicon_url=str(request.url_for("static", path="favicon.svg")),
        oauth2_redirect_url=OAUTH2_REDIRECT,
    )
    page.headers.update(SELF_ONLY)
    return page


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over /openapi.json: the API as one readable page (system fonts, no Google Fonts)."""
    page = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        redoc_js_url=str(request.url_for("static", path=REDOC_JS)),
        redoc_favicon_url=str(request.url_for("static", path="favicon.svg")),
        with_google_fonts=False,
    )
    page.headers.update(SELF_ONLY)
    return page
