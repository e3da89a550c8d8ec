"""FastGAN's reconstruction losses: L1 + SSIM by default, LPIPS only from a local folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from models.config import TrainConfig
from models.errors import TrainingError
from models.nets import build_discriminator
from models.nets.recon import LPIPS_WIDTHS, LPIPSLoss, ReconstructionLoss, ssim
from tests.models.conftest import TINY


def _vgg16_features_file(path: Path) -> None:
    """torchvision's vgg16.pth layout (features.N.weight ...), without the big classifier."""
    features = make_layers(cfgs["D"]).state_dict()
    torch.save({f"features.{k}": v for k, v in features.items()}, path)


def _images(seed: int) -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_ssim_is_one_for_equal_images_and_falls_with_noise() -> None:
    a = _images(0)
    noisy = (a + 0.2 * torch.randn(a.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(a, noisy).item() < 0.9
    assert ssim(a, noisy).item() > ssim(a, _images(2)).item()  # noise keeps more structure than a swap


def test_default_loss_is_zero_only_for_a_perfect_reconstruction() -> None:
    loss = ReconstructionLoss()
    x = _images(0) * 2 - 1
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-5)
    assert loss(x.flip(0), x).item() > 0.1


def test_lpips_setting_pointing_nowhere_fails_clearly(tmp_path: Path) -> None:
    cfg = TrainConfig(**{**TINY, "arch": "fastgan"}, recon_lpips_weights=str(tmp_path / "missing"))
    with pytest.raises(TrainingError, match=r"lacks vgg16.pth, vgg.pth.*weights-free"):
        build_discriminator(cfg)


def test_lpips_loads_local_weights_and_stays_out_of_d(tmp_path: Path) -> None:
    # Random weights in the two files' real layouts: what matters here is the loading and the wiring.
    _vgg16_features_file(tmp_path / "vgg16.pth")
    g = torch.Generator().manual_seed(0)
    heads = {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for i, c in enumerate(LPIPS_WIDTHS)
    }
    torch.save(heads, tmp_path / "vgg.pth")
    loss = LPIPSLoss(tmp_path)
    x = _images(0) * 2 - 1
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(x, x.flip(0)).item() > 0
    D = build_discriminator(TrainConfig(**{**TINY, "arch": "fastgan"}, recon_lpips_weights=str(tmp_path)))
    assert isinstance(D.recon, LPIPSLoss)
    assert not any("backbone" in k or "heads" in k for k in D.state_dict())  # not trained, not saved


def test_lpips_file_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    _vgg16_features_file(tmp_path / "vgg16.pth")
    torch.save({"something": torch.zeros(1)}, tmp_path / "vgg.pth")
    with pytest.raises(TrainingError, match="not an LPIPS v0.1 file"):
        LPIPSLoss(tmp_path)
