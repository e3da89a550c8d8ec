"""One rank of a test run under torchrun: `python -m torch.distributed.run --standalone --nproc-per-node N
-m tests.models.ddp_rank OUT_DIR CONFIG_JSON [N_IMAGES [--ada-alone]]`. Trains on synthetic images
(labelled in turn when conditional); rank 0 writes metrics.jsonl, checkpoints and grids to OUT_DIR, and
result.json at the end."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from models.conditioning import cycled_labels
from models.config import TrainConfig
from models.distributed import NullSink, Parallel, RankEnv, process_group, rank_device
from models.sink import JsonlSink
from models.store import RunDirStore
from models.train import train
from models.training_state import TrainingState
from tests.conftest import synthetic_images


def synthetic_labels(config: TrainConfig, n_images: int) -> torch.Tensor | None:
    """A conditional run's labels: 0, 1, ..., K-1 cycled over the images."""
    if not config.conditional:
        return None
    return cycled_labels(n_images, len(config.label_names), torch.device("cpu"))


def steer_ada_alone() -> None:
    """The negative control of the ADA test: each rank steers p from its own half batch only."""
    attach = Parallel.attach

    def attach_alone(self: Parallel, s: TrainingState) -> None:
        attach(self, s)
        if s.ada is not None:
            s.ada.sum_over_ranks, s.ada.ranks = None, 1

    Parallel.attach = attach_alone  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    out, config = Path(argv[0]), TrainConfig.model_validate_json(argv[1])
    n_images = int(argv[2]) if len(argv) > 2 else 32
    if "--ada-alone" in argv[3:]:
        steer_ada_alone()
    torch.set_num_threads(1)
    env = RankEnv.from_env()
    print(f"rank {env.rank} pid {__import__('os').getpid()}", flush=True)
    with process_group(env, rank_device(config.device, env.local_rank)) as parallel:
        leader = parallel.is_leader
        sink = JsonlSink(out / "metrics.jsonl") if leader else NullSink()
        store = RunDirStore(out) if leader else None
        data = synthetic_images(n_images, config.height, config.width)
        labels = synthetic_labels(config, n_images)
        result = train(config, data, sink, store, labels=labels, parallel=parallel)  # type: ignore[arg-type]
        if leader:
            summary = {**asdict(result), "checkpoint": str(result.checkpoint.path)}
            (out / "result.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
