"""The text model: Kaggle cells parsed, deterministic, never a training name, numbers from the data."""

from __future__ import annotations

from pathlib import Path

from cards import TYPE_NAMES, TextModel, read_records
from cards.card import Attack
from cards.metadata import records_from_rows
from cards.ngram import CharNgram
from cards.words import BUILTIN


def test_kaggle_cells_are_parsed_and_trainer_cards_left_out(kaggle_csv: Path) -> None:
    records = read_records(kaggle_csv)
    assert [r.name for r in records] == ["Charmander", "Charmeleon", "Squirtle", "Wartortle"]
    charmeleon, squirtle = records[1], records[2]
    assert charmeleon.types == ("Fire",) and charmeleon.hp == 90
    assert charmeleon.attacks[1] == Attack("Fire Fang", ("Fire", "Fire", "Colorless"), 70)
    assert squirtle.attacks[0] == Attack("Bubble", (), 10)  # 'Free' costs nothing
    assert squirtle.attacks[1].damage == 20
    assert squirtle.flavor.startswith("When it retracts")


def test_game_type_names_and_plain_cells() -> None:
    [record] = records_from_rows([{"name": "Pikachu", "hp": "60 HP", "types": "Electric|Steel"}])
    assert record.types == ("Lightning", "Metal") and record.hp == 60 and record.attacks == ()


def test_same_seed_same_card_and_seeds_differ(kaggle_csv: Path) -> None:
    model = TextModel(read_records(kaggle_csv))
    assert model.card(5) == TextModel(read_records(kaggle_csv)).card(5)
    assert len({model.card(seed).name for seed in range(20)}) > 5  # from only four training names


def test_names_are_never_a_training_name_and_numbers_come_from_the_type() -> None:
    names = [
        f"{a}{b}" for a in ("Char", "Squir", "Bulba", "Pika", "Eev") for b in ("mander", "tle", "saur", "chu")
    ]
    rows = [
        {"name": name, "hp": str(40 + 10 * (i % 3)), "types": "['Fire']" if i % 2 else "['Water']",
         "attacks": repr([{"name": f"Move {i}", "cost": ["Fire"] * (1 + i % 2), "damage": str(10 + i % 4)}])}
        for i, name in enumerate(names)
    ]  # fmt: skip
    records = records_from_rows(rows)
    model = TextModel(records)
    fire_hp = {r.hp for r in records if r.types == ("Fire",)}
    fire_attacks = {(a.cost, a.damage) for r in records if r.types == ("Fire",) for a in r.attacks}
    known = {n.casefold() for n in names}
    for seed in range(200):
        card = model.card(seed, type_name="Fire")
        assert card.name.casefold() not in known
        assert card.hp in fire_hp
        assert all((a.cost, a.damage) in fire_attacks for a in card.attacks)
        assert card.weakness == "Water" and card.type == "Fire"
        assert card.source.startswith("n-gram on dataset (20 cards)")


def test_without_metadata_the_builtin_generator_says_so() -> None:
    model = TextModel([])
    cards = [model.card(seed) for seed in range(50)]
    assert {c.source for c in cards} == {BUILTIN}
    assert {c.type for c in cards} <= set(TYPE_NAMES) and len({c.type for c in cards}) > 5
    assert all(c.name.isalpha() and 4 <= len(c.name) <= 20 and c.flavor.endswith(".") for c in cards)
    assert all(1 <= len(c.attacks) <= 2 and all(a.damage > 0 for a in c.attacks) for c in cards)


def test_a_tiny_dataset_falls_back_per_field_and_the_source_names_it() -> None:
    model = TextModel(records_from_rows([{"name": "Abc", "hp": "50", "types": "Fire"}]))
    card = model.card(1)
    assert card.name != "Abc"
    assert "built-in name" in card.source and "flavour" in card.source and "attack names" in card.source


def test_ngram_refuses_verbatim_and_gives_up_cleanly() -> None:
    import random

    model = CharNgram(["abc"], order=3)
    assert model.invent(random.Random(0), min_length=1, max_length=10) is None  # it can only say "abc"
    assert CharNgram([], order=2).invent(random.Random(0), min_length=1, max_length=5) is None
