"""JSON API: the metric series every run records, as the charts draw them."""

from __future__ import annotations

from fastapi import APIRouter

from app.schemas.runs import SeriesPublic
from models import series

router = APIRouter(prefix="/api", tags=["runs"])


@router.get("/series", response_model=list[SeriesPublic])
def list_series() -> list[dict]:
    """Each per-step series (name, legend label, chart, which network's loss) in declaration order."""
    return series.public_list()
