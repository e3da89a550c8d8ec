"""Card metadata as datasets carry it: the Kaggle Pokémon TCG CSV's columns (name, hp, types, attacks,
flavorText), read from that CSV or from the JSON-lines file the CSV importer keeps beside a dataset.

Cells are parsed the way that CSV writes them: `types` as "['Fire']" (or plain "Fire" / "Fire|Water"),
`attacks` as a Python-literal list of {'name', 'cost', 'damage'} dicts ("30+" and "20×" count as 30, 20).
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cards.card import Attack
from cards.types import card_type

COLUMNS = ("name", "hp", "types", "attacks", "flavorText")
MAX_RECORDS = 200_000


@dataclass(frozen=True)
class CardRecord:
    name: str
    hp: int | None
    types: tuple[str, ...]
    attacks: tuple[Attack, ...]
    flavor: str


def read_records(path: Path) -> list[CardRecord]:
    """The creature cards in a Kaggle-like CSV or a metadata .jsonl (rows with neither HP nor a type, such
    as trainer and energy cards, are left out)."""
    rows: Iterable[Mapping[str, Any]]
    with open(path, encoding="utf-8-sig", newline="") as f:
        if path.suffix.lower() == ".jsonl":
            rows = [json.loads(line) for line in f if line.strip()]
        else:
            rows = list(csv.DictReader(f))
    return records_from_rows(rows)


def records_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[CardRecord]:
    records = []
    for index, row in enumerate(rows):
        if index >= MAX_RECORDS:
            break
        record = parse_row(row)
        if record is not None:
            records.append(record)
    return records


def parse_row(row: Mapping[str, Any]) -> CardRecord | None:
    cells = {str(key).strip().lower(): value for key, value in row.items() if key is not None}
    name = str(cells.get("name") or "").strip()
    hp = _leading_int(cells.get("hp"))
    types = tuple(t for t in (card_type(v) for v in _list_cell(cells.get("types"))) if t)
    if not name or (hp is None and not types):
        return None
    attacks = tuple(a for a in (_attack(v) for v in _list_cell(cells.get("attacks"))) if a)
    flavor = " ".join(str(cells.get("flavortext") or "").split())
    return CardRecord(name=name, hp=hp, types=types, attacks=attacks, flavor=flavor)


def _list_cell(value: Any) -> list[Any]:
    """A cell holding a list: already a list, JSON, a Python literal, or words split on | , ;."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if not text:
        return []
    if text[0] in "[{":
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            return parsed if isinstance(parsed, list) else [parsed]
        return []
    return [part.strip() for part in re.split(r"[|,;]", text) if part.strip()]


def _attack(value: Any) -> Attack | None:
    if isinstance(value, str):
        return Attack(name=value.strip(), cost=(), damage=0) if value.strip() else None
    if not isinstance(value, dict) or not str(value.get("name") or "").strip():
        return None
    energies = [str(c).strip() for c in value.get("cost") or []]
    cost = tuple(card_type(c) or "Colorless" for c in energies if c and c.lower() != "free")
    return Attack(name=str(value["name"]).strip(), cost=cost, damage=_leading_int(value.get("damage")) or 0)


def _leading_int(value: Any) -> int | None:
    match = re.match(r"\s*(\d{1,4})", str(value)) if value is not None else None
    return int(match.group(1)) if match else None
