"""`pokegan generate --label` on a conditional run folder (trained here with the library's loop)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torchvision.utils import save_image

from cli.main import main
from models.config import TrainConfig
from models.generate import generate, load_generator
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.models.conftest import TINY
from tests.models.labelled import coloured


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    data, labels = coloured(4)
    config = TrainConfig(**{**TINY, "epochs": 1}, conditional=True, label_names=("Fire", "Water"))
    train(config, data, ListSink(), RunDirStore(folder), labels=labels)
    return folder


def test_generate_draws_the_named_label(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "water.png"
    assert main(["generate", str(run_dir), "-n", "4", "--seed", "3", "--label", "Water", "-o", str(out)]) == 0
    assert "label Water" in capsys.readouterr().out
    state = torch.load(sorted(run_dir.glob("ckpt-*.pt"))[-1], weights_only=True)
    expected = tmp_path / "expected.png"
    save_image(
        generate(load_generator(state), 4, 3, torch.ones(4, dtype=torch.int64)), expected, nrow=2, padding=2
    )
    assert Image.open(out).tobytes() == Image.open(expected).tobytes()

    assert main(["generate", str(run_dir), "-n", "4", "-o", str(tmp_path / "turns.png")]) == 0
    assert "labels Fire, Water in turn" in capsys.readouterr().out


def test_an_unknown_label_names_the_known_ones(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["generate", str(run_dir), "--label", "Psychic"]) == 2
    assert "unknown label 'Psychic': it knows Fire, Water" in capsys.readouterr().err
