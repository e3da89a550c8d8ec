"""How many images per class (c2st_k) and how many steps keep the C2ST graded? A sweep on real data.

Cases, all at 64 px: two halves of Dream World (should read 0.5); Dream World against black-and-white game
sprites (two real art styles, in between); Dream World blurred to 8 px and back (a blob generator's
look); one image repeated (collapse) and uniform noise (both should read 1.0). For every (k, steps) it prints
the mean accuracy, its std over repeats, and the seconds one judgement took.

    PYTHONPATH=. .venv/bin/python bench/c2st_calibrate.py --dw dw64.pt --bw bw64.pt --k 2 4 8 16 32
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from models.monitoring.c2st import c2st


def cases(dw: torch.Tensor, bw: torch.Tensor, seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """name -> (real, other); `real` is always a half of Dream World the other set does not contain."""
    order = torch.randperm(len(dw), generator=torch.Generator().manual_seed(seed))
    half_a, half_b = dw[order[: len(dw) // 2]], dw[order[len(dw) // 2 :]]
    n = len(half_b)
    blurred = (
        F.interpolate(
            F.interpolate(half_b.float(), size=8, mode="area"), size=64, mode="bilinear", align_corners=False
        )
        .round()
        .clamp(0, 255)
        .to(torch.uint8)
    )
    noise = torch.randint(0, 256, half_b.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return {
        "real_vs_real": (half_a, half_b),
        "dw_vs_bw_sprites": (half_a, bw[:n]),
        "dw_vs_dw_blurred_8px": (half_a, blurred),
        "one_image_repeated": (half_a, half_b[:1].expand(n, -1, -1, -1).contiguous()),
        "uniform_noise": (half_a, noise),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dw", type=Path, required=True, help="Dream World, uint8 N x 3 x 64 x 64 (.pt)")
    parser.add_argument("--bw", type=Path, required=True, help="black-and-white sprites, same shape (.pt)")
    parser.add_argument("--k", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--steps", type=int, nargs="+", default=[60])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--test", type=int, default=32, help="held-out images per class (the holdout's size)")
    args = parser.parse_args()
    dw, bw = torch.load(args.dw), torch.load(args.bw)
    print(f"torch threads {torch.get_num_threads()}; {len(dw)} Dream World, {len(bw)} sprites")
    print(f"{'case':24s} {'k':>3s} {'steps':>5s} {'c2st':>6s} {'std':>6s} {'s':>6s}")
    for name, (real, other) in cases(dw, bw).items():
        for k in args.k:
            for steps in args.steps:
                n = k + args.test
                started = time.perf_counter()
                r = c2st(real[:n], other[:n], k=k, steps=steps, repeats=args.repeats)
                took = time.perf_counter() - started
                print(f"{name:24s} {k:3d} {steps:5d} {r.c2st:6.3f} {r.c2st_std:6.3f} {took:6.2f}", flush=True)


if __name__ == "__main__":
    main()
