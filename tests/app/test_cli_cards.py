"""`pokegan cards` as a user runs it: a real process on a run folder of a really trained tiny GAN."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from models.config import TrainConfig
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.app.factories import TINY_CONFIG
from tests.app.test_cli_train import finish, pokegan
from tests.cards.kaggle import write_kaggle_csv
from tests.cards.sheet_check import media_boxes
from tests.conftest import synthetic_images

pytestmark = pytest.mark.slow  # each test starts a Python process that imports torch


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    train(TrainConfig(**TINY_CONFIG), synthetic_images(8, 16), ListSink(), RunDirStore(folder))
    return folder


def test_nine_cards_and_a_sheet(run_dir: Path, tmp_path: Path) -> None:
    kaggle_csv = write_kaggle_csv(tmp_path / "cards.csv")
    code, out, err = finish(
        pokegan("cards", run_dir, "-n", "9", "--pdf", "sheet.pdf", "--seed", "4", "--metadata", kaggle_csv,
                cwd=tmp_path, stdout=-1, stderr=-1)
    )  # fmt: skip
    assert code == 0, err
    pngs = sorted((tmp_path / "cards").glob("card-*.png"))
    assert len(pngs) == 9 and Image.open(pngs[0]).size == (744, 1039)
    assert (tmp_path / "cards" / "card-seed4-text4.png").is_file()
    [box] = media_boxes((tmp_path / "sheet.pdf").read_bytes())
    assert round(box[2] / 72 * 25.4) == 210 and round(box[3] / 72 * 25.4) == 297
    assert len(re.findall(r"· HP \d+ ·", out)) == 9
    assert "text: n-gram on cards.csv (4 cards)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "10"], "must be between 1 and 9"),
        (["--type", "Banana"], "unknown type 'Banana'; one of Grass, Fire"),
        (["--layout", "bad.json"], "box 'hp' .* lies outside"),
        (["--metadata", "missing.csv"], "metadata file missing.csv does not exist"),
    ],
)
def test_bad_input_is_a_clear_error(run_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    layout = json.loads((Path(__file__).resolve().parents[2] / "cards" / "layout.json").read_text())
    layout["boxes"]["hp"]["box"] = [490, 36, 400, 66]
    (tmp_path / "bad.json").write_text(json.dumps(layout))
    code, _, err = finish(pokegan("cards", run_dir, *args, cwd=tmp_path, stdout=-1, stderr=-1))
    assert code == 2 and re.search(message, err), err


def test_a_folder_without_checkpoints(tmp_path: Path) -> None:
    code, _, err = finish(pokegan("cards", tmp_path, cwd=tmp_path, stdout=-1, stderr=-1))
    assert code == 2 and "without checkpoints" in err, err
