"""Named starting points for a run: TrainConfig instances, each with a one-line description."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from models.config import TrainConfig


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: TrainConfig


# The duel's winner at 64 px on a 2-core CPU in 10 minutes (bench/preset_duel.py, docs/presets.md): both
# `recommended` and `fastgan-64`. Widths 16 (the paper's are 64): even so an image costs ~3x one of the
# DCGAN recipe's on that CPU; wider nets would get too few steps in 10 minutes.
FASTGAN_64 = TrainConfig(
    arch="fastgan",
    image_size=64,
    nz=128,
    ngf=16,
    ndf=16,
    loss="hinge",
    spectral_norm=True,
    d_norm="batch",
    diffaugment="color,translation",
    ema_decay=0.999,
    lr_g=2e-4,
    lr_d=2e-4,
    beta1=0.5,
    beta2=0.999,
    batch_size=32,
    epochs=300,
    channels_last=True,
)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "seed-000-classic",
            "The original: pytorch/examples DCGAN, 64 px, BCE, Adam 2e-4 (0.5, 0.999), batch 128, no extras",
            TrainConfig(
                arch="dcgan64",
                image_size=64,
                nz=100,
                ngf=64,
                ndf=64,
                loss="bce",
                lr_g=2e-4,
                lr_d=2e-4,
                beta1=0.5,
                beta2=0.999,
                batch_size=128,
                epochs=25,
            ),
        ),
        Preset(
            "seed-001-stable",
            "Seed 001's 96 px CNN with spectral norm, DiffAugment, gradient penalty, feature matching and "
            "label smoothing at batch 8",
            TrainConfig(
                arch="cnn96",
                image_size=96,
                nz=50,
                ngf=64,
                ndf=64,
                spectral_norm=True,
                loss="bce",
                diffaugment="color,translation,cutout",
                gp_weight=10.0,
                feature_matching_weight=1.0,
                real_label=0.9,
                batch_size=8,
                epochs=200,
            ),
        ),
        Preset(
            "seed-002-128",
            "DCGAN at 128 px with a 256-dim latent, lr 2e-4, batch 128 and 5% random label flips",
            TrainConfig(
                arch="dcgan128",
                image_size=128,
                nz=256,
                ngf=64,
                ndf=64,
                lr_g=2e-4,
                lr_d=2e-4,
                batch_size=128,
                label_flip_prob=0.05,
                epochs=100,
            ),
        ),
        Preset(
            "recommended",
            "The duel's winner for ~700 images and a 10-minute run on a 2-core CPU (classifier score 0.72 "
            "against 0.94 for dcgan-64): the fastgan-64 recipe; on a GPU see fastgan-128 and fastgan-256",
            FASTGAN_64,
        ),
        Preset(
            "dcgan-64",
            # `recommended` until the FastGAN duel; it beat classic and wider/narrower/bigger-batch variants.
            "The DCGAN recipe that was recommended before FastGAN: 64 px, widths 48, batch 32, hinge loss, "
            "spectral norm, DiffAugment, EMA of G (fastest per image on a CPU)",
            TrainConfig(
                arch="dcgan64",
                image_size=64,
                nz=100,
                ngf=48,
                ndf=48,
                loss="hinge",
                spectral_norm=True,
                diffaugment="color,translation,cutout",
                ema_decay=0.999,
                lr_g=2e-4,
                lr_d=2e-4,
                beta1=0.5,
                beta2=0.999,
                batch_size=32,
                epochs=300,
                channels_last=True,
            ),
        ),
        # Cards are 63x88 mm (w/h 0.716). Of the card-like shapes the nets accept, 96x128 (w x h, 0.75)
        # wastes least: a padded card fills 92 of 96 columns (4.6% margins); 64x96 (0.667) would leave
        # 6.9% of the rows empty, and 64x88 fits no DCGAN (88 is not a multiple of 16).
        Preset(
            "cards",
            "Trading cards (63x88 mm) at 96 px wide x 128 tall, from a 3x4 base grid: train on a dataset "
            "with fit=pad; hinge loss, spectral norm, DiffAugment, EMA",
            TrainConfig(
                arch="dcgan128",
                image_size=128,
                image_width=96,
                nz=100,
                ngf=32,
                ndf=32,
                loss="hinge",
                spectral_norm=True,
                diffaugment="color,translation,cutout",
                ema_decay=0.999,
                lr_g=2e-4,
                lr_d=2e-4,
                beta1=0.5,
                beta2=0.999,
                batch_size=32,
                epochs=300,
                channels_last=True,
            ),
        ),
        Preset(
            "fastgan-64",
            "FastGAN at 64 px for a 10-minute CPU run: GLU upsampling with skip-layer excitation, a "
            "self-supervised D (L1 + SSIM reconstructions), widths 16, batch 32, hinge, SN, DiffAugment, EMA",
            FASTGAN_64,
        ),
        Preset(
            "fastgan-128",
            "FastGAN at 128 px for a GPU: widths 32, batch 16, hinge, SN, DiffAugment with adaptive "
            "probability (ADA, target 0.6), EMA, bf16 autocast on CUDA",
            TrainConfig(
                arch="fastgan",
                image_size=128,
                nz=256,
                ngf=32,
                ndf=32,
                loss="hinge",
                spectral_norm=True,
                d_norm="batch",
                diffaugment="color,translation,cutout",
                ada_target=0.6,
                ada_kimg=100,
                ema_decay=0.999,
                lr_g=2e-4,
                lr_d=2e-4,
                beta1=0.5,
                beta2=0.999,
                batch_size=16,
                epochs=1000,
                amp="auto",
                channels_last=True,
            ),
        ),
        Preset(
            "fastgan-256",
            "FastGAN at 256 px for a GPU, as in the paper: widths 64, latent 256, batch 8, hinge, SN, "
            "DiffAugment with ADA (target 0.6), EMA, bf16 autocast on CUDA",
            TrainConfig(
                arch="fastgan",
                image_size=256,
                nz=256,
                ngf=64,
                ndf=64,
                loss="hinge",
                spectral_norm=True,
                d_norm="batch",
                diffaugment="color,translation,cutout",
                ada_target=0.6,
                ada_kimg=100,
                ema_decay=0.999,
                lr_g=2e-4,
                lr_d=2e-4,
                beta1=0.5,
                beta2=0.999,
                batch_size=8,
                epochs=1000,
                amp="auto",
                channels_last=True,
            ),
        ),
        Preset(
            "seed-001-vit",
            "Seed 001's ViT option at 64 px: transformer G (8 px patches) and ViTGAN-style D (L2 attention, "
            "spectral norm), latent 50, widths 96/64, batch 32, bce with label smoothing, DiffAugment, EMA",
            TrainConfig(
                arch="vit",
                image_size=64,
                nz=50,
                ngf=96,
                ndf=64,
                loss="bce",
                real_label=0.9,
                diffaugment="color,translation,cutout",
                ema_decay=0.999,
                lr_g=1e-4,
                lr_d=1e-4,
                beta1=0.0,
                beta2=0.99,
                batch_size=32,
                epochs=300,
                channels_last=True,
            ),
        ),
    )
}


class PresetError(ValueError):
    """An unknown preset name or override field."""


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def apply_preset(name: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The preset's config with `overrides` applied, validated as a whole (pydantic errors for bad values)."""
    base = get_preset(name).config
    overrides = overrides or {}
    unknown = [key for key in overrides if key not in TrainConfig.model_fields]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(TrainConfig.model_fields), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise PresetError(f"unknown config field(s) {', '.join(hints)}")
    return TrainConfig.model_validate({**base.model_dump(), **overrides})


def distinct_preset_names() -> list[str]:
    """Preset names, leaving out any whose config an earlier preset already has (recommended = fastgan-64):
    what a benchmark of every preset should run."""
    seen: list[TrainConfig] = []
    names = []
    for p in PRESETS.values():
        if p.config not in seen:
            seen.append(p.config)
            names.append(p.name)
    return names


def list_presets() -> list[dict[str, Any]]:
    """Every preset as {name, description, config: all field values} for the UI."""
    return [
        {"name": p.name, "description": p.description, "config": p.config.model_dump(mode="json")}
        for p in PRESETS.values()
    ]
