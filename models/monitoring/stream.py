"""Detectors fed the metric stream one IterationMetrics row at a time.

Saturation and G-overpowering-D are judged on rolling means over `settings.window` rows, so one odd batch
never fires; divergence is judged on every single row, because one NaN already poisons the weights.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from models.monitoring.episode import Episode, json_number, transition_event
from models.monitoring.settings import DetectorSettings
from models.series import SEED_SERIES
from models.sink import IterationMetrics, TrainEvent

FIELDS = SEED_SERIES  # the rolling windows (and their saved state) hold these, in this order


class RollingWindow:
    """The last `size` finite metric rows; non-finite rows are left to the divergence detector."""

    def __init__(self, size: int) -> None:
        self.rows: deque[tuple[float, ...]] = deque(maxlen=size)

    def push(self, row: IterationMetrics) -> None:
        values = tuple(float(getattr(row, name)) for name in FIELDS)
        if all(math.isfinite(v) for v in values):
            self.rows.append(values)

    @property
    def full(self) -> bool:
        return len(self.rows) == self.rows.maxlen

    def means(self) -> dict[str, float]:
        n = len(self.rows)
        return {name: sum(r[i] for r in self.rows) / n for i, name in enumerate(FIELDS)}

    def state_dict(self) -> list[list[float]]:
        return [list(r) for r in self.rows]

    def load_state_dict(self, rows: list[list[float]]) -> None:
        self.rows.clear()
        self.rows.extend(tuple(float(v) for v in r) for r in rows)  # a smaller window keeps the newest rows


class _WindowDetector:
    """Shared machinery of the rolling-mean detectors; subclasses say which rules apply."""

    kind = ""
    what = ""

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.episode = Episode(escalate_after=settings.escalate_after, rearm_after=settings.rearm_after)

    def rules(self, means: dict[str, float]) -> list[str]:
        raise NotImplementedError

    def thresholds(self) -> dict[str, float]:
        raise NotImplementedError

    def observe(self, row: IterationMetrics, window: RollingWindow) -> list[TrainEvent]:
        if not window.full:
            return []
        means = window.means()
        rules = self.rules(means)
        transition = self.episode.update(row.step, bool(rules))
        if transition is None:
            return []
        evidence = {
            "rules": rules,
            "window": len(window.rows),
            "means": {k: json_number(v) for k, v in means.items()},
            "thresholds": self.thresholds(),
        }
        detail = (
            f"over the last {len(window.rows)} iterations mean D(x) {means['d_x']:.3f}, "
            f"D(G(z)) {means['d_g_z1']:.3f} / {means['d_g_z2']:.3f}, "
            f"Loss_D {means['loss_d']:.3f}, Loss_G {means['loss_g']:.3f}"
        )
        event = transition_event(
            transition,
            step=row.step,
            kind=self.kind,
            episode=self.episode,
            what=self.what,
            evidence=evidence,
            detail=detail,
        )
        return [event]


class SaturationDetector(_WindowDetector):
    """D wins outright: D(x) ≈ 1 with D(G(z)) ≈ 0, Loss_G blown up while Loss_D sits at zero, or Loss_G
    blown up while D(G(z)) after the G step stays near 0 whatever D does on real images ("g_starved")."""

    kind = "d_saturation"
    what = "Discriminator saturation"

    def rules(self, means: dict[str, float]) -> list[str]:
        s = self.settings
        rules = []
        if means["d_x"] > s.saturation_d_x and means["d_g_z2"] < s.saturation_d_g_z:
            rules.append("d_x_high_d_g_z_low")
        if means["loss_g"] > s.loss_blowup and means["loss_d"] < s.loss_near_zero:
            rules.append("loss_g_blowup")
        # D may swing on real images (Loss_D well above zero) while nothing G draws gets past it: G's loss
        # blown up with D(G(z)) after the G step pinned near 0 starves G of gradient all the same.
        if means["loss_g"] > s.loss_blowup and means["d_g_z2"] < s.saturation_d_g_z:
            rules.append("g_starved")
        return rules

    def thresholds(self) -> dict[str, float]:
        s = self.settings
        return {
            "d_x_above": s.saturation_d_x,
            "d_g_z2_below": s.saturation_d_g_z,
            "loss_g_above": s.loss_blowup,
            "loss_d_below": s.loss_near_zero,
        }


class OverpowerDetector(_WindowDetector):
    """G fools D: D(x) low with D(G(z)) high, or Loss_D blown up while Loss_G sits at zero."""

    kind = "g_overpowers_d"
    what = "Generator overpowering the discriminator"

    def rules(self, means: dict[str, float]) -> list[str]:
        s = self.settings
        rules = []
        if means["d_x"] < s.overpower_d_x and means["d_g_z1"] > s.overpower_d_g_z:
            rules.append("d_x_low_d_g_z_high")
        if means["loss_d"] > s.loss_blowup and means["loss_g"] < s.loss_near_zero:
            rules.append("loss_d_blowup")
        return rules

    def thresholds(self) -> dict[str, float]:
        s = self.settings
        return {
            "d_x_below": s.overpower_d_x,
            "d_g_z1_above": s.overpower_d_g_z,
            "loss_d_above": s.loss_blowup,
            "loss_g_below": s.loss_near_zero,
        }


class DivergenceDetector:
    """NaN or inf in any metric, or a loss beyond ±max_abs_loss, in a single row: an error at once."""

    kind = "divergence"
    what = "Divergence"

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.episode = Episode(rearm_after=settings.rearm_after)

    def problems(self, row: IterationMetrics) -> dict[str, float | str]:
        found: dict[str, float | str] = {}
        for name in FIELDS:
            value = float(getattr(row, name))
            if not math.isfinite(value):
                found[name] = json_number(value)
            elif name.startswith("loss") and abs(value) > self.settings.max_abs_loss:
                found[name] = json_number(value)
        return found

    def observe(self, row: IterationMetrics) -> list[TrainEvent]:
        problems = self.problems(row)
        transition = self.episode.update(row.step, bool(problems))
        if transition is None:
            return []
        evidence: dict[str, Any] = {"values": problems, "max_abs_loss": self.settings.max_abs_loss}
        event = transition_event(
            transition,
            step=row.step,
            kind=self.kind,
            episode=self.episode,
            what=self.what,
            evidence=evidence,
            detail=", ".join(f"{k} = {v}" for k, v in problems.items()),
            start_severity="error",
        )
        return [event]
