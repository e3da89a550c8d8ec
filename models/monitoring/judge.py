"""The per-epoch judge: the C2ST against held-back real images, copying and spread, on a cost budget.

Scheduling (c2st_every 0): every epoch while epochs take over `judge_epoch_s`; otherwise once the training
time since the last judgement is at least (1 - share) / share times what the last judgement cost, so
judging stays under `judge_share` of the wall clock. The first and the last epoch are always judged.
"""

from __future__ import annotations

import time
from typing import Any

from torch import Tensor

from models.hooks import EpochContext
from models.monitoring.c2st import MIN_TEST, C2stResult, c2st
from models.monitoring.episode import json_number
from models.monitoring.memorisation import copies_rising, memorisation
from models.monitoring.settings import DetectorSettings


def settings_c2st(real: Tensor, fake: Tensor, s: DetectorSettings, *, seed: int) -> C2stResult:
    """The C2ST with the detector settings' k, training budget, repeats and image size."""
    return c2st(real, fake, k=s.c2st_k, steps=s.c2st_steps, repeats=s.c2st_repeats, px=s.c2st_px, seed=seed)


class Judge:
    """Decides when an epoch is judged and measures it; its timing state rides in the hook's state."""

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.last_end: float | None = None  # perf_counter at the end of the previous on_epoch_end
        self.train_since = 0.0  # training seconds since the last judgement
        self.cost_s: float | None = None  # seconds the last judgement took
        self.last_epoch_s: float | None = None

    def tick(self) -> None:
        """Call at the start of each epoch end: books the wall time since the last one as training."""
        now = time.perf_counter()
        if self.last_end is not None:
            self.last_epoch_s = now - self.last_end
            self.train_since += self.last_epoch_s

    def done(self) -> None:
        """Call when the epoch end's own work (judging included) is over."""
        self.last_end = time.perf_counter()

    def due(self, epoch: int, epochs: int) -> bool:
        s = self.settings
        if s.c2st_every > 0:
            return epoch % s.c2st_every == 0 or epoch == epochs
        if self.cost_s is None or epoch == epochs:
            return True
        if self.last_epoch_s is not None and self.last_epoch_s > s.judge_epoch_s:
            return True
        return self.train_since >= self.cost_s * (1 - s.judge_share) / s.judge_share

    def judge(self, ctx: EpochContext, previous: dict[str, Any] | None) -> dict[str, Any]:
        """C2ST, copying and spread of this epoch's samples; `previous` is the last judged quality dict."""
        s = self.settings
        started = time.perf_counter()
        reference = ctx.holdout if ctx.holdout is not None else ctx.real
        training = ctx.training if ctx.training is not None else ctx.real
        numbers: dict[str, Any] = {}
        if min(len(reference), len(ctx.samples)) >= s.c2st_k + MIN_TEST:
            result = settings_c2st(reference, ctx.samples, s, seed=s.feature_seed)
            numbers |= {k: _number(v) for k, v in result.to_dict().items() if k != "accuracies"}
        else:
            numbers |= {
                "c2st": None,
                "c2st_k": s.c2st_k,
                "c2st_note": f"C2ST needs {s.c2st_k + MIN_TEST} real images; {len(reference)} available",
            }
        numbers["c2st_reference"] = "held-back" if ctx.holdout is not None else "training"
        memo = memorisation(
            ctx.samples,
            training,
            ctx.holdout,
            px=s.downsample_px,
            near_copy_distance=s.near_copy_distance,
            copy_fraction=s.copy_fraction,
        )
        numbers |= {k: _number(v) for k, v in memo.to_dict().items()}
        numbers["copies_rising"] = copies_rising(previous, numbers)
        numbers["copying"] = memo.copying or numbers["copies_rising"]
        self.cost_s = time.perf_counter() - started
        self.train_since = 0.0
        numbers["judge_seconds"] = round(self.cost_s, 3)
        return numbers

    def state_dict(self) -> dict[str, Any]:
        return {"cost_s": self.cost_s, "train_since": self.train_since}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.cost_s = state.get("cost_s")
        self.train_since = float(state.get("train_since") or 0.0)
        self.last_end = None  # time spent while stopped is not training time


def _number(value: Any) -> Any:
    return json_number(value) if isinstance(value, float) else value
