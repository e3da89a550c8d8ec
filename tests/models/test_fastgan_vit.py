"""fastgan and vit: shapes at every size, learning, trained decoders, exact resume, generation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from models.config import TrainConfig
from models.generate import generate, load_generator
from models.monitoring import MonitorHook
from models.nets import build_networks
from models.nets.fastgan import FastGANDiscriminator, FastGANGenerator
from models.presets import apply_preset
from models.sink import ListSink
from models.steps import d_step, g_step, train_step
from models.store import RunDirStore
from models.train import train
from models.training_state import build_training_state
from tests.conftest import synthetic_images
from tests.models.conftest import TINY
from tests.models.test_train_resume import _assert_identical, _final

SIZES = [(64, 64), (128, 128), (256, 256), (128, 96)]  # (height, width): squares and the card shape
FAST = {**TINY, "arch": "fastgan", "loss": "hinge", "spectral_norm": True, "d_norm": "batch"}
VIT = {**TINY, "arch": "vit", "loss": "hinge", "ngf": 16, "ndf": 16}


def _config(base: dict, height: int, width: int, **extra) -> TrainConfig:
    return TrainConfig(**{**base, "image_size": height, "image_width": width, **extra})


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_fastgan_shapes_at_every_size(height: int, width: int) -> None:
    G, D = build_networks(_config(FAST, height, width))
    with torch.no_grad():
        x = G(torch.randn(2, 8, 1, 1))
        logits, feats = D.forward_with_features(x)
        whole, part = D.reconstruct(x, quarter=3)
    assert x.shape == (2, 3, height, width) and x.abs().max() <= 1
    assert logits.shape == (2,) and feats.shape[0] == 2 and feats.dim() == 2
    rows = D.recon_rows
    assert whole.shape == part.shape == (2, 3, rows, rows * width // height)
    assert rows == max(32, height // 2)  # 32 rows at 64 px, 128 at 256 px
    # Upsampling without transposed convolutions: the only one lifts the 1x1 latent to the base grid.
    transposed = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert transposed == [G.init[0]]
    # SLE from level r to 16r: 4->64 px, then 8->128, 16->256; the cards start at 8 rows: 8->128 only.
    assert len(G.sle_pairs) == {(64, 64): 1, (128, 128): 2, (256, 256): 3, (128, 96): 1}[(height, width)]


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_vit_shapes_at_every_size(height: int, width: int) -> None:
    G, D = build_networks(_config(VIT, height, width))
    with torch.no_grad():
        x = G(torch.randn(2, 8, 1, 1))
        logits, feats = D.forward_with_features(x)
    assert x.shape == (2, 3, height, width) and x.abs().max() <= 1
    assert logits.shape == (2,) and feats.shape == (2, 16)
    sn = [m for m in D.modules() if hasattr(m, "parametrizations")]
    assert sn and all(isinstance(m, nn.Linear) for m in sn)  # every D projection is spectrally normalised


def _fixed_batch(cfg: TrainConfig, n: int = 8) -> torch.Tensor:
    s = build_training_state(cfg, torch.device("cpu"), iters_per_epoch=100)
    return s.to_images(synthetic_images(n, cfg.height, cfg.width))


@pytest.mark.parametrize("base", [FAST, VIT], ids=["fastgan", "vit"])
def test_a_few_steps_move_both_losses(base: dict) -> None:
    cfg = TrainConfig(**{**base, "batch_size": 8, "lr_d": 1e-3, "lr_g": 1e-3})
    s = build_training_state(cfg, torch.device("cpu"), iters_per_epoch=100)
    real = s.to_images(synthetic_images(8, 16))
    with torch.no_grad():
        fake = s.G(s.noise(8))
    # D alone on a fixed real and fake batch: its loss must fall.
    d_losses = [float(d_step(s, real, fake, collect_grads=False)[0]) for _ in range(15)]
    assert d_losses[-1] < d_losses[0] - 0.1
    # G alone against that D, on fixed noise: its loss must fall.
    z = s.noise(8)
    g_losses = []
    for _ in range(15):
        out = s.G(z)
        g_losses.append(float(g_step(s, out, torch.zeros(1), collect_grads=False)[0]))
    assert g_losses[-1] < g_losses[0] - 0.1


def _recon_loss(D: FastGANDiscriminator, real: torch.Tensor) -> float:
    with torch.no_grad():
        return float(D.forward_with_reconstruction(real, torch.Generator().manual_seed(5))[2])


def test_reconstruction_decoders_are_trained() -> None:
    cfg = TrainConfig(**{**FAST, "batch_size": 8, "lr_d": 1e-3})
    s = build_training_state(cfg, torch.device("cpu"), iters_per_epoch=100)
    real = s.to_images(synthetic_images(8, 16))
    decoders = {k: v.clone() for k, v in s.D.state_dict().items() if k.startswith("decoder_")}
    before = _recon_loss(s.D, real)
    for _ in range(25):
        train_step(s, real, collect_grads=False)
    after = _recon_loss(s.D, real)
    changed = [k for k, v in s.D.state_dict().items() if k in decoders and not torch.equal(v, decoders[k])]
    assert any(k.startswith("decoder_whole") for k in changed)
    assert any(k.startswith("decoder_part") for k in changed)
    assert after < before * 0.8, (before, after)
    assert s.recon_loss is not None and torch.isfinite(s.recon_loss)


def test_recon_weight_zero_leaves_the_decoders_alone() -> None:
    cfg = TrainConfig(**{**FAST, "batch_size": 8, "recon_weight": 0.0})
    s = build_training_state(cfg, torch.device("cpu"), iters_per_epoch=100)
    real = s.to_images(synthetic_images(8, 16))
    before = {k: v.clone() for k, v in s.D.state_dict().items() if k.startswith("decoder_whole")}
    train_step(s, real, collect_grads=False)
    assert all(torch.equal(v, s.D.state_dict()[k]) for k, v in before.items())


RESUMABLE = {
    "fastgan-ada-ema": {**FAST, "diffaugment": "color,translation,cutout", "ema_decay": 0.9},
    "vit-ada": {**VIT, "diffaugment": "translation,cutout"},
}


@pytest.mark.parametrize("fields", RESUMABLE.values(), ids=RESUMABLE.keys())
def test_cancel_and_resume_is_bit_exact(tmp_path: Path, fields: dict) -> None:
    # A fast ADA (50 images from p=0 to 1, a low target) so p has moved and is mid-interval at both ends.
    ada = {"ada_target": 0.05, "ada_interval": 4, "ada_kimg": 0.05, "lr_d": 1e-3}
    cfg = TrainConfig(**{**fields, "epochs": 3, **ada})
    data = synthetic_images(20, 16)  # 5 iterations per epoch
    whole_sink = ListSink()
    train(cfg, data, whole_sink, RunDirStore(tmp_path / "whole"))
    split_sink, split_store = ListSink(), RunDirStore(tmp_path / "split")
    cancelled = train(
        cfg, data, split_sink, split_store, should_abort=lambda: len(split_sink.iterations) >= 7
    )
    assert cancelled.step == 7
    assert train(cfg, data, split_sink, split_store).step == 15
    whole, split = _final(RunDirStore(tmp_path / "whole")), _final(split_store)
    _assert_identical(whole, split)
    assert split_sink.iterations == whole_sink.iterations
    assert whole["ada"]["p"] > 0 and whole["ada"]["steps"] == 3  # 15 steps: 3 into the 4th interval
    assert whole["ada"]["p"] == split["ada"]["p"] and whole["ada"]["steps"] == split["ada"]["steps"]
    assert torch.equal(whole["ada"]["signs"], split["ada"]["signs"])


@pytest.mark.parametrize("base", [FAST, VIT], ids=["fastgan", "vit"])
def test_detectors_generation_and_interpolation_work(tmp_path: Path, base: dict) -> None:
    cfg = TrainConfig(**{**base, "ema_decay": 0.9, "diffaugment": "color", "grad_stats_every": 2})
    sink = ListSink()
    hook = MonitorHook(sink, objective="hinge", policy="warn")
    result = train(cfg, synthetic_images(16, 16), sink, RunDirStore(tmp_path), hooks=[hook])
    assert result.status == "completed"
    assert hook.last_quality is not None  # the detectors judged every epoch
    assert {g.net for g in sink.grad_stats} == {"G", "D"}
    state = torch.load(result.checkpoint.path, weights_only=True)
    G = load_generator(state)
    assert isinstance(G, FastGANGenerator) == (base is FAST)
    a, b = generate(G, 3, seed=7), generate(G, 3, seed=7)
    assert a.shape == (3, 3, 16, 16) and torch.equal(a, b)  # a function of the seed alone


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        ("fastgan-64", {}),
        ("fastgan-128", {}),
        ("fastgan-256", {"ngf": 16, "ndf": 16}),  # the full widths take ~10 s a step on a CPU
        ("seed-001-vit", {}),
        ("cards", {"arch": "fastgan"}),
    ],
)
def test_presets_train_a_step_at_their_size(preset: str, overrides: dict) -> None:
    cfg = apply_preset(preset, {**overrides, "batch_size": 2, "device": "cpu"})
    s = build_training_state(cfg, torch.device("cpu"), iters_per_epoch=10)
    real = s.to_images(synthetic_images(2, cfg.height, cfg.width))
    out = train_step(s, real, collect_grads=False)
    assert all(torch.isfinite(torch.tensor(list(out.values.values()))))
    assert s.sampler(s.fixed_noise[:1]).shape == (1, 3, cfg.height, cfg.width)
