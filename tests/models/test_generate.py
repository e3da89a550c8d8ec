"""Generation from a checkpoint: the right weights, deterministic by seed, and slerp strips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.config import TrainConfig
from models.errors import TrainingError
from models.generate import generate, latents, load_generator, slerp_latents
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.conftest import synthetic_images
from tests.models.conftest import TINY


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = TrainConfig(**{**TINY, "image_width": 32, "ema_decay": 0.9})
    result = train(cfg, synthetic_images(16, 16, 32), ListSink(), RunDirStore(tmp_path_factory.mktemp("run")))
    return result.checkpoint.path


def test_load_generator_rebuilds_the_net_from_the_checkpoint(checkpoint_path: Path) -> None:
    state = torch.load(checkpoint_path, weights_only=True)
    G = load_generator(state)
    assert not G.training and G.nz == 8
    assert all(torch.equal(G.state_dict()[k], v) for k, v in state["ema"].items())
    raw = load_generator(state, use_ema=False)
    assert all(torch.equal(raw.state_dict()[k], v) for k, v in state["G"].items())
    assert not torch.equal(generate(G, 2, seed=0), generate(raw, 2, seed=0))


def test_generate_is_deterministic_by_seed(checkpoint_path: Path) -> None:
    G = load_generator(torch.load(checkpoint_path, weights_only=True))
    images = generate(G, 4, seed=7)
    assert images.shape == (4, 3, 16, 32) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, generate(G, 4, seed=7))
    assert not torch.equal(images[:1], generate(G, 1, seed=8))
    # Image i of a batch is the image of seed + i on its own.
    assert torch.allclose(images[2:3], generate(G, 1, seed=9), atol=1e-6)
    with pytest.raises(ValueError, match="at least 1"):
        generate(G, 0, seed=0)


def test_slerp_strip_runs_between_the_two_seeds() -> None:
    strip = slerp_latents(3, 4, steps=5, nz=16)
    ends = latents([3, 4], 16)
    assert strip.shape == (5, 16, 1, 1)
    assert torch.allclose(strip[0], ends[0], atol=1e-6) and torch.allclose(strip[-1], ends[1], atol=1e-6)
    norms = strip.flatten(1).norm(dim=1)
    assert norms.min() > 0.8 * min(ends.flatten(1).norm(dim=1))  # no dip through the origin as with lerp
    with pytest.raises(ValueError, match="at least 2 steps"):
        slerp_latents(3, 4, steps=1, nz=16)


def test_load_generator_refuses_what_is_not_a_checkpoint() -> None:
    with pytest.raises(TrainingError, match="not a pokegan checkpoint"):
        load_generator({"weights": 1})
