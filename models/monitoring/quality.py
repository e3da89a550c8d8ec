"""Per-epoch quality numbers that need no downloaded weights: diversity, memorisation, precision and recall.

Feature-space numbers always use the fixed random features (never D's, which drift as D trains), so the
numbers of different epochs can be compared when picking the best checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor

from models.monitoring.collapse import sample_diversity
from models.monitoring.features import (
    ImageBatchError,
    check_images,
    downsample,
    nearest_other,
    pairwise_distances,
    random_features,
)
from models.monitoring.fid import FidKid

MEMORISATION_FLOOR = 0.5  # relative NN distance below which a sample set counts as (partly) copied
_TINY = 1e-12


@dataclass(frozen=True)
class EpochQuality:
    """Quality of one epoch's samples against a batch of training images.

    diversity_*: mean pairwise distance of the samples over that of the real images (≈1 healthy, →0 collapse).
    duplicate_fraction: share of samples with a near-duplicate among the others.
    nn_*_mean / nn_*_min: distance from each sample to its nearest training image, in units of the training
        images' own mean nearest-neighbour distance (≈1 novel, →0 copied).
    precision / recall: k-NN manifold estimates of Kynkäänniemi et al. 2019
        (https://arxiv.org/abs/1904.06991):
        share of samples inside the real images' manifold, and share of real images inside the samples'.
    fid / kid: only when Inception weights were available (see models.monitoring.fid).
    c2st / copying: the judge's classifier two-sample score and copy flag, when that epoch was judged
        (models.monitoring.judge); they rank checkpoints whenever present.
    coverage: share of real images with a sample inside their own k-NN ball (Naeem et al. 2020,
        https://arxiv.org/abs/2002.09797). Recall measures with the samples' radii, which shrink to nothing
        when samples cluster: on 64 samples of a young DCGAN it read 0 at every epoch; coverage did not.
    """

    diversity_pixel: float
    diversity_feature: float
    duplicate_fraction: float
    nn_pixel_mean: float
    nn_pixel_min: float
    nn_feature_mean: float
    nn_feature_min: float
    precision: float
    recall: float
    fid: float | None = None
    kid: float | None = None
    coverage: float | None = None
    c2st: float | None = None
    copying: bool | None = None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)

    @property
    def score(self) -> float:
        """One number to rank epochs by, in [0, 1], higher is better.

        The harmonic mean of precision and coverage (recall when coverage was not measured): samples must
        look real AND cover the data. Scaled down linearly when samples sit closer to training images than
        MEMORISATION_FLOOR, so copying never wins.
        """
        covered = self.coverage if self.coverage is not None else self.recall
        pr = self.precision + covered
        f1 = 2 * self.precision * covered / pr if pr > 0 else 0.0
        return f1 * min(1.0, self.nn_pixel_mean / MEMORISATION_FLOOR)


def manifold_coverage(reference: Tensor, query: Tensor, k: int) -> float:
    """Share of `query` rows inside the union of balls around `reference` rows (radius: k-th NN distance)."""
    radii = nearest_other(pairwise_distances(reference), k)
    inside = (pairwise_distances(query, reference) <= radii.unsqueeze(0)).any(dim=1)
    return inside.double().mean().item()


def real_coverage(reference: Tensor, query: Tensor, k: int) -> float:
    """Share of `reference` rows with a `query` row inside their k-th NN radius (Naeem et al.'s coverage)."""
    radii = nearest_other(pairwise_distances(reference), k)
    nearest = pairwise_distances(reference, query).min(dim=1).values
    return (nearest <= radii).double().mean().item()


def nearest_neighbour_distances(fake: Tensor, real: Tensor) -> tuple[float, float]:
    """(mean, min) distance from each fake row to its nearest real row, over the real rows' own NN spacing."""
    spacing = nearest_other(pairwise_distances(real)).mean().item()
    nearest = pairwise_distances(fake, real).min(dim=1).values / max(spacing, _TINY)
    return nearest.mean().item(), nearest.min().item()


def epoch_quality(
    fake: Tensor,
    real: Tensor,
    *,
    k: int = 3,
    px: int = 32,
    seed: int = 0,
    duplicate_distance: float = 0.1,
    fid_kid: FidKid | None = None,
) -> EpochQuality:
    """Quality of `fake` samples against `real` training images (N x C x H x W, same value range).

    Use as many training images as affordable for `real`: memorisation is only checked against those.
    """
    if k < 1:
        raise ImageBatchError(f"k must be at least 1, got {k}")
    fake, real = (
        check_images(fake, "fake samples", min_count=k + 1),
        check_images(real, "real images", min_count=k + 1),
    )
    diversity = sample_diversity(fake, real, px=px, seed=seed, duplicate_distance=duplicate_distance)
    p_fake, p_real = downsample(fake, px), downsample(real, px)
    f_fake, f_real = random_features(fake, px=px, seed=seed), random_features(real, px=px, seed=seed)
    nn_pixel_mean, nn_pixel_min = nearest_neighbour_distances(p_fake, p_real)
    nn_feature_mean, nn_feature_min = nearest_neighbour_distances(f_fake, f_real)
    return EpochQuality(
        diversity_pixel=diversity.pixel_ratio,
        diversity_feature=diversity.feature_ratio,
        duplicate_fraction=diversity.duplicate_fraction,
        nn_pixel_mean=nn_pixel_mean,
        nn_pixel_min=nn_pixel_min,
        nn_feature_mean=nn_feature_mean,
        nn_feature_min=nn_feature_min,
        precision=manifold_coverage(f_real, f_fake, k),
        recall=manifold_coverage(f_fake, f_real, k),
        fid=None if fid_kid is None else fid_kid.fid,
        kid=None if fid_kid is None else fid_kid.kid,
        coverage=real_coverage(f_real, f_fake, k),
    )
