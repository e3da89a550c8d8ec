"""Real images kept out of training so the D-overfitting detector can compare D on seen and unseen images.

Karras et al. 2020 (https://arxiv.org/abs/2006.06676), section 2, watch D's outputs on a validation set for
exactly this. How many are held back is TrainConfig.holdout_count; which ones is a function of the seed
alone, so a resumed run holds back the same images.
"""

from __future__ import annotations

import torch

from models.config import TrainConfig


def split_holdout(data: torch.Tensor, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(training images in their original order, held-back images or None)."""
    held = held_mask(len(data), config)
    if held is None:
        return data, None
    return data[~held], data[held]


def held_mask(n: int, config: TrainConfig) -> torch.Tensor | None:
    """True for the images held back (None when none are); labels are split with the same mask."""
    count = config.holdout_count(n)
    if count == 0:
        return None
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + 999_983)
    held = torch.zeros(n, dtype=torch.bool)
    held[torch.randperm(n, generator=generator)[:count]] = True
    return held
