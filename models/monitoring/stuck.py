"""D's output pinned at 1 (or 0) for real and fake images alike: seed 000's epoch-11 failure.

Its log read `Loss_D: 100.0000 Loss_G: 0.0000 D(x): 1.0000 D(G(z)): 1.0000 / 1.0000`: D calls everything
real with a sigmoid saturated in float32, BCE clamps -log(0) at 100, and no gradient reaches either net, so
the run never recovers. The rolling-window rules name it "G overpowers D" at best (Loss_D blown up, Loss_G
at zero); it is D that is broken, so it gets its own kind and is an error at once. Judged row by row over a
short streak (`stuck_rows`), because the pinned values are exact and the window would hide them in short
runs.
"""

from __future__ import annotations

from models.monitoring.episode import Episode, json_number, transition_event
from models.monitoring.settings import DetectorSettings
from models.series import SEED_SERIES
from models.sink import IterationMetrics, TrainEvent

PINNED = 1e-3  # within this of 1 (or 0) a float32 sigmoid has no usable gradient left


class StuckDetector:
    """Fires after `stuck_rows` consecutive rows with D(x) and D(G(z)) both pinned at 1, or both at 0."""

    kind = "d_stuck"
    what = "Discriminator output stuck"

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.episode = Episode(
            start_after=settings.stuck_rows,
            escalate_after=settings.escalate_after,
            rearm_after=settings.rearm_after,
        )

    @staticmethod
    def pinned_at(row: IterationMetrics) -> str | None:
        """Pinned at "1" (D calls every image real), at "0" (every image fake), or None."""
        values = (row.d_x, row.d_g_z1, row.d_g_z2)
        if all(v >= 1 - PINNED for v in values):
            return "1"
        if all(v <= PINNED for v in values):
            return "0"
        return None

    def observe(self, row: IterationMetrics) -> list[TrainEvent]:
        pinned = self.pinned_at(row)
        transition = self.episode.update(row.step, pinned is not None)
        if transition is None:
            return []
        verdict = {"1": "calls every image real", "0": "calls every image fake", None: "moves again"}[pinned]
        evidence = {
            "pinned_at": pinned,
            "rows": self.settings.stuck_rows,
            "row": {name: json_number(float(getattr(row, name))) for name in SEED_SERIES},
        }
        detail = (
            f"D {verdict}: Loss_D {row.loss_d:.4f} Loss_G {row.loss_g:.4f} D(x) {row.d_x:.4f} "
            f"D(G(z)) {row.d_g_z1:.4f} / {row.d_g_z2:.4f}"
        )
        if transition == "started":
            detail += f" for {self.settings.stuck_rows} rows in a row; no gradient reaches G or D"
        event = transition_event(
            transition,
            step=row.step,
            kind=self.kind,
            episode=self.episode,
            what=self.what,
            evidence=evidence,
            detail=detail,
            start_severity="error",
        )
        return [event]
