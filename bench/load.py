"""Does training keep its speed, and the web app its answers, while people generate images and watch a run?

One real stack (tests/live.py: `pokegan serve` = web + one Celery worker, SQLite and the filesystem broker in
a temporary data dir) trains a dcgan64 run (batch 32) on synthetic sprites, or on --images DIR. After the
run's first checkpoint and one warm-up /generate call (the web process imports torch and loads the
generator once), three windows follow:
  alone   --alone s: training by itself;
  loaded  --duration s: --clients clients call POST /generate (n=--n, PNG grid) back to back, sleeping
          Retry-After on a 429, while --followers clients follow the run as its page does (run, new metrics
          and events every 1.5 s);
  alone   --alone s again, so drift from other load on the machine shows and averages out.
Training speed is steps x batch size / seconds over the whole epochs inside each window, from the run's step
and epoch (the worker stores them about once a second; polled every 0.25 s in every window), so epoch-end
work (grid, monitors, checkpoint) counts as often as in a whole run.
slowdown = 1 - loaded / alone, alone being the mean of both alone windows. An error is a 5xx, any other
unexpected status, a connection failure or a timeout; 429s are counted apart. The clients run in this
process, on the same cores as the stack; the CPU each part used is printed per window.

Threads: by default the stack inherits this shell's OMP_NUM_THREADS, as `./dev serve` does (unset: torch
uses one thread per core in the web process and in the worker); --torch-threads N pins it.

    .venv/bin/python -m bench.load [--clients 20] [--followers 5] [--n 16] [--duration 60] [--alone 45]
        [--images DIR] [--count 256] [--torch-threads N] [--generate-concurrency N]
        [--generate-priority shared|idle|low|normal] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from core.settings import Settings
from tests.live import live_stack

BATCH = 32
STEP_POLL_S = 0.25  # an epoch start is seen this late at most, plus the request
FOLLOW_POLL_S = 1.5  # static/js/run_page.js POLL_MS
FIRST_LOAD_POINTS = 4000  # run_page.js FIRST_LOAD_POINTS
REQUEST_TIMEOUT_S = 30.0
SETUP_TIMEOUT_S = 900.0  # importing the dataset, the first epoch
Method = Callable[..., Awaitable[httpx.Response]]  # client.get, client.post
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent POST /generate clients")
    parser.add_argument("--followers", type=int, default=5, help="clients following the run's live metrics")
    parser.add_argument("--n", type=int, default=16, help="images per /generate call")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--alone", type=float, default=45, help="seconds of training alone, before and after")
    parser.add_argument("--images", type=Path, help="a folder of images (default: synthetic sprites)")
    parser.add_argument("--count", type=int, default=256, help="synthetic sprites (64 px)")
    parser.add_argument("--torch-threads", type=int, help="OMP_NUM_THREADS of the stack (default: inherited)")
    parser.add_argument("--generate-concurrency", type=int, help="POKEGAN_GENERATE_CONCURRENCY for the web")
    parser.add_argument(
        "--generate-priority",
        choices=("shared", "idle", "low", "normal"),
        help="POKEGAN_GENERATE_PRIORITY for the web",
    )
    parser.add_argument("--keep", type=Path, help="put the stack's data dir (serve.log) here and keep it")
    return parser.parse_args()


# ---- the dataset ----


def sprite_png(rng: random.Random, size: int = 64) -> bytes:
    """A random-ish creature on white: limbs, an outlined body and two eyes."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    colour = tuple(rng.randrange(30, 230) for _ in range(3))
    cx, cy = rng.randint(size * 3 // 8, size * 5 // 8), rng.randint(size * 3 // 8, size * 5 // 8)
    rx, ry = rng.randint(size // 6, size // 3), rng.randint(size // 6, size // 3)
    for _ in range(rng.randint(2, 4)):
        end = (rng.randint(4, size - 4), rng.randint(4, size - 4))
        draw.line(((cx, cy), end), fill=colour, width=rng.randint(3, 7))
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=colour, outline="black")
    for eye_x in (cx - rx // 3, cx + rx // 3):
        eye_y = cy - ry // 3
        draw.ellipse((eye_x - 2, eye_y - 2, eye_x + 2, eye_y + 2), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def dataset_zip(folder: Path | None, count: int) -> tuple[bytes, str]:
    """A zip to upload and a description of what is in it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if folder is None:
            rng = random.Random(0)
            for i in range(count):
                archive.writestr(f"sprite-{i:04d}.png", sprite_png(rng))
            what = f"{count} synthetic 64 px sprites"
        else:
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            for path in paths:
                archive.write(path, path.relative_to(folder).as_posix())
            what = f"{len(paths)} images from {folder}"
    return buffer.getvalue(), what


# ---- setting up the run ----


async def start_run(client: httpx.AsyncClient, archive: bytes) -> tuple[int, int]:
    """Upload the dataset and queue a long dcgan64 run; returns (run id, images in the dataset)."""
    response = await client.post(
        "/api/datasets",
        files={"file": ("sprites.zip", archive, "application/zip")},
        data={"name": "load bench"},
        timeout=SETUP_TIMEOUT_S,
    )
    response.raise_for_status()
    dataset = response.json()
    config = {"arch": "dcgan64", "batch_size": BATCH, "epochs": 10_000}  # cancelled when the bench ends
    response = await client.post("/api/runs", json={"dataset_id": dataset["id"], "config": config})
    response.raise_for_status()
    return response.json()["id"], dataset["image_count"]


async def wait_for_checkpoint(client: httpx.AsyncClient, run_id: int) -> None:
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while time.monotonic() < deadline:
        run = (await client.get(f"/api/runs/{run_id}")).json()
        if run["status"] not in ("queued", "running"):
            raise RuntimeError(f"run {run_id} ended {run['status']}: {run['error']}")
        if (await client.get(f"/api/runs/{run_id}/checkpoints")).json():
            return
        await asyncio.sleep(1)
    raise RuntimeError(f"run {run_id} saved no checkpoint in {SETUP_TIMEOUT_S:.0f} s")


async def warm_up_generate(client: httpx.AsyncClient, run_id: int, n: int) -> float:
    started = time.monotonic()
    body = {"run_id": run_id, "n": n, "seed": 0}
    response = await client.post("/generate", json=body, timeout=SETUP_TIMEOUT_S)
    response.raise_for_status()
    return time.monotonic() - started


# ---- measuring training speed ----


class StepSampler:
    """Polls the run's step and epoch. The speed over a window is measured over the whole epochs in it, from
    the first epoch start to the last: every epoch-end pause (grid, monitors, checkpoint) then counts once per
    epoch, as in a whole run, wherever the window's edges fall."""

    def __init__(self, client: httpx.AsyncClient, run_id: int) -> None:
        self.client, self.run_id = client, run_id
        self.samples: list[tuple[float, int, int]] = []  # (seconds, step, epoch)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                response = await self.client.get(f"/api/runs/{self.run_id}")
                if response.status_code == 200:
                    run = response.json()
                    self.samples.append((time.monotonic(), run["step"], run["epoch"]))
            except httpx.HTTPError:
                pass  # the load clients count failures; a missing sample only blurs an epoch start
            try:
                await asyncio.wait_for(stop.wait(), STEP_POLL_S)
            except TimeoutError:
                pass

    def speed(self, start: float, end: float) -> tuple[float, str]:
        """(steps/s, what it was measured over): from the first to the last epoch start seen in [start, end],
        or over the whole window (less exact) when it holds fewer than two epoch starts."""
        inside = [sample for sample in self.samples if start <= sample[0] <= end]
        starts = [b for a, b in zip(inside, inside[1:], strict=False) if b[2] > a[2]]
        if len(starts) >= 2:
            (t0, step0, epoch0), (t1, step1, epoch1) = starts[0], starts[-1]
            return (step1 - step0) / (t1 - t0), f"{epoch1 - epoch0} whole epochs"
        (t0, step0, _), (t1, step1, _) = inside[0], inside[-1]
        return (step1 - step0) / (t1 - t0), f"{t1 - t0:.0f} s, partial epochs: lengthen the windows"


# ---- CPU per process ----


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads)."""
    return _cpu(_stat_fields(Path(f"/proc/{pid}/stat")))


def low_priority_cpu_seconds(pid: int) -> float:
    """CPU time of the process's live threads with a nice value above 0 or a policy other than SCHED_OTHER
    (the /generate threads)."""
    total = 0.0
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = _stat_fields(stat)
        except OSError:
            continue  # the thread ended
        if int(fields[16]) > 0 or int(fields[38]) != 0:  # stat fields 19 (nice) and 41 (policy)
            total += _cpu(fields)
    return total


def _stat_fields(path: Path) -> list[str]:
    """The fields of a /proc stat file after the command name (the first is field 3, the state)."""
    return path.read_text().rsplit(")", 1)[1].split()


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(_stat_fields(stat)[1])
        except (OSError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@dataclass
class CpuClock:
    """CPU seconds of the web process (serve), the worker (its descendants) and this bench."""

    web_pid: int

    def read(self) -> dict[str, float]:
        worker = 0.0
        for pid in descendants(self.web_pid):
            try:
                worker += cpu_seconds(pid)
            except OSError:
                continue
        times = os.times()
        busy, steal = machine_seconds()
        return {
            "web": cpu_seconds(self.web_pid),
            "web, low priority": low_priority_cpu_seconds(self.web_pid),
            "worker": worker,
            "bench": times.user + times.system,
            "machine": busy,
            "stolen by the host": steal,
        }


def machine_seconds() -> tuple[float, float]:
    """Since boot: CPU seconds all cores ran anything but idle and I/O wait; seconds the hypervisor took."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(ticks[:7]) - ticks[3] - ticks[4]  # user nice system idle iowait irq softirq
    return busy / os.sysconf("SC_CLK_TCK"), ticks[7] / os.sysconf("SC_CLK_TCK")


# ---- the load ----


@dataclass
class Tally:
    """Latencies of answered requests by kind and outcome, and the failures."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    resent: int = 0  # requests sent again on a fresh connection (see send)

    def answered(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    def failed(self, what: str) -> None:
        self.errors[what] += 1


async def timed(tally: Tally, kind: str, method: Method, url: str, **kwargs: Any) -> httpx.Response | None:
    """Make one request; record its latency under `kind` (+ ' 429' when busy) or count its failure."""
    started = time.monotonic()
    try:
        response = await send(tally, method, url, **kwargs)
    except httpx.TimeoutException:
        tally.failed(f"{kind}: timeout")
        return None
    except httpx.TransportError as exc:
        tally.failed(f"{kind}: {type(exc).__name__}")
        return None
    seconds = time.monotonic() - started
    if response.status_code == 200:
        tally.answered(kind, seconds)
        return response
    if response.status_code == 429:
        tally.answered(f"{kind} 429", seconds)
        return response
    tally.failed(f"{kind}: HTTP {response.status_code}")
    return None


async def send(tally: Tally, method: Method, url: str, **kwargs: Any) -> httpx.Response:
    """The request, sent once more if the server closed the kept-alive connection just as it went out (as
    browsers do; uvicorn closes connections idle for 5 s). A server that is really gone fails again."""
    try:
        return await method(url, **kwargs)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        tally.resent += 1
        return await method(url, **kwargs)


async def generate_client(
    client: httpx.AsyncClient, run_id: int, n: int, seed: int, deadline: float, tally: Tally
) -> None:
    while time.monotonic() < deadline:
        body = {"run_id": run_id, "n": n, "seed": seed}
        response = await timed(tally, "generate", client.post, "/generate", json=body)
        seed += 1
        if response is not None and response.status_code == 429:
            wait = float(response.headers.get("Retry-After", "1"))
            await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))


async def follower(client: httpx.AsyncClient, run_id: int, deadline: float, tally: Tally) -> None:
    """What static/js/run_page.js does: a first load, then the run, new metrics and events every 1.5 s."""
    base = f"/api/runs/{run_id}"
    await asyncio.sleep(random.uniform(0, FOLLOW_POLL_S))  # pages are opened at different moments
    params: dict[str, int] = {"max_points": FIRST_LOAD_POINTS}
    first = await timed(tally, "follow", client.get, f"{base}/metrics", params=params)
    points = first.json() if first is not None else []
    last_step = points[-1]["step"] if points else -1
    await timed(tally, "follow", client.get, f"{base}/events")
    best_id = None
    while time.monotonic() < deadline:
        run = await timed(tally, "follow", client.get, base)
        if run is not None and run.json()["best_checkpoint_id"] != best_id:
            best_id = run.json()["best_checkpoint_id"]
            await timed(tally, "follow", client.get, f"{base}/checkpoints")
        params = {"after_step": last_step, "limit": 5000}  # run_page.js poll()
        new = await timed(tally, "follow", client.get, f"{base}/metrics", params=params)
        if new is not None and new.json():
            last_step = new.json()[-1]["step"]
            await timed(tally, "follow", client.get, f"{base}/events")
        await asyncio.sleep(max(0.0, min(FOLLOW_POLL_S, deadline - time.monotonic())))


async def load(client: httpx.AsyncClient, run_id: int, args: argparse.Namespace) -> tuple[Tally, float]:
    """--duration s of load; returns the tally and the seconds until the last client finished."""
    tally = Tally()
    started = time.monotonic()
    deadline = started + args.duration
    clients = [
        generate_client(client, run_id, args.n, 1_000_000 * (i + 1), deadline, tally)
        for i in range(args.clients)
    ]
    followers = [follower(client, run_id, deadline, tally) for _ in range(args.followers)]
    await asyncio.gather(*clients, *followers)
    return tally, time.monotonic() - started


# ---- the bench ----


@dataclass
class Window:
    name: str
    images_per_s: float
    basis: str  # what the speed was measured over
    cpu: dict[str, float]  # cores busy


async def measure(
    name: str, seconds: float, sampler: StepSampler, clock: CpuClock, work: Any = None
) -> tuple[Window, Any]:
    """Training speed and CPU use over `seconds`, while `work` (a coroutine, optional) runs."""
    cpu_before, start = clock.read(), time.monotonic()
    result = await work if work is not None else await asyncio.sleep(seconds)
    end = min(time.monotonic(), start + seconds)
    await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
    cpu_after = clock.read()
    elapsed = time.monotonic() - start
    cpu = {k: (cpu_after[k] - cpu_before[k]) / elapsed for k in cpu_before}
    steps_per_s, basis = sampler.speed(start, end)
    images_per_s = steps_per_s * BATCH
    print(f"  {name:<7} {images_per_s:6.1f} img/s training (over {basis})", flush=True)
    return Window(name, images_per_s, basis, cpu), result


def setting(value: Any, name: str) -> Any:
    """The option's value, else the server's default ("-": a setting this version of the app lacks)."""
    if value is not None:
        return value
    known = Settings.model_fields.get(name)
    return known.default if known else "-"


def thread_settings(torch_threads: int | None) -> str:
    """OMP_NUM_THREADS the stack gets and the torch thread counts it leads to in a fresh process."""
    env = dict(os.environ)
    if torch_threads is not None:
        env["OMP_NUM_THREADS"] = str(torch_threads)
    probe = "import torch; print(torch.get_num_threads(), torch.get_num_interop_threads())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    intra, interop = out.stdout.split()
    omp = env.get("OMP_NUM_THREADS", "unset")
    return f"OMP_NUM_THREADS {omp} -> torch {intra} intra-op / {interop} inter-op threads in web and worker"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def print_report(windows: list[Window], tally: Tally, load_s: float, args: argparse.Namespace) -> None:
    before, loaded, after = windows
    alone = (before.images_per_s + after.images_per_s) / 2
    slowdown = 1 - loaded.images_per_s / alone
    print(f"\ntraining alone {alone:.1f} img/s", end=" ")
    print(f"(before the load {before.images_per_s:.1f}, after it {after.images_per_s:.1f})")
    print(f"training under load {loaded.images_per_s:.1f} img/s")
    print(f"training slowdown 1 - loaded/alone = {slowdown:.1%}  (goal < 15%)")
    title = f"requests in the {load_s:.1f} s of load"
    print(f"\n{title:<38} {'count':>5} {'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    labels = {
        "generate": f"POST /generate n={args.n}: 200",
        "generate 429": "POST /generate: 429 (Retry-After)",
        "follow": "follow the run: 200",
    }
    for kind, label in labels.items():
        values = tally.latencies.get(kind, [])
        if not values:
            print(f"{label:<38} {0:>5}")
            continue
        ms = "".join(f"{percentile(values, q) * 1000:9.0f}" for q in (50, 95, 99))
        print(f"{label:<38} {len(values):>5} {len(values) / load_s:8.2f}{ms}")
    generated = len(tally.latencies.get("generate", [])) * args.n
    print(f"images generated {generated} ({generated / load_s:.0f}/s)")
    errors = sum(tally.errors.values())
    detail = ", ".join(f"{what} x{count}" for what, count in sorted(tally.errors.items()))
    print(f"errors {errors} (goal 0){': ' + detail if detail else ''}")
    print(f"requests sent again after the server closed an idle kept-alive connection: {tally.resent}")
    print(f"\n{'cores busy':<19} {'  '.join(f'{w.name:>8}' for w in windows)}")
    for w in windows:
        w.cpu["other processes"] = w.cpu["machine"] - w.cpu["web"] - w.cpu["worker"] - w.cpu["bench"]
    parts = ("web", "web, low priority", "worker", "bench", "other processes", "stolen by the host")
    for part in parts:
        print(f"{part:<19} {'  '.join(f'{w.cpu[part]:8.2f}' for w in windows)}")


async def bench(args: argparse.Namespace) -> None:
    archive, what = dataset_zip(args.images, args.count)
    concurrency = setting(args.generate_concurrency, "generate_concurrency")
    priority = setting(args.generate_priority, "generate_priority")
    print(f"dcgan64 batch {BATCH} on {what}; pokegan serve (web + 1 worker, SQLite, filesystem broker)")
    print(f"{os.cpu_count()} cores; {thread_settings(args.torch_threads)}")
    print(
        f"load: {args.clients} /generate clients (n={args.n}; generate_concurrency {concurrency}, "
        f"generate_priority {priority}), "
        f"{args.followers} followers, {args.duration:.0f} s; load average now {os.getloadavg()}",
        flush=True,
    )
    env = {"POKEGAN_GENERATE_CONCURRENCY": str(concurrency), "POKEGAN_GENERATE_PRIORITY": str(priority)}
    with live_stack(args.keep, env=env, torch_threads=args.torch_threads) as stack:
        limits = httpx.Limits(max_connections=args.clients + args.followers + 4)
        async with httpx.AsyncClient(
            base_url=stack.base_url, timeout=REQUEST_TIMEOUT_S, limits=limits
        ) as client:
            windows, tally, load_s = await run_windows(client, archive, CpuClock(stack.proc.pid), args)
    print_report(windows, tally, load_s, args)
    print(f"load average at the end {os.getloadavg()}")


async def run_windows(
    client: httpx.AsyncClient, archive: bytes, clock: CpuClock, args: argparse.Namespace
) -> tuple[list[Window], Tally, float]:
    """Start the run, then alone / loaded / alone; the run is cancelled at the end."""
    run_id, images = await start_run(client, archive)
    print(f"run {run_id} on {images} images: waiting for its first checkpoint...", flush=True)
    await wait_for_checkpoint(client, run_id)
    warm_up = await warm_up_generate(client, run_id, args.n)
    print(f"first /generate (imports torch, loads the generator) {warm_up:.1f} s", flush=True)
    sampler, stop = StepSampler(client, run_id), asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop))
    try:
        before, _ = await measure("before", args.alone, sampler, clock)
        work = load(client, run_id, args)
        loaded, (tally, load_s) = await measure("loaded", args.duration, sampler, clock, work)
        after, _ = await measure("after", args.alone, sampler, clock)
    finally:
        stop.set()
        await sampling
        await client.post(f"/api/runs/{run_id}/cancel")
    return [before, loaded, after], tally, load_s


def main() -> None:
    asyncio.run(bench(parse_args()))


if __name__ == "__main__":
    main()
