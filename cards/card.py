"""What a card says: the fields the composer draws and the API returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Attack:
    name: str
    cost: tuple[str, ...]  # energy type names, one per energy
    damage: int  # 0: an attack with only an effect


@dataclass(frozen=True)
class CardText:
    name: str
    hp: int
    type: str
    attacks: tuple[Attack, ...]
    weakness: str | None
    resistance: str | None
    retreat: int
    flavor: str
    source: str  # which model made the words, printed on the card

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["attacks"] = [{**a, "cost": list(a["cost"])} for a in data["attacks"]]
        return data


@dataclass(frozen=True)
class Provenance:
    """Where the card came from, for its footer: enough to make it again."""

    run: str
    checkpoint: str
    seed: int
    text_seed: int

    def footer(self, source: str) -> str:
        seeds = f"seed {self.seed}"
        if self.text_seed != self.seed:
            seeds = f"art seed {self.seed} · text seed {self.text_seed}"
        return f"{self.run} · {self.checkpoint} · {seeds} · text: {source}"
