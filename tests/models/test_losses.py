"""GAN objectives, penalties and label tricks on hand-checkable inputs."""

from __future__ import annotations

import math

import pytest
import torch

from models import losses


def test_objectives_at_zero_logits() -> None:
    zero = torch.zeros(4)
    assert losses.d_loss("bce", zero, zero).item() == pytest.approx(2 * math.log(2))
    assert losses.g_loss("bce", zero).item() == pytest.approx(math.log(2))
    assert losses.d_loss("hinge", zero, zero).item() == pytest.approx(2.0)
    assert losses.d_loss("wgan-gp", torch.full((4,), 3.0), torch.full((4,), 1.0)).item() == pytest.approx(
        -2.0
    )
    assert losses.g_loss("hinge", torch.full((4,), 2.0)).item() == pytest.approx(-2.0)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.d_loss("lsgan", zero, zero)


def test_g_loss_is_non_saturating() -> None:
    # -log D(G(z)) keeps a strong gradient when D confidently rejects fakes (logit -10).
    logit = torch.tensor([-10.0], requires_grad=True)
    losses.g_loss("bce", logit).backward()
    assert logit.grad.abs().item() > 0.99


def test_bce_targets_smooth_and_flip_reproducibly() -> None:
    real, fake = losses.bce_targets(
        8,
        real_label=0.9,
        flip_prob=0.0,
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
    )
    assert torch.equal(real, torch.full((8,), 0.9)) and torch.equal(fake, torch.zeros(8))

    def flipped(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        return losses.bce_targets(
            1000, real_label=1.0, flip_prob=0.3, generator=g, device=torch.device("cpu")
        )

    real, fake = flipped(1)
    assert 0.2 < (real == 0).float().mean().item() < 0.4
    assert 0.2 < (fake == 1).float().mean().item() < 0.4
    assert torch.equal(real, flipped(1)[0])


def test_gradient_penalty_of_linear_critics() -> None:
    x_real, x_fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    eps = torch.rand(4, 1, 1, 1)
    unit = torch.zeros(3, 2, 2)
    unit[0, 0, 0] = 1.0

    def critic(w: torch.Tensor):
        return lambda x: (x * w).flatten(1).sum(1)

    assert losses.gradient_penalty(critic(unit), x_real, x_fake, eps).item() == pytest.approx(0.0)
    assert losses.gradient_penalty(critic(2 * unit), x_real, x_fake, eps).item() == pytest.approx(1.0)


def test_r1_penalty_of_a_linear_critic_is_its_squared_norm() -> None:
    w = torch.tensor([[1.0, 2.0], [2.0, 0.0]])
    x = torch.randn(5, 2, 2, requires_grad=True)
    logits = (x * w).flatten(1).sum(1)
    assert losses.r1_penalty(logits, x).item() == pytest.approx(9.0)


def test_feature_matching_and_scores() -> None:
    a = torch.randn(6, 10)
    assert losses.feature_matching(a, a[torch.randperm(6)]).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.feature_matching(a, a + 1).item() == pytest.approx(1.0)
    logits = torch.tensor([0.0, 2.0])
    assert losses.d_score("bce", logits).item() == pytest.approx(torch.sigmoid(logits).mean().item())
    assert losses.d_score("wgan-gp", logits).item() == pytest.approx(1.0)
