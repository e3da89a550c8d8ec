"""FastGAN's self-supervised D reconstruction loss: weights-free L1 + SSIM, or LPIPS from local weights.

FastGAN (https://arxiv.org/abs/2101.04775) uses LPIPS (Zhang et al. 2018, https://arxiv.org/abs/1801.03924),
whose VGG weights cannot be downloaded here; L1 plus the structural term 1 - SSIM (Wang et al. 2004) needs
none and still rewards outlines and local contrast, not only mean colour.

Neither is an nn.Module on purpose: D holds one, and the LPIPS network must not become part of D's weights,
optimiser or spectral normalisation.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.errors import TrainingError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # for images in [0, 1]


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()
    return window.to(like.device, like.dtype)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two N x C x H x W batches in [0, 1] (Gaussian 11x11 window, sigma 1.5)."""
    channels = a.size(1)
    size = min(SSIM_WINDOW, a.size(2), a.size(3))
    window = _gaussian_window(size, SSIM_SIGMA, channels, a)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a**2 + mu_b**2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return (num / den).mean()


class ReconstructionLoss:
    """L1 + (1 - SSIM) between a reconstruction and its target, both in [-1, 1], computed in float32."""

    name = "l1-ssim"

    def __call__(self, recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(recon.device.type, enabled=False):
            recon, target = recon.float(), target.detach().float()
            l1 = (recon - target).abs().mean()
            return l1 + 1 - ssim((recon + 1) / 2, (target + 1) / 2)


# VGG-16 feature layers LPIPS compares (relu1_2 ... relu5_3) and their widths.
LPIPS_TAPS = (3, 8, 15, 22, 29)
LPIPS_WIDTHS = (64, 128, 256, 512, 512)
LPIPS_FILES = ("vgg16.pth", "vgg.pth")


class LPIPSLoss:
    """LPIPS-VGG from a local folder holding torchvision's VGG-16 weights (vgg16.pth: features.* keys) and
    the LPIPS v0.1 linear heads (vgg.pth: lin0.model.1.weight ...). Never downloads anything."""

    name = "lpips"

    def __init__(self, folder: str | Path) -> None:
        from torchvision.models.vgg import cfgs, make_layers

        folder = Path(folder)
        missing = [name for name in LPIPS_FILES if not (folder / name).is_file()]
        if missing:
            raise TrainingError(
                f"recon_lpips_weights points at {folder}, which lacks {', '.join(missing)}: it must hold "
                "torchvision's VGG-16 weights as vgg16.pth and the LPIPS v0.1 heads as vgg.pth; unset "
                "recon_lpips_weights to use the weights-free L1 + SSIM loss"
            )
        backbone = make_layers(cfgs["D"])[: LPIPS_TAPS[-1] + 1]  # VGG-16's conv part, no classifier
        vgg = torch.load(folder / "vgg16.pth", map_location="cpu", weights_only=True)
        features = {k.removeprefix("features."): v for k, v in vgg.items() if k.startswith("features.")}
        _load(backbone, features, folder / "vgg16.pth")
        heads = torch.load(folder / "vgg.pth", map_location="cpu", weights_only=True)
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in LPIPS_WIDTHS)
        head_weights = {f"{i}.weight": heads.get(f"lin{i}.model.1.weight") for i in range(len(LPIPS_WIDTHS))}
        if any(v is None for v in head_weights.values()):
            raise TrainingError(f"{folder / 'vgg.pth'} is not an LPIPS v0.1 file (no lin0..lin4 weights)")
        _load(self.heads, head_weights, folder / "vgg.pth")
        self.backbone = backbone.eval().requires_grad_(False)
        self.heads.eval().requires_grad_(False)
        self.shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
        self.scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], (x - self.shift) / self.scale
        for i, layer in enumerate(self.backbone):
            h = layer(h)
            if i in LPIPS_TAPS:
                out.append(h / (h.norm(dim=1, keepdim=True) + 1e-10))
        return out

    def __call__(self, recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        device = recon.device
        if self.shift.device != device:
            self.backbone.to(device)
            self.heads.to(device)
            self.shift, self.scale = self.shift.to(device), self.scale.to(device)
        with torch.autocast(device.type, enabled=False):
            fa, fb = self._taps(recon.float()), self._taps(target.detach().float())
            terms = [head((a - b) ** 2).mean() for head, a, b in zip(self.heads, fa, fb, strict=True)]
            return torch.stack(terms).sum()


def _load(module: nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    try:
        module.load_state_dict(weights)
    except RuntimeError as exc:
        raise TrainingError(f"{path} does not fit the LPIPS network: {str(exc).splitlines()[0]}") from exc


def make_reconstruction_loss(lpips_folder: str | None) -> ReconstructionLoss | LPIPSLoss:
    """The weights-free loss unless a local LPIPS folder is configured."""
    return LPIPSLoss(lpips_folder) if lpips_folder else ReconstructionLoss()
