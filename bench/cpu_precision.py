"""bf16 autocast vs float32 on this CPU, both channels_last: images/s of the training step, side by side.

Only meaningful on a CPU with native bf16 (avx512_bf16 or amx_bf16 in /proc/cpuinfo); elsewhere bf16 is
emulated (~25x slower) and the script says so and stops unless --force. The configs take turns in short
blocks over several rounds, so load from other processes hits both precisions alike. The printed ratio is
what models.device.CPU_AUTO_BF16 (amp="auto" on such CPUs) is decided from.

    .venv/bin/python bench/cpu_precision.py [--seconds 20] [--rounds 4] [--threads 2] [--presets ...]
"""

from __future__ import annotations

import argparse
import os

import torch
from preset_speed import session_and_batch, timed_block  # bench/ is on sys.path when run as a script

from models.device import cpu_flags, cpu_has_native_bf16
from models.steps import train_step

PRECISIONS = ("off", "bf16")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="timed seconds per config, all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--presets", nargs="+", default=["dcgan-64", "fastgan-64"])
    parser.add_argument("--force", action="store_true", help="run even without native bf16")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    flags = sorted(cpu_flags() & {"avx512_bf16", "amx_bf16", "amx_tile", "avx512f"})
    print(f"torch {torch.__version__}, {args.threads} threads, CPU flags {flags}, load {os.getloadavg()}")
    if not cpu_has_native_bf16() and not args.force:
        print("this CPU has no native bf16 (avx512_bf16/amx_bf16): bf16 autocast is emulated; nothing to do")
        return
    torch.set_num_threads(args.threads)
    runs = {
        (p, amp): session_and_batch(p, amp=amp, channels_last=True)
        for p in args.presets
        for amp in PRECISIONS
    }
    for session, real in runs.values():  # warm-up: the first steps allocate and pick kernels
        for _ in range(2):
            train_step(session, real, collect_grads=False)
    totals = dict.fromkeys(runs, (0, 0.0))
    for _ in range(args.rounds):
        for key, (session, real) in runs.items():
            images, seconds = timed_block(session, real, args.seconds / args.rounds)
            totals[key] = (totals[key][0] + images, totals[key][1] + seconds)
    print(f"{'preset':<14} {'fp32 img/s':>10} {'bf16 img/s':>10} {'bf16/fp32':>9}")
    for preset in args.presets:
        fp32 = totals[(preset, "off")][0] / totals[(preset, "off")][1]
        bf16 = totals[(preset, "bf16")][0] / totals[(preset, "bf16")][1]
        print(f"{preset:<14} {fp32:10.1f} {bf16:10.1f} {bf16 / fp32:9.3f}")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
