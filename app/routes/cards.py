"""JSON API: finished trading cards from a run's checkpoint (POST /cards): PNG, JSON or an A4 PDF sheet."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from PIL import Image
from sqlalchemy.orm import Session

from app import sampling
from app.card_text import text_model
from app.crud.artifacts import choose_checkpoint
from app.crud.labels import run_labels
from app.deps import GenerationSlotsDep, GeneratorCacheDep, SessionDep, SettingsDep
from app.errors import InvalidInputError
from app.routes.generate import generator_loader, run_limited
from app.schemas.cards import CardsJson, CardsRequest
from app.schemas.generate import MAX_SEED
from cards import TYPE_NAMES, Layout, LayoutError, MadeCard, TextModel, card_type, make_cards, sheet_pdf
from cards.layout import parse_layout
from core.settings import Settings

router = APIRouter(tags=["cards"])

CARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": CardsJson,  # FastAPI puts its schema (and the nested ones) under components
        "content": {"image/png": {}, "application/pdf": {}},
    }
}


@dataclass(frozen=True)
class _Source:
    run_id: int
    checkpoint_id: int
    checkpoint_path: str
    epoch: int
    model: TextModel
    art_label: tuple[int, str] | None  # a conditional run's label the card type names: (index, name)


@router.post("/cards", responses=CARD_RESPONSES, response_class=Response)
async def cards(
    body: CardsRequest,
    session: SessionDep,
    settings: SettingsDep,
    cache: GeneratorCacheDep,
    slots: GenerationSlotsDep,
) -> Response:
    """n cards (art from the checkpoint's generator, words from the dataset's card text or built in). On a
    conditional run whose labels include the card's type (label), the art is drawn for that label."""
    type_name = _type_name(body.label)
    layout = _layout(body.layout)
    if body.format == "png" and body.n != 1:
        raise InvalidInputError("format png is one card: ask for n = 1, or json / pdf", loc=("body", "n"))
    source = await run_in_threadpool(_source, session, settings, body, type_name)
    seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1 - body.n)
    text_seed = body.text_seed if body.text_seed is not None else seed
    if max(seed, text_seed) + body.n - 1 > MAX_SEED:
        raise InvalidInputError(f"seed + n - 1 must be at most {MAX_SEED}", loc=("body", "seed"))
    loader = generator_loader(cache, source.checkpoint_id, source.checkpoint_path, True)

    def work() -> list[MadeCard]:
        classes = None if source.art_label is None else [source.art_label[0]] * body.n
        drawn = sampling.draw(loader(), n=body.n, seed=seed, labels=classes)
        arts = [Image.fromarray(a) for a in drawn]
        return make_cards(
            arts,
            source.model,
            seed=seed,
            text_seed=text_seed,
            run=f"run #{source.run_id}",
            checkpoint=f"checkpoint #{source.checkpoint_id} (epoch {source.epoch})",
            type_name=type_name,
            layout=layout,
        )

    made = await run_limited(slots, work)
    headers = {
        "X-Seed": str(seed),
        "X-Text-Seed": str(text_seed),
        "X-Checkpoint-Id": str(source.checkpoint_id),
    }
    if body.format == "pdf":
        pdf = await run_in_threadpool(sheet_pdf, [m.image for m in made])
        headers["Content-Disposition"] = f'attachment; filename="cards-run{body.run_id}-seed{seed}.pdf"'
        return Response(pdf, media_type="application/pdf", headers=headers)
    if source.art_label is not None:
        headers["X-Art-Label"] = quote(source.art_label[1])
    if body.format == "json":
        encoded = await run_in_threadpool(lambda: [_public(m, with_image=True) for m in made])
        payload = {
            "seed": seed,
            "text_seed": text_seed,
            "checkpoint_id": source.checkpoint_id,
            "cards": encoded,
        }
        return JSONResponse(payload, headers=headers)
    headers["X-Card"] = json.dumps(_public(made[0], with_image=False))  # ASCII: json escapes the rest
    png = await run_in_threadpool(sampling.png_bytes, made[0].image)
    return Response(png, media_type="image/png", headers=headers)


def _source(session: Session, settings: Settings, body: CardsRequest, type_name: str | None) -> _Source:
    checkpoint = choose_checkpoint(session, run_id=body.run_id, checkpoint_id=body.checkpoint_id)
    names, _ = run_labels(session, body.run_id)
    by_name = {name.casefold(): index for index, name in enumerate(names)}
    asked = [name.strip().casefold() for name in (body.label, type_name) if name]  # 'Electric' is 'Lightning'
    index = next((by_name[name] for name in asked if name in by_name), None)
    return _Source(
        run_id=body.run_id,
        checkpoint_id=checkpoint.id,
        checkpoint_path=checkpoint.path,
        epoch=checkpoint.epoch,
        model=text_model(settings, dataset_id=checkpoint.run.dataset_id),
        art_label=None if index is None else (index, names[index]),
    )


def _type_name(label: str | None) -> str | None:
    if label is None or not label.strip():
        return None
    found = card_type(label)
    if found is None:
        raise InvalidInputError(
            f"unknown label {label!r}: give a card type, one of {', '.join(TYPE_NAMES)}",
            loc=("body", "label"),
        )
    return found


def _layout(data: dict[str, Any] | None) -> Layout | None:
    if data is None:
        return None
    try:
        return parse_layout(data, source="the layout")
    except LayoutError as exc:
        raise InvalidInputError(str(exc), loc=("body", "layout")) from exc


def _public(made: MadeCard, *, with_image: bool) -> dict[str, Any]:
    data = {**made.text.to_json(), "seed": made.seed, "text_seed": made.text_seed}
    if with_image:
        data["image"] = base64.b64encode(sampling.png_bytes(made.image)).decode("ascii")
    return data
