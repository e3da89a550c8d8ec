"""A run's report: what was trained and how long, the C2ST curve, the best checkpoint, every failure episode
with its suggested fix, and a one-sentence verdict. The JSON route and the HTML page both render this dict.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.crud import artifacts, metrics
from app.run_timing import elapsed_seconds
from core.db.tables import Checkpoint, Event, Run
from core.settings import Settings
from models.config import UNLABELLED_LABEL
from models.monitoring.class_consistency import read_report
from models.monitoring.hints import hint
from models.monitoring.selection import DISQUALIFYING_KINDS

TRAINED_FIELDS = (
    "arch", "image_size", "loss", "lr_g", "lr_d", "batch_size", "epochs", "ema_decay", "spectral_norm",
    "diffaugment",
)  # fmt: skip
REPORTED_KINDS = DISQUALIFYING_KINDS | {"d_overfitting", "nan_rollback", "hook_rollback", "hook_stop"}


def build_report(session: Session, run: Run, settings: Settings | None = None) -> dict[str, Any]:
    """The report of `run` as plain JSON-ready data (image paths stay out; see report_images). With
    settings, a conditional run's class consistency (saved by the worker beside the run) is included."""
    checkpoints = artifacts.list_checkpoints(session, run_id=run.id)
    best = artifacts.best_checkpoint(session, run=run)
    curve = c2st_curve(checkpoints)
    episodes = failure_episodes(metrics.list_events(session, run_id=run.id), run.config)
    return {
        "run": {
            "id": run.id,
            "name": run.name,
            "status": run.status,
            "preset": run.preset,
            "policy": run.policy,
            "dataset": {"id": run.dataset_id, "name": run.dataset.name if run.dataset else None},
            "config": {k: run.config.get(k) for k in TRAINED_FIELDS},
        },
        "trained": {
            "steps": run.step,
            "total_steps": run.total_steps,
            "epochs": run.epoch,
            "elapsed_s": _round(elapsed_seconds(run)),
            "images_per_s": _round(run.images_per_s),
        },
        "c2st_curve": curve,
        "best": _best(best, {g.epoch for g in artifacts.list_grids(session, run_id=run.id)}),
        "episodes": episodes,
        "verdict": verdict(best, curve, episodes),
        "class_consistency": read_report(settings.run_dir(run.id)) if settings is not None else None,
        "unlabelled": unlabelled_images(run),
    }


def unlabelled_images(run: Run) -> dict[str, Any] | None:
    """A conditional run's dataset images without a label, and whether the run trained them (as a label
    of their own) or left them out; None for an unconditional run."""
    config = run.config or {}
    if not config.get("conditional") or run.dataset is None:
        return None
    count = int((run.dataset.stats or {}).get("unlabelled") or 0)
    return {"count": count, "kept": UNLABELLED_LABEL in (config.get("label_names") or [])}


def c2st_curve(checkpoints: list[Checkpoint]) -> list[dict[str, Any]]:
    """(epoch, step, c2st, 95% interval, copying) of every judged checkpoint, in step order."""
    points = []
    for c in checkpoints:
        q = c.quality or {}
        if isinstance(q.get("c2st"), int | float):
            points.append(
                {
                    "epoch": c.epoch,
                    "step": c.step,
                    "c2st": q["c2st"],
                    "ci_low": q.get("c2st_ci_low"),
                    "ci_high": q.get("c2st_ci_high"),
                    "copying": bool(q.get("copying")),
                }
            )
    return points


def failure_episodes(events: list[Event], config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Events folded into episodes: one per start, with its worst severity, its end and the suggested fix.
    A conditional run's per-label detectors keep an episode per label (the evidence names it)."""
    episodes: list[dict[str, Any]] = []
    open_by_kind: dict[tuple[str, str | None], dict[str, Any]] = {}
    for event in events:
        if event.kind not in REPORTED_KINDS:
            continue
        state = (event.evidence or {}).get("state")
        key = (event.kind, (event.evidence or {}).get("label"))
        current = open_by_kind.get(key)
        if current is not None and state in ("sustained", "cleared"):
            if state == "sustained":
                current["severity"] = "error"
            else:
                current["end_step"] = event.step
                del open_by_kind[key]
            continue
        episode = {
            "kind": event.kind,
            "severity": event.severity,
            "start_step": event.step,
            "end_step": None,
            "message": event.message,
            "evidence": event.evidence or {},
            "fix": hint(event.kind, config) or None,
        }
        episodes.append(episode)
        if state == "started":
            open_by_kind[key] = episode
    return episodes


def verdict(best: Checkpoint | None, curve: list[dict[str, Any]], episodes: list[dict[str, Any]]) -> str:
    """One sentence a user can act on."""
    fix = next((e["fix"] for e in episodes if e["fix"]), None)
    if not curve:
        return "Not judged yet: the C2ST is measured at epoch ends, and no epoch has been judged."
    score = (best.quality or {}).get("c2st") if best is not None else None
    if not isinstance(score, int | float):
        if all(p["copying"] for p in curve):
            return "Every judged checkpoint copies training images; try DiffAugment or more images."
        return f"No checkpoint outside a failure episode was judged; {fix or 'try the recommended preset'}."
    c = f"C2ST {score:.2f}"
    if score >= 0.9:
        hint = fix or "train longer or try the recommended preset"
        return f"Samples are still easy to tell from real ones ({c}); {hint}."
    if score >= 0.7:
        return f"Samples are told from real ones most of the time ({c}); {fix or 'train longer'}."
    if score >= 0.6:
        return f"Samples are hard to tell from real ones ({c}); more training may still help."
    return f"A small classifier can barely tell samples from held-back real images ({c})."


def report_images(session: Session, settings: Settings, run: Run, report: dict[str, Any]) -> dict[str, str]:
    """Data URIs of the best checkpoint's grid and of the real images, for a self-contained page."""
    images = {}
    best = report["best"]
    if best is not None and best["grid_epoch"] is not None:
        images["best"] = _data_uri(artifacts.grid_file(session, run_id=run.id, epoch=best["grid_epoch"]))
    real = settings.run_dir(run.id) / "real.png"
    if real.is_file():
        images["real"] = _data_uri(real)
    return images


def _best(best: Checkpoint | None, grid_epochs: set[int]) -> dict[str, Any] | None:
    if best is None:
        return None
    return {
        "checkpoint_id": best.id,
        "epoch": best.epoch,
        "step": best.step,
        "quality": best.quality or {},
        "grid_epoch": best.epoch if best.epoch in grid_epochs else None,
    }


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
