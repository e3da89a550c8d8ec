"""The `pokegan` command: argparse subcommands, each in its own module under cli/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import cards, datasets, generate, migrate, presets, serve, train, worker

COMMANDS = (serve, worker, migrate, train, presets, generate, cards, datasets)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pokegan", description="Train DCGANs on your own images.")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
