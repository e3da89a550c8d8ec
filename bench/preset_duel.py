"""Which config trains better in the same time? Train each on the same images for one budget, then judge.

The budget is --minutes of wall clock on a quiet machine. Each candidate's speed (img/s) is measured in this
process with the candidates taking turns (or given with --speeds, measured beforehand with --measure-only on
a quiet machine: under load small batches lose more speed than big ones), and a candidate then trains for
minutes x 60 x speed images (whole steps). So faster configs get more steps, as they would in the same
wall-clock time, and the result does not depend on what else the machine runs meanwhile. A finished run
whose config and budget match is reused (its outcome.json), so candidates can be added later.

Each run uses models.train with a JsonlSink, a RunDirStore and a MonitorHook (policy "warn") that logs the
detectors' events (d_saturation, mode_collapse, ...). The final generator (EMA weights when on, and also
the raw G) is judged by the classifier two-sample test (C2ST, issue 12) against the real images every run
held back (the same ones for all: same seed and holdout share), and by models.monitoring.epoch_quality on
--samples samples against every training image for diversity (spread ratio) and memorisation
(nearest-neighbour distance). Its fixed-noise grid is written to --grids.

The C2ST comes from --judge MODULE:FUNCTION or FILE.py:FUNCTION, called as f(real, fake, seed=0) and
returning a dict or an object with to_dict() holding at least c2st and c2st_std (default:
models.monitoring.c2st:c2st).

A candidate is PRESET or PRESET,key=value,... (values read as JSON, else text), e.g.
    .venv/bin/python bench/preset_duel.py seed-000-classic dcgan-64 fastgan-64 seed-001-vit \
        --data dw64.pt --measure-only
    nice -n 15 .venv/bin/python bench/preset_duel.py seed-000-classic "dcgan-64,ngf=32,ndf=32" \
        --data dw64.pt --minutes 10 --speeds 118.4 318.7

(the candidates come first: --speeds takes every number after it). --data may also be a dict
{images, labels, label_names} (a labelled set, e.g. Fire / Water / Grass): candidates with
conditional=true then train on the labels, and are judged per label as well (class consistency, and each
label's C2ST, diversity and collapse), with one grid row per label.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision.utils import make_grid

from models import conditioning
from models.config import TrainConfig
from models.generate import generate, latents, load_generator, render
from models.holdout import split_holdout
from models.monitoring import MonitorHook, epoch_quality
from models.monitoring.class_consistency import class_consistency
from models.monitoring.per_label import judge_labels, label_images
from models.monitoring.settings import DetectorSettings
from models.presets import apply_preset
from models.sink import JsonlSink
from models.steps import train_step
from models.store import RunDirStore
from models.train import Progress, train
from models.training_state import build_training_state

GRID_IMAGES = 32  # 4 rows of 8: enough to judge, small enough for docs/
EVAL_SEED = 1_000_000  # samples for judging come from seeds no grid uses


@dataclass
class Candidate:
    label: str
    config: TrainConfig
    speed: float = 0.0  # images/s, measured
    steps: int = 0  # the budget in optimisation steps


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidates", nargs="+", help="PRESET or PRESET,key=value,...")
    parser.add_argument(
        "--data", type=Path, required=True, help="a prepared uint8 N x 3 x H x W tensor (.pt)"
    )
    parser.add_argument("--minutes", type=float, default=10, help="quiet-machine wall-clock budget per run")
    parser.add_argument("--out", type=Path, default=Path("/work/data/duel"), help="run directories go here")
    parser.add_argument("--grids", type=Path, default=Path("docs"), help="final fixed-noise grids go here")
    parser.add_argument("--samples", type=int, default=512, help="samples judged against the real images")
    parser.add_argument("--speed-seconds", type=float, default=30, help="timed seconds per speed measurement")
    parser.add_argument(
        "--reference-speed",
        type=float,
        help="img/s of the first candidate on a quiet machine (e.g. from bench/preset_speed.py)",
    )
    parser.add_argument(
        "--speeds",
        type=float,
        nargs="+",
        help="img/s of each candidate measured beforehand on a quiet machine (skips measuring)",
    )
    parser.add_argument(
        "--measure-only", action="store_true", help="print the speeds and budgets, train nothing"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--judge-every",
        type=int,
        default=0,
        help="the in-run C2ST every N epochs (0: the app's schedule, which judges every epoch while epochs "
        "take over 30 s, i.e. on a loaded machine); the final judgement is made either way",
    )
    parser.add_argument(
        "--judge",
        default="models.monitoring.c2st:c2st",
        help="the C2ST: MODULE:FUNCTION or FILE.py:FUNCTION, called as f(real, fake, seed=0)",
    )
    parser.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.09,
        help="share of images every run holds back for the C2ST (capped at 64 by TrainConfig)",
    )
    return parser.parse_args()


def load_judge(spec: str) -> Callable[..., Any]:
    """The C2ST function named by MODULE:FUNCTION or FILE.py:FUNCTION."""
    target, _, name = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            module_spec = importlib.util.spec_from_file_location(f"injected_{Path(target).stem}", target)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module  # dataclasses look their module up there
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        return getattr(module, name)
    except (ImportError, AttributeError, FileNotFoundError) as exc:
        raise SystemExit(
            f"no C2ST judge at {spec!r} ({exc}); it lands with issue 12 as models.monitoring.c2st:c2st, "
            "or pass --judge PATH/c2st.py:c2st"
        ) from exc


def parse_candidate(spec: str, holdout_fraction: float, label_names: tuple[str, ...] = ()) -> Candidate:
    name, *pairs = spec.split(",")
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    # Cadence only: a checkpoint per 10 epochs and a grid per 5 keep the disk use small.
    cadence = {"checkpoint_every_epochs": 10, "grid_every_epochs": 5, "epochs": 100_000}
    fixed = {**cadence, "holdout_fraction": holdout_fraction}
    if overrides.get("conditional"):
        if not label_names:
            raise SystemExit(f"{spec}: a conditional candidate needs --data with labels and label_names")
        fixed["label_names"] = label_names
    return Candidate(spec, apply_preset(name, {**overrides, **fixed}))


def measure_speeds(candidates: list[Candidate], seconds: float, rounds: int = 3) -> None:
    """images/s of each candidate's training step, the candidates taking turns so load hits all alike."""
    sessions = []
    for c in candidates:
        s = build_training_state(c.config, torch.device("cpu"), iters_per_epoch=1000)
        shape = (c.config.batch_size, 3, c.config.height, c.config.width)
        real = s.to_images(torch.randint(0, 256, shape, dtype=torch.uint8))
        n_classes = len(c.config.label_names)
        y = torch.arange(len(real)) % n_classes if c.config.conditional else None
        train_step(s, real, collect_grads=False, labels=y)  # warm-up
        sessions.append((s, real, y))
    totals = [[0, 0.0] for _ in candidates]
    for _ in range(rounds):
        for total, (s, real, y) in zip(totals, sessions, strict=True):
            started = time.perf_counter()
            while time.perf_counter() - started < seconds / rounds:
                train_step(s, real, collect_grads=False, labels=y)
                total[0] += real.size(0)
            total[1] += time.perf_counter() - started
    for c, (images, secs) in zip(candidates, totals, strict=True):
        c.speed = images / secs


def run(
    c: Candidate, data: torch.Tensor, labels: torch.Tensor | None, run_dir: Path, judge_every: int = 0
) -> dict[str, Any]:
    """Train until the step budget is spent; returns the wall time and the MonitorHook events."""
    sink = JsonlSink(run_dir / "metrics.jsonl")
    store = RunDirStore(run_dir)
    store.save_config(c.config.model_dump(mode="json"))
    detectors = DetectorSettings(c2st_every=judge_every)
    hook = MonitorHook(sink, detectors, objective=c.config.loss, policy="warn")
    step = [0]

    def track(progress: Progress) -> None:
        step[0] = progress.step

    started, cpu = time.perf_counter(), time.process_time()
    result = train(
        c.config,
        data,
        sink,
        store,
        should_abort=lambda: step[0] >= c.steps,
        on_progress=track,
        hooks=[hook],
        resume=False,
        labels=labels if c.config.conditional else None,
    )
    return {
        "checkpoint": str(result.checkpoint.path),
        "steps": result.step,
        "epochs": result.step / (len(data) // c.config.batch_size),
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "events": [(e.step, e.kind, e.severity) for e in hook.events],
        "last_quality": hook.last_quality,
    }


def judge(
    checkpoint: Path,
    data: torch.Tensor,
    n: int,
    c2st: Callable[..., Any],
    *,
    use_ema: bool = True,
) -> dict[str, Any]:
    """The C2ST of n samples from the final generator against the run's held-back images, and
    epoch_quality (diversity, memorisation) against every training image, all in [-1, 1]."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config = TrainConfig.model_validate(state["config"])
    training, held_back = split_holdout(data, config)
    if held_back is None:
        raise SystemExit("the runs held back no images, so there is nothing to judge the C2ST on")
    G = load_generator(state, use_ema=use_ema)
    classes = (
        conditioning.cycled_labels(n, len(config.label_names), torch.device("cpu"))
        if config.conditional
        else None
    )
    fake = generate(G, n, EVAL_SEED, classes) * 2 - 1
    quality = epoch_quality(fake, training.float() / 127.5 - 1)
    started = time.perf_counter()
    verdict = c2st(held_back, fake, seed=0)
    verdict = verdict.to_dict() if hasattr(verdict, "to_dict") else dict(verdict)
    verdict["c2st_seconds"] = time.perf_counter() - started
    return {"score": quality.score, **quality.to_dict(), **verdict}


def judge_per_label(checkpoint: Path, data: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """A conditional run's final generator label by label, as the run report judges it: class
    consistency, and each label's C2ST (held-back images of the label when enough, else its training
    images), diversity and collapse."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config = TrainConfig.model_validate(state["config"])
    G = load_generator(state)

    def sample(classes: torch.Tensor) -> torch.Tensor:
        return render(G, latents(list(range(EVAL_SEED, EVAL_SEED + len(classes))), G.nz), classes) * 2 - 1

    names = list(config.label_names)
    consistency = class_consistency(data, labels, names, sample, seed=config.seed)
    judged = judge_labels(label_images(config, data, labels, sample), DetectorSettings(), seed=config.seed)
    return {"class_consistency": consistency.to_dict(), "labels": judged}


def last_rows(run_dir: Path, n: int = 100) -> dict[str, float]:
    """Mean losses and D outputs over the run's last n iterations."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["type"] == "iteration"][-n:]
    keys = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")
    return {k: sum(r[k] for r in rows) / len(rows) for k in keys}


def save_grid(checkpoint: Path, path: Path) -> None:
    """The first GRID_IMAGES of the run's fixed noise through the final generator, as a small palette PNG."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    G = load_generator(state)
    config = TrainConfig.model_validate(state["config"])
    with torch.no_grad():
        if config.conditional:  # one row per label, the same latents in every row
            z, y = conditioning.grid_inputs(state["fixed_noise"], len(config.label_names))
            images = G(z, y).add(1).div(2).clamp(0, 1)
        else:
            images = G(state["fixed_noise"][:GRID_IMAGES]).add(1).div(2).clamp(0, 1)
    grid = make_grid(images, nrow=8, padding=2)
    pixels = grid.mul(255).round().byte().permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).quantize(colors=256).save(path, optimize=True)


def slug(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def set_budgets(candidates: list[Candidate], minutes: float, reference_speed: float | None) -> None:
    """Steps per candidate. With reference_speed (the first candidate's img/s on a quiet machine), the others'
    speeds are scaled by their measured ratio to it, so the budget does not depend on today's load."""
    scale = 1.0 if reference_speed is None else reference_speed / candidates[0].speed
    for c in candidates:
        c.speed *= scale
        c.steps = max(1, math.floor(minutes * 60 * c.speed / c.config.batch_size))
        print(f"{c.label}: {c.speed:.1f} img/s -> {c.steps} steps of batch {c.config.batch_size}", flush=True)


def run_and_judge(
    c: Candidate, data: torch.Tensor, labels: torch.Tensor | None, args: argparse.Namespace
) -> dict[str, Any]:
    """The candidate's outcome, reused from an earlier invocation when its config and budget match."""
    run_dir = args.out / slug(c.label)
    saved = run_dir / "outcome.json"
    if saved.is_file():
        outcome = json.loads(saved.read_text())
        if outcome["config"] == c.config.model_dump(mode="json") and outcome["steps"] == c.steps:
            print(f"{c.label}: reusing {saved}", flush=True)
            return outcome
    outcome = run(c, data, labels, run_dir, args.judge_every)
    outcome["config"] = c.config.model_dump(mode="json")
    outcome["speed"] = c.speed
    outcome["final"] = judge(Path(outcome["checkpoint"]), data, args.samples, args.c2st)
    if c.config.ema_decay is not None:  # how much the moving average helps at this budget
        outcome["final_raw_g"] = judge(
            Path(outcome["checkpoint"]), data, args.samples, args.c2st, use_ema=False
        )
    if c.config.conditional:
        outcome["per_label"] = judge_per_label(Path(outcome["checkpoint"]), data, labels)
    outcome["last_100_rows"] = last_rows(run_dir)
    save_grid(Path(outcome["checkpoint"]), args.grids / f"grid-{slug(c.label)}.png")
    saved.write_text(json.dumps(outcome, indent=1, default=str))
    print(json.dumps({c.label: {k: v for k, v in outcome.items() if k != "config"}}, default=str), flush=True)
    return outcome


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """C2ST (lower is better, 0.5 = indistinguishable) with its spread over repeats; diversity = sample
    spread over the real images' (pixel and random-feature); nn = mean nearest-training-image distance in
    units of the real images' own spacing (near 0 = copying)."""
    header = f"{'candidate':<32} {'steps':>6} {'img/s':>6} {'C2ST':>6} {'±sd':>5} {'raw G':>6}"
    print(f"{header} {'div px/ft':>10} {'nn':>5} events")
    for label, r in results.items():
        f, raw = r["final"], r.get("final_raw_g")
        kinds = sorted({f"{kind}:{sev}" for _, kind, sev in r["events"]})
        raw_c2st = f"{raw['c2st']:6.3f}" if raw else f"{'-':>6}"
        print(
            f"{label:<32} {r['steps']:>6} {r['speed']:6.1f} {f['c2st']:6.3f} {f['c2st_std']:5.3f} {raw_c2st} "
            f"{f['diversity_pixel']:4.2f}/{f['diversity_feature']:4.2f} {f['nn_pixel_mean']:5.2f} "
            f"{', '.join(kinds) or '-'}"
        )


def print_label_table(results: dict[str, dict[str, Any]]) -> None:
    """Conditional candidates, label by label: share of samples the label classifier gives their label,
    the label's C2ST (and what it was measured against), diversity, and whether it collapsed."""
    for label, r in results.items():
        if "per_label" not in r:
            continue
        cc = r["per_label"]["class_consistency"]
        print(
            f"\n{label}: label classifier {cc['held_out_accuracy']:.2f} on {cc['held_out']} real images "
            f"(chance {cc['chance']:.2f})"
        )
        print(
            f"  {'label':<10} {'consistent':>10} {'C2ST':>6} {'±sd':>5} {'vs':>14} {'div px/ft':>10} collapse"
        )
        for name, j in r["per_label"]["labels"].items():
            c2st = (
                f"{j['c2st']:6.3f} {j['c2st_std']:5.3f}"
                if j.get("c2st") is not None
                else f"{'-':>6} {'-':>5}"
            )
            versus = f"{j.get('c2st_reference_images', 0)} {j.get('c2st_reference', '-')}"
            div = (
                f"{j['diversity_pixel']:4.2f}/{j['diversity_feature']:4.2f}"
                if "diversity_pixel" in j
                else "-"
            )
            print(
                f"  {name:<10} {cc['per_label'][name]:10.2f} {c2st} {versus:>14} {div:>10} "
                f"{', '.join(j.get('collapse_rules') or []) or 'no'}"
            )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    loaded = torch.load(args.data, map_location="cpu", weights_only=True)
    data = loaded["images"] if isinstance(loaded, dict) else loaded
    labels = loaded.get("labels") if isinstance(loaded, dict) else None
    names = tuple(loaded.get("label_names") or ()) if isinstance(loaded, dict) else ()
    args.c2st = load_judge(args.judge)
    candidates = [parse_candidate(spec, args.holdout_fraction, names) for spec in args.candidates]
    print(f"{len(data)} images {tuple(data.shape[1:])}; load average {os.getloadavg()}", flush=True)
    if args.speeds:
        for c, speed in zip(candidates, args.speeds, strict=True):
            c.speed = speed
    else:
        measure_speeds(candidates, args.speed_seconds)
    set_budgets(candidates, args.minutes, args.reference_speed)
    if args.measure_only:
        return
    results = {c.label: run_and_judge(c, data, labels, args) for c in candidates}
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print_table(results)
    print_label_table(results)


if __name__ == "__main__":
    main()
