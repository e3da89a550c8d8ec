"""A conditional generator judged one label at a time: C2ST, diversity and collapse per label.

One label can collapse while the others are fine, a real failure mode of conditioning on small data
(Shahbazi et al. 2022, https://arxiv.org/abs/2206.06970), and the run-wide numbers average it away. Each
label's samples are compared with that label's real images only: the C2ST against its held-back images
when it has enough of them (else its training images, and the result says so), the spread against its
training images, and the mode-collapse rules of models.monitoring.collapse on that spread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from models.config import TrainConfig
from models.holdout import held_mask
from models.monitoring.c2st import MIN_TEST
from models.monitoring.class_consistency import SAMPLES_PER_LABEL
from models.monitoring.collapse import ModeCollapseDetector, sample_diversity
from models.monitoring.episode import json_number
from models.monitoring.judge import settings_c2st
from models.monitoring.settings import DetectorSettings

MIN_SPREAD_IMAGES = 4  # fewer real images of a label and its spread says nothing
MIN_GROUP = 8  # per-epoch collapse checks need this many samples and real images of a label
REAL_PER_LABEL = 64


@dataclass(frozen=True)
class LabelImages:
    """One label's images, N x 3 x H x W (uint8, or floats in [-1, 1])."""

    samples: Tensor
    training: Tensor
    held_back: Tensor | None = None


@dataclass(frozen=True)
class LabelGroup:
    """One label's fixed-noise samples and real images at an epoch end ([-1, 1]), with D's features."""

    fake: Tensor
    real: Tensor
    feats_fake: Tensor | None = None
    feats_real: Tensor | None = None


def label_groups(
    samples: Tensor,
    sample_labels: Tensor,
    training: Tensor,
    training_labels: Tensor,
    label_names: tuple[str, ...],
    features: Callable[[Tensor], Tensor] | None = None,
    sample_features: Tensor | None = None,
) -> dict[str, LabelGroup]:
    """Each label with at least MIN_GROUP samples and real images; up to REAL_PER_LABEL of the latter.
    With `features` (D's, in eval mode) the groups carry features too; `sample_features`, the features of
    all samples when the caller has them already, are sliced instead of computed again."""
    groups = {}
    for index, name in enumerate(label_names):
        mine = sample_labels == index
        fake = samples[mine]
        real = _as_float(training[training_labels == index][:REAL_PER_LABEL])
        if min(len(fake), len(real)) < MIN_GROUP:
            continue
        feats: tuple[Tensor | None, Tensor | None] = (None, None)
        if features is not None:
            feats = (sample_features[mine] if sample_features is not None else features(fake), features(real))
        groups[name] = LabelGroup(fake, real, *feats)
    return groups


def judge_label(images: LabelImages, settings: DetectorSettings, *, seed: int = 0) -> dict[str, object]:
    """C2ST (with its reference set), diversity ratios, near-duplicate share and the collapse rules met."""
    s = settings
    numbers: dict[str, object] = {"samples": len(images.samples), "training_images": len(images.training)}
    numbers |= _c2st(images, s, seed)
    if len(images.training) < MIN_SPREAD_IMAGES:
        numbers["diversity_note"] = f"{len(images.training)} training images: too few to compare spreads"
        return numbers
    fake, real = _as_float(images.samples), _as_float(images.training)
    stats = sample_diversity(
        fake, real, px=s.downsample_px, seed=s.feature_seed, duplicate_distance=s.duplicate_distance
    )
    numbers |= {
        "diversity_pixel": json_number(stats.pixel_ratio),
        "diversity_feature": json_number(stats.feature_ratio),
        "duplicate_fraction": json_number(stats.duplicate_fraction),
        "collapse_rules": ModeCollapseDetector(s).rules(stats),
    }
    numbers["collapsed"] = bool(numbers["collapse_rules"])
    return numbers


def judge_labels(
    by_label: dict[str, LabelImages], settings: DetectorSettings, *, seed: int = 0
) -> dict[str, dict[str, object]]:
    return {name: judge_label(images, settings, seed=seed) for name, images in by_label.items()}


def _c2st(images: LabelImages, s: DetectorSettings, seed: int) -> dict[str, object]:
    need = s.c2st_k + MIN_TEST
    held = images.held_back
    reference, name = (
        (held, "held-back") if held is not None and len(held) >= need else (images.training, "training")
    )
    if min(len(reference), len(images.samples)) < need:
        return {
            "c2st": None,
            "c2st_note": f"C2ST needs {need} real images of the label; it has {len(reference)}",
        }
    result = settings_c2st(reference, images.samples, s, seed=seed)
    return {
        "c2st": json_number(result.c2st),
        "c2st_std": json_number(result.c2st_std),
        "c2st_k": s.c2st_k,
        "c2st_reference": name,
        "c2st_reference_images": len(reference),
    }


def _as_float(images: Tensor) -> Tensor:
    return images.float() / 127.5 - 1 if not images.is_floating_point() else images.float()


def label_images(
    config: TrainConfig,
    images: Tensor,
    labels: Tensor,
    sample: Callable[[Tensor], Tensor],
) -> dict[str, LabelImages]:
    """Per label: SAMPLES_PER_LABEL samples, its training images and its held-back ones (the run's split)."""
    held = held_mask(len(images), config)
    held = torch.zeros(len(images), dtype=torch.bool) if held is None else held
    by_label = {}
    for index, name in enumerate(config.label_names):
        mine = labels == index
        wanted = torch.full((SAMPLES_PER_LABEL,), index, dtype=torch.int64)
        back = images[mine & held]
        by_label[name] = LabelImages(sample(wanted), images[mine & ~held], back if len(back) else None)
    return by_label
