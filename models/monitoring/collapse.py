"""Mode collapse, judged at each epoch end on a fixed batch of samples against a batch of real images.

Two signs: the samples spread far less than real images do (in downsampled pixels and in a feature space), or
many samples have a near-twin among the others (collapse onto a few modes, which can still look spread out).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor

from models.monitoring.episode import Episode, json_number, transition_event
from models.monitoring.features import (
    ImageBatchError,
    check_images,
    downsample,
    flat_features,
    mean_pairwise_distance,
    nearest_other,
    off_diagonal,
    pairwise_distances,
    random_features,
)
from models.monitoring.settings import DetectorSettings
from models.sink import TrainEvent

_TINY = 1e-12


@dataclass(frozen=True)
class DiversityStats:
    """Spread of the samples and of the real batch; a ratio of 1 means 'as diverse as the data'."""

    pixel_fake: float
    pixel_real: float
    pixel_ratio: float
    feature_fake: float
    feature_real: float
    feature_ratio: float
    feature_space: str  # "discriminator" or "random"
    duplicate_fraction: float  # share of samples with a near-duplicate among the other samples


def duplicate_fraction(fake_pixels: Tensor, real_pixels: Tensor, distance: float) -> float:
    """Share of samples closer than `distance` x (median real pairwise distance) to another sample."""
    scale = off_diagonal(pairwise_distances(real_pixels)).median().item()
    nearest = nearest_other(pairwise_distances(fake_pixels))
    return (nearest < distance * scale).double().mean().item()


def sample_diversity(
    fake: Tensor,
    real: Tensor,
    *,
    feats_fake: Tensor | None = None,
    feats_real: Tensor | None = None,
    px: int = 32,
    seed: int = 0,
    duplicate_distance: float = 0.1,
) -> DiversityStats:
    """Diversity of `fake` relative to `real` (N x C x H x W, same value range); random features default."""
    fake, real = check_images(fake, "fake samples"), check_images(real, "real images")
    if fake.shape[1] != real.shape[1]:
        raise ImageBatchError(f"fake samples have {fake.shape[1]} channels but real images {real.shape[1]}")
    if (feats_fake is None) != (feats_real is None):
        raise ImageBatchError(
            "give discriminator features for both the fake samples and the real images, or neither"
        )
    if feats_fake is None or feats_real is None:
        space = "random"
        f_fake, f_real = random_features(fake, px=px, seed=seed), random_features(real, px=px, seed=seed)
    else:
        space = "discriminator"
        f_fake, f_real = (
            flat_features(feats_fake, "fake features"),
            flat_features(feats_real, "real features"),
        )
    p_fake, p_real = downsample(fake, px), downsample(real, px)
    pixel_fake, pixel_real = mean_pairwise_distance(p_fake), mean_pairwise_distance(p_real)
    feature_fake, feature_real = mean_pairwise_distance(f_fake), mean_pairwise_distance(f_real)
    return DiversityStats(
        pixel_fake=pixel_fake,
        pixel_real=pixel_real,
        pixel_ratio=pixel_fake / max(pixel_real, _TINY),
        feature_fake=feature_fake,
        feature_real=feature_real,
        feature_ratio=feature_fake / max(feature_real, _TINY),
        feature_space=space,
        duplicate_fraction=duplicate_fraction(p_fake, p_real, duplicate_distance),
    )


class ModeCollapseDetector:
    """Fires when samples spread under `collapse_ratio` of the real batch in both spaces, or are twins.

    A generator that has not drawn diverse samples yet is still learning, not collapsed: until it has, or
    until `collapse_warmup_steps` (or `collapse_warmup_share` of the planned steps, if sooner), low diversity
    is not reported.
    """

    kind = "mode_collapse"
    what = "Mode collapse"

    def __init__(self, settings: DetectorSettings, label: str | None = None) -> None:
        self.settings = settings
        self.label = label  # a conditional run watches each label's samples with a detector of its own
        if label is not None:
            self.what = f"Mode collapse in label '{label}'"
        self.episode = Episode(
            escalate_after=settings.collapse_escalate_epochs, rearm_after=settings.epoch_rearm
        )
        self.seen_diverse = False

    def rules(self, stats: DiversityStats) -> list[str]:
        s = self.settings
        rules = []
        if stats.pixel_ratio < s.collapse_ratio and stats.feature_ratio < s.collapse_ratio:
            rules.append("low_diversity")
        if stats.duplicate_fraction > s.duplicate_fraction:
            rules.append("near_duplicates")
        return rules

    def observe(
        self,
        step: int,
        fake: Tensor,
        real: Tensor,
        feats_fake: Tensor | None = None,
        feats_real: Tensor | None = None,
        *,
        planned_steps: int | None = None,
    ) -> list[TrainEvent]:
        s = self.settings
        stats = sample_diversity(
            fake,
            real,
            feats_fake=feats_fake,
            feats_real=feats_real,
            px=s.downsample_px,
            seed=s.feature_seed,
            duplicate_distance=s.duplicate_distance,
        )
        rules = self.rules(stats)
        self.seen_diverse = self.seen_diverse or not rules
        warmup = s.collapse_warmup_steps
        if planned_steps:  # a short run must not spend its whole length warming up
            warmup = min(warmup, math.ceil(planned_steps * s.collapse_warmup_share))
        judged = self.seen_diverse or step >= warmup
        transition = self.episode.update(step, bool(rules) and judged)
        if transition is None:
            return []
        evidence = {
            "rules": rules,
            **{k: (v if isinstance(v, str) else json_number(v)) for k, v in asdict(stats).items()},
            "collapse_ratio": s.collapse_ratio,
            "duplicate_fraction_max": s.duplicate_fraction,
        }
        if self.label is not None:
            evidence["label"] = self.label
        detail = (
            f"sample spread is {stats.pixel_ratio:.2f} of the real images' in pixels and "
            f"{stats.feature_ratio:.2f} in {stats.feature_space} features; "
            f"{stats.duplicate_fraction:.0%} of samples have a near-duplicate"
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
        return {"episode": self.episode.state_dict(), "seen_diverse": self.seen_diverse}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episode.load_state_dict(state["episode"])
        self.seen_diverse = bool(state["seen_diverse"])
