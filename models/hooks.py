"""How detectors plug into the loop: a hook sees every metric row and, once per epoch, samples and features.

A hook may answer an epoch with a HookAction: "stop" ends the run cleanly (checkpoint saved, status
"stopped"); "rollback" restores a checkpoint (the last one saved by default) and multiplies both learning
rates by `lr_factor`. The first action returned in hook order wins; every hook is still called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from models.sink import IterationMetrics
from models.store import CheckpointInfo


@dataclass(frozen=True)
class EpochContext:
    """What a hook sees at the end of an epoch. Tensors are on the CPU; images are in [-1, 1]."""

    step: int
    epoch: int  # epochs completed so far
    samples: torch.Tensor  # G (EMA weights when on) in eval mode on the fixed noise, 64 x 3 x H x W
    real: torch.Tensor  # the same real batch every epoch (the first images of the dataset)
    d_features: Callable[
        [torch.Tensor], torch.Tensor
    ]  # images -> N x F penultimate D activations (eval, no grad)


@dataclass(frozen=True)
class HookAction:
    kind: Literal["stop", "rollback"]
    reason: str
    lr_factor: float = 0.5  # rollback only: multiply both learning rates by this
    checkpoint: CheckpointInfo | None = None  # rollback only: None = the last checkpoint this run saved


class TrainHook(Protocol):
    def on_iteration(self, row: IterationMetrics) -> None:
        """Called after every logged iteration; keep it cheap."""

    def on_epoch_end(self, ctx: EpochContext) -> HookAction | None:
        """Called after each epoch, before its checkpoint is written."""
