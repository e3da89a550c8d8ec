"""`pokegan presets` and `pokegan train --help` name every preset."""

from __future__ import annotations

import json

import pytest

from cli.main import build_parser, main
from models.presets import PRESETS


def test_presets_prints_each_name_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for preset in PRESETS.values():
        line = next(line for line in out.splitlines() if line.startswith(preset.name + " "))
        assert preset.description.split()[0] in line
    recommended = out[out.index("\nrecommended ") : out.index("\ndcgan-64 ")]
    assert "(fastgan 64x64, batch 32, 300 epochs, hinge loss)" in recommended


def test_presets_json_gives_full_configs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == list(PRESETS)
    assert listed[0]["config"]["arch"] == PRESETS[listed[0]["name"]].config.arch


def test_train_help_lists_the_preset_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(name in help_text for name in PRESETS)
