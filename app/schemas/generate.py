"""Shapes of POST /generate."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_SEED = 2**31 - 1


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: int
    checkpoint_id: int | None = Field(None, description="Default: the run's best checkpoint, else its latest")
    n: int = Field(
        64, ge=1, le=256, description="Images to draw (also capped by the server's generate_max_n)"
    )
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Default: a random seed, echoed back")
    format: Literal["png", "json", "zip"] = Field(
        "png", description="png grid, json base64 PNGs, zip of PNGs"
    )
    use_ema: bool = Field(True, description="Use the EMA generator weights when the checkpoint has them")
    label: str | None = Field(
        None, max_length=100, description="Conditional runs: every image of this label (e.g. Fire)"
    )
    labels: list[str] | None = Field(
        None, max_length=256, description="Conditional runs: one label per image (n entries)"
    )


class GenerateJson(BaseModel):
    seed: int
    checkpoint_id: int
    epoch: int = Field(..., description="the epoch the checkpoint was saved after")
    images: list[str] = Field(..., description="base64-encoded PNGs")
    labels: list[str] | None = Field(None, description="Each image's label (conditional runs)")


class InterpolateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: int
    checkpoint_id: int | None = None
    seed_a: int = Field(..., ge=0, le=MAX_SEED)
    seed_b: int = Field(..., ge=0, le=MAX_SEED)
    steps: int = Field(8, ge=2, le=64)
    format: Literal["png", "gif"] = "png"
    use_ema: bool = True
    label: str | None = Field(
        None, max_length=100, description="Conditional runs: the label kept along the strip (default: drawn)"
    )
    label_b: str | None = Field(
        None,
        max_length=100,
        description="Conditional runs: blend from `label` to this label along the strip "
        "(give seed_b = seed_a to keep the noise fixed)",
    )


class GenerationState(BaseModel):
    """What /generate is doing now, for a caller that waits (the Generate page shows it)."""

    waiting: int = Field(..., description="calls accepted and queued for a generation thread")
    running: int = Field(..., description="calls computing now")
    limit: int = Field(..., description="calls accepted at once; more get 429 with Retry-After")
    policy: str = Field(..., description="POKEGAN_GENERATE_PRIORITY")
    throttled: bool = Field(
        ..., description="generation used its CPU share: new calls run at idle priority (training first)"
    )
