"""`pokegan presets [--json]`: the named training configs, each with what it is for."""

from __future__ import annotations

import argparse
import json
import textwrap

from models.presets import PRESETS, list_presets


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("presets", help="list the named training configs and what each is for")
    parser.add_argument("--json", action="store_true", help="print every preset's full config as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(list_presets(), indent=2))
        return 0
    width = max(len(name) for name in PRESETS)
    for preset in PRESETS.values():
        c = preset.config
        shape = f"{c.arch} {c.height}x{c.width}, batch {c.batch_size}, {c.epochs} epochs, {c.loss} loss"
        lines = textwrap.wrap(preset.description, 100 - width - 2) or [""]
        print(f"{preset.name:<{width}}  {lines[0]}")
        for line in [*lines[1:], f"({shape})"]:
            print(f"{'':<{width}}  {line}")
    return 0
