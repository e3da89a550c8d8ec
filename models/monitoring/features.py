"""Spaces in which image batches are compared: downsampled pixels and fixed random convolutional features.

Random, untrained features need no downloaded weights and, being fixed by a seed, give numbers that are
comparable from one epoch to the next. Naeem et al. 2020 (https://arxiv.org/abs/2002.09797) found randomly
initialised embeddings usable for fidelity/diversity metrics.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_WIDTHS = (32, 64, 128)


class ImageBatchError(ValueError):
    """An image or feature batch the monitors cannot use."""


def check_images(images: Tensor, name: str, *, min_count: int = 2) -> Tensor:
    """Return `images` as a float N x C x H x W tensor on the CPU, or raise ImageBatchError."""
    if images.dim() != 4:
        raise ImageBatchError(
            f"{name} must be a batch of images shaped N x C x H x W, got shape {tuple(images.shape)}"
        )
    if images.shape[0] < min_count:
        raise ImageBatchError(f"{name} needs at least {min_count} images, got {images.shape[0]}")
    return images.detach().float().cpu()


def flat_features(features: Tensor, name: str, *, min_count: int = 2) -> Tensor:
    """Flatten a feature batch to N x F (float, CPU), or raise ImageBatchError."""
    if features.dim() < 2 or features.shape[0] < min_count:
        raise ImageBatchError(
            f"{name} must hold at least {min_count} feature rows, got shape {tuple(features.shape)}"
        )
    return features.detach().float().cpu().reshape(features.shape[0], -1)


def downsample(images: Tensor, px: int) -> Tensor:
    """Resize to px x px (area averaging when shrinking) and flatten to N x (C*px*px)."""
    if images.shape[-2:] != (px, px):
        if images.shape[-1] >= px and images.shape[-2] >= px:
            images = F.adaptive_avg_pool2d(images, px)
        else:
            images = F.interpolate(images, size=(px, px), mode="bilinear", align_corners=False)
    return images.reshape(images.shape[0], -1)


class RandomFeatures:
    """A fixed three-layer random conv net on px x px images; the same seed always gives the same weights.

    Weights come from a private generator, so building one never disturbs the training RNG.
    """

    def __init__(self, channels: int, *, px: int = 32, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.px = px
        self.weights: list[Tensor] = []
        in_ch = channels
        for out_ch in _WIDTHS:
            std = math.sqrt(2.0 / (in_ch * 16))  # He init for 4x4 kernels: activations keep their scale
            self.weights.append(torch.randn(out_ch, in_ch, 4, 4, generator=generator) * std)
            in_ch = out_ch

    @torch.no_grad()
    def __call__(self, images: Tensor) -> Tensor:
        x = downsample(images, self.px).reshape(images.shape[0], images.shape[1], self.px, self.px)
        for weight in self.weights:
            x = F.leaky_relu(F.conv2d(x, weight, stride=2, padding=1), 0.2)
        # state size. 128 x (px/8) x (px/8) -> 128 x 2 x 2, flattened to 512
        return F.adaptive_avg_pool2d(x, 2).flatten(1)


def random_features(images: Tensor, *, px: int = 32, seed: int = 0) -> Tensor:
    """Features of `images` (N x C x H x W) from the fixed random net for their channel count."""
    return RandomFeatures(images.shape[1], px=px, seed=seed)(images)


def pairwise_distances(x: Tensor, y: Tensor | None = None) -> Tensor:
    """Euclidean distances between the rows of x and y (or x itself), in float64 for tiny distances."""
    x = x.double()
    return torch.cdist(x, x if y is None else y.double())


def off_diagonal(distances: Tensor) -> Tensor:
    """The distances of a square self-distance matrix without its zero diagonal, flattened."""
    n = distances.shape[0]
    mask = ~torch.eye(n, dtype=torch.bool)
    return distances[mask]


def mean_pairwise_distance(x: Tensor) -> float:
    """Mean distance between distinct rows of x: the spread of a batch."""
    return off_diagonal(pairwise_distances(x)).mean().item()


def nearest_other(distances: Tensor, k: int = 1) -> Tensor:
    """Distance from each row to its k-th nearest other row of the same square distance matrix."""
    masked = distances + torch.diag(torch.full((distances.shape[0],), math.inf, dtype=distances.dtype))
    return masked.kthvalue(k, dim=1).values
