"""JSON API: draw new images from a run's checkpoint (POST /generate, POST /generate/interpolate)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from app import sampling
from app.crud.artifacts import choose_checkpoint
from app.crud.labels import run_labels
from app.deps import GenerationSlotsDep, GeneratorCacheDep, SessionDep, SettingsDep
from app.errors import BusyError, InvalidInputError
from app.generator_cache import GenerationSlots, GeneratorCache
from app.label_sampling import resolve_labels
from app.schemas.generate import (
    MAX_SEED,
    GenerateJson,
    GenerateRequest,
    GenerationState,
    InterpolateRequest,
)
from core.db.tables import Checkpoint

router = APIRouter(tags=["generate"])

T = TypeVar("T")
IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "application/json": {"schema": GenerateJson.model_json_schema()}}}
}


@router.post("/generate", responses=IMAGE_RESPONSES, response_class=Response)
async def generate(
    body: GenerateRequest,
    session: SessionDep,
    settings: SettingsDep,
    cache: GeneratorCacheDep,
    slots: GenerationSlotsDep,
) -> Response:
    """n new images from a checkpoint (default: the run's best, else latest) as a PNG grid, JSON or ZIP.
    A conditional run takes `label` or `labels` (422 listing the known ones for an unknown label); without
    either its labels are drawn in proportion to the training data. X-Labels lists each image's label."""
    if body.n > settings.generate_max_n:
        raise InvalidInputError(
            f"n must be at most {settings.generate_max_n} on this server", loc=("body", "n")
        )
    checkpoint = await _checkpoint(session, body.run_id, body.checkpoint_id)
    seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
    names, counts = await run_in_threadpool(run_labels, session, body.run_id)
    classes = resolve_labels(names, counts, label=body.label, labels=body.labels, n=body.n, seed=seed)
    loader = generator_loader(cache, checkpoint.id, checkpoint.path, body.use_ema)
    images = await run_limited(slots, lambda: sampling.draw(loader(), n=body.n, seed=seed, labels=classes))
    headers = _checkpoint_headers(checkpoint) | {"X-Seed": str(seed)}
    label_list = [names[c] for c in classes] if classes is not None else None
    if label_list is not None:
        headers["X-Labels"] = ",".join(quote(name) for name in label_list)
    if body.format == "json":
        encoded = await run_in_threadpool(sampling.png_base64_list, images)
        return JSONResponse(
            {
                "seed": seed,
                "checkpoint_id": checkpoint.id,
                "epoch": checkpoint.epoch,
                "images": encoded,
                "labels": label_list,
            },
            headers=headers,
        )
    if body.format == "zip":
        archive = await run_in_threadpool(sampling.zip_bytes, images, seed=seed)
        headers["Content-Disposition"] = f'attachment; filename="run{body.run_id}-seed{seed}.zip"'
        return Response(archive, media_type="application/zip", headers=headers)
    png = await run_in_threadpool(lambda: sampling.png_bytes(sampling.grid_image(images)))
    return Response(png, media_type="image/png", headers=headers)


@router.post(
    "/generate/interpolate", response_class=Response, responses={200: {"content": {"image/png": {}}}}
)
async def interpolate(
    body: InterpolateRequest,
    session: SessionDep,
    cache: GeneratorCacheDep,
    slots: GenerationSlotsDep,
) -> Response:
    """A strip (PNG) or animation (GIF) walking from seed_a's latent to seed_b's along the sphere (slerp);
    on a conditional run, from `label` to `label_b` as well when both are given."""
    checkpoint = await _checkpoint(session, body.run_id, body.checkpoint_id)
    names, counts = await run_in_threadpool(run_labels, session, body.run_id)
    classes = resolve_labels(names, counts, label=body.label, labels=None, n=1, seed=body.seed_a)
    ends = None
    if body.label_b is not None:
        if body.label is None:
            raise InvalidInputError(
                "label_b needs label: the strip blends from label to label_b", loc=("body", "label")
            )
        ends = resolve_labels(names, counts, label=body.label_b, labels=None, n=1, seed=body.seed_a)
    loader = generator_loader(cache, checkpoint.id, checkpoint.path, body.use_ema)
    images = await run_limited(
        slots,
        lambda: sampling.draw_interpolation(
            loader(),
            seed_a=body.seed_a,
            seed_b=body.seed_b,
            steps=body.steps,
            label=classes[0] if classes is not None else None,
            label_b=ends[0] if ends is not None else None,
        ),
    )
    headers = _checkpoint_headers(checkpoint)
    if body.format == "gif":
        return Response(
            await run_in_threadpool(sampling.gif_bytes, images), media_type="image/gif", headers=headers
        )
    strip = await run_in_threadpool(
        lambda: sampling.png_bytes(sampling.grid_image(images, columns=len(images)))
    )
    return Response(strip, media_type="image/png", headers=headers)


@router.get("/generate/state", response_model=GenerationState)
def generation_state(slots: GenerationSlotsDep) -> dict[str, Any]:
    """Calls queued and running, and whether generation is over its CPU share (then it waits for training)."""
    return slots.state()


def _checkpoint_headers(checkpoint: Checkpoint) -> dict[str, str]:
    return {"X-Checkpoint-Id": str(checkpoint.id), "X-Checkpoint-Epoch": str(checkpoint.epoch)}


async def _checkpoint(session: Session, run_id: int, checkpoint_id: int | None) -> Checkpoint:
    """choose_checkpoint in a thread: under load, waiting for a pooled DB connection on the event loop would
    stall every request, including those that would give a connection back, until the pool timeout."""
    return await run_in_threadpool(choose_checkpoint, session, run_id=run_id, checkpoint_id=checkpoint_id)


def generator_loader(
    cache: GeneratorCache, checkpoint_id: int, path: str, use_ema: bool
) -> Callable[[], Any]:
    return lambda: cache.get(
        (checkpoint_id, use_ema), lambda: sampling.load_generator_file(Path(path), use_ema=use_ema)
    )


async def run_limited(slots: GenerationSlots, work: Callable[[], T]) -> T:
    """Run `work` on a generation thread if a slot is free; 429 with Retry-After when all are busy."""
    if not slots.try_acquire():
        raise BusyError(
            f"the server is already generating {slots.limit} batch(es); try again in a moment",
            headers={"Retry-After": "2"},
        )
    try:
        return await slots.run(work)
    finally:
        slots.release()
