"""On a CUDA machine: each preset's training speed in pokegan's loop vs a bare loop of the same networks.

For every preset (or --presets), on synthetic images at the preset's size and batch: --seconds of
models.steps.train_step (pokegan: augmentation, penalties, EMA, ADA, bf16 autocast where the preset asks
for it, channels_last) and --seconds of a bare hinge-loss loop on the same G and D (no augmentation, no
EMA, float32), taking turns over --rounds. Prints img/s of both, their ratio and the peak GPU memory of
each, and saves a grid of each preset's samples after its timed steps to --out. Without CUDA it says so
and exits 0.

    .venv/bin/python bench/gpu_check.py [--seconds 30] [--rounds 3] [--presets ...] [--out /tmp/gpu_check]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.utils import save_image

from models.presets import PRESETS, apply_preset, distinct_preset_names
from models.steps import train_step
from models.training_state import TrainingState, build_training_state


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="timed seconds per preset and loop")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=distinct_preset_names(), choices=list(PRESETS))
    parser.add_argument("--compile", action="store_true", help="also set torch_compile=True")
    parser.add_argument("--out", type=Path, default=Path("/tmp/gpu_check"))
    return parser.parse_args()


def session_and_batch(name: str, compile_nets: bool) -> tuple[TrainingState, torch.Tensor]:
    config = apply_preset(name, {"device": "cuda", "torch_compile": compile_nets})
    session = build_training_state(config, torch.device("cuda"), iters_per_epoch=1000)
    generator = torch.Generator().manual_seed(0)
    shape = (config.batch_size, 3, config.height, config.width)
    batch = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).pin_memory()
    return session, session.to_images(batch)


def bare_step(s: TrainingState, real: torch.Tensor) -> None:
    """One hinge D step and one G step, float32, no extras: the floor pokegan's loop is measured against."""
    fake = s.G(s.noise(real.size(0)))
    loss_d = F.relu(1 - s.D(real)).mean() + F.relu(1 + s.D(fake.detach())).mean()
    s.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    s.opt_d.step()
    loss_g = -s.D(fake).mean()
    s.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    s.opt_g.step()


def timed(step, seconds: float) -> tuple[int, float, int]:
    """(steps, seconds, peak bytes) of whole steps for at least `seconds`, synchronised at both ends."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started, steps = time.perf_counter(), 0
    while steps == 0 or time.perf_counter() - started < seconds:
        step()
        steps += 1
    torch.cuda.synchronize()
    return steps, time.perf_counter() - started, torch.cuda.max_memory_allocated()


def main() -> None:
    args = parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here: bench/gpu_check.py measures GPU training only; nothing to do")
        return
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, compile={args.compile}")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {name: session_and_batch(name, args.compile) for name in args.presets}
    for s, real in runs.values():  # warm-up (and compilation)
        for _ in range(3):
            train_step(s, real, collect_grads=False)
            bare_step(s, real)
    totals = {name: [0, 0.0, 0, 0, 0.0, 0] for name in runs}
    for _ in range(args.rounds):
        for name, (s, real) in runs.items():
            t = totals[name]
            steps, secs, mem = timed(lambda s=s, r=real: train_step(s, r, collect_grads=False), args.seconds)
            t[0], t[1], t[2] = t[0] + steps, t[1] + secs, max(t[2], mem)
            steps, secs, mem = timed(lambda s=s, r=real: bare_step(s, r), args.seconds)
            t[3], t[4], t[5] = t[3] + steps, t[4] + secs, max(t[5], mem)
    print(
        f"{'preset':<18} {'size':>7} {'batch':>5} {'amp':>5} {'pokegan':>9} {'bare':>9} {'ratio':>6} "
        f"{'mem MiB':>8} {'bare MiB':>8}"
    )
    for name, (s, real) in runs.items():
        steps, secs, mem, bsteps, bsecs, bmem = totals[name]
        cfg, n = s.config, real.size(0)
        ours, bare = steps * n / secs, bsteps * n / bsecs
        print(
            f"{name:<18} {cfg.height}x{cfg.width:<4} {n:>5} {str(s.amp_dtype).removeprefix('torch.'):>5} "
            f"{ours:9.1f} {bare:9.1f} {ours / bare:6.3f} {mem / 2**20:8.0f} {bmem / 2**20:8.0f}"
        )
        with torch.no_grad():
            save_image(
                s.sampler(s.fixed_noise).float(),
                args.out / f"{name}.png",
                normalize=True,
                value_range=(-1, 1),
            )
    print(f"grids in {args.out}")


if __name__ == "__main__":
    main()
