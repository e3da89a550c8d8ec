"""Fixtures of the cards tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cards.kaggle import write_kaggle_csv


@pytest.fixture
def kaggle_csv(tmp_path: Path) -> Path:
    return write_kaggle_csv(tmp_path / "cards.csv")
