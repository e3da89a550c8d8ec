"""Dataset shapes: what the API returns about an imported image set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SkippedItem(BaseModel):
    item: str
    reason: str


class DatasetBase(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)


class DatasetPublic(DatasetBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str = Field(..., description="importing | ready | failed")
    source_kind: str
    image_count: int
    progress: float
    skipped: list[SkippedItem]
    stats: dict[str, Any]
    error: str | None
    prepare: dict[str, Any] = Field(..., description="Preparation options the worker applies")
    created_at: datetime
    preview_url: str = Field(..., description="A PNG grid of the first images")
    thumbnail_urls: list[str] = Field(default_factory=list, description="Small PNGs for the preview grid")
    labels: dict[str, int] = Field(default_factory=dict, description="Label -> images, most common first")
    unlabelled: int | None = Field(None, description="Images without a label (None: no labels at all)")
    label_source: str | None = Field(None, description="folders | labels.csv | column '<name>'")
    label_rule: str | None = Field(None, description="How each image's label was read")
    label_warnings: list[str] = Field(default_factory=list)


class DatasetFolderCreate(DatasetBase):
    """Import the images under a folder on the server (one of settings.folder_import_roots)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(..., min_length=1, max_length=4096, description="Path of the folder on the server")


class DatasetPrepareUpdate(BaseModel):
    """A new name, and/or how the worker turns the raw images into training tensors (the size comes from
    each run's config)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="A new name for the dataset")
    prepare: dict[str, Any] | None = Field(
        None,
        description="PrepareOptions fields except height/width: fit, background, trim_borders, "
        "trim_tolerance, dedup, near_threshold, augment_factor, seed",
    )


class DatasetLabelsUpdate(BaseModel):
    """Label a CSV dataset by one column of its CSV (a list cell such as ['Fire', 'Flying'] gives Fire)."""

    model_config = ConfigDict(extra="forbid")

    column: str = Field(..., min_length=1, max_length=200, description="A column of the imported CSV")
