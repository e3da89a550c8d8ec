"""How raw images become a training tensor; saved with the cache and keyed by its hash."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from datasets.imageops import FitMode

# Bump when preparation code changes its output, so old caches are not reused.
PREPARE_VERSION = 1

Channel = Annotated[int, Field(ge=0, le=255)]


class PrepareOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    height: int = Field(64, ge=8, le=1024)
    width: int = Field(64, ge=8, le=1024, description="Cards are 63x88 mm: e.g. 64x88 or 96x128 (w x h)")
    fit: FitMode = Field("pad", description="pad keeps the aspect and fills with background; crop; stretch")
    background: tuple[Channel, Channel, Channel] = (255, 255, 255)
    trim_borders: bool = False
    trim_tolerance: int = Field(8, ge=0, le=255)
    dedup: Literal["none", "exact", "near"] = "none"
    near_threshold: int = Field(
        4, ge=0, le=64, description="Max perceptual-hash Hamming distance of near duplicates"
    )
    augment_factor: int = Field(
        1, ge=1, le=16, description="Each image plus factor-1 flipped/rotated/jittered copies"
    )
    seed: int = 0

    def cache_key(self) -> str:
        payload = json.dumps({"version": PREPARE_VERSION, **self.model_dump(mode="json")}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
