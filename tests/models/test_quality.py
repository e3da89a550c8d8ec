"""Per-epoch quality numbers, FID/KID wiring without downloads, and the choice of the best checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg
from torch import nn

from models.monitoring import (
    ENABLE_HINT,
    EpochQuality,
    choose_best_epoch,
    epoch_quality,
    failure_spans,
    fid_kid,
    fid_kid_with,
    frechet_distance,
    kernel_distance,
)
from models.sink import TrainEvent
from tests.models.sprite_factory import collapsed, make_sprites


@pytest.fixture(scope="module")
def train() -> torch.Tensor:
    return make_sprites(128, seed=0)


@pytest.fixture(scope="module")
def healthy_quality(train: torch.Tensor) -> EpochQuality:
    return epoch_quality(make_sprites(64, seed=1), train)


# Quality numbers -------------------------------------------------------------------------------------------


def test_samples_from_the_data_distribution_look_novel_diverse_and_covering(
    healthy_quality: EpochQuality,
) -> None:
    q = healthy_quality
    assert 0.8 < q.diversity_pixel < 1.25 and 0.8 < q.diversity_feature < 1.25
    assert q.duplicate_fraction == 0.0
    assert 0.6 < q.nn_pixel_mean < 1.6 and q.nn_pixel_min > 0.2
    assert 0.6 < q.nn_feature_mean < 1.6
    assert q.precision > 0.7 and q.recall > 0.6
    assert q.fid is None and q.kid is None


def test_copies_of_training_images_have_zero_nearest_neighbour_distance(
    train: torch.Tensor, healthy_quality: EpochQuality
) -> None:
    q = epoch_quality(train[:64].clone(), train)
    assert q.nn_pixel_mean < 1e-4 and q.nn_pixel_min < 1e-4
    assert q.nn_feature_mean < 1e-4 and q.nn_feature_min < 1e-4
    assert q.precision == 1.0
    assert q.score < 0.01 < healthy_quality.score


def test_random_noise_has_low_precision(train: torch.Tensor, healthy_quality: EpochQuality) -> None:
    noise = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    q = epoch_quality(noise, train)
    assert q.precision < 0.2 and q.recall < 0.2
    assert q.nn_pixel_mean > 1.5
    assert q.score < healthy_quality.score / 3


def test_collapsed_samples_have_low_diversity_and_recall(train: torch.Tensor) -> None:
    q = epoch_quality(collapsed(train[7], 64, seed=0), train)
    assert q.diversity_pixel < 0.05 and q.diversity_feature < 0.05
    assert q.duplicate_fraction == 1.0
    assert q.recall < 0.1


def test_quality_works_on_grey_images_of_another_size() -> None:
    grey_real = make_sprites(40, seed=3, px=16)[:, :1]
    grey_fake = make_sprites(40, seed=4, px=16)[:, :1]
    q = epoch_quality(grey_fake, grey_real, k=3)
    assert 0.5 < q.diversity_pixel < 2 and q.precision > 0.5


def test_to_dict_holds_plain_floats(healthy_quality: EpochQuality) -> None:
    d = healthy_quality.to_dict()
    assert set(d) == {
        "diversity_pixel", "diversity_feature", "duplicate_fraction", "nn_pixel_mean", "nn_pixel_min",
        "nn_feature_mean", "nn_feature_min", "precision", "recall", "fid", "kid", "coverage",
        "c2st", "copying",
    }  # fmt: skip
    assert all(type(v) is float for k, v in d.items() if k not in ("fid", "kid", "c2st", "copying"))
    assert d["c2st"] is None and d["copying"] is None  # the judge's numbers, filled in by the monitor hook
    assert 0.6 < d["coverage"] <= 1  # samples from the data distribution cover it


def test_too_few_images_for_k_nearest_neighbours_is_refused(train: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="at least 4 images"):
        epoch_quality(train[:3], train, k=3)


def test_quality_does_not_touch_the_global_rng(train: torch.Tensor) -> None:
    state = torch.get_rng_state()
    epoch_quality(make_sprites(16, seed=2), train)
    assert torch.equal(state, torch.get_rng_state())


# FID / KID -------------------------------------------------------------------------------------------------


class TinyExtractor(nn.Module):
    """A fixed random conv net over uint8 images, standing in for Inception."""

    num_features = 16

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 4, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 4, 2, 1), nn.AdaptiveAvgPool2d(1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dtype == torch.uint8  # the same input contract as torch-fidelity's InceptionV3
        return self.net(x.float() / 255).flatten(1)


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


@pytest.mark.parametrize("n", [6, 48])  # fewer and more samples than feature dimensions: both FID code paths
def test_frechet_distance_matches_the_scipy_reference(n: int) -> None:
    g = torch.Generator().manual_seed(n)
    a, b = torch.randn(n, 16, generator=g), torch.randn(n + 3, 16, generator=g) * 1.5 + 0.3
    assert frechet_distance(a, b) == pytest.approx(
        reference_fid(a.double().numpy(), b.double().numpy()), rel=1e-6
    )
    assert abs(frechet_distance(a, a)) < 1e-8


def test_kernel_distance_is_the_unbiased_cubic_kernel_mmd() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g) + 1
    kid, kid_std = kernel_distance(x, y, subsets=3)  # subsets of all 10 rows: every subset is the whole set
    k = lambda a, b: (a.double() @ b.double().T / 4 + 1) ** 3  # noqa: E731
    off = ~torch.eye(10, dtype=torch.bool)
    expected = k(y, y)[off].mean() + k(x, x)[off].mean() - 2 * k(y, x).mean()
    assert kid == pytest.approx(expected.item(), rel=1e-9) and kid_std == pytest.approx(0, abs=1e-12)
    assert kernel_distance(x, x + 0.0, subsets=3)[0] < kid


def test_fid_kid_with_an_injected_extractor(train: torch.Tensor) -> None:
    extractor = TinyExtractor()
    fake = make_sprites(48, seed=5)
    noise = torch.rand(48, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    rng = torch.get_rng_state()

    close, far = fid_kid_with(extractor, fake, train), fid_kid_with(extractor, noise, train)

    assert torch.equal(rng, torch.get_rng_state())  # KID's subsets use their own generator
    with torch.no_grad():
        to_u8 = lambda x: ((x + 1) * 127.5).round().to(torch.uint8)  # noqa: E731
        f_fake, f_train = extractor(to_u8(fake)).double().numpy(), extractor(to_u8(train)).double().numpy()
    assert close.fid == pytest.approx(reference_fid(f_fake, f_train), rel=1e-6)
    assert far.fid > 5 * close.fid
    assert far.kid > close.kid and far.kid > 0
    assert (close.n_fake, close.n_real) == (48, 128)
    assert fid_kid_with(extractor, fake, train) == close
    grey = fid_kid_with(extractor, fake[:, :1], train[:, :1])  # grey images are repeated to RGB
    as_rgb = fid_kid_with(extractor, fake[:, :1].repeat(1, 3, 1, 1), train[:, :1].repeat(1, 3, 1, 1))
    assert grey == as_rgb and grey.fid != close.fid


def test_fid_unavailable_without_a_weights_path(train: torch.Tensor) -> None:
    result, message = fid_kid(train, train, None)
    assert result is None
    assert (
        message is not None
        and message.startswith("FID unavailable")
        and "POKEGAN_INCEPTION_WEIGHTS" in message
    )


def test_fid_unavailable_for_a_missing_or_unsafe_file(tmp_path: Path, train: torch.Tensor) -> None:
    result, message = fid_kid(train, train, tmp_path / "nope.pth")
    assert result is None and "nope.pth is not a file" in message and ENABLE_HINT in message

    pickled = tmp_path / "pickled.pth"
    torch.save({"net": TinyExtractor()}, pickled)  # a whole pickled module, which weights_only refuses
    result, message = fid_kid(train, train, pickled)
    assert result is None and "not a plain PyTorch weights file" in message

    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    result, message = fid_kid(train, train, wrong)
    assert result is None and "does not hold torch-fidelity's InceptionV3 weights" in message


def test_fid_unavailable_when_the_libraries_are_missing(
    tmp_path: Path, train: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "w.pth"
    torch.save({}, weights)
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import now raises ImportError
    result, message = fid_kid(train, train, weights)
    assert result is None and "install torch-fidelity" in message


def test_fid_kid_through_torch_fidelity_inception_with_local_weights(tmp_path: Path) -> None:
    # Real Inception weights cannot be downloaded here: save randomly initialised ones in torch-fidelity's
    # layout and run the whole path, from the file to the numbers.
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Unloaded(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args: object, **kwargs: object) -> None:
            return None

    empty = tmp_path / "empty.pt"
    torch.save({}, empty)
    torch.manual_seed(0)
    net = Unloaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)  # keep activations from vanishing through 90 random layers
    weights = tmp_path / "weights-inception-random.pth"
    torch.save(net.state_dict(), weights)

    real = make_sprites(3, seed=8)
    noise = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    result, message = fid_kid(noise, real, weights)
    assert message is None and result is not None
    assert result.fid > 1 and np.isfinite(result.kid) and (result.n_fake, result.n_real) == (2, 3)


# Choosing the best epoch -----------------------------------------------------------------------------------


def quality(score_pr: float, *, nn: float = 1.0, fid: float | None = None) -> EpochQuality:
    return EpochQuality(
        diversity_pixel=1.0, diversity_feature=1.0, duplicate_fraction=0.0,
        nn_pixel_mean=nn, nn_pixel_min=nn / 2, nn_feature_mean=nn, nn_feature_min=nn / 2,
        precision=score_pr, recall=score_pr, fid=fid,
    )  # fmt: skip


def event(step: int, kind: str, severity: str) -> TrainEvent:
    return TrainEvent(step=step, kind=kind, severity=severity, message=f"{kind} {severity}")


def test_best_epoch_is_the_best_scoring_checkpoint_before_an_unrecovered_collapse() -> None:
    qualities = [(e, 100 * e, quality(q)) for e, q in enumerate([0.2, 0.6, 0.5, 0.9, 0.95])]
    events = [event(250, "mode_collapse", "warning"), event(350, "mode_collapse", "error")]
    assert choose_best_epoch(qualities, events) == 100
    assert choose_best_epoch(qualities, []) == 400


def test_checkpoints_after_a_cleared_episode_are_eligible_again() -> None:
    qualities = [(e, 100 * e, quality(q)) for e, q in enumerate([0.3, 0.6, 0.95, 0.5, 0.7])]
    events = [
        event(120, "d_saturation", "warning"),
        event(150, "d_overfitting", "warning"),  # warns only: never disqualifies
        event(310, "d_saturation", "info"),
    ]
    assert failure_spans(events) == [(120, 310)]
    assert choose_best_epoch(qualities, events) == 400


def test_no_eligible_checkpoint_gives_none() -> None:
    qualities = [(1, 100, quality(0.9)), (2, 200, quality(0.9))]
    assert choose_best_epoch(qualities, [event(50, "divergence", "error")]) is None
    assert choose_best_epoch([], []) is None


def test_memorising_checkpoints_lose_to_novel_ones() -> None:
    qualities = [(1, 100, quality(0.8)), (2, 200, quality(1.0, nn=0.05))]
    assert choose_best_epoch(qualities, []) == 100


def test_fid_decides_when_every_candidate_has_one() -> None:
    with_fid = [(1, 100, quality(0.9, fid=80.0)), (2, 200, quality(0.5, fid=60.0))]
    assert choose_best_epoch(with_fid, []) == 200
    mixed = [(1, 100, quality(0.9, fid=80.0)), (2, 200, quality(0.5))]
    assert choose_best_epoch(mixed, []) == 100


def test_ties_go_to_the_later_step_and_nan_never_wins() -> None:
    qualities = [(1, 100, quality(0.7)), (2, 200, quality(0.7)), (3, 300, quality(float("nan")))]
    assert choose_best_epoch(qualities, []) == 200
