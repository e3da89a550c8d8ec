"""A Kaggle-like cards CSV imported over real HTTP keeps its card text per downloaded image."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from cards import read_records
from datasets import DatasetLimits, import_csv
from datasets.csv_import import METADATA_FILE

from .http_server import ImageHost, serve

LOCAL = DatasetLimits(allow_private_urls=True, download_timeout_s=0.5, download_retries=1)


@pytest.fixture
def host() -> Iterator[ImageHost]:
    with serve() as image_host:
        yield image_host


def test_card_columns_are_kept_beside_the_images(tmp_path: Path, host: ImageHost) -> None:
    rows = [
        {"image_url": f"{host.base}/img/red.png", "name": "Charmander", "hp": "60", "types": "['Fire']",
         "attacks": "[{'name': 'Ember', 'cost': ['Fire'], 'damage': '30'}]", "flavorText": "Its tail burns."},
        {"image_url": f"{host.base}/missing.png", "name": "Lost", "hp": "70", "types": "['Water']",
         "attacks": "", "flavorText": ""},
        {"image_url": f"{host.base}/img/blue.png", "name": "Squirtle", "hp": "50", "types": "['Water']",
         "attacks": "", "flavorText": ""},
    ]  # fmt: skip
    source = tmp_path / "cards.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    report = import_csv(source, tmp_path / "raw", LOCAL)

    assert sorted(report.files) == ["00001-charmander.png", "00003-squirtle.png"]
    records = sorted(read_records(tmp_path / "raw" / METADATA_FILE), key=lambda r: r.name)  # download order
    assert [(r.name, r.hp, r.types) for r in records] == [
        ("Charmander", 60, ("Fire",)),
        ("Squirtle", 50, ("Water",)),
    ]
    assert records[0].attacks[0].damage == 30 and records[0].flavor == "Its tail burns."


def test_a_csv_without_card_columns_writes_no_metadata(tmp_path: Path, host: ImageHost) -> None:
    source = tmp_path / "plain.csv"
    source.write_text(f"image_url,name\n{host.base}/img/red.png,Red\n", encoding="utf-8")
    import_csv(source, tmp_path / "raw", LOCAL)
    assert not (tmp_path / "raw" / METADATA_FILE).exists()
