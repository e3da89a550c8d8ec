"""The DCGAN family (Radford et al. 2015, as in pytorch/examples dcgan/main.py), with depth as an argument.

`n_up` stride-2 steps lead from a base grid of (height >> n_up) x (width >> n_up) to the image, so the
classic 64 px net is n_up=4 from 4x4, the 128 px net n_up=5, and 64x96 images start from a 4x6 grid.
"""

from __future__ import annotations

from torch import nn

from models.nets.layers import Discriminator, Generator, d_norm


def dcgan_generator(
    *,
    nz: int,
    ngf: int,
    height: int,
    width: int,
    n_up: int,
    extra_layers: int = 0,
    nc: int = 3,
    max_mult: int = 16,
) -> Generator:
    """For 64 px the layers are exactly the classic ones: (ngf*8) x 4 x 4 -> ... -> (nc) x 64 x 64."""
    bh, bw = height >> n_up, width >> n_up
    mult = min(2 ** (n_up - 1), max_mult)
    layers: list[nn.Module] = [
        # input is Z, going into a convolution
        nn.ConvTranspose2d(nz, ngf * mult, (bh, bw), 1, 0, bias=False),
        nn.BatchNorm2d(ngf * mult),
        nn.ReLU(True),
        # state size. (ngf*8) x 4 x 4 at 64 px; in general (ngf*mult) x bh x bw
    ]
    for step in range(n_up - 2, -1, -1):
        out_mult = min(2**step, max_mult)
        layers += [
            nn.ConvTranspose2d(ngf * mult, ngf * out_mult, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * out_mult),
            nn.ReLU(True),
            # state size. (ngf*4) x 8 x 8, then (ngf*2) x 16 x 16, then (ngf) x 32 x 32 at 64 px
        ]
        mult = out_mult
    for _ in range(extra_layers):
        layers += [
            nn.Conv2d(ngf * mult, ngf * mult, 3, 1, 1, bias=False),
            nn.BatchNorm2d(ngf * mult),
            nn.ReLU(True),
            # state size unchanged: (ngf) x 32 x 32 at 64 px
        ]
    layers += [
        nn.ConvTranspose2d(ngf * mult, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
        # state size. (nc) x 64 x 64 at 64 px; in general (nc) x height x width
    ]
    return Generator(nn.Sequential(*layers), nz=nz, image_shape=(nc, height, width))


def dcgan_discriminator(
    *,
    ndf: int,
    height: int,
    width: int,
    n_up: int,
    extra_layers: int = 0,
    batchnorm: bool = True,
    nc: int = 3,
    max_mult: int = 16,
) -> Discriminator:
    """The generator mirrored: stride-2 convs with LeakyReLU(0.2) down to the base grid, then one logit."""
    bias = not batchnorm  # a bias right before BatchNorm is redundant
    layers: list[nn.Module] = [
        # input is (nc) x 64 x 64 at 64 px
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=bias),
        nn.LeakyReLU(0.2, inplace=True),
        # state size. (ndf) x 32 x 32
    ]
    for _ in range(extra_layers):
        layers += [
            nn.Conv2d(ndf, ndf, 3, 1, 1, bias=bias),
            d_norm(ndf, batchnorm),
            nn.LeakyReLU(0.2, inplace=True),
            # state size unchanged: (ndf) x 32 x 32
        ]
    mult = 1
    for step in range(1, n_up):
        out_mult = min(2**step, max_mult)
        layers += [
            nn.Conv2d(ndf * mult, ndf * out_mult, 4, 2, 1, bias=bias),
            d_norm(ndf * out_mult, batchnorm),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 16 x 16, then (ndf*4) x 8 x 8, then (ndf*8) x 4 x 4 at 64 px
        ]
        mult = out_mult
    head = nn.Conv2d(ndf * mult, 1, (height >> n_up, width >> n_up), 1, 0, bias=False)
    # state size. 1 x 1 x 1: one logit per image
    return Discriminator(nn.Sequential(*layers), head)
