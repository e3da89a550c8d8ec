"""The classifier two-sample score on tiny synthetic sprites: graded, deterministic, clear about bad input."""

from __future__ import annotations

import pytest
import torch

from models.monitoring.c2st import c2st
from models.monitoring.features import ImageBatchError
from tests.models.sprite_factory import make_sprites


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return make_sprites(40, seed=0)


def test_two_draws_of_one_distribution_score_near_one_half(real: torch.Tensor) -> None:
    result = c2st(real, make_sprites(40, seed=1), k=8, steps=60, repeats=4, px=16)
    assert 0.3 <= result.c2st <= 0.7
    assert result.c2st_ci_low <= result.c2st <= result.c2st_ci_high
    assert (result.c2st_k, result.c2st_test, result.c2st_repeats) == (8, 32, 4)


def test_uniform_noise_is_told_apart_every_time(real: torch.Tensor) -> None:
    g = torch.Generator().manual_seed(3)
    noise = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=g)
    assert c2st(real, noise, k=8, steps=60, repeats=4, px=16).c2st >= 0.95


def test_the_same_seed_gives_the_same_score_and_leaves_the_global_rng_alone(real: torch.Tensor) -> None:
    fake = make_sprites(40, seed=1)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = c2st(real, fake, k=8, steps=20, repeats=3, px=16, seed=5)
    after = torch.rand(1)
    assert torch.equal(before, after)
    assert first == c2st(real, fake, k=8, steps=20, repeats=3, px=16, seed=5)
    assert first.accuracies != c2st(real, fake, k=8, steps=20, repeats=3, px=16, seed=6).accuracies


def test_uint8_and_float_images_are_the_same_images(real: torch.Tensor) -> None:
    as_uint8 = ((real + 1) * 127.5).round().to(torch.uint8)
    fake = make_sprites(40, seed=1)
    a = c2st(real, fake, k=4, steps=10, repeats=2, px=16)
    b = c2st(as_uint8, fake, k=4, steps=10, repeats=2, px=16)
    assert a.c2st == pytest.approx(b.c2st, abs=0.1)


def test_too_few_images_or_bad_shapes_are_refused(real: torch.Tensor) -> None:
    with pytest.raises(ImageBatchError, match="at least 12"):
        c2st(real[:10], real, k=8)
    with pytest.raises(ImageBatchError, match="N x C x H x W"):
        c2st(real[0], real)
    with pytest.raises(ImageBatchError, match="NaN"):
        c2st(real, torch.full_like(real, float("nan")))
