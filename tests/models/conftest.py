"""Fixtures for the models tests: tiny configs that train in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models.config import TrainConfig

TINY = {
    "arch": "dcgan",
    "image_size": 16,
    "nz": 8,
    "ngf": 8,
    "ndf": 8,
    "batch_size": 4,
    "epochs": 2,
    "log_every": 1,
    "grad_stats_every": 0,
    "seed": 0,
}


@pytest.fixture
def tiny_config() -> Callable[..., TrainConfig]:
    """tiny_config(**overrides): a 16 px DCGAN with 8 channels, batch 4, 2 epochs."""

    def make(**overrides: Any) -> TrainConfig:
        return TrainConfig(**{**TINY, **overrides})

    return make
