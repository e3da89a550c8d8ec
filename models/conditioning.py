"""The condition's strength over a conditional run, after Shahbazi et al. 2022 ("Collapse by Conditioning",
https://arxiv.org/abs/2206.06970): unconditional for the first epochs, then blended in linearly.

A function of the step alone, so a resumed run is at the same strength as the run it continues.
"""

from __future__ import annotations

import torch

from models.config import TrainConfig
from models.errors import TrainingError
from models.holdout import held_mask
from models.nets.conditional import set_strength

GRID_COLUMNS = 8  # latents per row of a conditional run's grid: the same ones in every label's row


def condition_strength(config: TrainConfig, step: int, iters_per_epoch: int) -> float:
    """0 before the transition, 1 after it, linear in between (a step function when it lasts 0 epochs)."""
    start = config.cond_transition_start_epochs * iters_per_epoch
    length = config.cond_transition_epochs * iters_per_epoch
    if length == 0:
        return 1.0 if step >= start else 0.0
    return min(1.0, max(0.0, (step - start) / length))


def apply_strength(nets: list[torch.nn.Module | None], config: TrainConfig, step: int, ipe: int) -> float:
    """Set G, D and the EMA copy to the strength of `step`; returns it."""
    value = condition_strength(config, step, ipe)
    for net in nets:
        set_strength(net, value)
    return value


def grid_inputs(fixed_noise: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents and labels for a grid with one row per label and the same GRID_COLUMNS latents in each."""
    columns = fixed_noise[:GRID_COLUMNS]
    z = columns.repeat(n_classes, 1, 1, 1)
    y = torch.arange(n_classes, device=fixed_noise.device).repeat_interleave(len(columns))
    return z, y


def cycled_labels(n: int, n_classes: int, device: torch.device) -> torch.Tensor:
    """0, 1, ..., K-1, 0, 1, ...: fixed labels for the fixed noise the detectors watch."""
    return torch.arange(n, device=device) % n_classes


def check_labels(labels: torch.Tensor | None, n_images: int, n_classes: int) -> str | None:
    """Why `labels` cannot go with n_images images of a K-class run, or None when they can."""
    if labels is None:
        return "a conditional run needs one label per image"
    if labels.dtype != torch.int64 or labels.dim() != 1 or len(labels) != n_images:
        got = f"{labels.dtype} {tuple(labels.shape)}"
        return f"labels must be an int64 tensor of {n_images} class indices; got {got}"
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        return f"labels must lie in 0..{n_classes - 1} (one per label name)"
    return None


def training_labels(config: TrainConfig, labels: torch.Tensor | None, n_images: int) -> torch.Tensor | None:
    """The labels of the images left after the holdout split (None for an unconditional run, which
    ignores labels); TrainingError when a conditional run's labels do not fit its images."""
    if not config.conditional:
        return None
    problem = check_labels(labels, n_images, len(config.label_names))
    if problem:
        raise TrainingError(problem)
    held = held_mask(n_images, config)
    return labels if held is None else labels[~held]
