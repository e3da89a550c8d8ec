"""Start tests.models.ddp_rank under torchrun (the same launcher as `torchrun`) and read what rank 0 wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from models.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def run_ranks(
    out: Path, config: TrainConfig, *, n_images: int = 32, timeout: float = 240, flags: tuple[str, ...] = ()
) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", str(config.world_size), "-m", "tests.models.ddp_rank"]
    command += [str(out), config.model_dump_json(), str(n_images), *flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]


def iteration_rows(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if row["type"] == "iteration"]
