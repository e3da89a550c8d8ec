"""The one typed, validated description of a training run. Saved with the run (DB row and config.json)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.archs import ARCHS, upsampling_steps

AUGMENT_OPS = ("color", "translation", "cutout")
HOLDOUT_MIN = 16  # fewer held-back images make D's train/held-out gap too noisy to judge
HOLDOUT_MAX = 64  # enough for a ±0.05 gap estimate; more would only take images away from training
DEFAULT_WGAN_GP_WEIGHT = 10.0


UNLABELLED_LABEL = "(unlabelled)"  # the label of images without one, when a run keeps them


class TrainConfig(BaseModel):
    """Hyperparameters of one run. Unknown fields are refused so a typo never silently trains the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Network shape.
    arch: str = Field(
        "dcgan64",
        description="Network family: dcgan (depth from image size), dcgan64, dcgan128, cnn96, fastgan, vit",
        json_schema_extra={"enum": list(ARCHS)},
    )
    image_size: int = Field(
        64,
        ge=16,
        le=512,
        description="Height of the training images in px (and their width unless image_width)",
    )
    image_width: int | None = Field(
        None, ge=16, le=512, description="Width in px for non-square images; None = square (image_size)"
    )
    nz: int = Field(100, ge=1, le=1024, description="Latent size")
    ngf: int = Field(64, ge=4, le=1024, description="Generator width")
    ndf: int = Field(64, ge=4, le=1024, description="Discriminator width")
    extra_layers: int = Field(
        0,
        ge=0,
        le=4,
        description="Extra stride-1 3x3 conv blocks in G (before the output) and D (after the input)",
    )
    spectral_norm: bool = Field(False, description="Spectral normalisation on every D convolution")
    d_norm: Literal["auto", "batch", "none"] = Field(
        "auto",
        description="Normalisation in D; auto = BatchNorm unless spectral norm or a gradient penalty is on",
    )

    # Optimisation.
    batch_size: int = Field(64, ge=1, le=4096, description="Images per iteration")
    epochs: int = Field(25, ge=1, le=100_000, description="Passes over the dataset")
    lr_g: float = Field(2e-4, gt=0, le=1.0, description="Generator Adam learning rate")
    lr_d: float = Field(2e-4, gt=0, le=1.0, description="Discriminator Adam learning rate")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 (both nets)")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2 (both nets)")
    d_steps: int = Field(1, ge=1, le=10, description="D updates per G update (each on the same real batch)")
    grad_clip: float | None = Field(
        None, gt=0, le=10_000, description="Clip each net's gradient norm to this value; None = off"
    )
    lr_schedule: Literal["constant", "step", "cosine", "linear"] = Field(
        "constant", description="Learning-rate schedule over the whole run (applied per iteration)"
    )
    lr_step_epochs: int = Field(
        10, ge=1, le=100_000, description="step schedule: decay every this many epochs"
    )
    lr_gamma: float = Field(
        0.5, gt=0, le=1, description="step schedule: multiply the lr by this at each decay"
    )
    lr_min_factor: float = Field(
        0.0, ge=0, le=1, description="cosine/linear schedules: final lr as a fraction of the initial lr"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seeds weights, noise, augmentation and data order")

    # Losses and stabilisers.
    loss: Literal["bce", "hinge", "wgan-gp"] = Field(
        "bce", description="bce = non-saturating GAN loss; hinge; wgan-gp = Wasserstein with gradient penalty"
    )
    gp_weight: float | None = Field(
        None,
        ge=0,
        le=1000,
        description="Gradient penalty (||grad D(x_hat)|| - 1)^2 on real/fake interpolates; "
        f"None = {DEFAULT_WGAN_GP_WEIGHT:g} for wgan-gp, 0 (off) otherwise",
    )
    r1_weight: float = Field(
        0.0, ge=0, le=1000, description="R1 penalty gamma: gamma/2 * ||grad D(real)||^2; 0 = off"
    )
    feature_matching_weight: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Weight of the feature matching term in the G loss (D features); 0 = off",
    )
    real_label: float = Field(
        1.0,
        ge=0.5,
        le=1.0,
        description="Target for real images in D's bce loss; 0.9 = one-sided label smoothing",
    )
    label_flip_prob: float = Field(
        0.0, ge=0, le=0.5, description="Probability of swapping a sample's real/fake label in D's bce loss"
    )
    diffaugment: str = Field(
        "",
        description="DiffAugment policy for real and fake images: comma list of color, translation, cutout",
    )
    ema_decay: float | None = Field(
        None, ge=0.5, lt=1, description="Exponential moving average of G weights (e.g. 0.999); None = off"
    )
    ada_target: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Adaptive augmentation: apply the DiffAugment ops with a probability p steered so that "
        "E[sign(D(real))] stays near this target (0.6 in the ADA paper); None = always apply them",
    )
    ada_interval: int = Field(4, ge=1, le=1000, description="Adaptive augmentation: adjust p every N steps")
    ada_kimg: float = Field(
        20.0,
        gt=0,
        le=10_000,
        description="Adaptive augmentation: thousands of real images for p to be able to go from 0 to 1",
    )
    recon_weight: float = Field(
        1.0, ge=0, le=100, description="fastgan: weight of D's self-supervised reconstruction loss; 0 = off"
    )
    recon_lpips_weights: str | None = Field(
        None,
        description="fastgan: a local folder with vgg16.pth and the LPIPS vgg.pth heads to use LPIPS as the "
        "reconstruction loss; None = weights-free L1 + SSIM",
    )

    # Hardware.
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = CUDA when available")
    amp: Literal["off", "auto", "bf16", "fp16"] = Field(
        "off",
        description="Mixed precision: auto = bf16 on CUDA, float32 on CPU; bf16 also on CPUs with native "
        "bf16 (AVX512-BF16/AMX); fp16 CUDA only",
    )
    channels_last: bool = Field(True, description="NHWC memory layout (faster convolutions on CPU and GPU)")
    torch_compile: bool = Field(
        False, description="torch.compile G and D on CUDA (slow first steps); ignored on CPU"
    )
    world_size: int = Field(
        1,
        ge=1,
        le=256,
        description="Processes training this one run together (one per GPU; on CPU, Gloo); batch_size "
        "stays the global batch and is split across them",
    )
    nnodes: int = Field(1, ge=1, le=32, description="Hosts the world_size processes are spread over")
    rendezvous: str = Field(
        "",
        max_length=255,
        description="host:port every host of a multi-host run meets at (torchrun --rdzv-endpoint)",
    )
    sync_batchnorm: bool = Field(
        True, description="With world_size > 1: BatchNorm statistics over the global batch, not per process"
    )

    # Cadence of logs and artifacts.
    log_every: int = Field(
        50, ge=1, le=1_000_000, description="Print the loss line every this many iterations"
    )
    grid_every_epochs: int = Field(1, ge=1, le=100_000, description="Save a fixed-noise grid every N epochs")
    checkpoint_every_epochs: int = Field(1, ge=1, le=100_000, description="Save a checkpoint every N epochs")
    grad_stats_every: int = Field(
        50, ge=0, le=1_000_000, description="Record per-layer gradient statistics every N steps; 0 = off"
    )
    nan_max_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Rollbacks to the last checkpoint (halving the lrs) before a NaN run fails",
    )

    # Monitoring.
    holdout_fraction: float = Field(
        0.05,
        ge=0,
        le=0.5,
        description="Share of the images kept out of training (at most 64) to check D for overfitting; "
        "none are held back when that would be fewer than 16 images or leave less than one batch",
    )

    # Class conditioning (models/nets/conditional.py).
    conditional: bool = Field(
        False, description="Condition G and D on the dataset's labels (projection discriminator)"
    )
    label_names: tuple[str, ...] = Field(
        (), max_length=100, description="Class names in index order; set from the dataset's labels"
    )
    keep_unlabelled: bool = Field(
        False,
        description="Conditional runs: train the dataset's images without a label too, as a label of "
        f"their own ({UNLABELLED_LABEL!r}); off: they are left out",
    )
    cond_transition_start_epochs: int = Field(
        2, ge=0, le=100_000, description="Conditional runs: epochs trained unconditionally first"
    )
    cond_transition_epochs: int = Field(
        4,
        ge=0,
        le=100_000,
        description="Conditional runs: epochs over which the condition is blended in (0 = switch on at once)",
    )

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, arch: str) -> str:
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
        return arch

    @field_validator("diffaugment")
    @classmethod
    def _known_augment_ops(cls, policy: str) -> str:
        ops = [op.strip().lower() for op in policy.split(",") if op.strip()]
        unknown = [op for op in ops if op not in AUGMENT_OPS]
        if unknown:
            raise ValueError(
                f"unknown DiffAugment op(s) {unknown}; use a comma list of {', '.join(AUGMENT_OPS)}"
            )
        return ",".join(dict.fromkeys(ops))

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        upsampling_steps(self.arch, self.height, self.width)
        if self.loss != "bce" and (self.real_label != 1.0 or self.label_flip_prob > 0):
            raise ValueError(
                "real_label (label smoothing) and label_flip_prob only apply to loss 'bce', "
                f"not {self.loss!r}: "
                "set real_label=1.0 and label_flip_prob=0 or use bce"
            )
        if self.ada_target is not None and not self.augment_ops:
            raise ValueError(
                "ada_target (adaptive augmentation) steers how often the DiffAugment ops are applied: "
                "set diffaugment (e.g. 'color,translation,cutout') or ada_target=None"
            )
        if self.conditional and self.arch == "vit":
            raise ValueError(
                "conditional runs need a dcgan, cnn96 or fastgan network; 'vit' has no conditional form yet"
            )
        if self.conditional and len(self.label_names) < 2:
            raise ValueError("a conditional run needs a dataset with at least two labels (label_names)")
        if self.keep_unlabelled and not self.conditional:
            raise ValueError("keep_unlabelled only applies to conditional runs: set conditional=true")
        if self.label_names and not self.conditional:
            raise ValueError(
                "label_names only apply to conditional runs: set conditional=true or leave them out"
            )
        _check_parallel(self)
        if self.loss == "wgan-gp" and self.gp_weight == 0:
            raise ValueError(
                "loss 'wgan-gp' needs a gradient penalty: set gp_weight > 0 (10 is usual) or None"
            )
        return self

    @property
    def height(self) -> int:
        return self.image_size

    @property
    def width(self) -> int:
        return self.image_width if self.image_width is not None else self.image_size

    @property
    def effective_gp_weight(self) -> float:
        if self.gp_weight is not None:
            return self.gp_weight
        return DEFAULT_WGAN_GP_WEIGHT if self.loss == "wgan-gp" else 0.0

    @property
    def d_batchnorm(self) -> bool:
        """BatchNorm couples the samples of a batch, which spoils per-sample gradient penalties."""
        if self.d_norm != "auto":
            return self.d_norm == "batch"
        return not (self.spectral_norm or self.effective_gp_weight > 0 or self.r1_weight > 0)

    def holdout_count(self, n_images: int) -> int:
        """Images of an n-image dataset kept out of training: holdout_fraction of them, at most HOLDOUT_MAX;
        none when that would be fewer than HOLDOUT_MIN or leave less than one batch to train on."""
        count = min(HOLDOUT_MAX, math.floor(n_images * self.holdout_fraction))
        return 0 if count < HOLDOUT_MIN or n_images - count < self.batch_size else count

    def iters_per_epoch(self, n_images: int) -> int:
        """Iterations in one epoch over an n-image dataset (held-back images and the last partial batch
        are left out)."""
        return (n_images - self.holdout_count(n_images)) // self.batch_size

    @property
    def augment_ops(self) -> tuple[str, ...]:
        return tuple(op for op in self.diffaugment.split(",") if op)


def _check_parallel(config: TrainConfig) -> None:
    """world_size splits the global batch evenly over processes that are spread evenly over hosts."""
    if config.batch_size % config.world_size:
        raise ValueError(
            f"batch_size {config.batch_size} does not split evenly over world_size {config.world_size}: "
            "use a batch_size that is a multiple of world_size"
        )
    if config.world_size % config.nnodes:
        raise ValueError(
            f"world_size {config.world_size} does not split evenly over nnodes {config.nnodes} hosts"
        )
    if config.nnodes > 1 and not _is_endpoint(config.rendezvous):
        raise ValueError(
            f"nnodes {config.nnodes} needs rendezvous 'host:port' (the endpoint every host meets at); "
            f"got {config.rendezvous!r}"
        )


def _is_endpoint(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)
