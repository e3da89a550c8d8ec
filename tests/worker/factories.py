"""Small factories for worker tests: tiny image datasets on disk, dataset and run rows, a tiny config."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session, sessionmaker

from core.db.session import session_scope
from core.db.tables import Dataset, Run
from core.run_status import QUEUED
from core.settings import Settings
from models.config import TrainConfig

# A network that trains a step in milliseconds on one CPU thread.
TINY_CONFIG: dict[str, Any] = {
    "arch": "dcgan",
    "image_size": 16,
    "nz": 8,
    "ngf": 8,
    "ndf": 8,
    "batch_size": 8,
    "epochs": 2,
    "device": "cpu",
    "log_every": 1,
    "grad_stats_every": 2,
    "seed": 1,
    "holdout_fraction": 0.0,  # every image trains: iterations per epoch = images // batch_size
}


def write_images(raw_dir: Path, n: int, *, px: int = 24, seed: int = 0) -> list[Path]:
    """n PNGs of coloured shapes on white."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        image = Image.new("RGB", (px, px), "white")
        draw = ImageDraw.Draw(image)
        x0, y0 = rng.randrange(px // 2), rng.randrange(px // 2)
        size = rng.randrange(px // 4, px // 2)
        color = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if i % 2 else draw.rectangle
        shape((x0, y0, x0 + size, y0 + size), fill=color)
        path = raw_dir / f"sprite-{i:04d}.png"
        image.save(path)
        paths.append(path)
    return paths


def make_dataset(
    session_factory: sessionmaker[Session], settings: Settings, *, n: int = 32, name: str = "shapes"
) -> int:
    """A ready dataset of n images in dataset_dir(id)/raw; returns its id."""
    with session_scope(session_factory) as session:
        dataset = Dataset(name=name, status="ready", source_kind="images", image_count=n, progress=1.0)
        session.add(dataset)
        session.flush()
        dataset_id = dataset.id
    write_images(settings.dataset_dir(dataset_id) / "raw", n)
    return dataset_id


def make_run(session_factory: sessionmaker[Session], dataset_id: int, **overrides: Any) -> int:
    """A queued run with TINY_CONFIG plus `overrides`; returns its id."""
    config = TrainConfig(**{**TINY_CONFIG, **overrides})
    with session_scope(session_factory) as session:
        run = Run(
            name="test run",
            dataset_id=dataset_id,
            config=config.model_dump(mode="json"),
            status=QUEUED,
        )
        session.add(run)
        session.flush()
        return run.id
