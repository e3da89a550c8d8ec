"""Offline augmentation: extra copies of each prepared image, made once and seeded."""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from datasets.decode import RGB

MAX_ROTATION_DEG = 10.0
JITTER = 0.08  # brightness, contrast and saturation vary by at most this fraction


def augmented_copies(
    image: torch.Tensor, copies: int, *, seed: int, index: int, background: RGB
) -> list[torch.Tensor]:
    """`copies` variants of a 3 x H x W uint8 image: maybe flipped, rotated up to ±10°, mildly jittered.

    Seeded per (seed, index, copy) so the result does not depend on processing order.
    """
    variants = []
    for copy in range(1, copies + 1):
        rng = np.random.default_rng([seed, index, copy])
        out = F.horizontal_flip(image) if rng.random() < 0.5 else image
        out = F.rotate(
            out,
            float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)),
            interpolation=InterpolationMode.BILINEAR,
            fill=[float(c) for c in background],
        )
        out = F.adjust_brightness(out, float(rng.uniform(1 - JITTER, 1 + JITTER)))
        out = F.adjust_contrast(out, float(rng.uniform(1 - JITTER, 1 + JITTER)))
        out = F.adjust_saturation(out, float(rng.uniform(1 - JITTER, 1 + JITTER)))
        variants.append(out)
    return variants
