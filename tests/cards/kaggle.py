"""Card metadata for the cards tests, shaped like the Kaggle Pokémon TCG CSV (written here, not shipped)."""

from __future__ import annotations

import csv
from pathlib import Path

KAGGLE_ROWS = [
    {"name": "Charmander", "hp": "60", "types": "['Fire']", "supertype": "Pokémon",
     "attacks": "[{'name': 'Ember', 'cost': ['Fire'], 'convertedEnergyCost': 1, 'damage': '30', 'text': ''}]",
     "flavorText": "The flame on its tail shows the strength of its life force."},
    {"name": "Charmeleon", "hp": "90", "types": "['Fire']", "supertype": "Pokémon",
     "attacks": "[{'name': 'Slash', 'cost': ['Colorless', 'Colorless'], 'damage': '40'}, "
                "{'name': 'Fire Fang', 'cost': ['Fire', 'Fire', 'Colorless'], 'damage': '70+'}]",
     "flavorText": "It has a barbaric nature. In battle, it whips its fiery tail around."},
    {"name": "Squirtle", "hp": "50", "types": "['Water']", "supertype": "Pokémon",
     "attacks": "[{'name': 'Bubble', 'cost': ['Free'], 'damage': '10'}, {'name': 'Water Gun', "
                "'cost': ['Water', 'Colorless'], 'damage': '20×'}]",
     "flavorText": "When it retracts its long neck into its shell, it squirts out water with force."},
    {"name": "Wartortle", "hp": "80", "types": "['Water']", "supertype": "Pokémon",
     "attacks": "[{'name': 'Wave Splash', 'cost': ['Water', 'Water'], 'damage': '50'}]",
     "flavorText": "It is recognized as a symbol of longevity. Its shell is covered with algae."},
    {"name": "Professor's Research", "hp": "", "types": "", "supertype": "Trainer", "attacks": "",
     "flavorText": ""},
]  # fmt: skip


def write_kaggle_csv(path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["name", "hp", "types", "supertype", "attacks", "flavorText"])
        writer.writeheader()
        writer.writerows(KAGGLE_ROWS)
    return path
