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

    # The judge (docs/judge.md): a classifier two-sample score, copying and spread, scheduled by cost.
    c2st_k: int = Field(
        8,
        ge=1,
        le=10_000,
        description="Held-back real images and samples per class the C2ST classifier trains on. On Dream "
        "World 64 px, k=8 reads 0.50 for real vs real, 0.61 for two real art styles, 0.88 for images "
        "blurred to 8 px and 0.97 for noise; at k=32 the blurred images already read 0.99, and at 365 "
        "every GAN sample reads 1.000 (docs/judge.md).",
    )
    c2st_steps: int = Field(
        120, ge=1, le=100_000, description="Full-batch Adam steps per C2ST classifier (converged at k=8)."
    )
    c2st_repeats: int = Field(
        8, ge=2, le=1_000, description="Classifiers, each on its own split; the score is their mean."
    )
    c2st_px: int = Field(32, ge=8, le=512, description="Side images are resized to before the C2ST.")
    c2st_every: int = Field(
        0,
        ge=0,
        le=100_000,
        description="Judge every N epochs; 0: every epoch while an epoch takes over judge_epoch_s, else "
        "as often as keeps judging under judge_share of the training time (and always the last epoch).",
    )
    judge_epoch_s: float = Field(
        30.0, gt=0, description="Epochs longer than this (seconds) are all judged under c2st_every 0."
    )
    judge_share: float = Field(
        0.1, gt=0, lt=1, description="Most of the wall-clock time judging may take under c2st_every 0."
    )
    near_copy_distance: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="A sample closer to a training image than this fraction of the held-back images' own "
        "spacing is a near-copy: 5% of Dream World's held-back images sit under 0.6, copies with pixel "
        "noise of std 0.2 at 0.2.",
    )
    copy_fraction: float = Field(
        0.25, gt=0, le=1, description="More near-copies than this share and the samples count as copying."
    )
    collapse_warmup_share: float = Field(
        0.3,
        gt=0,
        le=1,
        description="Share of the planned steps after which low diversity counts as collapse even if the "
        "samples were never diverse, when that comes before collapse_warmup_steps (short runs). Under a "
        "third, so a 6-epoch run is judged from its second epoch; the first epoch of any run is left alone.",
    )
    stuck_rows: int = Field(
        5,
        ge=1,
        le=100_000,
        description="Consecutive rows with D's output pinned at 1 (or 0) on both real and fake images "
        "before 'd_stuck' fires: seed 000's Loss_D 100 / Loss_G 0 / D(x) 1.0 / D(G(z)) 1.0 rows.",
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
