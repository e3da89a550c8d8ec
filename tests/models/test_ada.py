"""Adaptive augmentation: p follows D's overfitting signal, reaches the augmentations, and is validated."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from models.ada import AdaController
from models.config import TrainConfig
from models.diffaugment import diff_augment
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.conftest import synthetic_images
from tests.models.conftest import TINY


def _feed(ada: AdaController, logits: torch.Tensor, steps: int) -> None:
    for _ in range(steps):
        ada.observe(logits)
        ada.end_step()


def test_p_rises_when_d_is_sure_of_the_reals_and_falls_otherwise() -> None:
    ada = AdaController(target=0.6, interval=4, kimg=0.1)  # 100 images from 0 to 1
    sure = torch.tensor([3.0, 2.0, 1.0, 0.5] * 4)  # sign +1 everywhere: r_t = 1 > 0.6
    _feed(ada, sure, 3)
    assert ada.p == 0.0  # not adjusted before the interval ends
    _feed(ada, sure, 1)
    assert ada.p == pytest.approx(64 / 100) and ada.last_rt == 1.0
    _feed(ada, sure, 4)
    assert ada.p == 1.0  # clamped
    unsure = torch.tensor([1.0, -1.0] * 8)  # r_t = 0 < 0.6
    _feed(ada, unsure, 4)
    assert ada.p == pytest.approx(1 - 64 / 100) and ada.last_rt == 0.0
    _feed(ada, unsure, 12)
    assert ada.p == 0.0


def test_state_round_trips_mid_interval() -> None:
    ada = AdaController(target=0.6, interval=4, kimg=0.1)
    _feed(ada, torch.ones(8), 6)
    copy = AdaController(target=0.6, interval=4, kimg=0.1)
    copy.load_state_dict(ada.state_dict())
    _feed(ada, -torch.ones(8), 3)
    _feed(copy, -torch.ones(8), 3)
    assert ada.state_dict()["p"] == copy.state_dict()["p"] and copy.steps == ada.steps == 1


def test_p_decides_how_many_samples_are_augmented() -> None:
    x = torch.zeros(400, 3, 8, 8) + 0.5
    for p, expected in ((0.0, 0.0), (0.3, 0.3), (1.0, 1.0)):
        out = diff_augment(x, ("cutout",), torch.Generator().manual_seed(0), p)
        touched = (out != x).flatten(1).any(1).float().mean().item()
        assert touched == pytest.approx(expected, abs=0.06)


def test_an_overfitting_d_drives_p_up_in_a_real_run(tmp_path: Path) -> None:
    # 8 near-identical images and a D learning 10x faster than G: D is sure of the reals within steps.
    data = synthetic_images(8, 16, seed=1)[:1].repeat(8, 1, 1, 1)
    cfg = TrainConfig(
        **{**TINY, "loss": "hinge", "ndf": 32, "lr_d": 2e-3, "lr_g": 2e-4, "epochs": 20},
        holdout_fraction=0,
        diffaugment="translation",
        ada_target=0.6,
        ada_interval=2,
        ada_kimg=0.2,
    )
    result = train(cfg, data, ListSink(), RunDirStore(tmp_path))
    ada = torch.load(result.checkpoint.path, weights_only=True)["ada"]
    assert ada["last_rt"] > 0.6 and ada["p"] > 0.1


def test_ada_needs_augmentations_to_steer() -> None:
    with pytest.raises(ValidationError, match="set diffaugment"):
        TrainConfig(**TINY, ada_target=0.6)
