"""TrainConfig: every field documented and bounded, and combinations that cannot work refused in words."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.config import TrainConfig

NEW_FIELDS = set(
    "image_width extra_layers spectral_norm d_norm d_steps grad_clip lr_schedule lr_step_epochs lr_gamma "
    "lr_min_factor loss gp_weight r1_weight feature_matching_weight real_label label_flip_prob diffaugment "
    "ema_decay device amp channels_last log_every grid_every_epochs checkpoint_every_epochs grad_stats_every "
    "nan_max_retries".split()
)


def test_every_field_has_a_default_and_a_description() -> None:
    cfg = TrainConfig()
    assert NEW_FIELDS <= set(TrainConfig.model_fields)
    for name, field in TrainConfig.model_fields.items():
        assert field.description, name
    assert cfg.loss == "bce" and cfg.channels_last is True and cfg.amp == "off" and cfg.device == "auto"
    assert cfg.log_every == 50 and cfg.grad_stats_every == 50 and cfg.nan_max_retries == 3
    assert cfg.ema_decay is None and cfg.grad_clip is None and cfg.diffaugment == ""


def test_unknown_fields_and_mutation_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TrainConfig(learning_rate=0.1)
    with pytest.raises(ValidationError):
        TrainConfig().lr_g = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"loss": "hinge", "real_label": 0.9}, "only apply to loss 'bce'"),
        ({"loss": "wgan-gp", "label_flip_prob": 0.1}, "only apply to loss 'bce'"),
        ({"loss": "wgan-gp", "gp_weight": 0}, "needs a gradient penalty"),
        ({"diffaugment": "color,zoom"}, "unknown DiffAugment op"),
        ({"loss": "lsgan"}, "loss"),
        ({"amp": "fp8"}, "amp"),
        ({"batch_size": 0}, "batch_size"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"label_flip_prob": 0.9}, "label_flip_prob"),
        ({"image_size": 64, "image_width": 72}, "multiples of 16"),
    ],
)
def test_bad_combinations_are_refused_with_a_reason(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrainConfig(**fields)


def test_derived_values() -> None:
    assert TrainConfig(loss="wgan-gp").effective_gp_weight == 10.0
    assert TrainConfig(loss="bce").effective_gp_weight == 0.0
    assert TrainConfig(gp_weight=5.0).effective_gp_weight == 5.0
    assert TrainConfig().d_batchnorm is True
    assert TrainConfig(spectral_norm=True).d_batchnorm is False
    assert TrainConfig(loss="wgan-gp").d_batchnorm is False
    assert TrainConfig(r1_weight=1.0, d_norm="batch").d_batchnorm is True
    cfg = TrainConfig(image_size=64, image_width=96, diffaugment=" Color, cutout,color ")
    assert (cfg.height, cfg.width) == (64, 96)
    assert cfg.diffaugment == "color,cutout" and cfg.augment_ops == ("color", "cutout")
    assert TrainConfig(image_size=32, arch="dcgan").width == 32


def test_round_trips_through_json() -> None:
    cfg = TrainConfig(loss="hinge", ema_decay=0.999, image_width=96, grad_clip=1.0)
    assert TrainConfig.model_validate_json(cfg.model_dump_json()) == cfg
    assert TrainConfig.model_validate(cfg.model_dump(mode="json")) == cfg
