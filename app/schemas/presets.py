"""Shape of GET /api/presets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class PresetPublic(BaseModel):
    name: str
    description: str
    config: dict[str, Any]  # every TrainConfig field with the preset's value
