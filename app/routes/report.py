"""A run's report: JSON at /api/runs/{id}/report, a page at /runs/{id}/report, and the same page as one
self-contained HTML file to download (images inlined as data URIs, CSS inline, no scripts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.c2st_chart import chart
from app.crud import runs
from app.deps import SessionDep, SettingsDep
from app.run_report import build_report, report_images
from app.templating import templates

router = APIRouter(tags=["reports"])


@router.get("/api/runs/{run_id}/report")
def report_json(run_id: int, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """What was trained, how long, the C2ST curve, the best checkpoint, failure episodes and a verdict;
    for a conditional run also its class consistency per label."""
    return build_report(session, runs.get_run(session, run_id=run_id), settings)


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
def report_page(request: Request, run_id: int, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The report as a page; add ?download=1 to save it as one self-contained HTML file."""
    run = runs.get_run(session, run_id=run_id)
    report = build_report(session, run, settings)
    context = {
        "report": report,
        "images": report_images(session, settings, run, report),
        "c2st": chart(report["c2st_curve"]),
        "download": request.query_params.get("download") == "1",
    }
    response = templates.TemplateResponse(request, "pages/report.html", context)
    if context["download"]:
        response.headers["Content-Disposition"] = f'attachment; filename="pokegan-run-{run.id}-report.html"'
    return response
