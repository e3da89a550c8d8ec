"""The words on a card: trained on a dataset's card metadata when it has some, built in otherwise.

With metadata, names, attack names and flavour lines come from character n-gram models of the dataset's
own (never a verbatim training string), and the type, HP, number of attacks and each attack's cost and
damage are drawn from the dataset's cards of that type. Everything follows from the seed alone.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from cards import builtin_words
from cards.card import Attack, CardText
from cards.metadata import CardRecord
from cards.ngram import CharNgram
from cards.types import TYPE_NAMES, TYPES

NAME_ORDER, ATTACK_ORDER, FLAVOR_ORDER = 3, 3, 5
NAME_LENGTH = (4, 14)
ATTACK_LENGTH = (4, 20)
FLAVOR_LENGTH = (30, 150)
BUILTIN = "built-in syllables"


@dataclass
class _TypeStats:
    hp: list[int] = field(default_factory=list)
    attack_counts: list[int] = field(default_factory=list)
    attacks: list[Attack] = field(default_factory=list)


class TextModel:
    """Makes CardText from a seed; `TextModel([])` is the built-in generator."""

    def __init__(self, records: Sequence[CardRecord], *, dataset: str = "dataset") -> None:
        self.records = len(records)
        self.names = CharNgram((r.name for r in records), order=NAME_ORDER)
        self.attack_names = CharNgram((a.name for r in records for a in r.attacks), order=ATTACK_ORDER)
        self.flavors = CharNgram((r.flavor for r in records), order=FLAVOR_ORDER)
        self.type_counts: Counter[str] = Counter(r.types[0] for r in records if r.types)
        self.stats: dict[str, _TypeStats] = defaultdict(_TypeStats)
        for record in records:
            for key in (record.types[0], "*") if record.types else ("*",):
                stats = self.stats[key]
                if record.hp:
                    stats.hp.append(record.hp)
                stats.attack_counts.append(min(2, len(record.attacks)))
                stats.attacks.extend(a for a in record.attacks if a.cost or a.damage)
        self.dataset = dataset

    @property
    def trained(self) -> bool:
        return len(self.names) > 0

    def _source(self, built_in: list[str]) -> str:
        """What made this card's words, as the card prints it."""
        if not self.trained:
            return BUILTIN
        trained = f"n-gram on {self.dataset} ({self.records} cards)"
        return f"{trained}; built-in {', '.join(built_in)}" if built_in else trained

    def card(self, seed: int, *, type_name: str | None = None) -> CardText:
        rng = random.Random(seed)
        kind = type_name or self._type(rng)
        stats = self._stats(kind)
        hp = rng.choice(stats.hp) if stats.hp else builtin_words.hp(rng)
        count = rng.choice(stats.attack_counts) if stats.attack_counts else rng.choice((1, 2))
        drawn = [self._attack(rng, kind, stats) for _ in range(max(1, count))]
        attacks = tuple(attack for attack, _ in drawn)
        card_type = TYPES[kind]
        built_in: list[str] = []
        name = self._invent(self.names, rng, NAME_LENGTH)
        if name is None:
            name, built_in = builtin_words.syllable_name(rng), ["name"]
        flavor = self._invent(self.flavors, rng, FLAVOR_LENGTH)
        if flavor is None:
            flavor = builtin_words.flavor_text(rng)
            built_in.append("flavour")
        if any(fallback for _, fallback in drawn):
            built_in.append("attack names")
        return CardText(
            name=name,
            hp=hp,
            type=kind,
            attacks=attacks,
            weakness=card_type.weakness,
            resistance=card_type.resistance,
            retreat=min(4, max(0, round(hp / 70))),
            flavor=flavor,
            source=self._source(built_in),
        )

    def _type(self, rng: random.Random) -> str:
        if not self.type_counts:
            return rng.choice(TYPE_NAMES)
        kinds = sorted(self.type_counts)
        return rng.choices(kinds, [self.type_counts[k] for k in kinds])[0]

    def _stats(self, kind: str) -> _TypeStats:
        """The type's own numbers when it has cards with HP in the data, else the whole data's."""
        own = self.stats.get(kind)
        return own if own is not None and own.hp else self.stats.get("*", _TypeStats())

    def _attack(self, rng: random.Random, kind: str, stats: _TypeStats) -> tuple[Attack, bool]:
        """An attack, and whether its name is a built-in fallback."""
        if stats.attacks:
            drawn = rng.choice(stats.attacks)
            cost, damage = drawn.cost, drawn.damage
        else:
            cost, damage = builtin_words.attack_cost_and_damage(rng, kind)
        name = self._invent(self.attack_names, rng, ATTACK_LENGTH)
        fallback = name is None
        if name is None:
            name = builtin_words.attack_name(rng, kind)
        return Attack(name=name, cost=cost[:4], damage=damage), fallback

    @staticmethod
    def _invent(model: CharNgram, rng: random.Random, length: tuple[int, int]) -> str | None:
        text = model.invent(rng, min_length=length[0], max_length=length[1])
        return text[:1].upper() + text[1:] if text else None
