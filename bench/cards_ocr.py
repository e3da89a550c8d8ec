"""Card legibility and speed: the share of 100 random cards whose name and HP Tesseract reads back as
the fields say, and the time to make one card and one 9-card A4 sheet, measured side by side.

    .venv/bin/python bench/cards_ocr.py [--cards 100] [--checkpoint RUN_DIR] [--metadata cards.csv] [--seed 0]

Art comes from the checkpoint's generator when one is given (else random-noise art of 64 px). Half the
cards use the text model trained on --metadata (e.g. from scripts/showdown_cards_csv.py), half the
built-in generator; types are drawn per card. Needs Debian's tesseract-ocr and poppler-utils.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cards import TYPE_NAMES, TextModel, default_layout, make_cards, read_records, sheet_pdf  # noqa: E402
from tests.cards.ocr import reads_back  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=100)
    parser.add_argument("--checkpoint", type=Path, help="a run folder or ckpt-*.pt for the art")
    parser.add_argument("--metadata", type=Path, help="a Kaggle-like cards CSV for the text model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of one card and one sheet")
    return parser.parse_args()


def art_source(checkpoint: Path | None) -> tuple[Callable[[int, int], list[Image.Image]], str]:
    if checkpoint is None:

        def noise(n: int, seed: int) -> list[Image.Image]:
            rng = np.random.default_rng(seed)
            return [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(n)]

        return noise, "random-noise art (64 px)"
    from app.sampling import draw
    from cli.generate import load_state, resolve_checkpoint
    from models.generate import load_generator

    path = resolve_checkpoint(checkpoint)
    generator = load_generator(load_state(path), use_ema=True).eval()
    return (
        lambda n, seed: [Image.fromarray(a) for a in draw(generator, n=n, seed=seed)]
    ), f"generator {path}"


def timed(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    args = parse_args()
    arts, art_label = art_source(args.checkpoint)
    models = {"built-in": TextModel([])}
    if args.metadata:
        models["trained"] = TextModel(read_records(args.metadata), dataset=args.metadata.name)
    layout = default_layout()
    rng = random.Random(args.seed)
    name_ok = hp_ok = both = 0
    misses = []
    for index in range(args.cards):
        label = list(models)[index % len(models)]
        seed = rng.randrange(2**31 - 10)
        kind = rng.choice(TYPE_NAMES)
        [card] = make_cards(arts(1, seed), models[label], seed=seed, text_seed=seed, run="run bench",
                            checkpoint="bench", type_name=kind, layout=layout)  # fmt: skip
        name_right, hp_right, read_name, read_hp = reads_back(
            card.image, layout, card.text.name, card.text.hp
        )
        name_ok += name_right
        hp_ok += hp_right
        both += name_right and hp_right
        if not (name_right and hp_right):
            misses.append(
                f"  {label} seed {seed}: {card.text.name!r} HP {card.text.hp} "
                f"read {read_name!r} / {read_hp!r}"
            )
    model = models.get("trained", models["built-in"])

    def one_card() -> object:
        return make_cards(arts(1, 1), model, seed=1, text_seed=1, run="run bench", checkpoint="bench")

    def sheet() -> object:
        made = make_cards(arts(9, 1), model, seed=1, text_seed=1, run="run bench", checkpoint="bench")
        return sheet_pdf([m.image for m in made])

    one, nine = timed(one_card, args.repeats), timed(sheet, args.repeats)
    print(f"art: {art_label}; text: {', '.join(models)}; {args.cards} cards, seed {args.seed}")
    print(f"OCR read-back: name {name_ok}/{args.cards}, HP {hp_ok}/{args.cards}, both {both}/{args.cards}")
    for miss in misses[:10]:
        print(miss)
    print(f"one card: {one * 1000:.0f} ms; 9-card A4 PDF sheet: {nine * 1000:.0f} ms "
          f"(median of {args.repeats}); sheet / (9 x one card) = {nine / (9 * one):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
