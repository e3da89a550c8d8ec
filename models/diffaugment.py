"""Differentiable augmentation applied identically to real and fake images before D.

Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", https://arxiv.org/abs/2006.10738
The ops follow the authors' reference DiffAugment_pytorch.py; randomness comes from the loop's generator
(drawn on the CPU) so runs are reproducible and resumable, and H != W is handled.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(
    x: torch.Tensor, ops: tuple[str, ...], generator: torch.Generator, p: float = 1.0
) -> torch.Tensor:
    """Apply the policy's ops in order ("color", "translation", "cutout"); an empty policy is identity.
    With p < 1 (adaptive augmentation) each op's function touches a sample with probability p; the op's
    random draws are made either way, so the generator advances the same for every p."""
    for op in ops:
        for fn in AUGMENT_FNS[op]:
            if p >= 1.0:
                x = fn(x, generator)
                continue
            keep = torch.rand(x.size(0), 1, 1, 1, generator=generator) >= p
            x = torch.where(keep.to(x.device, non_blocking=True), x, fn(x, generator))
    return x


def _uniform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(x.size(0), 1, 1, 1, generator=generator).to(x.device, x.dtype, non_blocking=True)


def rand_brightness(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x + (_uniform(x, generator) - 0.5)


def rand_saturation(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    x_mean = x.mean(dim=1, keepdim=True)
    return (x - x_mean) * (_uniform(x, generator) * 2) + x_mean


def rand_contrast(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    x_mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - x_mean) * (_uniform(x, generator) + 0.5) + x_mean


def _randint(low: int, high: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(low, high, (n, 1, 1), generator=generator).to(device, non_blocking=True)


def rand_translation(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size, filling with zeros."""
    n, _, h, w = x.shape
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tr_h = _randint(-shift_h, shift_h + 1, n, generator, x.device)
    tr_w = _randint(-shift_w, shift_w + 1, n, generator, x.device)
    grid_b, grid_h, grid_w = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    grid_h = torch.clamp(grid_h + tr_h + 1, 0, h + 1)
    grid_w = torch.clamp(grid_w + tr_w + 1, 0, w + 1)
    x_pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return x_pad.permute(0, 2, 3, 1).contiguous()[grid_b, grid_h, grid_w].permute(0, 3, 1, 2)


def rand_cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random rectangle of `ratio` x the image size per image."""
    n, _, h, w = x.shape
    cut_h, cut_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    off_h = _randint(0, h + (1 - cut_h % 2), n, generator, x.device)
    off_w = _randint(0, w + (1 - cut_w % 2), n, generator, x.device)
    grid_b, grid_h, grid_w = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(cut_h, device=x.device),
        torch.arange(cut_w, device=x.device),
        indexing="ij",
    )
    grid_h = torch.clamp(grid_h + off_h - cut_h // 2, min=0, max=h - 1)
    grid_w = torch.clamp(grid_w + off_w - cut_w // 2, min=0, max=w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[grid_b, grid_h, grid_w] = 0
    return x * mask.unsqueeze(1)


AUGMENT_FNS = {
    "color": (rand_brightness, rand_saturation, rand_contrast),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
}
