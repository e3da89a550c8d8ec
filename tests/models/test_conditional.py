"""Conditional G and D (projection discriminator), the transition schedule, per-label grids, and resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from models.conditioning import condition_strength
from models.config import TrainConfig
from models.errors import TrainingError
from models.generate import generate, load_generator
from models.nets import build_networks
from models.nets.conditional import (
    ConditionalFastGANDiscriminator,
    ConditionalFastGANGenerator,
    ConditionalGenerator,
    ProjectionDiscriminator,
    set_strength,
)
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.models.conftest import TINY
from tests.models.labelled import coloured
from tests.models.test_train_resume import _assert_identical, _final

COND = {"conditional": True, "label_names": ("Fire", "Water")}
SIZES = {"dcgan": 16, "dcgan64": 64, "dcgan128": 128, "cnn96": 96, "fastgan": 64}


@pytest.mark.parametrize("arch", list(SIZES))
def test_at_strength_zero_the_conditional_nets_compute_their_base_nets(arch: str) -> None:
    shape = {**TINY, "arch": arch, "image_size": SIZES[arch], "ngf": 4, "ndf": 4, "spectral_norm": True}
    G0, D0 = build_networks(TrainConfig(**shape))
    G, D = build_networks(TrainConfig(**shape, **COND))
    assert isinstance(G, ConditionalGenerator | ConditionalFastGANGenerator)
    assert isinstance(D, ProjectionDiscriminator | ConditionalFastGANDiscriminator)
    z, y = torch.randn(4, 8, 1, 1), torch.tensor([0, 1, 0, 1])
    G0.eval(), G.eval(), D0.eval(), D.eval()
    with torch.no_grad():
        for net in (G.modulation.embed, D.projection.embed):
            net.weight.normal_()  # learned embeddings, but the condition is switched off
        set_strength(G, 0.0), set_strength(D, 0.0)
        x = G0(z)
        assert x.shape == (4, 3, SIZES[arch], SIZES[arch])
        assert torch.equal(G(z, y), x)
        assert torch.equal(D(x, y), D0(x))
        set_strength(G, 1.0), set_strength(D, 1.0)
        fire, water = G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.ones(4, dtype=torch.long))
        assert not torch.allclose(fire, water)
        assert not torch.allclose(  # relative: an untrained FastGAN's logits are tiny
            D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long)), atol=0
        )
        assert torch.equal(D(x), D0(x))  # without labels (detectors' probes) D is its base


@pytest.mark.parametrize("arch", ["dcgan", "fastgan"])
def test_class_weights_blend_the_labels_embeddings(arch: str) -> None:
    size = {"dcgan": 16, "fastgan": 64}[arch]
    G, _ = build_networks(
        TrainConfig(**{**TINY, "arch": arch, "image_size": size, "ngf": 4, "ndf": 4}, **COND)
    )
    G.eval()
    z = torch.randn(1, 8, 1, 1).repeat(3, 1, 1, 1)
    with torch.no_grad():
        G.modulation.embed.weight.normal_()
        by_index = G(z[:2], torch.tensor([0, 1]))
        one_hot = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
        blended = G(z, one_hot)
        assert torch.equal(blended[:2], by_index)  # a one-hot weight is exactly the label
        G.modulation.embed.weight[:] = G.modulation.embed.weight.mean(dim=0, keepdim=True)
        halfway = G(z[:1], torch.tensor([0]))
    assert torch.allclose(blended[2:], halfway, atol=1e-5)  # half-and-half is the mean embedding
    assert not torch.allclose(blended[2:], by_index[:1]) and not torch.allclose(blended[2:], by_index[1:])


def test_the_transition_schedule() -> None:
    config = TrainConfig(**TINY, **COND, cond_transition_start_epochs=2, cond_transition_epochs=4)
    assert [condition_strength(config, step, 10) for step in (0, 19, 20, 30, 40, 59, 60, 999)] == [
        0.0, 0.0, 0.0, 0.25, 0.5, 0.975, 1.0, 1.0,
    ]  # fmt: skip
    off = config.model_copy(update={"cond_transition_start_epochs": 0, "cond_transition_epochs": 0})
    assert condition_strength(off, 0, 10) == 1.0


def test_a_conditional_config_needs_two_labels() -> None:
    with pytest.raises(ValueError, match="at least two labels"):
        TrainConfig(**TINY, conditional=True, label_names=("Fire",))
    with pytest.raises(ValueError, match="only apply to conditional runs"):
        TrainConfig(**TINY, label_names=("Fire", "Water"))


def test_the_unconditional_phase_is_the_unconditional_run_bit_for_bit(tmp_path: Path) -> None:
    data, labels = coloured(8)  # 16 images, 4 iterations per epoch
    plain = TrainConfig(**{**TINY, "epochs": 1})
    conditional = TrainConfig(**{**TINY, "epochs": 1, **COND, "cond_transition_start_epochs": 1})
    a, b = ListSink(), ListSink()
    train(plain, data, a, RunDirStore(tmp_path / "plain"))
    train(conditional, data, b, RunDirStore(tmp_path / "cond"), labels=labels)
    assert [r.values for r in a.iterations] == [r.values for r in b.iterations]


def test_labels_are_checked() -> None:
    data, labels = coloured(4)
    config = TrainConfig(**TINY, **COND)
    with pytest.raises(TrainingError, match="needs one label per image"):
        train(config, data, ListSink(), RunDirStore(Path("/nonexistent")))
    with pytest.raises(TrainingError, match=r"must lie in 0\.\.1"):
        train(config, data, ListSink(), RunDirStore(Path("/nonexistent")), labels=labels + 1)
    with pytest.raises(TrainingError, match="int64 tensor of 8"):
        train(config, data, ListSink(), RunDirStore(Path("/nonexistent")), labels=labels[:3])


def test_conditional_resume_is_bit_exact_across_the_transition(tmp_path: Path) -> None:
    data, labels = coloured(10)  # 20 images: 5 iterations per epoch
    fields = {**TINY, **COND, "epochs": 3, "cond_transition_start_epochs": 1, "cond_transition_epochs": 1}
    cfg = TrainConfig(**fields, ema_decay=0.9, loss="hinge", spectral_norm=True, gp_weight=1.0)
    whole = ListSink()
    train(cfg, data, whole, RunDirStore(tmp_path / "whole"), labels=labels)
    split_sink, store = ListSink(), RunDirStore(tmp_path / "split")
    cancelled = train(
        cfg, data, split_sink, store, labels=labels, should_abort=lambda: len(split_sink.iterations) >= 7
    )
    assert cancelled.step == 7
    train(cfg, data, split_sink, store, labels=labels)
    final = _final(store)
    _assert_identical(_final(RunDirStore(tmp_path / "whole")), final)
    assert split_sink.iterations == whole.iterations
    assert final["config"]["label_names"] == ["Fire", "Water"]  # the checkpoint keeps the label names
    assert float(final["G"]["modulation.strength"]) == 1.0


def test_the_grid_has_one_row_per_label_and_the_label_changes_the_colour(tmp_path: Path) -> None:
    """Red Fire and blue Water: after a short run (7 s) G's Fire samples are red and its Water samples blue
    from the same latents (measured 0.44 and -0.47 red minus blue)."""
    data, labels = coloured(32)  # 64 images
    fields = {**TINY, **COND, "epochs": 60, "batch_size": 16, "cond_transition_start_epochs": 0}
    config = TrainConfig(**fields, cond_transition_epochs=2, lr_g=1e-3, lr_d=1e-3, holdout_fraction=0)
    store = RunDirStore(tmp_path / "run")
    train(config, data, ListSink(), store, labels=labels)
    grid = Image.open(tmp_path / "run" / "grid-00060.png")
    assert grid.size == (2 + 8 * 18, 2 + 2 * 18)  # 8 columns, one row per label, 2 px padding
    G = load_generator(_final(store))
    fire = generate(G, 32, seed=0, labels=torch.zeros(32, dtype=torch.long))
    water = generate(G, 32, seed=0, labels=torch.ones(32, dtype=torch.long))
    redness = lambda x: (x[:, 0] - x[:, 2]).mean().item()  # noqa: E731
    assert redness(fire) > 0.25 and redness(water) < -0.25, (redness(fire), redness(water))


def test_vit_has_no_conditional_form_yet() -> None:
    with pytest.raises(ValueError, match="'vit' has no conditional form yet"):
        TrainConfig(arch="vit", conditional=True, label_names=["Fire", "Water"])


def test_a_conditional_fastgan_trains_its_class_terms_and_its_decoders(tmp_path: Path) -> None:
    """FastGAN's projection term, its G's class modulation and its reconstruction decoders all learn in a
    conditional run (a FastGAN needs far more steps than a test has before its colours follow the label:
    the label's effect on samples is checked on the dcgan above)."""
    data, labels = coloured(12, size=64)
    fields = {**TINY, **COND, "arch": "fastgan", "image_size": 64, "ngf": 4, "ndf": 4, "batch_size": 8}
    config = TrainConfig(
        **fields,
        cond_transition_start_epochs=0,
        cond_transition_epochs=0,
        holdout_fraction=0,
        recon_weight=1.0,
    )
    store = RunDirStore(tmp_path / "run")
    sink = ListSink()
    train(config, data, sink, store, labels=labels)
    state = _final(store)
    assert state["step"] == 6 and all(math.isfinite(r.loss_d) for r in sink.iterations)
    assert state["G"]["modulation.embed.weight"].abs().sum() > 0  # learned from zero
    assert state["D"]["projection.embed.weight"].abs().sum() > 0
    built = build_networks(config)[1].state_dict()
    name = next(k for k in state["D"] if k.startswith("base.decoder_whole.") and k.endswith("weight"))
    assert not torch.equal(state["D"][name], built[name])
    G = load_generator(state)
    fire = generate(G, 4, seed=0, labels=torch.zeros(4, dtype=torch.long))
    assert fire.shape == (4, 3, 64, 64) and not torch.equal(
        fire, generate(G, 4, 0, torch.ones(4, dtype=torch.long))
    )
