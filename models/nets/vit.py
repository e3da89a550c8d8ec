"""Seed 001's ViT option: a small transformer generator and a ViTGAN-style transformer discriminator.

Lee et al., "ViTGAN: Training GANs with Vision Transformers", ICLR 2022, https://arxiv.org/abs/2107.04589.
Dot-product self-attention is not Lipschitz (Kim et al. 2021, https://arxiv.org/abs/2006.04710), which
destabilises a GAN's D; ViTGAN's D uses L2-distance attention with tied query/key projections and
spectral normalisation scaled back by each weight's spectral norm at initialisation ("improved SN").

Both nets work on 8 x 8 px patches: G turns a latent into (H/8) x (W/8) tokens plus learnt positions, runs
transformer blocks and maps each token to a patch; D embeds the patches, adds a class token, and scores it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

PATCH = 8
MLP_RATIO = 2


class ScaledSpectralNorm(nn.Module):
    """ViTGAN's improved spectral normalisation: W / sigma(W) * sigma(W at init), so training starts at the
    initial scale instead of squashing every layer to norm 1."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        init_sigma = torch.linalg.matrix_norm(linear.weight.detach(), ord=2)
        self.linear = spectral_norm(linear)
        self.register_buffer("init_sigma", init_sigma.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * self.init_sigma


def _linear(c_in: int, c_out: int, sn: bool, bias: bool = True) -> nn.Module:
    layer = nn.Linear(c_in, c_out, bias=bias)
    init_vit_weights(layer)  # before spectral norm wraps the weight and records its initial norm
    return ScaledSpectralNorm(layer) if sn else layer


class Attention(nn.Module):
    """Multi-head self-attention; `l2=True` scores tokens by -||q - k||^2 with q = k (Lipschitz, for D)."""

    def __init__(self, dim: int, heads: int, *, l2: bool, sn: bool) -> None:
        super().__init__()
        self.heads, self.l2 = heads, l2
        self.head_dim = dim // heads
        n_proj = 2 if l2 else 3  # tied q/k for L2 attention
        self.qkv = _linear(dim, dim * n_proj, sn, bias=False)
        self.out = _linear(dim, dim, sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        parts = self.qkv(x).view(n, t, -1, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.l2:
            q, v = parts[0], parts[1]
            scores = -torch.cdist(q, q).pow(2) / math.sqrt(self.head_dim)
            h = scores.softmax(dim=-1) @ v
        else:
            h = F.scaled_dot_product_attention(parts[0], parts[1], parts[2])
        return self.out(h.transpose(1, 2).reshape(n, t, -1))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, *, l2: bool, sn: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, l2=l2, sn=sn)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            _linear(dim, dim * MLP_RATIO, sn), nn.GELU(), _linear(dim * MLP_RATIO, dim, sn)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _heads(dim: int) -> int:
    return max(1, min(8, dim // 32))


class ViTGenerator(nn.Module):
    """N x nz x 1 x 1 noise -> N x nc x H x W: latent -> tokens (+ positions) -> blocks -> 8 x 8 patches."""

    def __init__(self, *, nz: int, dim: int, height: int, width: int, depth: int = 4, nc: int = 3) -> None:
        super().__init__()
        self.nz = nz
        self.image_shape = (nc, height, width)
        self.grid = (height // PATCH, width // PATCH)
        tokens = self.grid[0] * self.grid[1]
        self.dim = dim
        # input is Z; state size. tokens x dim after the projection
        self.from_latent = nn.Linear(nz, tokens * dim)
        self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*(Block(dim, _heads(dim), l2=False, sn=False) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        # state size. tokens x (nc * 8 * 8), folded back to (nc) x H x W
        self.to_patch = nn.Linear(dim, nc * PATCH * PATCH)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.size(0)
        x = self.from_latent(z.flatten(1)).view(n, -1, self.dim) + self.pos
        x = self.to_patch(self.norm(self.blocks(x)))
        gh, gw = self.grid
        c = self.image_shape[0]
        x = x.view(n, gh, gw, c, PATCH, PATCH).permute(0, 3, 1, 4, 2, 5)
        return torch.tanh(x.reshape(n, c, gh * PATCH, gw * PATCH))


class ViTDiscriminator(nn.Module):
    """Images -> one logit per image from the class token; L2 attention and improved SN throughout."""

    def __init__(self, *, dim: int, height: int, width: int, depth: int = 4, nc: int = 3) -> None:
        super().__init__()
        tokens = (height // PATCH) * (width // PATCH)
        # input is (nc) x H x W; state size. tokens x dim after the patch embedding
        self.embed = _linear(nc * PATCH * PATCH, dim, sn=True)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*(Block(dim, _heads(dim), l2=True, sn=True) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = _linear(dim, 1, sn=True)

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        patches = x.reshape(n, c, h // PATCH, PATCH, w // PATCH, PATCH).permute(0, 2, 4, 1, 3, 5)
        t = self.embed(patches.reshape(n, -1, c * PATCH * PATCH))
        t = torch.cat([self.cls.expand(n, -1, -1), t], dim=1) + self.pos
        return self.norm(self.blocks(t))[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._tokens(x)).reshape(-1)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the class token's final features (feature matching, detectors)."""
        feats = self._tokens(x)
        return self.head(feats).reshape(-1), feats

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._tokens(x)


def init_vit_weights(module: nn.Module) -> None:
    """Transformer init: linear weights ~ N(0, 0.02) (before SN wraps them), biases 0, LayerNorm 1/0."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
