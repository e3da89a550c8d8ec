"""The words of a card when the dataset has no metadata: pronounceable names from syllables, attack names
and flavour lines from small word lists, HP and damage from ranges typical of printed cards."""

from __future__ import annotations

import random

ONSETS = ("b", "ch", "d", "dr", "f", "g", "gl", "k", "kr", "l", "m", "n", "p", "pl", "r", "s", "sh", "sk",
          "sn", "t", "tr", "v", "w", "z", "")  # fmt: skip
VOWELS = ("a", "e", "i", "o", "u", "ai", "ee", "oo", "y")
CODAS = ("", "", "", "n", "r", "m", "x", "k", "l", "s", "th", "ng")
ENDINGS = ("achu", "saur", "mander", "tle", "puff", "zard", "mon", "chop", "lett", "dra", "bat", "bee",
           "eon", "quil", "rock", "ling")  # fmt: skip

TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "Grass": ("Leaf", "Vine", "Petal", "Seed", "Thorn", "Moss"),
    "Fire": ("Ember", "Flame", "Blaze", "Cinder", "Heat", "Scorch"),
    "Water": ("Bubble", "Wave", "Tide", "Splash", "Torrent", "Mist"),
    "Lightning": ("Spark", "Volt", "Thunder", "Static", "Shock", "Bolt"),
    "Psychic": ("Mind", "Dream", "Psi", "Phantom", "Hex", "Trance"),
    "Fighting": ("Karate", "Rock", "Quake", "Knuckle", "Sand", "Brawl"),
    "Darkness": ("Shadow", "Night", "Bite", "Sly", "Gloom", "Fang"),
    "Metal": ("Iron", "Steel", "Gear", "Chrome", "Bullet", "Anvil"),
    "Fairy": ("Moon", "Glitter", "Charm", "Pixie", "Dazzle", "Sweet"),
    "Dragon": ("Dragon", "Scale", "Wyrm", "Outrage", "Roar", "Comet"),
    "Colorless": ("Quick", "Body", "Tail", "Double", "Wild", "Gust"),
}
ACTIONS = ("Slam", "Strike", "Burst", "Kick", "Wave", "Beam", "Rush", "Claw", "Storm", "Punch", "Dance",
           "Drain", "Whip", "Blast", "Crash", "Spin")  # fmt: skip
PLACES = ("deep forests", "old volcanoes", "quiet lakes", "storm clouds", "city rooftops", "caves",
          "high mountains", "the sea floor", "abandoned towers", "sunny meadows")  # fmt: skip
HABITS = ("sleeps in", "hunts near", "sings over", "hides in", "builds nests in", "wanders through",
          "guards", "dances across")  # fmt: skip
TIMES = ("at dawn", "under a full moon", "when it rains", "on stormy nights", "in deep winter",
         "when it is happy", "before a battle", "after a long sleep")  # fmt: skip
HABIT_TAILS = ("Its cry can be heard for miles.", "It is rarely seen by people.",
               "Its body glows faintly in the dark.", "It shares its food with its friends.",
               "It grows stronger every time it loses.")  # fmt: skip


def syllable_name(rng: random.Random) -> str:
    parts = [rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(rng.randint(1, 2))]
    name = "".join(parts) + rng.choice(ENDINGS)
    return name[:1].upper() + name[1:]


def attack_name(rng: random.Random, type_name: str) -> str:
    return f"{rng.choice(TYPE_WORDS[type_name])} {rng.choice(ACTIONS)}"


def flavor_text(rng: random.Random) -> str:
    return f"It {rng.choice(HABITS)} {rng.choice(PLACES)} {rng.choice(TIMES)}. {rng.choice(HABIT_TAILS)}"


def hp(rng: random.Random) -> int:
    return rng.choice(range(40, 190, 10))


def attack_cost_and_damage(rng: random.Random, type_name: str) -> tuple[tuple[str, ...], int]:
    energies = rng.randint(1, 3)
    own = rng.randint(1, energies)
    cost = (type_name,) * own + ("Colorless",) * (energies - own)
    return cost, max(10, 10 * round((energies * 25 + rng.randint(-10, 20)) / 10))
