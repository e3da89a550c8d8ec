"""The C2ST curve as SVG coordinates, so pages and the self-contained report draw it without JavaScript."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, PAD = 600, 200, 36
Y_LOW, Y_HIGH = 0.4, 1.0  # 0.5 = indistinguishable, 1.0 = every sample caught


def chart(curve: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Polyline, interval band, point markers and axis ticks for `curve` (run_report.c2st_curve)."""
    if not curve:
        return None
    steps = [p["step"] for p in curve]
    lo, hi = min(steps), max(steps)

    def x(step: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * ((step - lo) / (hi - lo) if hi > lo else 0.5)

    def y(value: float) -> float:
        value = min(max(value, Y_LOW), Y_HIGH)
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - Y_LOW) / (Y_HIGH - Y_LOW)

    upper = [
        f"{x(p['step']):.1f},{y(p['ci_high'] if p['ci_high'] is not None else p['c2st']):.1f}" for p in curve
    ]
    lower = [
        f"{x(p['step']):.1f},{y(p['ci_low'] if p['ci_low'] is not None else p['c2st']):.1f}" for p in curve
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "line": " ".join(f"{x(p['step']):.1f},{y(p['c2st']):.1f}" for p in curve),
        "band": " ".join(upper + lower[::-1]),
        "points": [
            {"x": round(x(p["step"]), 1), "y": round(y(p["c2st"]), 1), "copying": p["copying"], **p}
            for p in curve
        ],
        "y_ticks": [{"y": round(y(v), 1), "label": f"{v:.1f}"} for v in (0.5, 0.7, 0.9, 1.0)],
        "x_ticks": [
            {"x": round(x(s), 1), "label": f"epoch {p['epoch']}"}
            for s, p in ((lo, curve[0]), (hi, curve[-1]))
        ],
        "left": PAD,
        "right": WIDTH - PAD,
    }
