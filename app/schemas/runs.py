"""Run shapes: what a client sends to start training and what it reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from models import series


class RunBase(BaseModel):
    name: str | None = Field(None, max_length=200, description="Defaults to '<dataset> · <preset>'")
    preset: str | None = Field(None, max_length=60, description="A named preset; config values override it")


class RunCreate(RunBase):
    model_config = ConfigDict(extra="forbid")

    dataset_id: int
    config: dict[str, Any] = Field(default_factory=dict, description="TrainConfig fields to set")
    policy: Literal["warn", "stop", "rollback"] = Field(
        "warn",
        description="What the failure detectors do: warn = log events only; stop = end the run at a "
        "sustained failure; rollback = go back to the best earlier checkpoint with lower learning rates "
        "(at most twice), then stop",
    )


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    status: str = Field(..., description="queued | running | completed | failed | cancelled | interrupted")
    dataset_id: int
    preset: str | None
    config: dict[str, Any] = Field(..., description="Every TrainConfig value, defaults filled in")
    epoch: int
    iteration: int
    step: int
    total_steps: int
    images_per_s: float | None
    error: str | None
    cancel_requested: bool
    worker: str | None
    policy: str = Field(..., description="warn | stop | rollback: what the failure detectors do")
    best_checkpoint_id: int | None = Field(
        ..., description="The checkpoint /generate uses by default: the best-scoring one outside failures"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    elapsed_s: float | None = Field(
        None, description="Seconds since the run started (to its end if finished)"
    )
    eta_s: float | None = Field(None, description="Estimated seconds left, from images/s; running runs only")


class CheckpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    epoch: int
    step: int
    quality: dict[str, Any]
    created_at: datetime


class GridPublic(BaseModel):
    epoch: int
    step: int
    url: str


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    step: int
    kind: str
    severity: str
    message: str
    evidence: dict[str, Any]
    created_at: datetime


class GradStatPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: int
    net: str
    layer: str
    mean_abs: float
    max_abs: float


class _MetricPosition(BaseModel):
    step: int
    epoch: int
    iteration: int


# One training step: its position and every declared series (models/series.py), null where not finite.
MetricPoint = create_model(
    "MetricPoint",
    __base__=_MetricPosition,
    __doc__="One training step: D(x), D(G(z)) before the D step and after the G step, and any later series.",
    **{s.name: (float | None, Field(description=s.help or s.label)) for s in series.SERIES},
)


class SeriesPublic(BaseModel):
    """A metric series as the charts draw it: GET /api/series (the run page embeds the same list)."""

    name: str
    label: str
    chart: str
    loss: str | None
    color: str
    help: str


def run_public(run: Any) -> RunPublic:
    """The API view of a Run row, with elapsed time and ETA worked out."""
    from app.run_timing import elapsed_seconds, eta_seconds

    public = RunPublic.model_validate(run)
    return public.model_copy(update={"elapsed_s": elapsed_seconds(run), "eta_s": eta_seconds(run)})
