"""`pokegan train --set conditional=true` on a folder with one subfolder per label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from cli.main import main

TINY = [
    "--set", "arch=dcgan", "image_size=16", "nz=8", "ngf=4", "ndf=4", "batch_size=4", "epochs=1",
    "log_every=1", "holdout_fraction=0",
]  # fmt: skip


def typed_folder(root: Path, per_label: int = 6, loose: int = 3) -> Path:
    for label, colour in (("Fire", (220, 40, 30)), ("Water", (30, 60, 220))):
        (root / label).mkdir(parents=True)
        for i in range(per_label):
            Image.new("RGB", (16, 16), tuple(max(0, c - 7 * i) for c in colour)).save(
                root / label / f"{i}.png"
            )
    for i in range(loose):
        Image.new("RGB", (16, 16), (120 + i, 120, 120)).save(root / f"loose-{i}.png")
    return root


def last_state(run_dir: Path) -> dict:
    return torch.load(sorted(run_dir.glob("ckpt-*.pt"))[-1], map_location="cpu", weights_only=True)


def test_a_conditional_run_takes_its_labels_from_the_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data, out = typed_folder(tmp_path / "typed"), tmp_path / "run"
    assert main(["train", str(data), *TINY, "conditional=true", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "labels (folders): Fire 6, Water 6" in printed
        and "conditional: 12 labelled images (Fire 6, Water 6)" in printed
    )
    assert json.loads((out / "config.json").read_text())["label_names"] == ["Fire", "Water"]
    assert last_state(out)["step"] == 3  # 12 labelled images, batch 4: the loose ones are left out
    assert main(["generate", str(out), "-n", "2", "--label", "Water", "-o", str(tmp_path / "w.png")]) == 0

    kept = tmp_path / "kept"
    assert (
        main(["train", str(data), *TINY, "conditional=true", "keep_unlabelled=true", "--out", str(kept)]) == 0
    )
    assert last_state(kept)["config"]["label_names"] == ["Fire", "Water", "(unlabelled)"]
    assert last_state(kept)["step"] == 3  # 15 images: three whole batches
    assert (
        main(
            [
                "train",
                str(data),
                *TINY,
                "conditional=true",
                "--out",
                str(kept),
                "--resume",
                "--set",
                "epochs=2",
            ]
        )
        == 0
    )
    assert last_state(kept)["step"] == 6 and last_state(kept)["config"]["label_names"][-1] == "(unlabelled)"


def test_a_conditional_run_on_data_without_labels_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(8):
        Image.new("RGB", (16, 16), (10 * i, 0, 0)).save(flat / f"{i}.png")
    assert main(["train", str(flat), *TINY, "conditional=true", "--out", str(tmp_path / "run")]) == 2
    assert "a conditional run needs at least two labels; the data has no labels" in capsys.readouterr().err
    assert not list((tmp_path / "run").glob("ckpt-*.pt"))
