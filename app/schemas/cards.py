"""Shapes of POST /cards."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.generate import MAX_SEED

MAX_CARDS = 9  # one A4 sheet


class CardsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: int
    checkpoint_id: int | None = Field(None, description="Default: the run's best checkpoint, else its latest")
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="Art seed of card 0; default random, echoed"
    )
    text_seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="Text seed of card 0 (default: the art seed); re-roll one alone"
    )
    label: str | None = Field(
        None, description="A card type for every card (Fire, Water, ...); default drawn"
    )
    n: int = Field(1, ge=1, le=MAX_CARDS, description="Cards to make (png: exactly 1)")
    format: Literal["png", "json", "pdf"] = Field(
        "png", description="png: one card image; json: fields and base64 PNGs; pdf: an A4 print sheet"
    )
    layout: dict[str, Any] | None = Field(None, description="A card layout (the shape of cards/layout.json)")


class AttackPublic(BaseModel):
    name: str
    cost: list[str]
    damage: int


class CardPublic(BaseModel):
    name: str
    hp: int
    type: str
    attacks: list[AttackPublic]
    weakness: str | None
    resistance: str | None
    retreat: int
    flavor: str
    source: str = Field(..., description="Which model made the words")
    seed: int
    text_seed: int
    image: str | None = Field(None, description="base64 PNG (json format)")


class CardsJson(BaseModel):
    seed: int
    text_seed: int
    checkpoint_id: int
    cards: list[CardPublic]
