"""The trading-card energy types: frame colours, weakness/resistance chart, and the game-type mapping."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CardType:
    name: str
    frame: tuple[int, int, int]  # the card's border and panel colour
    ink: tuple[int, int, int]  # the symbol's glyph colour on the frame colour
    weakness: str | None
    resistance: str | None


# Colours after the modern TCG frames; weaknesses/resistances after the Scarlet & Violet chart.
TYPES: dict[str, CardType] = {
    t.name: t
    for t in (
        CardType("Grass", (112, 178, 80), (255, 255, 255), "Fire", None),
        CardType("Fire", (226, 88, 52), (255, 255, 255), "Water", None),
        CardType("Water", (64, 146, 222), (255, 255, 255), "Lightning", None),
        CardType("Lightning", (244, 200, 40), (60, 50, 10), "Fighting", "Metal"),
        CardType("Psychic", (160, 96, 180), (255, 255, 255), "Darkness", "Fighting"),
        CardType("Fighting", (186, 104, 56), (255, 255, 255), "Grass", None),
        CardType("Darkness", (52, 72, 84), (255, 255, 255), "Grass", "Psychic"),
        CardType("Metal", (150, 160, 168), (40, 40, 48), "Fire", "Grass"),
        CardType("Fairy", (232, 130, 176), (255, 255, 255), "Metal", "Darkness"),
        CardType("Dragon", (140, 112, 40), (255, 240, 200), None, None),
        CardType("Colorless", (212, 208, 196), (60, 60, 60), "Fighting", None),
    )
}
TYPE_NAMES: tuple[str, ...] = tuple(TYPES)

# The video games' 18 types folded onto the card game's 11 energies (as the TCG does).
GAME_TO_CARD: dict[str, str] = {
    "normal": "Colorless", "flying": "Colorless", "fire": "Fire", "water": "Water", "ice": "Water",
    "grass": "Grass", "bug": "Grass", "electric": "Lightning", "fighting": "Fighting",
    "ground": "Fighting", "rock": "Fighting", "poison": "Darkness", "psychic": "Psychic",
    "ghost": "Psychic", "dragon": "Dragon", "dark": "Darkness", "steel": "Metal", "fairy": "Fairy",
}  # fmt: skip


def card_type(name: str) -> str | None:
    """The card type a name means, any case, card names or game names ('electric' -> 'Lightning')."""
    key = name.strip().lower()
    for type_name in TYPE_NAMES:
        if type_name.lower() == key:
            return type_name
    return GAME_TO_CARD.get(key)
