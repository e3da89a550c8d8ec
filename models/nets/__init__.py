"""Network registry: `arch` in TrainConfig names an entry of models.archs.ARCHS; its family is built here."""

from __future__ import annotations

import torch

from models.archs import ARCHS, upsampling_steps
from models.config import TrainConfig
from models.nets.cnn96 import cnn96_discriminator, cnn96_generator
from models.nets.conditional import make_conditional_generator, make_projection_discriminator
from models.nets.dcgan import dcgan_discriminator, dcgan_generator
from models.nets.layers import Discriminator, Generator, add_spectral_norm, init_dcgan_weights

__all__ = ["Discriminator", "Generator", "build_discriminator", "build_generator", "build_networks"]


def build_generator(config: TrainConfig) -> Generator:
    """A freshly initialised generator for `config` (uses the global torch RNG; see build_networks)."""
    n_up = upsampling_steps(config.arch, config.height, config.width)
    size = {"nz": config.nz, "ngf": config.ngf, "height": config.height, "width": config.width}
    if ARCHS[config.arch].family == "cnn96":
        net = cnn96_generator(**size, extra_layers=config.extra_layers)
    else:
        net = dcgan_generator(**size, n_up=n_up, extra_layers=config.extra_layers)
    net.apply(init_dcgan_weights)
    return make_conditional_generator(net, len(config.label_names)) if config.conditional else net


def build_discriminator(config: TrainConfig) -> Discriminator:
    """A freshly initialised discriminator, spectrally normalised when the config asks for it."""
    n_up = upsampling_steps(config.arch, config.height, config.width)
    size = {"ndf": config.ndf, "height": config.height, "width": config.width}
    norm = {"extra_layers": config.extra_layers, "batchnorm": config.d_batchnorm}
    if ARCHS[config.arch].family == "cnn96":
        net = cnn96_discriminator(**size, **norm)
    else:
        net = dcgan_discriminator(**size, n_up=n_up, **norm)
    net.apply(init_dcgan_weights)
    if config.spectral_norm:
        add_spectral_norm(net)
    return make_projection_discriminator(net, len(config.label_names)) if config.conditional else net


def build_networks(config: TrainConfig) -> tuple[Generator, Discriminator]:
    """G and D initialised from `config.seed` without disturbing the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_generator(config), build_discriminator(config)
