"""Discriminator overfitting: D scores its training images as real but held-back real images less and less so.

Karras et al. 2020, "Training GANs with Limited Data" (https://arxiv.org/abs/2006.06676), section 2: the
gap between D's outputs on training and validation images grows as D memorises, and r_t = E[sign(D(x_train))]
tracks it without a validation set (ADA steers augmentation to keep r_t near 0.6).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from models.monitoring.episode import Episode, json_number, transition_event
from models.monitoring.features import ImageBatchError
from models.monitoring.settings import DetectorSettings
from models.sink import TrainEvent

_HISTORY = 8  # recent gaps kept for the evidence trail


@dataclass(frozen=True)
class OverfitStats:
    p_train: float  # mean sigmoid(D) on training images
    p_holdout: float  # mean sigmoid(D) on held-back real images
    gap: float  # p_train - p_holdout
    logit_gap: float  # mean logit on train minus mean logit on held-back
    rt_train: float  # E[sign(D(x_train))], the ADA heuristic
    rt_holdout: float


def _logits(values: Tensor, name: str) -> Tensor:
    flat = values.detach().float().cpu().reshape(-1)
    if flat.numel() == 0:
        raise ImageBatchError(f"{name} is empty")
    if not torch.isfinite(flat).all():
        raise ImageBatchError(f"{name} contains NaN or inf")
    return flat


def overfit_stats(logits_train: Tensor, logits_holdout: Tensor) -> OverfitStats:
    """Compare D's raw logits (before the sigmoid) on a training batch and a held-back real batch."""
    train, holdout = _logits(logits_train, "train logits"), _logits(logits_holdout, "held-out logits")
    p_train, p_holdout = torch.sigmoid(train).mean().item(), torch.sigmoid(holdout).mean().item()
    return OverfitStats(
        p_train=p_train,
        p_holdout=p_holdout,
        gap=p_train - p_holdout,
        logit_gap=(train.mean() - holdout.mean()).item(),
        rt_train=torch.sign(train).mean().item(),
        rt_holdout=torch.sign(holdout).mean().item(),
    )


class OverfitDetector:
    """Fires after `overfit_patience` consecutive epochs with a train/held-out gap above `overfit_gap`."""

    kind = "d_overfitting"
    what = "Discriminator overfitting"

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.episode = Episode(
            start_after=settings.overfit_patience,
            escalate_after=settings.overfit_escalate_epochs,
            rearm_after=settings.epoch_rearm,
        )
        self.gaps: deque[tuple[int, float]] = deque(maxlen=_HISTORY)  # (epoch, gap)

    def observe(
        self, step: int, epoch: int, logits_train: Tensor, logits_holdout: Tensor
    ) -> list[TrainEvent]:
        stats = overfit_stats(logits_train, logits_holdout)
        self.gaps.append((epoch, stats.gap))
        transition = self.episode.update(step, stats.gap > self.settings.overfit_gap)
        if transition is None:
            return []
        evidence = {
            **{k: json_number(v) for k, v in asdict(stats).items()},
            "gap_history": [[e, json_number(g)] for e, g in self.gaps],
            "overfit_gap": self.settings.overfit_gap,
        }
        detail = (
            f"mean D on training images {stats.p_train:.2f} vs held-back {stats.p_holdout:.2f} "
            f"(gap {stats.gap:.2f}), r_t {stats.rt_train:.2f}"
        )
        event = transition_event(
            transition,
            step=step,
            kind=self.kind,
            episode=self.episode,
            what=self.what,
            evidence=evidence,
            detail=detail,
        )
        return [event]

    def state_dict(self) -> dict[str, Any]:
        return {"episode": self.episode.state_dict(), "gaps": [[e, g] for e, g in self.gaps]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episode.load_state_dict(state["episode"])
        self.gaps.clear()
        self.gaps.extend((int(e), float(g)) for e, g in state["gaps"])
