"""How detectors plug into the loop: a hook sees every metric row and, once per epoch, samples and features.

A hook may answer an epoch with a HookAction: "stop" ends the run cleanly (checkpoint saved, status
"stopped"); "rollback" restores a checkpoint (the last one saved by default) and multiplies both learning
rates by `lr_factor`. The first action returned in hook order wins; every hook is still called.

Optional extras a hook may define (the loop looks for them):
- state_dict() -> plain Python data, and load_state_dict(state): kept in every checkpoint under "hooks", and
  loaded back on resume and after every rollback (so the hook's state matches the weights it watches);
- on_checkpoint(info): the checkpoint `info` now holds the run's state (after each save, and after a
  resume or rollback restored it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch

from models.sink import IterationMetrics
from models.store import CheckpointInfo


@dataclass(frozen=True)
class EpochContext:
    """What a hook sees at the end of an epoch. Tensors are on the CPU; images are in [-1, 1]."""

    step: int
    epoch: int  # epochs completed so far
    samples: torch.Tensor  # G (EMA weights when on) in eval mode on the fixed noise, 64 x 3 x H x W
    real: torch.Tensor  # the same real batch every epoch (the first training images)
    d_features: Callable[
        [torch.Tensor], torch.Tensor
    ]  # images -> N x F penultimate D activations (eval, no grad)
    epochs: int = 0  # epochs the run trains in all (0: unknown)
    holdout: torch.Tensor | None = None  # real images kept out of training (TrainConfig.holdout_fraction)
    # images -> N raw D logits, the batch judged as in training (BatchNorm on its own statistics)
    d_logits: Callable[[torch.Tensor], torch.Tensor] | None = None
    training: torch.Tensor | None = None  # every training image (uint8), for the memorisation check
    # Conditional runs: the class index of each sample and of each training image, and the label names.
    sample_labels: torch.Tensor | None = None
    training_labels: torch.Tensor | None = None
    label_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class HookAction:
    kind: Literal["stop", "rollback"]
    reason: str
    lr_factor: float = 0.5  # rollback only: multiply both learning rates by this
    checkpoint: CheckpointInfo | None = None  # rollback only: None = the last checkpoint this run saved
    evidence: dict[str, Any] = field(default_factory=dict)  # goes into the event the loop logs


class TrainHook(Protocol):
    def on_iteration(self, row: IterationMetrics) -> None:
        """Called after every logged iteration; keep it cheap."""

    def on_epoch_end(self, ctx: EpochContext) -> HookAction | None:
        """Called after each epoch, before its checkpoint is written."""


def hook_states(hooks: Sequence[TrainHook]) -> list[dict[str, Any]]:
    """[{"name", "state"}] for the hooks that have state, in hook order (goes into checkpoints)."""
    return [
        {"name": type(hook).__name__, "state": hook.state_dict()}
        for hook in hooks
        if hasattr(hook, "state_dict") and hasattr(hook, "load_state_dict")
    ]


def load_hook_states(hooks: Sequence[TrainHook], states: Sequence[dict[str, Any]] | None) -> None:
    """Give each stateful hook the saved state of the same class; hooks with none saved keep theirs."""
    saved = list(states or ())
    for hook in hooks:
        if not hasattr(hook, "load_state_dict"):
            continue
        match = next((s for s in saved if s["name"] == type(hook).__name__), None)
        if match is not None:
            saved.remove(match)
            hook.load_state_dict(match["state"])


def announce_checkpoint(hooks: Sequence[TrainHook], info: CheckpointInfo | None) -> None:
    if info is None:
        return
    for hook in hooks:
        if hasattr(hook, "on_checkpoint"):
            hook.on_checkpoint(info)
