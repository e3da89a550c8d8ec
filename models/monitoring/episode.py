"""Hysteresis shared by every detector: report a failure as it starts, once more if it lasts, and as it ends.

A detector feeds one boolean per observation (an iteration or an epoch). The episode answers with a
transition: "started" (fire a warning, or an error for failures that are errors at once), "escalated" (the
condition has held long enough to become an error), "cleared" (it stayed clear for a while; the detector is
armed again).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from models.sink import TrainEvent

Transition = Literal["started", "escalated", "cleared"]


@dataclass
class Episode:
    start_after: int = 1  # consecutive bad observations before an episode starts
    escalate_after: int | None = None  # bad observations within an episode before it escalates (None: never)
    rearm_after: int = 1  # consecutive clear observations that end an episode
    active: bool = False
    started_at: int | None = None  # step of the current (or, once cleared, the last) episode's start
    streak: int = 0  # consecutive bad observations while inactive
    held: int = 0  # bad observations since the episode started
    clear_run: int = 0
    escalated: bool = False

    def update(self, step: int, bad: bool) -> Transition | None:
        """Advance by one observation at `step`; return what changed, if anything."""
        if not self.active:
            return self._while_inactive(step, bad)
        if bad:
            self.held += 1
            self.clear_run = 0
            if self.escalate_after is not None and not self.escalated and self.held >= self.escalate_after:
                self.escalated = True
                return "escalated"
            return None
        self.clear_run += 1
        if self.clear_run >= self.rearm_after:
            self._reset()
            return "cleared"
        return None

    def _while_inactive(self, step: int, bad: bool) -> Transition | None:
        self.streak = self.streak + 1 if bad else 0
        if self.streak < self.start_after:
            return None
        self.active, self.started_at, self.held, self.clear_run = True, step, self.streak, 0
        self.streak = 0
        return "started"

    def _reset(self) -> None:
        self.active, self.held, self.clear_run, self.escalated = False, 0, 0, False

    def state_dict(self) -> dict[str, Any]:
        return {
            k: v for k, v in asdict(self).items() if k not in ("start_after", "escalate_after", "rearm_after")
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.active = bool(state["active"])
        self.started_at = None if state["started_at"] is None else int(state["started_at"])
        self.streak, self.held = int(state["streak"]), int(state["held"])
        self.clear_run = int(state["clear_run"])
        self.escalated = bool(state["escalated"])


def transition_event(
    transition: Transition,
    *,
    step: int,
    kind: str,
    episode: Episode,
    what: str,
    evidence: dict[str, Any],
    detail: str = "",
    start_severity: str = "warning",
) -> TrainEvent:
    """The TrainEvent announcing `transition` of `episode`; `what` names the failure, `detail` the numbers."""
    if transition == "started":
        severity, message = start_severity, f"{what} started"
    elif transition == "escalated":
        severity = "error"
        message = f"{what} persists since step {episode.started_at} ({episode.held} observations)"
    else:
        severity, message = "info", f"{what} cleared"
    if detail:
        message = f"{message}: {detail}"
    state = {"started": "started", "escalated": "sustained", "cleared": "cleared"}[transition]
    evidence = {"state": state, "episode_start": episode.started_at, **evidence}
    return TrainEvent(step=step, kind=kind, severity=severity, message=message, evidence=evidence)


def json_number(value: float, digits: int = 6) -> float | str:
    """A float the database's JSON column accepts: rounded, with NaN/inf spelled as strings."""
    if not math.isfinite(value):
        return str(float(value))
    return round(float(value), digits)
