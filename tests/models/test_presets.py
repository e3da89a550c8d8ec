"""Presets are named, described TrainConfig instances; overrides are validated with clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.config import TrainConfig
from models.presets import PRESETS, PresetError, apply_preset, distinct_preset_names, list_presets


def test_presets_are_described_configs() -> None:
    assert list(PRESETS) == [
        "seed-000-classic",
        "seed-001-stable",
        "seed-002-128",
        "recommended",
        "dcgan-64",
        "cards",
        "fastgan-64",
        "fastgan-128",
        "fastgan-256",
        "seed-001-vit",
    ]
    for name, preset in PRESETS.items():
        assert isinstance(preset.config, TrainConfig), name
        assert preset.description and "\n" not in preset.description


def test_seed_presets_match_their_history() -> None:
    classic = PRESETS["seed-000-classic"].config
    assert (classic.arch, classic.image_size, classic.loss, classic.batch_size) == ("dcgan64", 64, "bce", 128)
    assert (classic.lr_g, classic.lr_d, classic.beta1, classic.beta2) == (2e-4, 2e-4, 0.5, 0.999)
    assert not classic.spectral_norm and classic.ema_decay is None and classic.diffaugment == ""
    assert classic.effective_gp_weight == 0 and classic.real_label == 1.0 and classic.label_flip_prob == 0

    stable = PRESETS["seed-001-stable"].config
    assert (stable.arch, stable.image_size, stable.nz, stable.batch_size) == ("cnn96", 96, 50, 8)
    assert stable.spectral_norm and stable.diffaugment and stable.effective_gp_weight > 0
    assert stable.feature_matching_weight > 0 and stable.real_label < 1

    big = PRESETS["seed-002-128"].config
    assert (big.arch, big.image_size, big.nz, big.lr_g, big.batch_size) == ("dcgan128", 128, 256, 2e-4, 128)
    assert big.label_flip_prob > 0

    # the duel's winner (docs/presets.md); the DCGAN recipe it replaced keeps a name of its own
    rec = PRESETS["recommended"].config
    assert rec == PRESETS["fastgan-64"].config
    assert (rec.arch, rec.image_size, rec.ngf, rec.batch_size) == ("fastgan", 64, 16, 32)
    assert rec.spectral_norm and rec.ema_decay and rec.channels_last and rec.diffaugment
    old = PRESETS["dcgan-64"].config
    assert (old.arch, old.ngf, old.loss) == ("dcgan64", 48, "hinge")
    assert old.diffaugment == "color,translation,cutout"


def test_benchmarks_run_each_distinct_config_once() -> None:
    names = distinct_preset_names()
    assert "recommended" in names and "fastgan-64" not in names and "dcgan-64" in names
    assert len(names) == len(PRESETS) - 1
    assert len({PRESETS[n].config.model_dump_json() for n in names}) == len(names)


def test_apply_preset_overrides_and_validates() -> None:
    cfg = apply_preset("recommended", {"epochs": 5, "seed": 3})
    assert (cfg.epochs, cfg.seed, cfg.loss) == (5, 3, PRESETS["recommended"].config.loss)
    assert apply_preset("seed-000-classic") == PRESETS["seed-000-classic"].config
    with pytest.raises(PresetError, match="unknown preset 'nope'; choose one of seed-000-classic"):
        apply_preset("nope", {})
    with pytest.raises(PresetError, match="'lr' \\(did you mean 'lr_g'\\?\\)"):
        apply_preset("recommended", {"lr": 0.1})
    with pytest.raises(ValidationError, match="only apply to loss 'bce'"):
        apply_preset("seed-001-stable", {"loss": "hinge"})


def test_list_presets_gives_every_field() -> None:
    listed = list_presets()
    assert [p["name"] for p in listed] == list(PRESETS)
    for item in listed:
        assert set(item["config"]) == set(TrainConfig.model_fields)
        assert TrainConfig.model_validate(item["config"]) == PRESETS[item["name"]].config
