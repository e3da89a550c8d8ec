"""Copying and spread on tiny sprites: copies are flagged, fresh draws are not, collapse has no spread."""

from __future__ import annotations

import pytest
import torch

from models.monitoring.features import ImageBatchError
from models.monitoring.memorisation import copies_rising, memorisation
from tests.models.sprite_factory import collapsed, make_sprites


@pytest.fixture(scope="module")
def training() -> torch.Tensor:
    return make_sprites(96, seed=0)


@pytest.fixture(scope="module")
def held_back() -> torch.Tensor:
    return make_sprites(32, seed=1)


def test_fresh_draws_are_novel_and_spread_like_real_images(
    training: torch.Tensor, held_back: torch.Tensor
) -> None:
    m = memorisation(make_sprites(48, seed=2), training, held_back)
    assert 0.7 < m.nn_ratio < 1.4 and 0.8 < m.spread_ratio < 1.25
    assert m.near_copy_fraction < 0.1 and not m.copying
    assert m.reference_near_copy_fraction is not None and m.reference_near_copy_fraction < 0.1
    assert m.memorisation_space == "pixels 32x32"


def test_training_images_with_a_little_noise_are_copies(
    training: torch.Tensor, held_back: torch.Tensor
) -> None:
    copies = training[:48] + 0.02 * torch.randn(48, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    m = memorisation(copies, training, held_back)
    assert m.nn_ratio < 0.1 and m.near_copy_fraction == 1.0 and m.copying


def test_a_collapsed_generator_has_no_spread(training: torch.Tensor, held_back: torch.Tensor) -> None:
    m = memorisation(collapsed(make_sprites(1, seed=5)[0], 48, seed=0), training, held_back)
    assert m.spread_ratio < 0.05


def test_without_held_back_images_the_training_spacing_is_the_unit(training: torch.Tensor) -> None:
    m = memorisation(training[:48].clone(), training)
    assert m.reference_near_copy_fraction is None and m.copying
    with pytest.raises(ImageBatchError, match="at least 2"):
        memorisation(training[:1], training)


def test_a_score_bought_with_copies_is_flagged() -> None:
    before = {"c2st": 0.9, "near_copy_fraction": 0.0}
    assert copies_rising(before, {"c2st": 0.7, "near_copy_fraction": 0.3})
    assert not copies_rising(before, {"c2st": 0.7, "near_copy_fraction": 0.05})
    assert not copies_rising(before, {"c2st": 0.95, "near_copy_fraction": 0.3})
    assert not copies_rising(None, {"c2st": 0.7, "near_copy_fraction": 0.3})
