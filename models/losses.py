"""GAN objectives and regularisers. Each takes D's raw logits; none of them knows about the training loop."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def bce_targets(
    n: int, *, real_label: float, flip_prob: float, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample targets for real and fake images: one-sided smoothing, then random label flips."""
    real = torch.full((n,), real_label)
    fake = torch.zeros(n)
    if flip_prob > 0:
        flip_real = torch.rand(n, generator=generator) < flip_prob
        flip_fake = torch.rand(n, generator=generator) < flip_prob
        real = torch.where(flip_real, 0.0, real)
        fake = torch.where(flip_fake, real_label, fake)
    return real.to(device, non_blocking=True), fake.to(device, non_blocking=True)


def d_loss(
    kind: str,
    logit_real: torch.Tensor,
    logit_fake: torch.Tensor,
    targets: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """D's loss without penalties; `targets` (real, fake) only matter for bce."""
    if kind == "bce":
        if targets is None:
            targets = torch.ones_like(logit_real), torch.zeros_like(logit_fake)
        real_t, fake_t = targets
        return F.binary_cross_entropy_with_logits(
            logit_real.float(), real_t
        ) + F.binary_cross_entropy_with_logits(logit_fake.float(), fake_t)
    if kind == "hinge":
        return F.relu(1.0 - logit_real.float()).mean() + F.relu(1.0 + logit_fake.float()).mean()
    if kind == "wgan-gp":
        return logit_fake.float().mean() - logit_real.float().mean()
    raise ValueError(f"unknown loss {kind!r}")


def g_loss(kind: str, logit_fake: torch.Tensor) -> torch.Tensor:
    """G's adversarial loss: the non-saturating -log D(G(z)) for bce, -D(G(z)) for hinge and wgan-gp."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(
            logit_fake.float(), torch.ones_like(logit_fake, dtype=torch.float)
        )
    if kind in ("hinge", "wgan-gp"):
        return -logit_fake.float().mean()
    raise ValueError(f"unknown loss {kind!r}")


def d_score(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """The seed's D(x) number: mean probability for bce/hinge, the raw critic mean for wgan-gp."""
    logits = logits.detach().float()
    return logits.mean() if kind == "wgan-gp" else torch.sigmoid(logits).mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)||_2 - 1)^2] on random real/fake interpolates."""
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(logit_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||^2] on real images; `real` must require grad."""
    (grad,) = torch.autograd.grad(logit_real.float().sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def feature_matching(feat_real: torch.Tensor, feat_fake: torch.Tensor) -> torch.Tensor:
    """Salimans et al. 2016: match the batch mean of D's features on real and fake images."""
    return F.mse_loss(feat_fake.float().mean(0), feat_real.detach().float().mean(0))
