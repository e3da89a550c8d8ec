"""How long does one person wait for 64 images while a run trains, and what does it cost the run?

For each --modes entry (a /generate CPU policy) one real stack (tests/live.py: `pokegan serve`, web + one
Celery worker, SQLite, filesystem broker) trains a dcgan64 run (batch 32) on synthetic sprites, then:
  alone        --alone s: training by itself;
  interactive  --window s: one client asks POST /generate for --n images (PNG grid), waits for the answer,
               thinks --think s, asks again: one person using the Generate page;
  ...          --rounds such pairs, then alone once more (drift from other load on the machine hits both);
  idle         the run is cancelled; --idle-calls calls the same way with nothing training.
Latency is the whole HTTP call. Training speed is steps x batch / s over the whole epochs in each window
(bench/load.py's StepSampler); slowdown = 1 - mean(interactive) / mean(alone). The stack inherits this shell's
OMP_NUM_THREADS as `./dev serve` does (unset: torch uses one thread per core). All modes run in one
invocation, one after the other, and are printed side by side; "other processes" shows how busy the rest of
the machine was meanwhile.

Modes: shared (the default: normal priority within a CPU share, then idle), idle (the previous default:
idle priority, torch threads = cores), normal (normal priority, one torch thread, no share).

    .venv/bin/python -m bench.generate_latency [--modes shared,idle,normal] [--n 64] [--rounds 2]
        [--window 30] [--alone 30] [--think 3] [--idle-calls 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load import (
    CpuClock,
    StepSampler,
    dataset_zip,
    percentile,
    start_run,
    wait_for_checkpoint,
    warm_up_generate,
)
from tests.live import live_stack

BATCH = 32
MODES = {
    "shared": {"POKEGAN_GENERATE_PRIORITY": "shared", "POKEGAN_GENERATE_TORCH_THREADS": "1"},
    "idle": {"POKEGAN_GENERATE_PRIORITY": "idle", "POKEGAN_GENERATE_TORCH_THREADS": str(os.cpu_count())},
    "normal": {"POKEGAN_GENERATE_PRIORITY": "normal", "POKEGAN_GENERATE_TORCH_THREADS": "1"},
}
CALL_TIMEOUT_S = 300.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="shared,idle,normal", help=f"comma-separated: {', '.join(MODES)}")
    parser.add_argument("--n", type=int, default=64, help="images per call")
    parser.add_argument("--window", type=float, default=30, help="seconds of each interactive window")
    parser.add_argument("--alone", type=float, default=30, help="seconds of each window of training alone")
    parser.add_argument("--rounds", type=int, default=2, help="alone + interactive pairs (then alone)")
    parser.add_argument("--think", type=float, default=3, help="seconds between an answer and the next call")
    parser.add_argument("--idle-calls", type=int, default=5, help="calls with nothing training")
    parser.add_argument("--count", type=int, default=256, help="synthetic sprites in the dataset")
    args = parser.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    return args


@dataclass
class Result:
    mode: str
    idle: list[float] = field(default_factory=list)
    training: list[float] = field(default_factory=list)
    alone: list[float] = field(default_factory=list)  # img/s, each alone window
    interactive: list[float] = field(default_factory=list)  # img/s, each window while one person generates
    other_cores: list[float] = field(default_factory=list)  # other processes per window

    @property
    def slowdown(self) -> float:
        return 1 - statistics.mean(self.interactive) / statistics.mean(self.alone)


async def person(
    client: httpx.AsyncClient,
    run_id: int,
    args: argparse.Namespace,
    seed: int,
    *,
    until: float = 0,
    calls: int = 0,
) -> list[float]:
    """One person: call, wait for the answer, think, call again; until the clock passes `until` or `calls`
    calls were made. Returns the latencies."""
    latencies: list[float] = []
    while time.monotonic() < until or len(latencies) < calls:
        started = time.monotonic()
        response = await client.post("/generate", json={"run_id": run_id, "n": args.n, "seed": seed})
        response.raise_for_status()
        latencies.append(time.monotonic() - started)
        seed += 1
        await asyncio.sleep(args.think)
    return latencies


async def window(
    seconds: float, sampler: StepSampler, clock: CpuClock, work: Any = None
) -> tuple[float, float, Any]:
    """(training img/s, cores used by other processes, work's result) over `seconds` while `work` runs."""
    before, start = clock.read(), time.monotonic()
    result = await work if work is not None else await asyncio.sleep(seconds)
    end = min(time.monotonic(), start + seconds)
    await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
    after, elapsed = clock.read(), time.monotonic() - start
    other = (after["machine"] - before["machine"]) - sum(
        after[k] - before[k] for k in ("web", "worker", "bench")
    )
    steps_per_s, _ = sampler.speed(start, end)
    return steps_per_s * BATCH, other / elapsed, result


async def one_mode(mode: str, archive: bytes, args: argparse.Namespace) -> Result:
    result = Result(mode)
    print(f"\n[{mode}] starting a stack ({MODES[mode]})", flush=True)
    with live_stack(env=MODES[mode], torch_threads=None) as stack:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=CALL_TIMEOUT_S) as client:
            run_id, _ = await start_run(client, archive)
            await wait_for_checkpoint(client, run_id)
            first = await warm_up_generate(client, run_id, args.n)
            print(f"[{mode}] first call (imports torch, loads the generator) {first:.1f} s", flush=True)
            clock, sampler, stop = CpuClock(stack.proc.pid), StepSampler(client, run_id), asyncio.Event()
            sampling = asyncio.create_task(sampler.run(stop))
            try:
                # alone, interactive, alone, ...: on a shared machine other load drifts; alternating
                # windows lets that drift hit both sides alike
                for index in range(args.rounds):
                    speed, other, _ = await window(args.alone, sampler, clock)
                    result.alone.append(speed)
                    result.other_cores.append(other)
                    use = person(
                        client, run_id, args, 1000 * (index + 1), until=time.monotonic() + args.window
                    )
                    speed, other, latencies = await window(args.window, sampler, clock, use)
                    result.interactive.append(speed)
                    result.training += latencies
                    result.other_cores.append(other)
                speed, other, _ = await window(args.alone, sampler, clock)
                result.alone.append(speed)
                result.other_cores.append(other)
            finally:
                stop.set()
                await sampling
            await client.post(f"/api/runs/{run_id}/cancel")
            while (await client.get(f"/api/runs/{run_id}")).json()["status"] in ("queued", "running"):
                await asyncio.sleep(0.5)
            result.idle = await person(client, run_id, args, 2000, calls=args.idle_calls)
    print(
        f"[{mode}] idle p50 {statistics.median(result.idle):.2f} s; training p50 "
        f"{statistics.median(result.training):.2f} s; slowdown {result.slowdown:.1%}",
        flush=True,
    )
    return result


def print_report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\nPOST /generate n={args.n}, one person ({args.think:.0f} s between calls), dcgan64 batch {BATCH}"
    )
    print(f"{'':<38}" + "".join(f"{r.mode:>12}" for r in results))

    def line(label: str, values: list[str]) -> None:
        print(f"{label:<38}" + "".join(f"{v:>12}" for v in values))

    line("latency idle, p50 s", [f"{statistics.median(r.idle):.2f}" for r in results])
    line("latency idle, max s", [f"{max(r.idle):.2f}" for r in results])
    line("latency while training, p50 s", [f"{statistics.median(r.training):.2f}" for r in results])
    line("latency while training, p95 s", [f"{percentile(r.training, 95):.2f}" for r in results])
    line("latency while training, max s", [f"{max(r.training):.2f}" for r in results])
    line("calls while training", [str(len(r.training)) for r in results])
    line("training alone, img/s", [f"{statistics.mean(r.alone):.1f}" for r in results])
    line("training while one person generates", [f"{statistics.mean(r.interactive):.1f}" for r in results])
    line("training slowdown", [f"{r.slowdown:.1%}" for r in results])
    line("other processes, cores (mean)", [f"{statistics.mean(r.other_cores):.2f}" for r in results])


async def bench(args: argparse.Namespace) -> None:
    archive, what = dataset_zip(None, args.count)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{os.cpu_count()} cores; dcgan64 on {what}; OMP_NUM_THREADS {threads}")
    print(f"load average now {os.getloadavg()}", flush=True)
    results = [await one_mode(mode, archive, args) for mode in args.modes]
    print_report(results, args)
    print(f"load average at the end {os.getloadavg()}")


def main() -> None:
    asyncio.run(bench(parse_args()))


if __name__ == "__main__":
    main()
