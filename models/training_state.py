"""Everything that trains together and is saved together: nets, optimisers, schedules, RNGs, position.

`training_state_dict` turns a TrainingState into the checkpoint dict (tensors and primitives only, on the
CPU, safe for torch.load(weights_only=True)); `restore_training_state` puts one back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from models.ada import AdaController
from models.config import TrainConfig
from models.device import autocast_factory, make_grad_scaler, resolve_amp
from models.diffaugment import diff_augment
from models.ema import make_ema
from models.errors import TrainingError
from models.nets import Discriminator, Generator, build_networks
from models.schedule import make_scheduler
from models.version import pokegan_version

CHECKPOINT_FORMAT = 1
GRID_SAMPLES = 64
# Fields a resumed run may change; anything else would silently mix two different runs.
RESUMABLE_CHANGES = frozenset(
    {
        "epochs",
        "log_every",
        "grid_every_epochs",
        "checkpoint_every_epochs",
        "grad_stats_every",
        "nan_max_retries",
        "device",
        "amp",
        "channels_last",
        "torch_compile",
        "world_size",  # the global batch, data order and noise do not depend on it (models/distributed.py)
        "nnodes",
        "rendezvous",
        "sync_batchnorm",
    }
)


@dataclass
class TrainingState:
    config: TrainConfig
    device: torch.device
    iters_per_epoch: int
    G: Generator
    D: Discriminator
    ema: Generator | None
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam
    sched_g: torch.optim.lr_scheduler.LambdaLR
    sched_d: torch.optim.lr_scheduler.LambdaLR
    scaler_g: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    gen: torch.Generator  # CPU generator for noise, labels and augmentation (so CPU and GPU runs agree)
    fixed_noise: torch.Tensor
    step: int = 0  # iterations completed
    epoch: int = 0  # epoch in progress (= epochs completed)
    iteration: int = 0  # iterations completed within that epoch
    elapsed_s: float = 0.0
    ada: AdaController | None = None  # adaptive augmentation (config.ada_target); p is in the checkpoint
    recon_loss: torch.Tensor | None = None  # fastgan: D's last reconstruction loss (on device, not synced)
    # With world_size > 1 (models/distributed.py): this process's rank, and the DistributedDataParallel
    # wrappers the loop trains through; G and D stay the plain nets (checkpoints, EMA, grids, hooks).
    rank: int = 0
    world_size: int = 1
    G_train: nn.Module | None = None
    D_train: nn.Module | None = None  # forward(x, with_features) over D
    autocast: Any = field(init=False)

    def __post_init__(self) -> None:
        self.autocast = autocast_factory(self.device, self.amp_dtype)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.config.channels_last else torch.contiguous_format

    @property
    def sampler(self) -> Generator:
        """The generator used for grids and generation: EMA weights when on."""
        return self.ema if self.ema is not None else self.G

    def noise(self, n: int) -> torch.Tensor:
        z = torch.randn(n * self.world_size, self.config.nz, 1, 1, generator=self.gen)
        return self.rank_share(z).to(self.device, non_blocking=True)

    @property
    def augment_p(self) -> float:
        """The chance each DiffAugment op touches a sample: ADA's p, 1 without ADA, 0 without DiffAugment."""
        if not self.config.augment_ops:
            return 0.0
        return self.ada.p if self.ada is not None else 1.0

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        if not self.config.augment_ops:
            return x
        if self.world_size == 1:
            return diff_augment(x, self.config.augment_ops, self.gen, self.augment_p)
        # Every op draws per image from the shared generator: augment a global-batch tensor holding this
        # rank's images at its place, so each image gets the draw it gets in a one-process run.
        whole = x.new_zeros((x.size(0) * self.world_size, *x.shape[1:]))
        whole[self.rank * x.size(0) : (self.rank + 1) * x.size(0)] = x
        return self.rank_share(diff_augment(whole, self.config.augment_ops, self.gen, self.augment_p))

    def rank_share(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's equal slice of a global-batch tensor (all of it in a one-process run)."""
        if self.world_size == 1:
            return batch
        n = batch.size(0) // self.world_size
        return batch[self.rank * n : (self.rank + 1) * n]

    def g_forward(self, z: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
        """G as the loop trains it (through DDP when distributed, so its gradients are averaged); cond is
        the class labels of a conditional run."""
        return (self.G_train or self.G)(z, *cond)

    def d_forward(self, x: torch.Tensor, *cond: torch.Tensor, with_features: bool = False) -> Any:
        """D as the loop trains it: logits, or (logits, features) with_features."""
        if self.D_train is not None:
            return self.D_train(x, *cond, with_features=with_features)
        return self.D.forward_with_features(x, *cond) if with_features else self.D(x, *cond)

    def to_images(self, batch_u8: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] -> float [-1, 1] in the session's memory format."""
        x = batch_u8.to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        return x.contiguous(memory_format=self.memory_format)


def build_training_state(config: TrainConfig, device: torch.device, iters_per_epoch: int) -> TrainingState:
    """Fresh nets initialised from config.seed, Adam for both, the lr schedules, and the fixed noise."""
    G, D = build_networks(config)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    G = G.to(device, memory_format=fmt)
    D = D.to(device, memory_format=fmt)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2))
    amp_dtype, _ = resolve_amp(config.amp, device)
    gen = torch.Generator().manual_seed(config.seed)
    fixed_noise = torch.randn(GRID_SAMPLES, config.nz, 1, 1, generator=gen).to(device)
    ema = make_ema(G) if config.ema_decay is not None else None  # copied before compiling
    if config.torch_compile and device.type == "cuda":
        G.compile()  # in place: state_dict keys, and so checkpoints, stay as without compiling
        D.compile()
    return TrainingState(
        config=config,
        device=device,
        iters_per_epoch=iters_per_epoch,
        G=G,
        D=D,
        ema=ema,
        opt_g=opt_g,
        opt_d=opt_d,
        sched_g=make_scheduler(opt_g, config, iters_per_epoch),
        sched_d=make_scheduler(opt_d, config, iters_per_epoch),
        scaler_g=make_grad_scaler(device, amp_dtype),
        scaler_d=make_grad_scaler(device, amp_dtype),
        amp_dtype=amp_dtype,
        gen=gen,
        fixed_noise=fixed_noise,
        ada=_make_ada(config),
    )


def _make_ada(config: TrainConfig) -> AdaController | None:
    if config.ada_target is None:
        return None
    return AdaController(target=config.ada_target, interval=config.ada_interval, kimg=config.ada_kimg)


def clone_to_cpu(obj: Any) -> Any:
    """A deep copy with every tensor detached on the CPU (checkpoints must never alias live weights)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: clone_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(clone_to_cpu(v) for v in obj)
    return obj


def training_state_dict(s: TrainingState) -> dict[str, Any]:
    """The checkpoint: one dict of tensors and primitives, loadable with torch.load(weights_only=True)."""
    return clone_to_cpu(
        {
            "format": CHECKPOINT_FORMAT,
            "pokegan_version": pokegan_version(),
            "config": s.config.model_dump(mode="json"),
            "step": s.step,
            "epoch": s.epoch,
            "iteration": s.iteration,
            "elapsed_s": s.elapsed_s,
            "G": s.G.state_dict(),
            "D": s.D.state_dict(),
            "ema": s.ema.state_dict() if s.ema is not None else None,
            "opt_g": s.opt_g.state_dict(),
            "opt_d": s.opt_d.state_dict(),
            "sched_g": s.sched_g.state_dict(),
            "sched_d": s.sched_d.state_dict(),
            "scaler_g": s.scaler_g.state_dict(),
            "scaler_d": s.scaler_d.state_dict(),
            "fixed_noise": s.fixed_noise,
            "ada": s.ada.state_dict() if s.ada is not None else None,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else None,
                "loop": s.gen.get_state(),
            },
        }
    )


def restore_training_state(s: TrainingState, state: dict[str, Any]) -> None:
    """Put a checkpoint back: weights, optimiser moments, schedules, RNGs and the loop position."""
    state = clone_to_cpu(
        state
    )  # optimisers may keep references to what they load; never to the caller's dict
    load_weights(s.G, state["G"], "G")
    load_weights(s.D, state["D"], "D")
    if s.ema is not None:
        s.ema.load_state_dict(state["ema"] if state.get("ema") is not None else s.G.state_dict())
    for name in ("opt_g", "opt_d", "sched_g", "sched_d", "scaler_g", "scaler_d"):
        getattr(s, name).load_state_dict(state[name])
    s.fixed_noise = state["fixed_noise"].to(s.device)
    if s.ada is not None and state.get("ada") is not None:
        s.ada.load_state_dict(state["ada"])
    torch.set_rng_state(state["rng"]["torch"])
    if s.device.type == "cuda" and state["rng"]["cuda"] is not None:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    s.gen.set_state(state["rng"]["loop"])
    s.step, s.epoch, s.iteration = int(state["step"]), int(state["epoch"]), int(state["iteration"])
    s.elapsed_s = float(state.get("elapsed_s", 0.0))


def load_weights(net: nn.Module, weights: dict[str, torch.Tensor], name: str) -> None:
    """load_state_dict with a readable refusal when the checkpoint was made for different networks."""
    own = net.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    mismatched = [
        f"{k} is {tuple(own[k].shape)} here but {tuple(weights[k].shape)} in the checkpoint"
        for k in own
        if k in weights and own[k].shape != weights[k].shape
    ]
    if missing or unexpected or mismatched:
        details = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
                "; ".join(mismatched[:3]),
            )
            if part
        )
        raise TrainingError(f"checkpoint {name} weights do not fit this config's {name} ({details})")
    net.load_state_dict(weights)


def check_resume_config(saved: dict[str, Any], config: TrainConfig) -> None:
    """Refuse to resume a checkpoint under a config that changes anything but length, cadence or hardware."""
    current = config.model_dump(mode="json")
    changed = sorted(
        k
        for k in current.keys() | saved.keys()
        if k not in RESUMABLE_CHANGES and saved.get(k) != current.get(k)
    )
    if changed:
        diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed)
        raise TrainingError(
            f"cannot resume: the config differs from the checkpoint's in {diffs}. Start a new run (or use "
            f"init_from to fine-tune from it); only {', '.join(sorted(RESUMABLE_CHANGES))} "
            "may change on resume"
        )


def load_init_weights(s: TrainingState, state: dict[str, Any]) -> None:
    """Fine-tuning start: G and D weights from another run's checkpoint; optimisers and step stay fresh."""
    if not isinstance(state, dict) or "G" not in state or "D" not in state:
        raise TrainingError("init_from must be a pokegan checkpoint dict with 'G' and 'D' weights")
    load_weights(s.G, state["G"], "G")
    load_weights(s.D, state["D"], "D")
    if s.ema is not None:
        s.ema.load_state_dict(s.G.state_dict())
