"""`pokegan cards RUN_DIR [-n 9] [--pdf sheet.pdf] [-o DIR] [--seed S] [--text-seed T] [--type T]
[--metadata CSV] [--layout FILE]`: finished trading cards from a run folder's newest checkpoint.

Card i has art seed seed + i and text seed text_seed + i (both default to --seed), so a card can be made
again, or its text re-rolled with --text-seed alone. --metadata is a Kaggle-like cards CSV (or a dataset's
.card-metadata.jsonl) for the text model; without it the words come from the built-in generator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from cards import (
    TYPE_NAMES,
    CardRecord,
    Layout,
    LayoutError,
    TextModel,
    card_type,
    load_layout,
    make_cards,
    read_records,
    sheet_pdf,
)
from cli.generate import load_state, resolve_checkpoint, sample
from cli.usage import EXIT_BAD_INPUT, UsageError

MAX_CARDS = 9


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "cards",
        help="make trading cards (PNG, and an A4 PDF sheet) from a trained checkpoint",
        description="Compose trading cards: art from a checkpoint, words from card metadata or built in.",
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR", help="a run folder or a ckpt-*.pt file")
    parser.add_argument("-n", type=_card_count, default=1, help=f"cards to make (1-{MAX_CARDS})")
    parser.add_argument("--seed", type=int, default=0, help="art seed of card 0; card i uses seed + i")
    parser.add_argument("--text-seed", type=int, help="text seed of card 0 (default: --seed)")
    parser.add_argument("--type", dest="type_name", help="card type of every card (default: drawn)")
    parser.add_argument("--metadata", type=Path, help="cards CSV (name, hp, types, attacks, flavorText)")
    parser.add_argument("--layout", type=Path, help="a layout JSON file (default: the built-in one)")
    parser.add_argument("-o", "--out", type=Path, default=Path("cards"), help="folder for the card PNGs")
    parser.add_argument("--pdf", type=Path, help="also write an A4 print sheet of the cards here")
    parser.add_argument("--raw", action="store_true", help="use G's weights, not their moving average")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        type_name = _type_name(args.type_name)
        layout = _layout(args.layout)
        records = _records(args.metadata)
        path = resolve_checkpoint(args.run)
        images = _arts(sample(load_state(path), n=args.n, seed=args.seed, use_ema=not args.raw))
    except UsageError as exc:
        print(f"pokegan cards: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    model = TextModel(records, dataset=args.metadata.name if args.metadata else "dataset")
    text_seed = args.seed if args.text_seed is None else args.text_seed
    run_dir = path.parent
    made = make_cards(
        images, model, seed=args.seed, text_seed=text_seed, run=f"run {run_dir.name}",
        checkpoint=path.stem, type_name=type_name, layout=layout,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    for card in made:
        target = args.out / f"card-seed{card.seed}-text{card.text_seed}.png"
        card.image.save(target)
        attacks = ", ".join(f"{a.name} {a.damage or ''}".strip() for a in card.text.attacks)
        print(f"{target}: {card.text.name} · HP {card.text.hp} · {card.text.type} · {attacks}")
    if args.pdf:
        args.pdf.parent.mkdir(parents=True, exist_ok=True)
        args.pdf.write_bytes(sheet_pdf([card.image for card in made]))
        print(f"wrote an A4 sheet of {len(made)} cards to {args.pdf}")
    print(f"text: {made[0].text.source}")
    return 0


def _type_name(name: str | None) -> str | None:
    if name is None:
        return None
    found = card_type(name)
    if found is None:
        raise UsageError(f"unknown type {name!r}; one of {', '.join(TYPE_NAMES)}")
    return found


def _layout(path: Path | None) -> Layout:
    try:
        return load_layout(path)
    except LayoutError as exc:
        raise UsageError(str(exc)) from exc


def _records(path: Path | None) -> list[CardRecord]:
    if path is None:
        return []
    if not path.is_file():
        raise UsageError(f"metadata file {path} does not exist")
    try:
        return read_records(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read card metadata from {path}: {exc}") from exc


def _arts(images: Any) -> list[Image.Image]:
    """The generator's n x 3 x H x W floats as PIL images."""
    from app.sampling import to_uint8

    return [Image.fromarray(array) for array in to_uint8(images)]


def _card_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= n <= MAX_CARDS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_CARDS} (one A4 sheet), got {n}")
    return n
