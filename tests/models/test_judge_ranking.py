"""The judge ranks the cases the issue names, on tiny sprites with the real C2ST and memorisation code:
a generator handing back training images is flagged as copying and never chosen; uniform noise and a
collapsed generator score near 1.0; held-back real images near 0.5."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from models.hooks import EpochContext
from models.monitoring import DetectorSettings, choose_best_epoch, quality_from_dict
from models.monitoring.judge import Judge
from tests.models.sprite_factory import collapsed, make_sprites

SETTINGS = DetectorSettings(c2st_px=16)
TRAINING = make_sprites(160, seed=0)
HELD_BACK = make_sprites(40, seed=1)


def judged(samples: torch.Tensor) -> dict[str, Any]:
    ctx = EpochContext(
        step=10,
        epoch=1,
        samples=samples,
        real=TRAINING[:64],
        d_features=lambda x: x,
        holdout=HELD_BACK,
        training=TRAINING,
    )
    return Judge(SETTINGS).judge(ctx, None)


@pytest.fixture(scope="module")
def cases() -> dict[str, dict[str, Any]]:
    noise = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    return {
        "noise": judged(noise),
        "collapse": judged(collapsed(make_sprites(1, seed=3)[0], 64, seed=0)),
        "copies": judged(TRAINING[:64].clone()),
        "real": judged(make_sprites(64, seed=4)),
    }


def test_noise_and_collapse_are_told_apart_and_real_images_are_not(cases: dict[str, dict[str, Any]]) -> None:
    assert cases["noise"]["c2st"] >= 0.9
    assert cases["collapse"]["c2st"] >= 0.9
    assert 0.35 <= cases["real"]["c2st"] <= 0.65
    assert cases["real"]["c2st_ci_low"] <= 0.5 + 0.15
    assert cases["collapse"]["spread_ratio"] < 0.05 < cases["real"]["spread_ratio"]


def test_copies_are_flagged_and_fresh_draws_are_not(cases: dict[str, dict[str, Any]]) -> None:
    assert cases["copies"]["copying"] and cases["copies"]["near_copy_fraction"] == 1.0
    assert cases["copies"]["c2st"] <= 0.7  # the classifier alone would be fooled by copies
    assert not any(cases[name]["copying"] for name in ("noise", "collapse", "real"))


def test_the_best_checkpoint_is_the_real_looking_one_never_the_copy(cases: dict[str, dict[str, Any]]) -> None:
    order = ("noise", "copies", "real", "collapse")
    rated = [(i + 1, (i + 1) * 10, quality_from_dict(cases[name])) for i, name in enumerate(order)]
    assert choose_best_epoch(rated, []) == 30  # "real"
    # Ties go to the later step.
    tie = [(1, 10, quality_from_dict(cases["real"])), (2, 20, quality_from_dict(cases["real"]))]
    assert choose_best_epoch(tie, []) == 20
