"""Images from a trained checkpoint: rebuild G from the config inside it, then sample by seed.

Sample i of generate(G, n, seed) comes from seed + i alone, so any image a user sees can be reproduced
(or used as an interpolation end point) from its own seed.
"""

from __future__ import annotations

from typing import Any

import torch

from models.config import TrainConfig
from models.errors import TrainingError
from models.nets import Generator, build_generator
from models.training_state import load_weights


def load_generator(state: dict[str, Any], use_ema: bool = True) -> Generator:
    """G in eval mode on the CPU from a checkpoint dict (EMA weights when present and use_ema)."""
    if not isinstance(state, dict) or "config" not in state or "G" not in state:
        raise TrainingError("not a pokegan checkpoint: expected a dict with 'config' and 'G'")
    config = TrainConfig.model_validate(state["config"])
    with torch.random.fork_rng(devices=[]):  # the weights are overwritten; keep the caller's RNG untouched
        net = build_generator(config)
    weights = state["ema"] if use_ema and state.get("ema") is not None else state["G"]
    load_weights(net, weights, "G")
    return net.eval()


def latents(seeds: list[int], nz: int) -> torch.Tensor:
    """One N(0, 1) latent per seed, len(seeds) x nz x 1 x 1, each from its own generator."""
    rows = [torch.randn(nz, generator=torch.Generator().manual_seed(seed)) for seed in seeds]
    return torch.stack(rows).view(len(seeds), nz, 1, 1)


@torch.no_grad()
def render(G: Generator, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Images for latents z (and, for a conditional G, one class index each) as CPU floats in [0, 1]."""
    device = next(G.parameters()).device
    cond = () if labels is None else (labels.to(device),)
    return G(z.to(device), *cond).float().cpu().add(1).div(2).clamp(0, 1)


def generate(G: Generator, n: int, seed: int, labels: torch.Tensor | None = None) -> torch.Tensor:
    """n images (n x 3 x H x W, floats in [0, 1]) for seeds seed, seed + 1, ..., seed + n - 1."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return render(G, latents(list(range(seed, seed + n)), G.nz), labels)


def slerp_latents(seed_a: int, seed_b: int, steps: int, nz: int) -> torch.Tensor:
    """steps latents on the great circle from seed_a's latent to seed_b's (end points included)."""
    if steps < 2:
        raise ValueError(f"an interpolation strip needs at least 2 steps, got {steps}")
    a, b = latents([seed_a, seed_b], nz).view(2, nz).double()
    t = torch.linspace(0, 1, steps, dtype=torch.float64).unsqueeze(1)
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega.abs() < 1e-6:  # (anti)parallel latents: slerp degenerates to lerp
        z = (1 - t) * a + t * b
    else:
        z = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
    return z.float().view(steps, nz, 1, 1)
