"""JSON API: GET /api/presets, the named starting configs the new-run form and the CLI offer."""

from __future__ import annotations

from fastapi import APIRouter

from app.schemas.presets import PresetPublic
from models.presets import list_presets

router = APIRouter(prefix="/api/presets", tags=["presets"])


@router.get("", response_model=list[PresetPublic])
def presets() -> list[PresetPublic]:
    """Every preset with its one-line description and its full config (all fields, defaults included)."""
    return [PresetPublic(**preset) for preset in list_presets()]
