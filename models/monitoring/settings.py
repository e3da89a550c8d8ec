"""Thresholds of the failure detectors, as one validated model saved with the run.

The defaults are first guesses argued from the DCGAN seed's losses and a ~900-image Pokémon set at batch 64
(about 14 iterations per epoch); a later step checks them against real runs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DetectorSettings(BaseModel):
    """When a metric stream or a batch of samples counts as a failure. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Metric stream: rolling windows and hysteresis.
    window: int = Field(
        30,
        ge=2,
        le=100_000,
        description="Iterations averaged before judging D(x), D(G(z)) and the losses. A batch mean of D(x) "
        "swings by about ±0.1 in healthy training; averaging 30 rows brings that to about ±0.02, well inside "
        "the margins below, and 30 rows is about two epochs of a 900-image set at batch 64.",
    )
    rearm_after: int = Field(
        30,
        ge=1,
        le=100_000,
        description="Iterations a condition must stay clear before its episode ends (an 'info' event) and "
        "the detector may fire again. One window, so a single good batch never ends an episode.",
    )
    escalate_after: int = Field(
        150,
        ge=1,
        le=1_000_000,
        description="Iterations a condition has held within one episode before the warning becomes an error. "
        "Five windows (about ten epochs here): a DCGAN that is going to recover from saturation usually "
        "does so within a few epochs.",
    )

    # D saturation: D wins outright.
    saturation_d_x: float = Field(
        0.95,
        gt=0,
        lt=1,
        description="Rolling mean D(x) above this, together with a low D(G(z)), is saturation.",
    )
    saturation_d_g_z: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Rolling mean D(G(z)) after the G step below this, together with a high D(x). At "
        "0.95/0.05 Loss_D is about 0.1 and G's gradient through a saturated sigmoid has all but vanished.",
    )

    # G overpowers D: D has the real/fake ordering backwards.
    overpower_d_x: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="Rolling mean D(x) below this, together with a high D(G(z)), is G overpowering D.",
    )
    overpower_d_g_z: float = Field(
        0.7,
        gt=0,
        lt=1,
        description="Rolling mean D(G(z)) before the D step above this, together with a low D(x). Healthy "
        "DCGAN training keeps D(x) above D(G(z)); a sustained inversion this large means D stopped learning.",
    )

    # Losses: one side blowing up while the other sits at zero.
    loss_blowup: float = Field(
        10.0,
        gt=0,
        description="A rolling mean loss above this counts as blown up. The non-saturating Loss_G is "
        "-log D(G(z)), so 10 means D(G(z)) ≈ 5e-5; healthy DCGAN losses stay between 0.5 and 6. The failure "
        "we reproduced had Loss_G ≈ 29; the seed's epoch-11 log had Loss_D ≈ 100 with D(G(z)) = 1.0.",
    )
    loss_near_zero: float = Field(
        0.1,
        gt=0,
        description="A rolling mean loss below this counts as zero: Loss_D = 0.1 is what D(x) = 0.95 and "
        "D(G(z)) = 0.05 give, so this matches the saturation thresholds above.",
    )

    # Divergence: a single row decides.
    max_abs_loss: float = Field(
        1e3,
        gt=0,
        description="|Loss_D| or |Loss_G| above this in any row is divergence. BCE losses clamp at 100 per "
        "term, so only a broken loss or an exploding custom objective gets here.",
    )

    # Mode collapse: judged on a fixed batch of samples at each epoch end.
    collapse_ratio: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="Samples whose mean pairwise distance is below this fraction of the real batch's, in "
        "both pixel and feature space, have collapsed. Samples drawn from the data distribution score "
        "about 1; the grey-texture collapse scores under 0.05.",
    )
    duplicate_distance: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="Two samples closer (pixel space) than this fraction of the real batch's median pairwise "
        "distance are near-duplicates. Distinct real images almost never come that close.",
    )
    duplicate_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="If more than this fraction of samples has a near-duplicate, the generator has collapsed "
        "onto a few modes even when the overall spread still looks fine.",
    )
    collapse_warmup_steps: int = Field(
        200,
        ge=0,
        le=1_000_000,
        description="Iterations before a generator that has not yet drawn diverse samples counts as "
        "collapsed. Every DCGAN starts by drawing near-identical blobs: the 749-sprite seed-000-classic run "
        "had 100% near-duplicates until step 65 and first passed the checks at step 70; 200 leaves room for "
        "slower set-ups. Samples that were diverse once and then collapse count at once.",
    )
    collapse_escalate_epochs: int = Field(
        3,
        ge=1,
        le=10_000,
        description="Collapsed epochs within one episode before the warning becomes an error.",
    )
    downsample_px: int = Field(
        32,
        ge=4,
        le=512,
        description="Side the samples are resized to before distances are taken: enough to tell shapes and "
        "colours apart, small enough that pairwise distances of a few hundred images are instant on a CPU.",
    )
    feature_seed: int = Field(
        0, ge=0, le=2**31 - 1, description="Seed of the fixed random convolutional feature extractor."
    )

    # D overfitting: D scores its training images above held-back real images.
    overfit_gap: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Mean sigmoid(D) on training images minus the same on held-back real images above this "
        "is overfitting. With 64-image batches the gap's noise is about ±0.05, so 0.2 is four sigmas.",
    )
    overfit_patience: int = Field(
        2, ge=1, le=10_000, description="Consecutive epochs above the gap before the first warning."
    )
    overfit_escalate_epochs: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Overfit epochs within one episode before the warning becomes an error.",
    )
    epoch_rearm: int = Field(
        1,
        ge=1,
        le=10_000,
        description="Healthy epochs that end an epoch-level episode (collapse, overfitting). Epochs are "
        "long, so one is enough.",
    )

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> DetectorSettings:
        if self.saturation_d_g_z >= self.saturation_d_x:
            raise ValueError("saturation_d_g_z must be below saturation_d_x")
        if self.overpower_d_x >= self.overpower_d_g_z:
            raise ValueError("overpower_d_x must be below overpower_d_g_z")
        if self.loss_near_zero >= self.loss_blowup:
            raise ValueError("loss_near_zero must be below loss_blowup")
        return self
