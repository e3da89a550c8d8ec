"""Small factories for web tests: rows for datasets, runs, metrics, checkpoints and grids; upload files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.db.tables import Checkpoint, Dataset, Event, GradStat, Grid, Metric, Run
from core.settings import Settings

TINY_CONFIG: dict[str, Any] = {
    "arch": "dcgan",
    "image_size": 16,
    "nz": 8,
    "ngf": 4,
    "ndf": 4,
    "batch_size": 4,
    "epochs": 2,
    "device": "cpu",
    "grad_stats_every": 1,
    "seed": 3,
}


def png_bytes(seed: int = 0, px: int = 20) -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (px, px, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def image_zip(n: int, *, extra: dict[str, bytes] | None = None) -> bytes:
    members = {f"sprites/mon-{i:03d}.png": png_bytes(i) for i in range(n)}
    return zip_bytes({**members, **(extra or {})})


def make_dataset(session: Session, **fields: Any) -> Dataset:
    values = {"name": "shapes", "status": "ready", "source_kind": "zip", "image_count": 32, "progress": 1.0}
    dataset = Dataset(**{**values, **fields})
    session.add(dataset)
    session.commit()
    return dataset


def make_run(session: Session, dataset: Dataset, **fields: Any) -> Run:
    values: dict[str, Any] = {
        "name": "run",
        "dataset_id": dataset.id,
        "config": dict(TINY_CONFIG),
        "status": "queued",
        "total_steps": 100,
    }
    run = Run(**{**values, **fields})
    session.add(run)
    session.commit()
    return run


def add_metrics(session: Session, run: Run, steps: int, *, values: np.ndarray | None = None) -> np.ndarray:
    """Bulk-insert `steps` metric rows (steps 1..n); returns the n x 5 series values used."""
    rng = np.random.default_rng(run.id)
    series = values if values is not None else rng.normal(1.0, 0.3, size=(steps, 5))
    rows = [
        {
            "run_id": run.id,
            "step": i + 1,
            "epoch": i // 100,
            "iteration": i % 100,
            "loss_d": float(s[0]),
            "loss_g": float(s[1]),
            "d_x": float(s[2]),
            "d_g_z1": float(s[3]),
            "d_g_z2": float(s[4]),
        }
        for i, s in enumerate(series)
    ]
    session.execute(insert(Metric), rows)
    session.commit()
    return series


def add_grid(session: Session, settings: Settings, run: Run, epoch: int, *, color: int = 0) -> Grid:
    folder = settings.run_dir(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"grid-{epoch:05d}.png"
    Image.new("RGB", (36, 36), (color, 255 - color, 128)).save(path)
    grid = Grid(run_id=run.id, epoch=epoch, step=epoch * 10, path=str(path))
    session.add(grid)
    session.commit()
    return grid


def add_checkpoint_row(session: Session, run: Run, path: Path, *, epoch: int, step: int) -> Checkpoint:
    checkpoint = Checkpoint(run_id=run.id, epoch=epoch, step=step, path=str(path))
    session.add(checkpoint)
    session.commit()
    return checkpoint


def add_event(session: Session, run: Run, step: int, kind: str = "collapse") -> Event:
    event = Event(run_id=run.id, step=step, kind=kind, severity="warning", message=f"{kind} suspected")
    session.add(event)
    session.commit()
    return event


def add_grad_stats(session: Session, run: Run, step: int) -> None:
    session.add_all(
        GradStat(run_id=run.id, step=step, net=net, layer=layer, mean_abs=0.01 * (i + 1), max_abs=0.1)
        for i, (net, layer) in enumerate([("G", "body.0"), ("G", "head"), ("D", "body.0"), ("D", "head")])
    )
    session.commit()


def queued_messages(settings: Settings) -> list[dict[str, Any]]:
    """Celery messages waiting in the broker (filesystem folder or Redis lists) as decoded JSON."""
    if settings.resolved_broker_url.startswith("filesystem://"):
        folder = settings.broker_dir / "messages"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.msg"))] if folder.is_dir() else []
    import redis

    from core.broker import broker_connection

    url, options = broker_connection(settings)
    prefix = options.get("global_keyprefix", "")
    client = redis.Redis.from_url(url)
    try:
        messages = []
        for queue in (settings.worker_queue, "datasets"):
            messages += [json.loads(raw) for raw in client.lrange(f"{prefix}{queue}", 0, -1)]
        return messages
    finally:
        client.close()


def queued_tasks(settings: Settings) -> list[tuple[str, str]]:
    """(task name, argsrepr) of every queued message, e.g. ("pokegan.train_run", "[3]")."""
    return [
        (m.get("headers", {}).get("task"), m.get("headers", {}).get("argsrepr"))
        for m in queued_messages(settings)
    ]
