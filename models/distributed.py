"""One run trained by several processes together (torch.distributed; one process per GPU, Gloo on CPU).

Data-parallel training as in Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training", https://arxiv.org/abs/2006.15704: every rank holds the same G and D, trains on its equal slice of
the global batch, and DistributedDataParallel averages the gradients, so each update is the one-process
update on the whole batch (batch_size stays the global batch: the learning rates mean the same). The ranks
draw noise, labels and augmentation for the global batch from the same seeded generator and keep their
slice (TrainingState.rank_share), and read the run's per-epoch order (models/train.py epoch_order) in
slices, so the data and noise each image sees are those of a world_size 1 run. BatchNorm statistics span
the global batch (sync_batchnorm); ADA's sign count is summed over the ranks (AdaController.sum_over_ranks),
so p moves as in one process. Rank 0 alone writes metrics (averaged over ranks), grids, checkpoints
and events; checkpoints hold the plain nets' state dicts, so they resume under any world_size.

Processes come from torchrun, which sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from models.errors import TrainingError
from models.store import CheckpointInfo, CheckpointStore, PrunableStore

if TYPE_CHECKING:
    from models.hooks import TrainHook
    from models.sink import GradStat, IterationMetrics, MetricSink, TrainEvent
    from models.training_state import TrainingState

T = TypeVar("T")
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Every rank waits at the epoch end while rank 0 alone runs the detectors (the C2ST judge among them).
COLLECTIVE_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class RankEnv:
    """Where this process sits in the run, as torchrun describes it."""

    rank: int
    world_size: int
    local_rank: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RankEnv:
        missing = [key for key in ENV_KEYS if not env.get(key)]
        if missing:
            raise TrainingError(
                f"not started by torchrun: {', '.join(missing)} unset (run `torchrun --nproc-per-node N`)"
            )
        rank, world, local = (int(env[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
        if not 0 <= rank < world or local < 0:
            raise TrainingError(f"RANK {rank} / WORLD_SIZE {world} / LOCAL_RANK {local} are inconsistent")
        return cls(rank=rank, world_size=world, local_rank=local)


def rank_device(device: str, local_rank: int) -> torch.device:
    """cuda:LOCAL_RANK when the run trains on CUDA ("auto" with a GPU present), else the CPU."""
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        if local_rank >= torch.cuda.device_count():
            raise TrainingError(
                f"LOCAL_RANK {local_rank} has no GPU: this host has {torch.cuda.device_count()}; "
                "start at most one process per GPU"
            )
        torch.cuda.set_device(local_rank)  # "cuda" in the loop now means this rank's GPU
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@contextmanager
def process_group(env: RankEnv, device: torch.device) -> Iterator[Parallel]:
    """Join the run's process group (NCCL on CUDA, Gloo on the CPU) for the block, then leave it."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=env.rank, world_size=env.world_size, timeout=COLLECTIVE_TIMEOUT)
    try:
        # One single-rank group per rank (every rank must create every group), for BatchNorm on its own.
        own = [dist.new_group([r]) for r in range(env.world_size)][env.rank]
        yield Parallel(rank=env.rank, world_size=env.world_size, device=device, own_group=own)
    finally:
        dist.destroy_process_group()


@dataclass
class Parallel:
    """What train() needs to train as one rank of a run (models/train.py takes it as `parallel`)."""

    rank: int
    world_size: int
    device: torch.device
    own_group: Any = None
    sync_batchnorm: bool = True

    @property
    def is_leader(self) -> bool:
        return self.rank == 0

    def attach(self, s: TrainingState) -> None:
        """Synchronise BatchNorm (when on), then train G and D through DistributedDataParallel."""
        if s.config.world_size != self.world_size:
            raise TrainingError(
                f"the run's config says world_size {s.config.world_size} but {self.world_size} processes "
                "were started"
            )
        if s.config.sync_batchnorm:
            s.G = sync_batchnorm(s.G, s.device)
            s.D = sync_batchnorm(s.D, s.device)
        for net in (s.G, s.D):
            for module in net.modules():
                if isinstance(module, nn.SyncBatchNorm | AllReduceBatchNorm):
                    module.own_group = self.own_group
        device_ids = [s.device.index] if s.device.type == "cuda" else None
        # Buffers (BatchNorm statistics, spectral-norm vectors) evolve identically on every rank under
        # sync_batchnorm, so there is nothing to broadcast before each forward.
        s.G_train = DistributedDataParallel(s.G, device_ids=device_ids, broadcast_buffers=False)
        # The reconstruction decoders of a self-supervised D train on the real pass, which runs outside
        # DDP's forward and adds to the same backward; with recon_weight 0 they get no gradient at all.
        idle_decoders = s.config.recon_weight == 0 and hasattr(s.D, "forward_with_reconstruction")
        s.D_train = DistributedDataParallel(
            DiscriminatorForward(s.D),
            device_ids=device_ids,
            broadcast_buffers=False,
            find_unused_parameters=idle_decoders,
        )
        s.rank, s.world_size = self.rank, self.world_size
        if s.ada is not None:
            s.ada.sum_over_ranks, s.ada.ranks = sum_over_ranks, self.world_size

    def broadcast(self, value: T) -> T:
        """Rank 0's `value` on every rank (others pass anything, usually None)."""
        box = [value if self.is_leader else None]
        dist.broadcast_object_list(box, src=0, device=_collective_device())
        return box[0]

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when it is True on any rank (one rank's SIGTERM stops them all)."""
        t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def abort_check(self, should_abort: Callable[[], bool]) -> Callable[[], bool]:
        return lambda: self.any_rank(should_abort())

    def sink(self, sink: MetricSink) -> MetricSink:
        return sink if self.is_leader else NullSink()

    def store(self, store: CheckpointStore | None) -> RankStore:
        return RankStore(store if self.is_leader else None, self)

    def hooks(self, hooks: Sequence[TrainHook]) -> Sequence[TrainHook]:
        return hooks if self.is_leader else ()

    def leader_only(self, fn: Callable[..., None] | None) -> Callable[..., None] | None:
        return fn if self.is_leader else None


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def peer_lost(exc: BaseException) -> bool:
    """Did a collective fail because another rank went away? NCCL raises DistError; Gloo a RuntimeError
    from its transport ("Connection closed by peer", timeouts)."""
    return isinstance(exc, dist.DistError) or (isinstance(exc, RuntimeError) and "gloo/transport" in str(exc))


def mean_over_ranks(values: dict[str, float], world_size: int) -> dict[str, float]:
    """Each series averaged over the ranks: over equal slices, the mean of the means is the batch mean."""
    if world_size == 1:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t)
    return dict(zip(values, (t / world_size).tolist(), strict=True))


def sum_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """`t` summed over every rank (a new tensor; `t` is left as it was)."""
    total = t.clone()
    dist.all_reduce(total)
    return total


def rank_batch(order: torch.Tensor, i: int, batch_size: int, rank: int, world_size: int) -> torch.Tensor:
    """The distributed sampler: rank `rank`'s slice of the i-th global batch of one epoch's order."""
    share = batch_size // world_size
    start = i * batch_size + rank * share
    return order[start : start + share]


class DiscriminatorForward(nn.Module):
    """D's two training calls behind one forward, so DistributedDataParallel sees both."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, *cond: torch.Tensor, with_features: bool = False) -> Any:
        return self.net.forward_with_features(x, *cond) if with_features else self.net(x, *cond)


class AllReduceBatchNorm(nn.BatchNorm2d):
    """BatchNorm over the global batch on any device (torch.nn.SyncBatchNorm runs on GPUs only).

    Ioffe & Szegedy, https://arxiv.org/abs/1502.03167, with the statistics of every rank's slice: the
    per-channel sum, sum of squares and count are summed over ranks by a differentiable all_reduce, whose
    backward sums the gradients reaching them, as SyncBatchNorm's does."""

    own_group: Any = None
    apart = False  # True while rank 0 runs D alone (ranks_apart): statistics of this rank's batch only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.apart or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        dims = [0, 2, 3]
        c = x.size(1)
        count = x.new_full((1,), float(x.numel() // c))
        stats = dist_nn.all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c : 2 * c] / total - mean * mean).clamp_min(0)
        if self.track_running_stats:
            self._update_running(mean.detach(), var.detach() * total / (total - 1).clamp_min(1))
        y = (x - mean.view(1, c, 1, 1)) * torch.rsqrt(var + self.eps).view(1, c, 1, 1)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        self.num_batches_tracked += 1
        m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        self.running_mean.lerp_(mean, m)
        self.running_var.lerp_(unbiased_var, m)


def sync_batchnorm(net: nn.Module, device: torch.device) -> nn.Module:
    """Swap every BatchNorm2d of `net` for a synchronised one holding the same parameters and buffers
    (state-dict keys unchanged): torch's SyncBatchNorm on CUDA, AllReduceBatchNorm elsewhere."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(net)
    for name, child in net.named_children():
        if type(child) is nn.BatchNorm2d:
            setattr(net, name, _all_reduce_copy(child))
        else:
            sync_batchnorm(child, device)
    return net


def _all_reduce_copy(bn: nn.BatchNorm2d) -> AllReduceBatchNorm:
    new = AllReduceBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    if bn.affine:
        new.weight, new.bias = bn.weight, bn.bias  # the same Parameters: optimisers keep tracking them
    new.running_mean, new.running_var = bn.running_mean, bn.running_var
    new.num_batches_tracked = bn.num_batches_tracked
    new.train(bn.training)
    return new


@contextmanager
def ranks_apart(net: nn.Module) -> Iterator[None]:
    """Let one rank run `net` in training mode alone (the detectors on rank 0): its synchronised
    BatchNorms use this rank's statistics instead of waiting for the others."""
    synced = [m for m in net.modules() if isinstance(m, nn.SyncBatchNorm | AllReduceBatchNorm)]
    saved = [(m, getattr(m, "process_group", None)) for m in synced]
    for m in synced:
        if isinstance(m, AllReduceBatchNorm):
            m.apart = True
        else:
            m.process_group = m.own_group
    try:
        yield
    finally:
        for m, group in saved:
            if isinstance(m, AllReduceBatchNorm):
                m.apart = False
            else:
                m.process_group = group


class NullSink:
    """What the ranks other than 0 report to: nothing."""

    def log_iteration(self, row: IterationMetrics) -> None:
        pass

    def log_grad_stats(self, rows: list[GradStat]) -> None:
        pass

    def log_event(self, event: TrainEvent) -> None:
        pass

    def flush(self) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass


class RankStore:
    """Rank 0 keeps the run's store; every rank learns what it did, so all agree on checkpoints. The
    others receive checkpoints from rank 0 over the process group: they need no shared storage."""

    def __init__(self, inner: CheckpointStore | None, parallel: Parallel) -> None:
        self.inner, self.parallel = inner, parallel

    def save_checkpoint(self, state: dict[str, Any], *, epoch: int, step: int) -> CheckpointInfo:
        info = self.inner.save_checkpoint(state, epoch=epoch, step=step) if self.inner else None
        return self.parallel.broadcast(info)

    def latest_checkpoint(self) -> CheckpointInfo | None:
        return self.parallel.broadcast(self.inner.latest_checkpoint() if self.inner else None)

    def load_checkpoint(self, info: CheckpointInfo) -> dict[str, Any]:
        return self.parallel.broadcast(self.inner.load_checkpoint(info) if self.inner else None)

    def save_grid(self, grid: torch.Tensor, *, epoch: int, step: int) -> Path:
        return self.inner.save_grid(grid, epoch=epoch, step=step) if self.inner else Path()

    def save_real_grid(self, grid: torch.Tensor) -> Path:
        return self.inner.save_real_grid(grid) if self.inner else Path()

    def discard_checkpoints_after(self, step: int) -> None:
        if isinstance(self.inner, PrunableStore):
            self.inner.discard_checkpoints_after(step)
