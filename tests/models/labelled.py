"""Tiny labelled image sets for the conditional tests: one colour per label, with a little noise."""

from __future__ import annotations

import torch

COLOURS = {"Fire": (230, 40, 30), "Water": (30, 60, 230), "Grass": (40, 200, 60)}


def coloured(n_per_label: int, size: int = 16, names: tuple[str, ...] = ("Fire", "Water"), seed: int = 0):
    """(uint8 images N x 3 x size x size, int64 labels), labels interleaved 0, 1, ..., 0, 1, ..."""
    g = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for _ in range(n_per_label):
        for index, name in enumerate(names):
            base = torch.tensor(COLOURS[name], dtype=torch.float32).view(3, 1, 1)
            noise = torch.randn(3, size, size, generator=g) * 12
            images.append((base + noise).clamp(0, 255).round().to(torch.uint8))
            labels.append(index)
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)
