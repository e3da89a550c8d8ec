"""Detector hints suggest only what the run does not already do."""

from __future__ import annotations

from models.monitoring.hints import hint
from models.presets import get_preset


def test_without_a_config_every_remedy_is_named() -> None:
    assert hint("mode_collapse") == "try DiffAugment, feature_matching_weight 1 or a lower lr_g"
    assert hint("d_stuck").startswith("D's output is pinned") and "hinge loss" in hint("d_stuck")


def test_remedies_the_config_already_has_are_left_out() -> None:
    recommended = get_preset("recommended").config.model_dump(mode="json")
    assert recommended["diffaugment"] and recommended["spectral_norm"]
    assert hint("mode_collapse", recommended) == "try feature_matching_weight 1 or a lower lr_g"
    assert "spectral_norm" not in hint("d_saturation", recommended)
    assert (
        hint("d_saturation", {"real_label": 1.0})
        == "try a lower lr_d, real_label 0.9, DiffAugment or spectral_norm"
    )
    assert hint("no-such-kind") == ""
