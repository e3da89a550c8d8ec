"""All failure detectors behind two calls: one per iteration, one per epoch end.

The suite's state is plain Python (lists, dicts, numbers), so it rides inside a checkpoint loaded with
weights_only=True and a resumed run keeps its rolling window and open episodes.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from models.monitoring.collapse import ModeCollapseDetector
from models.monitoring.overfit import OverfitDetector
from models.monitoring.per_label import LabelGroup
from models.monitoring.settings import DetectorSettings
from models.monitoring.stream import DivergenceDetector, OverpowerDetector, RollingWindow, SaturationDetector
from models.monitoring.stuck import StuckDetector
from models.sink import IterationMetrics, TrainEvent

EVENT_KINDS = ("d_saturation", "g_overpowers_d", "mode_collapse", "divergence", "d_overfitting", "d_stuck")
OBJECTIVES = ("bce", "hinge", "wgan-gp")
STATE_VERSION = 2  # 2: the collapse detector remembers whether samples were ever diverse


class MonitorSuite:
    """Feed it every metric row and every epoch's samples; it returns the TrainEvents to log.

    `objective` is the run's loss. Under "wgan-gp" D(x) is a raw critic mean, not a probability, so the
    saturation, overpowering and overfitting checks (whose thresholds are probabilities) are off; divergence
    and mode collapse still run.
    """

    def __init__(self, settings: DetectorSettings | None = None, *, objective: str = "bce") -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; expected one of {', '.join(OBJECTIVES)}")
        self.settings = settings or DetectorSettings()
        self.probabilities = objective != "wgan-gp"
        self.window = RollingWindow(self.settings.window)
        self.saturation = SaturationDetector(self.settings)
        self.overpower = OverpowerDetector(self.settings)
        self.divergence = DivergenceDetector(self.settings)
        self.collapse = ModeCollapseDetector(self.settings)
        self.overfit = OverfitDetector(self.settings)
        self.stuck = StuckDetector(self.settings)
        self.label_collapse: dict[str, ModeCollapseDetector] = {}  # conditional runs: one per label

    def observe_iteration(self, row: IterationMetrics) -> list[TrainEvent]:
        """Judge one metric row (in step order); returns the events that start, escalate or clear here."""
        events = self.divergence.observe(row)
        self.window.push(row)
        if self.probabilities:
            events += self.saturation.observe(row, self.window)
            events += self.overpower.observe(row, self.window)
            events += self.stuck.observe(row)
        return events

    def observe_epoch(
        self,
        step: int,
        epoch: int,
        fake: Tensor,
        real: Tensor,
        d_feats_fake: Tensor | None = None,
        d_feats_real: Tensor | None = None,
        d_logits_train: Tensor | None = None,
        d_logits_holdout: Tensor | None = None,
        *,
        planned_steps: int | None = None,
    ) -> list[TrainEvent]:
        """Judge an epoch end: samples from the fixed noise vs real images, D on train vs held-back images.

        `fake` and `real` are N x C x H x W in the same value range. D's penultimate features, when given,
        replace the random features for the diversity check. The overfitting check runs only when both logit
        batches are given. `planned_steps` (the run's length) shortens the collapse warm-up of short runs.
        """
        if (d_logits_train is None) != (d_logits_holdout is None):
            raise ValueError("give D's logits on both the training batch and the held-back batch, or neither")
        events = self.collapse.observe(
            step, fake, real, d_feats_fake, d_feats_real, planned_steps=planned_steps
        )
        if self.probabilities and d_logits_train is not None and d_logits_holdout is not None:
            events += self.overfit.observe(step, epoch, d_logits_train, d_logits_holdout)
        return events

    def observe_labels(
        self, step: int, groups: dict[str, LabelGroup], *, planned_steps: int | None = None
    ) -> list[TrainEvent]:
        """Mode collapse judged within each label of a conditional run: its samples against its real
        images (one label can collapse while the run-wide spread still looks fine)."""
        events: list[TrainEvent] = []
        for name, group in groups.items():
            detector = self.label_collapse.setdefault(name, ModeCollapseDetector(self.settings, name))
            events += detector.observe(
                step, group.fake, group.real, group.feats_fake, group.feats_real, planned_steps=planned_steps
            )
        return events

    def state_dict(self) -> dict[str, Any]:
        """Plain-Python state for the checkpoint."""
        return {
            "version": STATE_VERSION,
            "window": self.window.state_dict(),
            "saturation": self.saturation.episode.state_dict(),
            "overpower": self.overpower.episode.state_dict(),
            "divergence": self.divergence.episode.state_dict(),
            "collapse": self.collapse.state_dict(),
            "overfit": self.overfit.state_dict(),
            "stuck": self.stuck.episode.state_dict(),
            "label_collapse": {name: d.state_dict() for name, d in self.label_collapse.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() returned; the thresholds stay those of this suite's settings."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"monitor state version {state.get('version')!r} is not {STATE_VERSION}")
        self.window.load_state_dict(state["window"])
        self.saturation.episode.load_state_dict(state["saturation"])
        self.overpower.episode.load_state_dict(state["overpower"])
        self.divergence.episode.load_state_dict(state["divergence"])
        self.collapse.load_state_dict(state["collapse"])
        self.overfit.load_state_dict(state["overfit"])
        if "stuck" in state:  # absent in checkpoints from before the detector
            self.stuck.episode.load_state_dict(state["stuck"])
        self.label_collapse = {}
        for name, saved in (state.get("label_collapse") or {}).items():
            self.label_collapse[name] = ModeCollapseDetector(self.settings, name)
            self.label_collapse[name].load_state_dict(saved)
