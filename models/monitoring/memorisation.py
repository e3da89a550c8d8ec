"""Copying and spread beside the C2ST, so a generator cannot score by handing back its training images.

Feature space: pixels downsampled to `px` x `px` (area averaging), L2 distance. No pretrained weights exist
here, and random-convolution features only blur the question "is this sample a training image?", which
pixels answer directly: a copy sits at distance ~0, a copy with noise of std s at ~s x sqrt(dims).

Units: every distance is divided by the real-to-real nearest-neighbour spacing, i.e. the median distance
from an unseen real image (held back from training) to its nearest training image; without held-back
images, the training images' own leave-one-out spacing. On Dream World 64 px (docs/judge.md) held-back
images sit at 1.0 (median) with 5% under 0.6; copies with pixel noise of std 0.1 at 0.10, copies blurred
to 16 px at 0.42, mirrored copies at 0.99 (a mirror image is a new picture in this space).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor

from models.monitoring.c2st import prepare_images
from models.monitoring.features import (
    ImageBatchError,
    mean_pairwise_distance,
    nearest_other,
    pairwise_distances,
)

NEAR_COPY_DISTANCE = 0.3  # relative NN distance under which a sample counts as a near-copy
COPY_FRACTION = 0.25  # more near-copies than this and the sample set is copying
_TINY = 1e-12


@dataclass(frozen=True)
class Memorisation:
    """How close samples come to training images, and how much they spread, relative to real images.

    nn_ratio: median sample-to-nearest-training-image distance over the real-to-real spacing (≈1 novel,
        →0 copied). near_copy_fraction: share of samples under NEAR_COPY_DISTANCE of that spacing;
        reference_near_copy_fraction: the same share for the held-back real images (what chance gives).
    spread_ratio: mean pairwise distance of the samples over that of the real reference images (≈1
        healthy, →0 collapse). copying: near_copy_fraction above COPY_FRACTION.
    """

    nn_ratio: float
    near_copy_fraction: float
    reference_near_copy_fraction: float | None
    spread_ratio: float
    copying: bool
    memorisation_space: str

    def to_dict(self) -> dict[str, float | bool | str | None]:
        return asdict(self)


def memorisation(
    samples: Tensor,
    training: Tensor,
    reference: Tensor | None = None,
    *,
    px: int = 32,
    near_copy_distance: float = NEAR_COPY_DISTANCE,
    copy_fraction: float = COPY_FRACTION,
) -> Memorisation:
    """Copying and spread of `samples` against `training` images, calibrated on held-back `reference` ones.

    All N x C x H x W, uint8 or float in [-1, 1]. Memorisation is only checked against the training images
    given, so give all of them.
    """
    fake = _flat(samples, px, "samples")
    train = _flat(training, px, "training images")
    if reference is not None:
        ref = _flat(reference, px, "held-back images")
        ref_nn = pairwise_distances(ref, train).min(dim=1).values
        spacing = ref_nn.median().item()
        spread_real = mean_pairwise_distance(ref)
    else:
        ref_nn = None
        spacing = nearest_other(pairwise_distances(train)).median().item()
        spread_real = mean_pairwise_distance(train)
    spacing = max(spacing, _TINY)
    relative = pairwise_distances(fake, train).min(dim=1).values / spacing
    near = (relative < near_copy_distance).double().mean().item()
    reference_near = None
    if ref_nn is not None:
        reference_near = (ref_nn / spacing < near_copy_distance).double().mean().item()
    return Memorisation(
        nn_ratio=relative.median().item(),
        near_copy_fraction=near,
        reference_near_copy_fraction=reference_near,
        spread_ratio=mean_pairwise_distance(fake) / max(spread_real, _TINY),
        copying=near > copy_fraction,
        memorisation_space=f"pixels {px}x{px}",
    )


def _flat(images: Tensor, px: int, name: str) -> Tensor:
    x = prepare_images(images, px, name)
    if len(x) < 2:
        raise ImageBatchError(f"{name} need at least 2 images, got {len(x)}")
    return x.reshape(len(x), -1)


def copies_rising(previous: dict | None, current: dict, *, rise: float = 0.1) -> bool:
    """The C2ST improved since the last judgement while near-copies rose by more than `rise`: the score is
    being bought by copying (quality dicts as the monitor stores them)."""
    if not previous or previous.get("c2st") is None or current.get("c2st") is None:
        return False
    better = float(current["c2st"]) < float(previous["c2st"])
    grew = float(current["near_copy_fraction"]) - float(previous.get("near_copy_fraction") or 0.0) > rise
    return better and grew
