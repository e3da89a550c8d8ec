"""Recorded and described metric rows replayed through the detectors: the two faces of a broken D are named,
healthy rows stay quiet, and a short run's collapse is not hidden behind a 200-step warm-up."""

from __future__ import annotations

import json
from pathlib import Path

from models.monitoring import DetectorSettings, MonitorSuite
from models.monitoring.collapse import ModeCollapseDetector
from models.series import SEED_SERIES
from models.sink import IterationMetrics
from tests.models.sprite_factory import collapsed, make_sprites
from tests.models.test_detectors import feed, healthy, segment, summary

ROWS = Path(__file__).parent / "data" / "forced_saturation_rows.json"


def forced_saturation_rows() -> list[IterationMetrics]:
    """48 rows of a real run: seed-000-classic, lr_d 0.01, batch 32, 6 epochs on 256 Dream World images."""
    recorded = json.loads(ROWS.read_text(encoding="utf-8"))
    return [
        IterationMetrics(*row[:3], dict(zip(SEED_SERIES, row[3:], strict=True))) for row in recorded["rows"]
    ]


def test_the_recorded_forced_saturation_run_raises_d_saturation_within_its_48_steps() -> None:
    rows = forced_saturation_rows()
    assert len(rows) == 48 and rows[-1].step == 48
    # Its D swings: neither old conjunction holds on the window (the complaint), yet G is starved.
    assert max(r.loss_d for r in rows[10:]) > 1 and min(r.d_x for r in rows[10:]) < 0.9
    events = feed(MonitorSuite(), rows)
    saturation = [e for e in events if e.kind == "d_saturation"]
    assert saturation and saturation[0].step <= 48
    evidence = saturation[0].evidence
    assert evidence["rules"] == ["g_starved"] and evidence["window"] == DetectorSettings().window
    assert evidence["means"]["loss_g"] > 10 and evidence["means"]["d_g_z2"] < 0.05
    assert "Loss_G" in saturation[0].message


def test_seed_000s_loss_d_100_rows_raise_their_own_error_event() -> None:
    stuck = segment(40, 12, seed=1, d_x=1.0, d_g_z1=1.0, d_g_z2=1.0, loss_d=100.0, loss_g=0.0)
    events = [e for e in feed(MonitorSuite(), healthy(0, 40) + stuck) if e.kind == "d_stuck"]
    assert summary(events) == [("d_stuck", "error", "started")]
    assert events[0].step == 40 + DetectorSettings().stuck_rows - 1
    assert events[0].evidence["row"]["loss_d"] == 100.0


def test_healthy_rows_and_a_d_that_is_merely_confident_stay_quiet() -> None:
    confident = segment(
        200, 300, seed=4, noise=0.05, d_x=0.9, d_g_z1=0.1, d_g_z2=0.12, loss_d=0.5, loss_g=2.5
    )
    assert feed(MonitorSuite(), healthy(0, 200) + confident) == []


def test_a_short_runs_collapse_is_judged_after_a_share_of_its_planned_steps() -> None:
    real = make_sprites(32, seed=1, px=16)
    blobs = collapsed(make_sprites(1, seed=9, px=16)[0], 32, seed=0)
    detector = ModeCollapseDetector(DetectorSettings())
    assert detector.observe(8, blobs, real, planned_steps=48) == []  # 8 < 30% of 48: still warming up
    events = detector.observe(16, blobs, real, planned_steps=48)
    assert summary(events) == [("mode_collapse", "warning", "started")]
    # Without the run's length the old 200-step warm-up applies: nothing before step 200.
    assert ModeCollapseDetector(DetectorSettings()).observe(16, blobs, real) == []
