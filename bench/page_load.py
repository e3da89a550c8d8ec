"""How long does a run page with 100,000 metric points take to open? (issue 4: charts drawn in under 1 s)

A fresh temporary data dir (SQLite, migrated by the server at start) gets a dataset and two completed runs
with realistic noisy GAN curves (losses worked out from noisy D outputs, plus rare loss spikes), bulk
inserted into the real tables: a small one (--small-steps, 1,000) and a big one (--steps, 100,000). The real
server (`pokegan serve --no-worker`, started by tests/live.py) serves them, and headless Debian Chromium
(Playwright) opens each run page --reps times, the two runs taking turns, each time in a new browser context
(empty cache), after one discarded warm-up visit each. Each repetition opens a run twice: "cold" right after
this script bumps the run's metrics_generation (as a resume or rollback does), so the server's metric cache
(app/metrics_cache.py) reads every row again, as on the first open after a server start; then "warm", as for
a user re-opening the run or a second viewer (only the cheap count/max-step check). Times are from
navigation start:
  HTML received           the navigation timing entry's responseEnd (the server-rendered page);
  DOMContentLoaded, load  its domContentLoadedEventEnd and loadEventEnd;
  metrics fetched         responseEnd of the page's GET /api/runs/{id}/metrics?max_points=4000;
  charts drawn            both uPlot charts have drawn those points: MetricChart.setPoints plus the draw
                          uPlot defers to a microtask, timed by a wrapper this script injects (the app's own
                          code is unchanged);
  charts ready            run_page.js's first load is over: #charts gets data-points, after the events and
                          run requests that follow the draw.
Then the metrics API over HTTP from here (time to the whole body, and its size; the server does not
compress) for max_points=2000, the page's 4000 and all rows, warm, and the page's 4000 cold; and, in this
process against the same SQLite file, the server's work alone: the SQL read into numpy (what a cold open
does), the warm cache's check, the min/max downsampling, and building and JSON-encoding the points, each as
wall and CPU time (CPU time shows the work apart from other load on the machine). Each figure is the median
(max) of --reps repetitions; ratio = big / small median.

    .venv/bin/python -m bench.page_load [--reps 5] [--steps 100000] [--small-steps 1000] [--no-metrics-cache]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
from fastapi.responses import JSONResponse
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from app.crud.metrics import INT_COLUMNS, metric_array, points_as_dicts
from app.downsample import minmax_indices
from app.metrics_cache import MetricsCache
from core.db.session import make_engine, make_sessionmaker
from core.db.tables import Dataset, Metric, Run
from core.settings import Settings
from models.config import TrainConfig
from models.series import names as series_names
from tests.live import live_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 900}
PAGE_POINTS = 4000  # static/js/run_page.js FIRST_LOAD_POINTS
API_POINTS = 2000
ITERS_PER_EPOCH = 500
BATCH = 64
PAGE_TIMEOUT_MS = 60_000
REQUEST_TIMEOUT_S = 60.0

# Runs before the page's scripts: times the charts' first draw and the end of run_page.js's first load.
INSTRUMENT_JS = """
(() => {
  const marks = (window.__pageLoad = {});
  let charts;
  Object.defineProperty(window, "PokeganCharts", {
    configurable: true,
    get: () => charts,
    set(value) {
      charts = value;
      const setPoints = value.MetricChart.prototype.setPoints;
      value.MetricChart.prototype.setPoints = function (points) {
        setPoints.call(this, points);
        // uPlot draws in a microtask queued by setData; this one runs right after that draw.
        queueMicrotask(() => { marks.drawn = performance.now(); });
      };
    },
  });
  new MutationObserver(() => {
    const el = document.getElementById("charts");
    if (marks.ready === undefined && el && el.dataset.points !== undefined) {
      marks.ready = performance.now();
      marks.points = Number(el.dataset.points);
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-points"] });
})();
"""
DONE_JS = """() => window.__pageLoad.ready !== undefined
  && performance.getEntriesByType("navigation")[0].loadEventEnd > 0"""
COLLECT_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fetch = performance.getEntriesByType("resource").find((e) => e.name.includes("/metrics?max_points="));
  const marks = window.__pageLoad;
  return {
    html: nav.responseEnd, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
    fetched: fetch ? fetch.responseEnd : null,
    drawn: marks.drawn ?? null, ready: marks.ready, points: marks.points,
  };
}"""

# Each row: (label, unit); a unit of "" is a plain count.
Table = dict[tuple[str, str], dict[str, list[float]]]
PAGE_ROWS = {  # COLLECT_JS key: table row
    "html": ("page: HTML received", "ms"),
    "dcl": ("page: DOMContentLoaded", "ms"),
    "load": ("page: load event", "ms"),
    "fetched": (f"page: metrics fetched (max_points={PAGE_POINTS})", "ms"),
    "drawn": ("page: charts drawn", "ms"),
    "ready": ("page: charts ready (data-points set)", "ms"),
    "points": ("page: points charted", ""),
}
COLD_PAGE_ROWS = ("fetched", "drawn", "ready")  # also recorded for the cold opens


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions of every measurement")
    parser.add_argument("--steps", type=int, default=100_000, help="metric rows of the big run")
    parser.add_argument("--small-steps", type=int, default=1_000, help="metric rows of the small run")
    parser.add_argument(
        "--no-metrics-cache",
        action="store_true",
        help="serve with the metric cache off (every open reads every row: the figures before the cache)",
    )
    return parser.parse_args()


# ---- data ----


def gan_curves(steps: int, seed: int) -> np.ndarray:
    """steps x SERIES of a plausible DCGAN run: D gets better, then both settle and wobble; rare G spikes."""
    rng = np.random.default_rng(seed)
    progress = 1 - np.exp(-6 * np.linspace(0, 1, steps))
    wobble = 0.05 * np.sin(np.linspace(0, 40 * np.pi, steps))
    d_x = np.clip(0.5 + 0.25 * progress + wobble + rng.normal(0, 0.08, steps), 0.01, 0.995)
    d_g_z1 = np.clip(0.5 - 0.3 * progress - wobble + rng.normal(0, 0.07, steps), 0.005, 0.99)
    d_g_z2 = np.clip(0.9 * d_g_z1 + rng.normal(0, 0.03, steps), 0.005, 0.99)
    loss_d = -np.log(d_x) - np.log1p(-d_g_z1)  # BCE on a real and a fake batch
    loss_g = -np.log(d_g_z2)
    spikes = rng.random(steps) < 0.001
    loss_g[spikes] *= rng.uniform(2, 5, int(spikes.sum()))
    return np.column_stack([loss_d, loss_g, d_x, d_g_z1, d_g_z2])


def completed_run(dataset_id: int, steps: int) -> Run:
    epochs = max(1, steps // ITERS_PER_EPOCH)
    finished = datetime.now(UTC)
    return Run(
        name=f"bench {steps:,} steps",
        dataset_id=dataset_id,
        config=TrainConfig(epochs=epochs, batch_size=BATCH, device="cpu").model_dump(mode="json"),
        status="completed",  # so the page loads once and does not poll
        epoch=epochs - 1,
        iteration=(steps - 1) % ITERS_PER_EPOCH,
        step=steps,
        total_steps=steps,
        images_per_s=250.0,
        started_at=finished - timedelta(seconds=steps * BATCH / 250.0),
        finished_at=finished,
    )


def add_metric_rows(session: Session, run_id: int, values: np.ndarray) -> None:
    rows = [
        {"run_id": run_id, "step": i + 1, "epoch": i // ITERS_PER_EPOCH, "iteration": i % ITERS_PER_EPOCH}
        | dict(zip(series_names(), map(float, row), strict=True))
        for i, row in enumerate(values)
    ]
    session.execute(insert(Metric), rows)


def seed(settings: Settings, sizes: dict[str, int]) -> dict[str, int]:
    """A dataset and one completed run per size, with its metric rows; {label: run id}."""
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            dataset = Dataset(
                name="bench sprites", status="ready", source_kind="zip", image_count=ITERS_PER_EPOCH * BATCH
            )
            session.add(dataset)
            session.flush()
            run_ids = {}
            for label, steps in sizes.items():
                run = completed_run(dataset.id, steps)
                session.add(run)
                session.flush()
                add_metric_rows(session, run.id, gan_curves(steps, seed=run.id))
                run_ids[label] = run.id
            session.commit()
            return run_ids
    finally:
        engine.dispose()


# ---- measurements ----


def record(table: Table, row: tuple[str, str], label: str, value: float) -> None:
    table.setdefault(row, defaultdict(list))[label].append(value)


def open_page(browser: Browser, url: str) -> dict[str, Any]:
    """One cold visit of a run page in a new context; the timings of COLLECT_JS, in ms from navigation."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        context.add_init_script(INSTRUMENT_JS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_function(DONE_JS, timeout=PAGE_TIMEOUT_MS)
        marks = page.evaluate(COLLECT_JS)
    finally:
        context.close()
    if errors:
        raise RuntimeError(f"{url}: page errors: {errors}")
    if marks["drawn"] is None or marks["fetched"] is None:
        raise RuntimeError(f"{url}: no chart draw or metrics fetch seen (run_page.js changed?): {marks}")
    return marks


def forget_cached_rows(settings: Settings, run_id: int) -> None:
    """Make the server's metric cache read the run's rows again, exactly as after a resume or rollback."""
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            generation = Run.metrics_generation + 1
            session.execute(update(Run).where(Run.id == run_id).values(metrics_generation=generation))
            session.commit()
    finally:
        engine.dispose()


def measure_pages(table: Table, base_url: str, settings: Settings, run_ids: dict[str, int], reps: int) -> str:
    """Every run page `reps` times cold then warm, runs taking turns; returns the browser's version."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for run_id in run_ids.values():
                open_page(browser, f"{base_url}/runs/{run_id}")  # warm-up: server and browser caches
            for _ in range(reps):
                for label, run_id in run_ids.items():
                    forget_cached_rows(settings, run_id)
                    marks = open_page(browser, f"{base_url}/runs/{run_id}")
                    for key in COLD_PAGE_ROWS:
                        name, unit = PAGE_ROWS[key]
                        record(table, (name.replace("page:", "page, cold:"), unit), label, marks[key])
                    marks = open_page(browser, f"{base_url}/runs/{run_id}")
                    for key, (name, unit) in PAGE_ROWS.items():
                        record(table, (name.replace("page:", "page, warm:"), unit), label, marks[key])
            return browser.version
        finally:
            browser.close()


def measure_api(table: Table, base_url: str, settings: Settings, run_ids: dict[str, int], reps: int) -> None:
    queries = {f"max_points={n}": {"max_points": n} for n in (API_POINTS, PAGE_POINTS)} | {"all rows": {}}
    queries[f"max_points={PAGE_POINTS}, cold"] = {"max_points": PAGE_POINTS}
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        for name, params in queries.items():
            for _ in range(reps):
                for label, run_id in run_ids.items():
                    if name.endswith("cold"):
                        forget_cached_rows(settings, run_id)
                    started = time.perf_counter()
                    response = client.get(f"/api/runs/{run_id}/metrics", params=params)
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    record(table, (f"API {name}: time", "ms"), label, elapsed * 1000)
                    record(table, (f"API {name}: body", "kB"), label, len(response.content) / 1000)


def measure_server_work(table: Table, settings: Settings, run_ids: dict[str, int], reps: int) -> None:
    """What GET /metrics?max_points=N does, step by step, in this process on the same database."""
    engine = make_engine(settings)
    try:
        factory = make_sessionmaker(engine)
        cache = MetricsCache(max_runs=len(run_ids), max_bytes=1 << 30)
        for _ in range(reps):
            for label, run_id in run_ids.items():
                watch = Stopwatch()
                with factory() as session:
                    data = metric_array(session, run_id=run_id)
                record_lap(table, "server: SQL read of all rows (cold)", label, watch.lap())
                with factory() as session:
                    cache.metric_array(session, run_id=run_id)  # the first time: a full read
                    watch.lap()
                    cache.metric_array(session, run_id=run_id)
                record_lap(table, "server: cache check, nothing new (warm)", label, watch.lap())
                for max_points in (API_POINTS, PAGE_POINTS):
                    kept = data[minmax_indices(data[:, len(INT_COLUMNS) :], max_points)]
                    record_lap(table, f"server: downsample to {max_points}", label, watch.lap())
                    JSONResponse(points_as_dicts(kept))
                    record_lap(table, f"server: points + JSON ({max_points})", label, watch.lap())
    finally:
        engine.dispose()


class Stopwatch:
    """Wall and CPU milliseconds of this process between laps: CPU shows the cost apart from contention."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        lap = ((wall - self.wall) * 1000, (cpu - self.cpu) * 1000)
        self.wall, self.cpu = wall, cpu
        return lap


def record_lap(table: Table, name: str, label: str, lap: tuple[float, float]) -> None:
    record(table, (name, "ms"), label, lap[0])
    record(table, (name, "cpu ms"), label, lap[1])


# ---- report ----


def fmt(value: float, unit: str) -> str:
    if unit == "":
        return f"{value:,.0f}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def print_table(table: Table, labels: list[str]) -> None:
    small, big = labels
    width = max(len(row[0]) + len(row[1]) + 3 for row in table)
    print(f"\n{'median (max)':<{width}}  {small:>20}  {big:>20}  {'ratio':>6}")
    for (name, unit), by_label in table.items():
        cells = []
        for label in labels:
            values = by_label[label]
            cells.append(f"{fmt(statistics.median(values), unit)} ({fmt(max(values), unit)})")
        small_median, big_median = (statistics.median(by_label[label]) for label in labels)
        ratio = f"{big_median / small_median:.1f}x" if small_median else "-"
        title = f"{name} [{unit}]" if unit else name
        print(f"{title:<{width}}  {cells[0]:>20}  {cells[1]:>20}  {ratio:>6}")


def main() -> None:
    args = parse_args()
    sizes = {f"{args.small_steps:,} rows": args.small_steps, f"{args.steps:,} rows": args.steps}
    table: Table = {}
    load_before = os.getloadavg()[0]
    env = {"POKEGAN_METRICS_CACHE_RUNS": "0"} if args.no_metrics_cache else None
    with live_stack(worker=False, env=env) as stack:
        settings = Settings(data_dir=stack.data_dir, database_url=None)
        watch = Stopwatch()
        run_ids = seed(settings, sizes)
        print(f"seeded {sum(sizes.values()):,} metric rows in {watch.lap()[0] / 1000:.1f} s")
        version = measure_pages(table, stack.base_url, settings, run_ids, args.reps)
        measure_api(table, stack.base_url, settings, run_ids, args.reps)
        measure_server_work(table, settings, run_ids, args.reps)
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    cache = "off" if args.no_metrics_cache else "on"
    print(f"Chromium {version}; {os.cpu_count()} cores, 1-min load average {load}; {args.reps} repetitions")
    print(f"server metric cache {cache}")
    print_table(table, list(sizes))


if __name__ == "__main__":
    main()
