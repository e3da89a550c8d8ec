"""`pokegan generate CHECKPOINT [-n 64] [--seed 0] [--label L] [-o generated.png] [--raw]`: a grid PNG.

Image i comes from seed + i alone (models.generate), so any image in the grid can be reproduced by its seed.
The checkpoint is loaded with weights_only=True: nothing in it is executed.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from cli.usage import EXIT_BAD_INPUT, UsageError

MAX_IMAGES = 1024  # one grid; more would mostly exhaust memory


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "generate",
        help="sample a grid of images from a trained checkpoint",
        description="Sample images from a checkpoint into one grid PNG.",
    )
    parser.add_argument(
        "checkpoint", type=Path, metavar="CHECKPOINT", help="a ckpt-*.pt file or a run folder"
    )
    parser.add_argument("-n", type=_image_count, default=64, help=f"images in the grid (1-{MAX_IMAGES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first image; image i uses seed + i")
    parser.add_argument("-o", "--out", type=Path, default=Path("generated.png"), help="PNG file to write")
    parser.add_argument("--raw", action="store_true", help="use G's weights, not their moving average")
    parser.add_argument(
        "--label",
        help="conditional checkpoints: draw every image of this label (default: the labels in turn)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        path = resolve_checkpoint(args.checkpoint)
        state = load_state(path)
        images = sample(state, n=args.n, seed=args.seed, use_ema=not args.raw, label=args.label)
    except UsageError as exc:
        print(f"pokegan generate: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from torchvision.utils import save_image

    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, args.out, nrow=math.ceil(math.sqrt(args.n)), padding=2)
    names = label_names(state)
    which = (
        f", label {args.label}" if args.label else (f", labels {', '.join(names)} in turn" if names else "")
    )
    print(
        f"wrote {args.n} images (seeds {args.seed}-{args.seed + args.n - 1}{which}) from {path} to {args.out}"
    )
    return 0


def resolve_checkpoint(path: Path) -> Path:
    """The file itself, or a run directory's newest ckpt-*.pt."""
    if path.is_dir():
        found = sorted(path.glob("ckpt-*.pt"))
        if not found:
            raise UsageError(f"{path} is a folder without checkpoints (ckpt-*.pt)")
        return found[-1]
    if not path.is_file():
        raise UsageError(f"checkpoint {path} does not exist")
    return path


def load_state(path: Path) -> dict[str, Any]:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign or damaged files; all mean the same here
        raise UsageError(
            f"{path} is not a readable pokegan checkpoint: not a PyTorch file of plain tensors "
            "(checkpoints are loaded with weights_only=True, so nothing else is unpickled)"
        ) from exc


def sample(state: dict[str, Any], *, n: int, seed: int, use_ema: bool, label: str | None = None) -> Any:
    """n x 3 x H x W floats in [0, 1] from the checkpoint's generator; a conditional one draws `label`,
    or its labels in turn when none is given."""
    import torch

    from models.errors import TrainingError
    from models.generate import generate, load_generator

    try:
        generator = load_generator(state, use_ema=use_ema)
    except (TrainingError, ValueError) as exc:
        raise UsageError(f"cannot rebuild the generator: {exc}") from exc
    names = label_names(state)
    if label is not None and label not in names:
        known = f"it knows {', '.join(names)}" if names else "it was trained without labels"
        raise UsageError(f"unknown label {label!r}: {known}")
    if not names:
        return generate(generator, n, seed)
    classes = [names.index(label)] * n if label is not None else [i % len(names) for i in range(n)]
    return generate(generator, n, seed, torch.tensor(classes, dtype=torch.int64))


def label_names(state: dict[str, Any]) -> list[str]:
    """A conditional checkpoint's label names (index order); [] for an unconditional one."""
    config = state.get("config") or {}
    return list(config.get("label_names") or []) if config.get("conditional") else []


def _image_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= n <= MAX_IMAGES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_IMAGES}, got {n}")
    return n
