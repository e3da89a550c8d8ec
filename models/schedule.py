"""Learning-rate schedules as a factor of the initial lr at each iteration (wrapped in torch's LambdaLR)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from models.config import TrainConfig


def lr_factor_fn(config: TrainConfig, iters_per_epoch: int) -> Callable[[int], float]:
    """factor(step) for the config's schedule; step counts completed iterations from 0."""
    total = max(1, config.epochs * iters_per_epoch)
    floor = config.lr_min_factor

    def constant(step: int) -> float:
        return 1.0

    def step_decay(step: int) -> float:
        return config.lr_gamma ** (step // (config.lr_step_epochs * iters_per_epoch))

    def cosine(step: int) -> float:
        t = min(step / total, 1.0)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    def linear(step: int) -> float:
        return 1.0 - (1 - floor) * min(step / total, 1.0)

    return {"constant": constant, "step": step_decay, "cosine": cosine, "linear": linear}[config.lr_schedule]


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, iters_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A plain function as the lambda keeps the schedule out of the state dict, so a longer resumed run
    follows its new length while base lrs (halved by NaN rollbacks) and the position are restored."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor_fn(config, iters_per_epoch))


def set_base_lrs(
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR, base_lrs: list[float]
) -> None:
    """Replace the schedule's initial learning rates, keeping its position (NaN rollbacks halve them)."""
    scheduler.base_lrs = list(base_lrs)
    for group, base, factor in zip(optimizer.param_groups, base_lrs, scheduler.lr_lambdas, strict=True):
        group["lr"] = base * factor(scheduler.last_epoch)
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
