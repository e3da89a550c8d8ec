"""The two module shapes every family shares, DCGAN weight init, and D's normalisation choices."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class Generator(nn.Module):
    """Maps N x nz x 1 x 1 noise to N x nc x H x W images in [-1, 1]."""

    def __init__(self, main: nn.Sequential, *, nz: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.main = main
        self.nz = nz
        self.image_shape = image_shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """Maps images in [-1, 1] to one logit per image (no sigmoid: the loss decides how to read it)."""

    def __init__(self, body: nn.Sequential, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).reshape(-1)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the flattened activations before the last conv (feature matching, detectors)."""
        h = self.body(x)
        return self.head(h).reshape(-1), h.flatten(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)


def d_norm(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02), biases 0."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def add_spectral_norm(net: nn.Module) -> nn.Module:
    """Wrap every convolution of `net` in spectral normalisation (Miyato et al. 2018), in place."""
    for module in list(net.modules()):
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            spectral_norm(module)
    return net
