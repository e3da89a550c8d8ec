"""HTML page: make trading cards from a run (the page calls POST /cards)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.crud import artifacts, runs
from app.deps import SessionDep
from app.routes.pages import checkpoint_context
from app.templating import render
from cards import TYPE_NAMES

router = APIRouter(include_in_schema=False)


@router.get("/cards", response_class=HTMLResponse)
def cards_page(request: Request, session: SessionDep, run_id: int | None = None) -> HTMLResponse:
    """Pick run, checkpoint, type and seed; see the cards; re-roll text or art; download PNG or PDF."""
    with_checkpoints = artifacts.runs_with_checkpoints(session)
    choices = [r for r in runs.list_runs(session) if r.id in with_checkpoints]
    if run_id is None and choices:
        run_id = choices[0].id
    context = {
        "nav": "cards",
        "runs": choices,
        "run_id": run_id,
        "types": TYPE_NAMES,
        **checkpoint_context(session, run_id),
    }
    return render(request, "pages/cards.html", None, context)
