"""Where the loop puts checkpoints and grids: an interface and the plain run-directory implementation.

Layout of a run directory: ckpt-<step>.pt, grid-<epoch>.png, real.png, config.json.
The worker wraps RunDirStore to also record DB rows for each file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torchvision.utils import save_image


@dataclass(frozen=True)
class CheckpointInfo:
    epoch: int
    step: int
    path: Path


class CheckpointStore(Protocol):
    def save_checkpoint(self, state: dict[str, Any], *, epoch: int, step: int) -> CheckpointInfo: ...

    def latest_checkpoint(self) -> CheckpointInfo | None: ...

    def load_checkpoint(self, info: CheckpointInfo) -> dict[str, Any]: ...

    def save_grid(self, grid: torch.Tensor, *, epoch: int, step: int) -> Path:
        """`grid` is a 3xHxW float tensor in [0, 1] (torchvision.utils.make_grid output)."""

    def save_real_grid(self, grid: torch.Tensor) -> Path: ...


@runtime_checkable
class PrunableStore(Protocol):
    """Optional extra for stores: after a rollback to an older checkpoint, later ones belong to an abandoned
    branch and must not be picked up by a resume. The loop calls this when the store offers it."""

    def discard_checkpoints_after(self, step: int) -> None: ...


class RunDirStore:
    """Checkpoints and grids as files in one directory; loads with weights_only=True."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def save_checkpoint(self, state: dict[str, Any], *, epoch: int, step: int) -> CheckpointInfo:
        path = self.run_dir / f"ckpt-{step:09d}.pt"
        tmp = path.with_suffix(".pt.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # a crash mid-save never leaves a truncated checkpoint behind
        return CheckpointInfo(epoch=epoch, step=step, path=path)

    def checkpoints(self) -> list[CheckpointInfo]:
        infos = []
        for path in sorted(self.run_dir.glob("ckpt-*.pt")):
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            infos.append(CheckpointInfo(epoch=int(state["epoch"]), step=int(state["step"]), path=path))
        return infos

    def latest_checkpoint(self) -> CheckpointInfo | None:
        paths = sorted(self.run_dir.glob("ckpt-*.pt"))
        if not paths:
            return None
        state = torch.load(paths[-1], map_location="cpu", weights_only=True, mmap=True)
        return CheckpointInfo(epoch=int(state["epoch"]), step=int(state["step"]), path=paths[-1])

    def load_checkpoint(self, info: CheckpointInfo) -> dict[str, Any]:
        return torch.load(info.path, map_location="cpu", weights_only=True)

    def discard_checkpoints_after(self, step: int) -> None:
        for info in self.checkpoints():
            if info.step > step:
                info.path.unlink(missing_ok=True)

    def save_grid(self, grid: torch.Tensor, *, epoch: int, step: int) -> Path:
        path = self.run_dir / f"grid-{epoch:05d}.png"
        save_image(grid, path)
        return path

    def save_real_grid(self, grid: torch.Tensor) -> Path:
        path = self.run_dir / "real.png"
        save_image(grid, path)
        return path

    def save_config(self, config: dict[str, Any]) -> Path:
        path = self.run_dir / "config.json"
        path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
        return path
