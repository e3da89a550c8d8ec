"""Shape of GET /healthz."""

from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    database: str
    broker: str
