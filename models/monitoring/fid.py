"""FID and KID with torch-fidelity's InceptionV3, only when its weights are on disk. Nothing is downloaded.

torch-fidelity's weights file is weights-inception-2015-12-05-6726825d.pth, the TF 2015-12-05 graph of the
original FID converted to PyTorch; its extractor also resizes like TF, so numbers match the reference FID.
The caller passes the file's local path; without one, the functions answer None and how to enable FID.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn

from models.monitoring.features import ImageBatchError, check_images

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
ENABLE_HINT = f"set POKEGAN_INCEPTION_WEIGHTS to a local copy of torch-fidelity's {INCEPTION_FILE}"
_EXTRACT_BATCH = 32  # images per Inception forward: bounds memory at 299 x 299 on a CPU


@dataclass(frozen=True)
class FidKid:
    fid: float
    kid: float
    kid_std: float  # spread of KID over its random subsets
    n_fake: int
    n_real: int


class _Pool3(nn.Module):
    """torch-fidelity's InceptionV3 reduced to its 2048-d pool3 features, the ones FID and KID use."""

    def __init__(self, inception: nn.Module) -> None:
        super().__init__()
        self.inception = inception

    def forward(self, images: Tensor) -> Tensor:
        return self.inception(images)[0].reshape(len(images), -1)


def to_uint8_rgb(images: Tensor) -> Tensor:
    """[-1, 1] float images (the generator's tanh range) as uint8 RGB for Inception; grey is repeated."""
    images = check_images(images, "images")
    if images.shape[1] not in (1, 3):
        raise ImageBatchError(f"FID needs grey or RGB images, got {images.shape[1]} channels")
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


@torch.no_grad()
def extract(extractor: nn.Module, images: Tensor) -> Tensor:
    """N x F float64 features of [-1, 1] images from an extractor that takes uint8 N x 3 x H x W."""
    pixels = to_uint8_rgb(images)
    chunks = [extractor(chunk).reshape(len(chunk), -1) for chunk in pixels.split(_EXTRACT_BATCH)]
    return torch.cat(chunks).double()


def frechet_distance(f1: Tensor, f2: Tensor) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two feature sets (rows are samples).

    tr((S1 S2)^(1/2)) is the nuclear norm of A1^T A2 / sqrt((n1-1)(n2-1)) for the centred features A: exact,
    and with a few hundred samples far cheaper than an eigendecomposition of a 2048 x 2048 product.
    """
    f1, f2 = f1.double(), f2.double()
    a1, a2 = f1 - f1.mean(0), f2 - f2.mean(0)
    n1, n2, dim = len(f1), len(f2), f1.shape[1]
    if n1 < 2 or n2 < 2:
        raise ImageBatchError("FID needs at least 2 images on each side")
    trace1, trace2 = a1.pow(2).sum().item() / (n1 - 1), a2.pow(2).sum().item() / (n2 - 1)
    if n1 * n2 <= dim * dim:
        cross = torch.linalg.svdvals(a1 @ a2.T).sum().item() / math.sqrt((n1 - 1) * (n2 - 1))
    else:
        cross = _trace_sqrt_product(a1.T @ a1 / (n1 - 1), a2.T @ a2 / (n2 - 1))
    mean_term = (f1.mean(0) - f2.mean(0)).pow(2).sum().item()
    return mean_term + trace1 + trace2 - 2 * cross


def _trace_sqrt_product(s1: Tensor, s2: Tensor) -> float:
    """tr((S1 S2)^(1/2)) = tr((S1^(1/2) S2 S1^(1/2))^(1/2)), symmetric so eigvalsh applies."""
    values, vectors = torch.linalg.eigh(s1)
    root1 = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    return torch.linalg.eigvalsh(root1 @ s2 @ root1).clamp(min=0).sqrt().sum().item()


def kernel_distance(
    f_fake: Tensor, f_real: Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (Binkowski et al. 2018, https://arxiv.org/abs/1801.01401): unbiased MMD^2 with the cubic kernel
    (x.y / d + 1)^3, mean and std over random subsets drawn with their own seeded generator."""
    m = min(len(f_fake), len(f_real), subset_size)
    if m < 2:
        raise ImageBatchError("KID needs at least 2 images on each side")
    generator = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(subsets):
        x = f_real[torch.randperm(len(f_real), generator=generator)[:m]].double()
        y = f_fake[torch.randperm(len(f_fake), generator=generator)[:m]].double()
        scores.append(_poly_mmd(x, y))
    values = torch.tensor(scores, dtype=torch.float64)
    return values.mean().item(), values.std(unbiased=False).item()


def _poly_mmd(x: Tensor, y: Tensor) -> float:
    dim, m = x.shape[1], len(x)
    k_xx, k_yy, k_xy = ((a @ b.T / dim + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return (within - 2 * k_xy.sum() / (m * m)).item()


def fid_kid_with(
    extractor: nn.Module, fake: Tensor, real: Tensor, *, kid_subsets: int = 100, seed: int = 0
) -> FidKid:
    """FID and KID of `fake` vs `real` ([-1, 1], N x C x H x W) in the features of `extractor`.

    `extractor` maps uint8 N x 3 x H x W images to N x F features (Inception's pool3; a small net in tests).
    """
    f_fake, f_real = extract(extractor, fake), extract(extractor, real)
    kid, kid_std = kernel_distance(f_fake, f_real, subsets=kid_subsets, seed=seed)
    return FidKid(
        fid=frechet_distance(f_fake, f_real), kid=kid, kid_std=kid_std, n_fake=len(f_fake), n_real=len(f_real)
    )


def load_inception(weights_path: Path | None) -> tuple[nn.Module | None, str | None]:
    """InceptionV3 pool3 features with the weights at `weights_path`, or (None, why FID is unavailable)."""
    if weights_path is None:
        return None, f"FID unavailable: {ENABLE_HINT}"
    path = Path(weights_path)
    if not path.is_file():
        return None, f"FID unavailable: {path} is not a file; {ENABLE_HINT}"
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        return None, "FID unavailable: install torch-fidelity (pip install torch-fidelity)"
    stat = path.stat()
    return _load_inception_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1)
def _load_inception_cached(path: str, mtime_ns: int, size: int) -> tuple[nn.Module | None, str | None]:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        # torch-fidelity unpickles the file without weights_only: refuse anything but plain tensors first.
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any load failure means the same to the user: not a usable weights file
        return None, f"FID unavailable: {path} is not a plain PyTorch weights file ({exc}); {ENABLE_HINT}"
    try:
        inception = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=path
        )
    except (RuntimeError, KeyError) as exc:
        reason = f"{path} does not hold torch-fidelity's InceptionV3 weights ({exc})"
        return None, f"FID unavailable: {reason}; {ENABLE_HINT}"
    return _Pool3(inception).eval(), None


def fid_kid(fake: Tensor, real: Tensor, weights_path: Path | None) -> tuple[FidKid | None, str | None]:
    """(FidKid, None) when Inception weights are at `weights_path`; else (None, how to enable FID).

    FID from a few hundred images is biased upwards; compare numbers computed from equal sample counts only.
    """
    extractor, problem = load_inception(weights_path)
    if extractor is None:
        return None, problem
    return fid_kid_with(extractor, fake, real), None
