"""Is the judge fit to choose checkpoints? C2ST of real-vs-real, real-vs-noise and trained runs, side by side.

Every case is judged exactly as the monitor judges an epoch (models.monitoring.judge, default
DetectorSettings): `--reference` held-back real images (default: as many as TrainConfig holds back from the
data set) against 64 samples. Cases:
- real_vs_real: one half of the data set against the other half (should read ≈0.5);
- real_vs_noise: uniform noise (should read ≈1.0);
- each --run DIR (made by `pokegan train` or by this script): up to --curve checkpoints, each judged against
  the images that run held back (its own cached dataset when present, else --data), and the stream
  detectors replayed over its metrics.jsonl;
- with --train-budget-s S --preset P ...: each preset trained here for S seconds of wall clock (with the
  MonitorHook, policy warn) on --data, then judged like a --run.
The cost of one judgement (C2ST + memorisation) is printed in seconds, with the torch thread count and the
load average, because the machine may be shared.

    PYTHONPATH=. .venv/bin/python bench/judge.py --data dw64.pt --train-budget-s 120 \
        --preset seed-000-classic dcgan-64 --out /tmp/judge-runs
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from models.config import TrainConfig
from models.generate import generate, load_generator
from models.holdout import split_holdout
from models.hooks import EpochContext
from models.monitoring import DetectorSettings, MonitorHook, MonitorSuite
from models.monitoring.judge import Judge
from models.presets import apply_preset
from models.sink import IterationMetrics, JsonlSink
from models.store import RunDirStore
from models.train import train

SAMPLES = 64  # what the monitor judges: the fixed-noise batch
EVAL_SEED = 1_000_000  # samples come from seeds no grid uses


def judge_once(reference: torch.Tensor, samples: torch.Tensor, training: torch.Tensor) -> dict[str, Any]:
    """The monitor's numbers for one epoch: `reference` plays the held-back images."""
    ctx = EpochContext(
        step=0,
        epoch=1,
        samples=samples,
        real=training[:SAMPLES],
        d_features=lambda x: x,
        holdout=reference,
        training=training,
    )
    return Judge(DetectorSettings()).judge(ctx, None)


def baseline_cases(data: torch.Tensor, n_reference: int) -> dict[str, dict[str, Any]]:
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    half_a, half_b = data[order[: len(data) // 2]], data[order[len(data) // 2 :]]
    noise = torch.randint(0, 256, (SAMPLES, *data.shape[1:]), dtype=torch.uint8)
    return {
        "real_vs_real (two halves)": judge_once(half_a[:n_reference], half_b[:SAMPLES], half_a[n_reference:]),
        "real_vs_noise": judge_once(half_a[:n_reference], noise, half_a[n_reference:]),
    }


def run_data(run_dir: Path, config: TrainConfig, fallback: torch.Tensor) -> torch.Tensor:
    """The images the run trained on: its own prepared cache (pokegan train) when there, else --data."""
    try:
        from datasets import PrepareOptions, load_cached

        cached = load_cached(run_dir / "dataset", PrepareOptions(height=config.height, width=config.width))
    except ImportError:
        cached = None
    return cached.images if cached is not None else fallback


def judge_run(run_dir: Path, data: torch.Tensor, curve: int) -> dict[str, Any]:
    store = RunDirStore(run_dir)
    checkpoints = store.checkpoints()
    if not checkpoints:
        raise SystemExit(f"{run_dir} has no checkpoints")
    config = TrainConfig.model_validate(store.load_checkpoint(checkpoints[-1])["config"])
    training, held_back = split_holdout(run_data(run_dir, config, data), config)
    events = replay_events(run_dir / "metrics.jsonl", config.loss)
    if held_back is None:  # nothing unseen to judge against
        return {"run": str(run_dir), "held_back": 0, "events": events}
    picked = [checkpoints[round(i * (len(checkpoints) - 1) / max(1, curve - 1))] for i in range(curve)]
    points = []
    for info in dict.fromkeys(picked):
        G = load_generator(store.load_checkpoint(info))
        samples = generate(G, SAMPLES, EVAL_SEED).mul(2).sub(1)
        numbers = judge_once(held_back, samples, training)
        points.append({"epoch": info.epoch, "step": info.step, **_short(numbers)})
    return {
        "run": str(run_dir),
        "config": {k: getattr(config, k) for k in ("arch", "loss", "lr_g", "lr_d", "batch_size")},
        "held_back": len(held_back),
        "curve": points,
        "events": events,
    }


def replay_events(metrics: Path, loss: str) -> list[str]:
    """Events in the run's log, plus those the stream detectors raise when its rows are replayed now."""
    logged, suite, replayed = [], MonitorSuite(DetectorSettings(), objective=loss), []
    for line in metrics.read_text(encoding="utf-8").splitlines() if metrics.exists() else []:
        row = json.loads(line)
        kind = row.pop("type")
        if kind == "event":
            logged.append(f"step {row['step']} {row['kind']} {row['severity']} (logged)")
        elif kind == "iteration":
            for event in suite.observe_iteration(IterationMetrics(**row)):
                replayed.append(
                    f"step {event.step} {event.kind} {event.severity} (replayed): {event.message}"
                )
    return [e for e in logged if "resume" not in e] + replayed


def parse_candidate(text: str) -> tuple[str, dict[str, Any]]:
    """PRESET or PRESET,key=value,... (values read as JSON, else text)."""
    name, *pairs = text.split(",")
    overrides: dict[str, Any] = {"epochs": 100_000, "grad_stats_every": 0, "log_every": 1_000_000}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return name, overrides


def train_for(candidate: str, seconds: float, data: torch.Tensor, out: Path) -> Path:
    preset, overrides = parse_candidate(candidate)
    run_dir = out / f"{candidate.replace(',', '_').replace('=', '-')}-{int(seconds)}s"
    config = apply_preset(preset, overrides)
    sink = JsonlSink(run_dir / "metrics.jsonl")
    started = time.perf_counter()
    result = train(
        config,
        data,
        sink,
        RunDirStore(run_dir),
        hooks=[MonitorHook(sink, DetectorSettings(), objective=config.loss, policy="warn")],
        should_abort=lambda: time.perf_counter() - started > seconds,
        resume=False,
    )
    print(f"trained {candidate} for {result.elapsed_s:.0f} s: {result.step} steps, {result.epoch} epochs")
    return run_dir


def _short(numbers: dict[str, Any]) -> dict[str, Any]:
    keys = ("c2st", "c2st_std", "c2st_ci_low", "c2st_ci_high", "c2st_test", "nn_ratio", "near_copy_fraction")
    return {k: numbers[k] for k in (*keys, "spread_ratio", "copying", "judge_seconds")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="prepared uint8 N x 3 x 64 x 64 tensor (.pt)"
    )
    parser.add_argument("--run", type=Path, nargs="*", default=[], help="run folders to judge")
    parser.add_argument("--train-budget-s", type=float, help="train each --preset this long, then judge it")
    parser.add_argument(
        "--preset", nargs="*", default=[], help="PRESET or PRESET,key=value,... for --train-budget-s"
    )
    parser.add_argument("--subset", type=int, help="train on the first N images only")
    parser.add_argument("--out", type=Path, default=Path("bench/out/judge"), help="where trained runs go")
    parser.add_argument("--curve", type=int, default=6, help="checkpoints judged per run")
    parser.add_argument("--reference", type=int, help="held-back images (default: what a run holds back)")
    args = parser.parse_args()
    if args.preset and not args.train_budget_s:
        parser.error("--preset needs --train-budget-s")
    data = torch.load(args.data, weights_only=True)
    n_reference = args.reference or TrainConfig().holdout_count(len(data))
    print(
        f"{len(data)} images, {n_reference} held back, {SAMPLES} samples; torch threads "
        f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    for name, numbers in baseline_cases(data, n_reference).items():
        print(json.dumps({"case": name, **_short(numbers)}))
    train_data = data[: args.subset] if args.subset else data
    runs = [(run_dir, data) for run_dir in args.run]
    runs += [(train_for(p, args.train_budget_s, train_data, args.out), train_data) for p in args.preset]
    for run_dir, run_images in runs:
        print(json.dumps(judge_run(run_dir, run_images, args.curve), indent=1))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
