"""Shared test setup. Helpers run their suites side by side on two cores, so torch gets one thread."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

torch.set_num_threads(1)


def synthetic_images(n: int = 16, height: int = 16, width: int | None = None, seed: int = 0) -> torch.Tensor:
    """n uint8 images N x 3 x H x W: a coloured disc on a coloured background, deterministic per seed."""
    width = width or height
    g = torch.Generator().manual_seed(seed)
    background = torch.rand(n, 3, 1, 1, generator=g)
    colour = torch.rand(n, 3, 1, 1, generator=g)
    centre = torch.rand(n, 2, 1, 1, generator=g)
    radius = 0.15 + 0.25 * torch.rand(n, 1, 1, generator=g)
    ys = torch.linspace(0, 1, height).view(1, height, 1)
    xs = torch.linspace(0, 1, width).view(1, 1, width)
    inside = ((ys - centre[:, 0]) ** 2 + (xs - centre[:, 1]) ** 2 < radius**2).unsqueeze(1)
    images = torch.where(inside, colour, background)
    return (images * 255).round().to(torch.uint8)


@pytest.fixture
def make_images() -> Callable[..., torch.Tensor]:
    """Factory fixture: make_images(n=16, height=16, width=None, seed=0) -> uint8 N x 3 x H x W."""
    return synthetic_images
