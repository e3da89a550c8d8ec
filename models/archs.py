"""Which network families exist and which image sizes each accepts (no torch import: the web app validates
configs with this table without loading PyTorch)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ArchSpec:
    """A named network. `n_up` is the number of 2x upsampling steps from the base grid to the image;
    None means "derived from the image size" (the generic DCGAN)."""

    name: str
    family: str  # "dcgan", "cnn96", "fastgan" or "vit": which builder in models.nets makes it
    n_up: int | None
    description: str


ARCHS: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        ArchSpec("dcgan", "dcgan", None, "DCGAN whose depth follows the image size (base grid 4-7 px)"),
        ArchSpec(
            "dcgan64", "dcgan", 4, "The classic pytorch/examples DCGAN: 4x4 base, 16x upsampling (64 px)"
        ),
        ArchSpec("dcgan128", "dcgan", 5, "DCGAN with one more block: 4x4 base, 32x upsampling (128 px)"),
        ArchSpec(
            "cnn96", "cnn96", 4, "Seed 001's CNN: 6x6 base, four upsampling blocks, 3x3 conv out (96 px)"
        ),
        ArchSpec(
            "fastgan",
            "fastgan",
            None,
            "FastGAN (Liu et al. 2021): GLU upsampling, skip-layer excitation, self-supervised D with "
            "reconstruction decoders; depth follows the image size (64, 128, 256 px, 96x128 cards)",
        ),
        ArchSpec(
            "vit",
            "vit",
            3,
            "Seed 001's ViT option: transformer G (tokens -> 8 px patches) and a ViTGAN-style D "
            "(L2-distance attention, spectral norm); sides must be multiples of 8",
        ),
    )
}


def upsampling_steps(arch: str, height: int, width: int) -> int:
    """Number of 2x steps the network needs for an image of height x width; ValueError when it cannot fit."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    n_up = ARCHS[arch].n_up
    if n_up is None:
        n_up = int(math.floor(math.log2(min(height, width) / 4))) if min(height, width) >= 8 else 0
        if n_up < 1:
            raise ValueError(
                f"image {height}x{width} is too small for arch {arch!r}: both sides need >= 8 px"
            )
    factor = 2**n_up
    if height % factor or width % factor:
        raise ValueError(
            f"image {height}x{width} does not fit arch {arch!r}: height and width must both be multiples of "
            f"{factor} (the network upsamples {factor}x from a base grid of "
            f"(height/{factor}) x (width/{factor}))"
        )
    return n_up


def base_grid(arch: str, height: int, width: int) -> tuple[int, int]:
    """The (h, w) grid the generator starts from, e.g. (4, 6) for dcgan64 at 64x96."""
    factor = 2 ** upsampling_steps(arch, height, width)
    return height // factor, width // factor
