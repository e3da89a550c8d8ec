"""Tiny synthetic sprites for the monitoring tests: coloured discs or squares on white, in [-1, 1]."""

from __future__ import annotations

import torch


def make_sprites(n: int, seed: int, px: int = 32) -> torch.Tensor:
    """n x 3 x px x px images drawn from one fixed distribution; different seeds give different draws."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(px).float(), torch.arange(px).float(), indexing="ij")
    images = torch.ones(n, 3, px, px)
    for image in images:
        for _ in range(2):
            cy, cx = (torch.rand(2, generator=g) * px * 0.6 + px * 0.2).tolist()
            r = (torch.rand(1, generator=g).item() * 0.25 + 0.1) * px
            color = torch.rand(3, generator=g)
            if torch.rand(1, generator=g).item() < 0.5:
                mask = (ys - cy) ** 2 + (xs - cx) ** 2 < r * r
            else:
                mask = ((ys - cy).abs() < r) & ((xs - cx).abs() < r)
            image[:, mask] = color[:, None]
    return images * 2 - 1


def collapsed(image: torch.Tensor, n: int, seed: int, noise: float = 0.01) -> torch.Tensor:
    """n copies of one C x H x W image plus tiny noise: what a collapsed generator draws."""
    g = torch.Generator().manual_seed(seed)
    return image.unsqueeze(0).repeat(n, 1, 1, 1) + noise * torch.randn(n, *image.shape, generator=g)
