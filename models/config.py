"""The one typed, validated description of a training run. Saved with the run (DB row and config.json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """Hyperparameters of one run. Unknown fields are refused so a typo never silently trains the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: str = Field("dcgan64", description="Network family: dcgan64, dcgan128, cnn96")
    image_size: int = Field(64, ge=16, le=512, description="Side of the square training images, px")
    nz: int = Field(100, ge=1, le=1024, description="Latent size")
    ngf: int = Field(64, ge=4, le=1024, description="Generator width")
    ndf: int = Field(64, ge=4, le=1024, description="Discriminator width")
    batch_size: int = Field(64, ge=1, le=4096)
    epochs: int = Field(25, ge=1, le=100_000)
    lr_g: float = Field(2e-4, gt=0, le=1.0)
    lr_d: float = Field(2e-4, gt=0, le=1.0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)
