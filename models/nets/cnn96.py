"""Seed 001's 96 px CNN: a 6x6 start, four upsampling blocks, a 3x3 conv out; a spectrally normalised critic.

Sizes other than 96 keep the four blocks and change the base grid: 64x96 starts from 4x6.
"""

from __future__ import annotations

from torch import nn

from models.nets.layers import Discriminator, Generator, d_norm

N_UP = 4


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def _down(
    c_in: int, c_out: int, batchnorm: bool, kernel: int = 4, stride: int = 2, pad: int = 1
) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=not batchnorm),
        d_norm(c_out, batchnorm),
        nn.LeakyReLU(0.2, inplace=True),
    ]


def cnn96_generator(
    *, nz: int, ngf: int, height: int, width: int, extra_layers: int = 0, nc: int = 3
) -> Generator:
    """With ngf=64 the channels are the seed's 512 -> 512 -> 256 -> 128 -> 64."""
    bh, bw = height >> N_UP, width >> N_UP
    layers: list[nn.Module] = [
        # input is Z (nz=50 in the seed), going into a convolution
        nn.ConvTranspose2d(nz, ngf * 8, (bh, bw), 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        # state size. (ngf*8) x 6 x 6
        *_up(ngf * 8, ngf * 8),
        # state size. (ngf*8) x 12 x 12
        *_up(ngf * 8, ngf * 4),
        # state size. (ngf*4) x 24 x 24
        *_up(ngf * 4, ngf * 2),
        # state size. (ngf*2) x 48 x 48
        *_up(ngf * 2, ngf),
        # state size. (ngf) x 96 x 96
    ]
    for _ in range(extra_layers):
        layers += [nn.Conv2d(ngf, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True)]
    layers += [
        nn.Conv2d(ngf, nc, 3, 1, 1, bias=False),
        nn.Tanh(),
        # state size. (nc) x 96 x 96
    ]
    return Generator(nn.Sequential(*layers), nz=nz, image_shape=(nc, height, width))


def cnn96_discriminator(
    *, ndf: int, height: int, width: int, extra_layers: int = 0, batchnorm: bool = False, nc: int = 3
) -> Discriminator:
    """Channels 64 -> 1024 with ndf=64; the seed ran it with spectral norm and no BatchNorm."""
    layers: list[nn.Module] = [
        # input is (nc) x 96 x 96
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=not batchnorm),
        nn.LeakyReLU(0.2, inplace=True),
        # state size. (ndf) x 48 x 48
    ]
    for _ in range(extra_layers):
        layers += _down(ndf, ndf, batchnorm, kernel=3, stride=1)
    layers += [
        *_down(ndf, ndf * 2, batchnorm),
        # state size. (ndf*2) x 24 x 24
        *_down(ndf * 2, ndf * 4, batchnorm),
        # state size. (ndf*4) x 12 x 12
        *_down(ndf * 4, ndf * 8, batchnorm),
        # state size. (ndf*8) x 6 x 6
        *_down(ndf * 8, ndf * 16, batchnorm, kernel=3, stride=1),
        # state size. (ndf*16) x 6 x 6
    ]
    head = nn.Conv2d(ndf * 16, 1, (height >> N_UP, width >> N_UP), 1, 0, bias=False)
    # state size. 1 x 1 x 1: one logit per image
    return Discriminator(nn.Sequential(*layers), head)
