"""After a conditional run: judge its final generator's class consistency and keep it beside the run."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from models.config import TrainConfig
from models.generate import latents, load_generator, render
from models.monitoring.class_consistency import SAMPLES_PER_LABEL, class_consistency, save_report
from models.monitoring.features import ImageBatchError
from models.store import CheckpointInfo

log = logging.getLogger(__name__)


def write_class_consistency(
    run_dir: Path, config: TrainConfig, images: torch.Tensor, labels: torch.Tensor, checkpoint: CheckpointInfo
) -> dict | None:
    """Judge the checkpoint's generator (EMA when on) on the run's labelled images; the result goes to
    run_dir/class_consistency.json for the run report. None (and a log line) when the labels are too few."""
    state = torch.load(checkpoint.path, map_location="cpu", weights_only=True)
    generator = load_generator(state)
    seeds = list(range(SAMPLES_PER_LABEL))

    def sample(classes: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return render(generator, latents(seeds[: len(classes)], generator.nz), classes).mul(2).sub(1)

    try:
        result = class_consistency(images, labels, list(config.label_names), sample, seed=config.seed)
    except ImageBatchError as exc:
        log.info("no class consistency for %s: %s", run_dir.name, exc)
        return None
    report = {**result.to_dict(), "step": checkpoint.step, "epoch": checkpoint.epoch}
    save_report(run_dir, report)
    return report
