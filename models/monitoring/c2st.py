"""The classifier two-sample test (C2ST): can a small, freshly trained CNN tell samples from real images?

Lopez-Paz & Oquab 2017 (https://arxiv.org/abs/1610.06545): train a classifier on part of two sets, report its
accuracy on the rest. 0.5 means the sets are indistinguishable to it, 1.0 that every sample is caught.

Trained on hundreds of images per class the classifier catches every GAN sample ever made here (the issue
measured 1.000 for a 10-minute run, and 0.999 at 8x8 px), so the score would rank nothing. Trained on only
`k` images per class for a short fixed budget, it only catches what is plain to see, which keeps the score
graded between real-vs-real (0.5), two real art styles and noise (1.0); docs/judge.md has the numbers
that chose k and the budget. Each repeat draws a new train/test split and a new classifier; the mean,
spread and a confidence interval over repeats are reported.

Everything runs on the CPU under private seeds (torch.random.fork_rng), so the score is a function of the
inputs and the seed alone and judging never moves the training RNG.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.monitoring.features import ImageBatchError

# Chosen on Dream World 64 px (docs/judge.md): graded from real-vs-real to noise, under ~2 s per judgement.
DEFAULT_K = 8
DEFAULT_STEPS = 120
DEFAULT_REPEATS = 8
DEFAULT_PX = 32
MIN_TEST = 4  # test images per class; fewer and one image moves the accuracy by more than 0.1
_T_95 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26}


@dataclass(frozen=True)
class C2stResult:
    """Held-out accuracy of the classifier: mean over repeats, its spread and a 95% interval."""

    c2st: float  # mean accuracy, 0.5 (indistinguishable) .. 1.0 (trivially told apart)
    c2st_std: float  # standard deviation over repeats
    c2st_ci_low: float
    c2st_ci_high: float
    c2st_k: int  # training images per class
    c2st_test: int  # held-out images per class and repeat
    c2st_repeats: int
    c2st_steps: int
    accuracies: tuple[float, ...]

    def to_dict(self) -> dict[str, float | int | list[float]]:
        values = asdict(self)
        values["accuracies"] = list(self.accuracies)
        return values


class TwoSampleNet(nn.Module):
    """A small CNN: three stride-2 convolutions, global average pooling, one logit."""

    def __init__(self, channels: int = 3, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, 2, 1),
            nn.LeakyReLU(0.2),
            # state size. width x px/2 x px/2
            nn.Conv2d(width, width * 2, 3, 2, 1),
            nn.LeakyReLU(0.2),
            # state size. (width*2) x px/4 x px/4
            nn.Conv2d(width * 2, width * 4, 3, 2, 1),
            nn.LeakyReLU(0.2),
            # state size. (width*4) x px/8 x px/8
        )
        self.head = nn.Linear(width * 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).mean(dim=(2, 3))).squeeze(1)


def prepare_images(images: Tensor, px: int, name: str) -> Tensor:
    """uint8 (0..255) or float in [-1, 1] (as G draws) N x C x H x W -> float32 in [-1, 1] at px x px."""
    if images.dim() != 4:
        raise ImageBatchError(f"{name} must be shaped N x C x H x W, got {tuple(images.shape)}")
    x = images.detach().cpu()
    if x.dtype == torch.uint8:
        x = x.float().div(127.5).sub(1.0)
    else:
        x = x.float()
    if not torch.isfinite(x).all():
        raise ImageBatchError(f"{name} contain NaN or inf")
    if x.shape[-2:] != (px, px):
        x = F.interpolate(x, size=(px, px), mode="area" if x.shape[-1] >= px else "bilinear")
    return x.clamp(-1, 1).contiguous()


def c2st(
    real: Tensor,
    fake: Tensor,
    *,
    k: int = DEFAULT_K,
    steps: int = DEFAULT_STEPS,
    repeats: int = DEFAULT_REPEATS,
    px: int = DEFAULT_PX,
    seed: int = 0,
) -> C2stResult:
    """C2ST accuracy of `real` vs `fake` (N x 3 x H x W each, uint8 or float; at least k + MIN_TEST each).

    Each repeat trains a fresh TwoSampleNet on k random images of each set for `steps` full-batch Adam steps
    and tests it on up to all the remaining images (the same number from each set).
    """
    if k < 1 or steps < 1 or repeats < 2 or px < 8:
        raise ImageBatchError(
            f"need k >= 1, steps >= 1, repeats >= 2 and px >= 8; got {k}, {steps}, {repeats}, {px}"
        )
    real, fake = prepare_images(real, px, "real images"), prepare_images(fake, px, "samples")
    if real.shape[1] != fake.shape[1]:
        raise ImageBatchError(f"real images have {real.shape[1]} channels but samples {fake.shape[1]}")
    n_test = min(len(real), len(fake)) - k
    if n_test < MIN_TEST:
        raise ImageBatchError(
            f"C2ST with k={k} needs at least {k + MIN_TEST} real images and samples; "
            f"got {len(real)} and {len(fake)}"
        )
    with torch.random.fork_rng(devices=[]):
        accuracies = tuple(
            _one_repeat(real, fake, k=k, n_test=n_test, steps=steps, seed=seed * 7919 + r)
            for r in range(repeats)
        )
    return _summarise(accuracies, k=k, n_test=n_test, steps=steps)


def _one_repeat(real: Tensor, fake: Tensor, *, k: int, n_test: int, steps: int, seed: int) -> float:
    """Train on k images of each set, return the accuracy on n_test others of each."""
    torch.manual_seed(seed)
    real_order, fake_order = torch.randperm(len(real)), torch.randperm(len(fake))
    train_x = torch.cat([real[real_order[:k]], fake[fake_order[:k]]])
    test_x = torch.cat([real[real_order[k : k + n_test]], fake[fake_order[k : k + n_test]]])
    train_y = torch.cat([torch.ones(k), torch.zeros(k)])
    test_y = torch.cat([torch.ones(n_test), torch.zeros(n_test)])
    net = TwoSampleNet(real.shape[1])
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(net(train_x), train_y).backward()
        optimiser.step()
    with torch.no_grad():
        logits = net(test_x)
    # A logit of exactly 0 is a coin toss: count it as half right rather than always "fake".
    correct = torch.where(logits == 0, torch.full_like(logits, 0.5), ((logits > 0).float() == test_y).float())
    return correct.mean().item()


def _summarise(accuracies: tuple[float, ...], *, k: int, n_test: int, steps: int) -> C2stResult:
    mean = statistics.fmean(accuracies)
    std = statistics.stdev(accuracies)
    half = _T_95.get(len(accuracies), 1.96) * std / math.sqrt(len(accuracies))
    return C2stResult(
        c2st=mean,
        c2st_std=std,
        c2st_ci_low=max(0.0, mean - half),
        c2st_ci_high=min(1.0, mean + half),
        c2st_k=k,
        c2st_test=n_test,
        c2st_repeats=len(accuracies),
        c2st_steps=steps,
        accuracies=accuracies,
    )
