"""Adaptive augmentation: steer the probability p of each DiffAugment op from D's overfitting signal.

Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020,
https://arxiv.org/abs/2006.06676. The signal is r_t = E[sign(D(x_real))] over the last `interval` steps:
0 when D cannot tell reals from fakes, 1 when it is sure of every real (overfitting). Every interval p moves
by sign(r_t - target) * (images seen) / (kimg * 1000), so it can cross [0, 1] in `kimg` thousand images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class AdaController:
    """p and the running sums of the current interval; all of it goes into the checkpoint."""

    target: float
    interval: int
    kimg: float
    p: float = 0.0
    signs: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    images: int = 0
    steps: int = 0
    last_rt: float | None = None  # r_t of the last finished interval (for reports)
    # With world_size > 1: the sum of a tensor over the ranks (models/distributed.py). Each rank sees its
    # slice of the batch; summing every step keeps p and the checkpointed sums those of one process.
    sum_over_ranks: Callable[[torch.Tensor], torch.Tensor] | None = None
    ranks: int = 1

    def observe(self, logit_real: torch.Tensor) -> None:
        """Add one D step's real logits (kept on their device: no host sync until the interval ends)."""
        if self.signs.device != logit_real.device:
            self.signs = self.signs.to(logit_real.device)
        signs = logit_real.detach().float().sign().sum().double()
        if self.sum_over_ranks is not None:
            signs = self.sum_over_ranks(signs)
        self.signs = self.signs + signs
        self.images += logit_real.numel() * self.ranks

    def end_step(self) -> None:
        """After each training step: adjust p once `interval` steps have been observed."""
        self.steps += 1
        if self.steps < self.interval or self.images == 0:
            return
        rt = float(self.signs) / self.images
        adjust = (1.0 if rt > self.target else -1.0 if rt < self.target else 0.0) * self.images
        self.p = min(1.0, max(0.0, self.p + adjust / (self.kimg * 1000)))
        self.last_rt = rt
        self.signs = torch.zeros((), dtype=torch.float64, device=self.signs.device)
        self.images = self.steps = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "p": self.p,
            "signs": self.signs.detach().cpu().clone(),
            "images": self.images,
            "steps": self.steps,
            "last_rt": self.last_rt,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])
        self.signs = state["signs"].to(self.signs.device, torch.float64).clone()
        self.images, self.steps = int(state["images"]), int(state["steps"])
        self.last_rt = None if state.get("last_rt") is None else float(state["last_rt"])
