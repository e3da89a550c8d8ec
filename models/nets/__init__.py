"""Network registry: `arch` in TrainConfig names an entry of models.archs.ARCHS; its family is built here."""

from __future__ import annotations

from typing import TypeAlias

import torch
from torch import nn

from models.archs import ARCHS, upsampling_steps
from models.config import TrainConfig
from models.nets.cnn96 import cnn96_discriminator, cnn96_generator
from models.nets.conditional import make_conditional_generator, make_projection_discriminator
from models.nets.dcgan import dcgan_discriminator, dcgan_generator
from models.nets.fastgan import FastGANDiscriminator, FastGANGenerator
from models.nets.layers import Discriminator, Generator, add_spectral_norm, init_dcgan_weights
from models.nets.recon import make_reconstruction_loss
from models.nets.vit import ViTDiscriminator, ViTGenerator, init_vit_weights

__all__ = ["Discriminator", "Generator", "build_discriminator", "build_generator", "build_networks"]

# Every family's G has .nz and .image_shape; every D has forward, forward_with_features and features.
AnyGenerator: TypeAlias = Generator | FastGANGenerator | ViTGenerator
AnyDiscriminator: TypeAlias = Discriminator | FastGANDiscriminator | ViTDiscriminator
VIT_BASE_DEPTH = 4


def build_generator(config: TrainConfig) -> AnyGenerator:
    """A freshly initialised generator for `config` (uses the global torch RNG; see build_networks)."""
    n_up = upsampling_steps(config.arch, config.height, config.width)
    size = {"nz": config.nz, "height": config.height, "width": config.width}
    family = ARCHS[config.arch].family
    net: nn.Module
    if family == "vit":
        net = ViTGenerator(**size, dim=config.ngf, depth=VIT_BASE_DEPTH + config.extra_layers)
        net.apply(init_vit_weights)
        return net
    if family == "fastgan":
        net = FastGANGenerator(**size, ngf=config.ngf, n_up=n_up)
    elif family == "cnn96":
        net = cnn96_generator(**size, ngf=config.ngf, extra_layers=config.extra_layers)
    else:
        net = dcgan_generator(**size, ngf=config.ngf, n_up=n_up, extra_layers=config.extra_layers)
    net.apply(init_dcgan_weights)
    return make_conditional_generator(net, len(config.label_names)) if config.conditional else net


def build_discriminator(config: TrainConfig) -> AnyDiscriminator:
    """A freshly initialised discriminator, spectrally normalised when the config asks for it (the ViT D
    always is: ViTGAN's Lipschitz recipe is part of the network)."""
    n_up = upsampling_steps(config.arch, config.height, config.width)
    size = {"ndf": config.ndf, "height": config.height, "width": config.width}
    norm = {"extra_layers": config.extra_layers, "batchnorm": config.d_batchnorm}
    family = ARCHS[config.arch].family
    net: nn.Module
    if family == "vit":
        return ViTDiscriminator(
            dim=config.ndf,
            height=config.height,
            width=config.width,
            depth=VIT_BASE_DEPTH + config.extra_layers,
        )
    if family == "fastgan":
        recon = make_reconstruction_loss(config.recon_lpips_weights)
        net = FastGANDiscriminator(**size, batchnorm=config.d_batchnorm, recon=recon)
    elif family == "cnn96":
        net = cnn96_discriminator(**size, **norm)
    else:
        net = dcgan_discriminator(**size, n_up=n_up, **norm)
    net.apply(init_dcgan_weights)
    if config.spectral_norm:
        add_spectral_norm(net)
    return make_projection_discriminator(net, len(config.label_names)) if config.conditional else net


def build_networks(config: TrainConfig) -> tuple[AnyGenerator, AnyDiscriminator]:
    """G and D initialised from `config.seed` without disturbing the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_generator(config), build_discriminator(config)
