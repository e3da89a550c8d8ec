"""Write a CSV shaped like the Kaggle Pokémon TCG cards CSV (name, hp, types, attacks, flavorText,
image_url) from Pokémon Showdown's data, for trying the card text model (never commit its output).

    npm pack pokemon-showdown@0.11.11 && tar xzf pokemon-showdown-0.11.11.tgz
    .venv/bin/python scripts/showdown_cards_csv.py package/dist/data [-o /tmp/cards.csv]

Showdown has no card text, so the card numbers are derived, the same way each time: HP from base HP
(30 + 0.9 x base, in tens, 30-340); attacks are two of the species' own learnable damaging moves of its
type (the strongest and the weakest), damage = 0.7 x base power in tens, cost = 1 energy per 40 base power
(1-4, the first of the card's type, the rest Colorless). flavorText stays empty: Showdown has none. Game
types are written as the card game's energies (Electric -> Lightning, ...).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cards.types import card_type  # noqa: E402

ENTRY = re.compile(r"^  \"?([a-z0-9]+)\"?: \{$", re.M)


def entries(js: str) -> dict[str, str]:
    """Top-level `key: { ... }` blocks of a Showdown data module, by key (2-space indented as shipped)."""
    starts = [(m.group(1), m.end()) for m in ENTRY.finditer(js)]
    blocks = {}
    for index, (key, start) in enumerate(starts):
        end = starts[index + 1][1] if index + 1 < len(starts) else len(js)
        blocks[key] = js[start:end]
    return blocks


def field(block: str, name: str) -> str | None:
    match = re.search(rf"^    {name}: (.+?),?$", block, re.M)
    return match.group(1) if match else None


def species(data: Path) -> list[dict]:
    found = []
    for key, block in entries((data / "pokedex.js").read_text(encoding="utf-8")).items():
        name, types, stats = field(block, "name"), field(block, "types"), field(block, "baseStats")
        if not (name and types and stats) or field(block, "isNonstandard") or field(block, "forme"):
            continue
        base_hp = re.search(r"hp: (\d+)", stats)
        found.append(
            {
                "key": key,
                "name": name.strip('"'),
                "types": [t.strip('" ') for t in types.strip("[]").split(",")],
                "base_hp": int(base_hp.group(1)) if base_hp else 50,
            }
        )
    return found


def damaging_moves(data: Path) -> dict[str, dict]:
    moves = {}
    for key, block in entries((data / "moves.js").read_text(encoding="utf-8")).items():
        power, kind, name = field(block, "basePower"), field(block, "type"), field(block, "name")
        if not (power and kind and name) or field(block, "isNonstandard") or not power.isdigit():
            continue
        if int(power) > 0:
            moves[key] = {"name": name.strip('"'), "power": int(power), "type": kind.strip('"')}
    return moves


def learnsets(data: Path) -> dict[str, set[str]]:
    learned = {}
    for key, block in entries((data / "learnsets.js").read_text(encoding="utf-8")).items():
        learned[key] = set(re.findall(r"^      ([a-z0-9]+): \[", block, re.M))
    return learned


def card_row(mon: dict, moves: dict[str, dict], learned: set[str]) -> dict[str, str]:
    energy = card_type(mon["types"][0]) or "Colorless"
    own = sorted(
        (m for key, m in moves.items() if key in learned and m["type"] in mon["types"]),
        key=lambda m: (m["power"], m["name"]),
    )
    chosen = [own[-1], own[0]] if len(own) > 1 else own
    attacks = []
    for move in chosen:
        energies = min(4, max(1, round(move["power"] / 40)))
        cost = [energy] + ["Colorless"] * (energies - 1)
        damage = max(10, 10 * round(move["power"] * 0.7 / 10))
        attacks.append({"name": move["name"], "cost": cost, "convertedEnergyCost": energies,
                        "damage": str(damage), "text": ""})  # fmt: skip
    hp = min(340, max(30, 10 * round((30 + 0.9 * mon["base_hp"]) / 10)))
    types = list(dict.fromkeys(card_type(t) or "Colorless" for t in mon["types"]))
    return {
        "name": mon["name"],
        "hp": str(hp),
        "types": repr(types),
        "attacks": repr(attacks),
        "flavorText": "",
        "image_url": "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="pokemon-showdown's dist/data folder")
    parser.add_argument("-o", "--out", type=Path, help="CSV to write (default: a new temporary file)")
    args = parser.parse_args()
    moves, learned = damaging_moves(args.data), learnsets(args.data)
    rows = [card_row(mon, moves, learned.get(mon["key"], set())) for mon in species(args.data)]
    out = args.out or Path(tempfile.mkdtemp(prefix="showdown-cards-")) / "cards.csv"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} cards to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
