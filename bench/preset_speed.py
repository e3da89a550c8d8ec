"""Training speed of every preset here: images/s on synthetic data at the preset's own size and batch.

Times the training step alone (D and G updates, augmentation, penalties, EMA) without per-epoch artifacts.
Presets take turns in short blocks over several rounds, so load from other processes spreads evenly.

    .venv/bin/python bench/preset_speed.py [--seconds 30] [--rounds 3] [--threads 2] [--presets NAME ...]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from models.presets import PRESETS, apply_preset, distinct_preset_names
from models.steps import train_step
from models.training_state import TrainingState, build_training_state


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="timed seconds per preset, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--presets", nargs="+", default=distinct_preset_names(), choices=list(PRESETS))
    return parser.parse_args()


def session_and_batch(name: str, **overrides: object) -> tuple[TrainingState, torch.Tensor]:
    """A training state for preset `name` on the CPU (with config overrides) and one random real batch."""
    config = apply_preset(name, {"device": "cpu", **overrides})
    session = build_training_state(config, torch.device("cpu"), iters_per_epoch=1000)
    generator = torch.Generator().manual_seed(0)
    shape = (config.batch_size, 3, config.height, config.width)
    real = session.to_images(torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator))
    return session, real


def timed_block(session: TrainingState, real: torch.Tensor, seconds: float) -> tuple[int, float]:
    """Whole steps until `seconds` have passed (at least one); returns (images, seconds)."""
    started, steps = time.perf_counter(), 0
    while steps == 0 or time.perf_counter() - started < seconds:
        train_step(session, real, collect_grads=False)
        steps += 1
    return steps * real.size(0), time.perf_counter() - started


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()}")
    runs = {name: session_and_batch(name) for name in args.presets}
    for session, real in runs.values():  # warm-up: first steps allocate and pick kernels
        for _ in range(2):
            train_step(session, real, collect_grads=False)
    totals = dict.fromkeys(runs, (0, 0.0))
    for _ in range(args.rounds):
        for name, (session, real) in runs.items():
            images, seconds = timed_block(session, real, args.seconds / args.rounds)
            totals[name] = (totals[name][0] + images, totals[name][1] + seconds)
    print(f"{'preset':<18} {'arch':<9} {'size':>7} {'batch':>5} {'img/s':>7} {'s/iteration':>12}")
    for name, (images, seconds) in totals.items():
        cfg = runs[name][0].config
        size = f"{cfg.height}x{cfg.width}"
        per_step = seconds / (images / cfg.batch_size)
        print(
            f"{name:<18} {cfg.arch:<9} {size:>7} {cfg.batch_size:>5} {images / seconds:7.1f} {per_step:12.3f}"
        )
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
