"""Images/s of one run at world_size 1 (one process, the plain loop) and 2 (torchrun, two Gloo ranks on the
CPU), side by side in one invocation, on synthetic 64 px images with the classic DCGAN.

    PYTHONPATH=. .venv/bin/python bench/ddp_scaling.py [--steps 30] [--batch 32] [--threads 1]

Each process gets --threads torch threads, so 2 ranks use twice the cores of 1 process. The machine is
shared: the load average before and after is printed beside the numbers. Time is the loop's own elapsed
time (TrainResult.elapsed_s), not process start-up or rendezvous.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from models.config import TrainConfig
from models.distributed import NullSink, RankEnv, process_group, rank_device
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train

ROOT = Path(__file__).resolve().parents[1]


def images(n: int, px: int) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, px, px), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


def config(args: argparse.Namespace, world: int) -> TrainConfig:
    return TrainConfig(
        arch="dcgan64",
        batch_size=args.batch,
        epochs=1,
        device="cpu",
        seed=0,
        world_size=world,
        holdout_fraction=0.0,
        grad_stats_every=0,
        log_every=10_000,
    )


def one_process(args: argparse.Namespace, out: Path) -> float:
    torch.set_num_threads(args.threads)
    result = train(config(args, 1), images(args.steps * args.batch, 64), ListSink(), RunDirStore(out))
    return result.step * args.batch / result.elapsed_s


def ranks(args: argparse.Namespace, out: Path, world: int) -> float:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(world)]
    command += [__file__, "--rank-of", str(out), "--steps", str(args.steps), "--batch", str(args.batch)]
    command += ["--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    subprocess.run(command, check=True, env=env, cwd=ROOT, capture_output=True)
    result = json.loads((out / "result.json").read_text())
    return result["step"] * args.batch / result["elapsed_s"]


def rank_main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    env = RankEnv.from_env()
    out = Path(args.rank_of)
    with process_group(env, rank_device("cpu", env.local_rank)) as parallel:
        cfg = config(args, env.world_size)
        store = RunDirStore(out) if parallel.is_leader else None
        sink = ListSink() if parallel.is_leader else NullSink()
        result = train(cfg, images(args.steps * args.batch, 64), sink, store, parallel=parallel)  # type: ignore[arg-type]
        if parallel.is_leader:
            (out / "result.json").write_text(json.dumps({"step": result.step, "elapsed_s": result.elapsed_s}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rank-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank_of:
        return rank_main(args)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        single = one_process(args, Path(tmp) / "one")
        double = ranks(args, Path(tmp) / "two", 2)
    load_after = os.getloadavg()
    print(
        f"dcgan64, global batch {args.batch}, {args.steps} steps, {args.threads} torch thread(s) per process"
    )
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} on {os.cpu_count()} cores")
    print(f"world_size 1 (one process):   {single:7.1f} images/s")
    print(f"world_size 2 (2 Gloo ranks):  {double:7.1f} images/s   ({double / single:.2f} x)")


if __name__ == "__main__":
    main()
