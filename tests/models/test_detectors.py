"""The failure detectors fire on streams and samples built to show each failure, and stay quiet otherwise."""

from __future__ import annotations

import io
import json
import math
import random
from dataclasses import replace

import pytest
import torch

from models.monitoring import DetectorSettings, ImageBatchError, MonitorSuite, overfit_stats
from models.sink import IterationMetrics, TrainEvent
from tests.models.sprite_factory import collapsed, make_sprites

HEALTHY = {"d_x": 0.6, "d_g_z1": 0.4, "d_g_z2": 0.4, "loss_d": 1.2, "loss_g": 1.5}
SATURATED = {"d_x": 0.99, "d_g_z1": 0.01, "d_g_z2": 0.01, "loss_d": 0.03, "loss_g": 6.0}
ITERS_PER_EPOCH = 14


def segment(start: int, n: int, *, seed: int, noise: float = 0.0, **means: float) -> list[IterationMetrics]:
    """n consecutive rows from `start`, each value jittered by Gaussian noise of relative size `noise`."""
    rng = random.Random(seed)
    rows = []
    for step in range(start, start + n):
        values = {k: v + rng.gauss(0, noise * max(abs(v), 0.1)) for k, v in means.items()}
        for k in ("d_x", "d_g_z1", "d_g_z2"):
            values[k] = min(1.0, max(0.0, values[k]))
        values["loss_d"], values["loss_g"] = max(0.0, values["loss_d"]), max(0.0, values["loss_g"])
        rows.append(
            IterationMetrics(
                step=step, epoch=step // ITERS_PER_EPOCH, iteration=step % ITERS_PER_EPOCH, **values
            )
        )
    return rows


def healthy(start: int, n: int, seed: int = 0) -> list[IterationMetrics]:
    """Realistic DCGAN rows: D(x) ≈ 0.6 and D(G(z)) ≈ 0.4 with batch noise, and an occasional Loss_G spike."""
    rows = segment(start, n, seed=seed, noise=0.2, **HEALTHY)
    return [replace(r, loss_g=7.5, d_g_z2=0.02) if r.step % 97 == 13 else r for r in rows]


def feed(suite: MonitorSuite, rows: list[IterationMetrics]) -> list[TrainEvent]:
    return [event for row in rows for event in suite.observe_iteration(row)]


def summary(events: list[TrainEvent]) -> list[tuple[str, str, str]]:
    return [(e.kind, e.severity, e.evidence["state"]) for e in events]


def assert_json_safe(events: list[TrainEvent]) -> None:
    for event in events:
        json.dumps(event.evidence, allow_nan=False)


# Metric stream ---------------------------------------------------------------------------------------------


def test_healthy_noisy_stream_stays_quiet() -> None:
    suite = MonitorSuite()
    assert feed(suite, healthy(0, 3000)) == []


def test_sustained_saturation_warns_once_escalates_clears_and_rearms() -> None:
    suite = MonitorSuite()
    rows = (
        healthy(0, 100)
        + segment(100, 300, seed=1, noise=0.01, **SATURATED)
        + healthy(400, 100, seed=2)
        + segment(500, 60, seed=3, noise=0.01, **SATURATED)
    )
    events = feed(suite, rows)
    assert summary(events) == [
        ("d_saturation", "warning", "started"),
        ("d_saturation", "error", "sustained"),
        ("d_saturation", "info", "cleared"),
        ("d_saturation", "warning", "started"),
    ]
    warn, error, cleared, again = events
    assert 100 < warn.step <= 130
    assert error.step == warn.step + DetectorSettings().escalate_after - 1
    assert 400 < cleared.step <= 440
    assert 500 < again.step <= 530
    assert warn.evidence["rules"] == ["d_x_high_d_g_z_low"]
    assert warn.evidence["means"]["d_x"] > 0.95
    assert warn.evidence["means"]["d_g_z2"] < 0.05
    assert error.evidence["episode_start"] == warn.step
    assert "D(x)" in warn.message
    assert_json_safe(events)


def test_loss_g_blowup_with_loss_d_near_zero_is_saturation() -> None:
    # The failure we reproduced: Loss_G ≈ 29 while D calls everything correctly; D(x) kept below the
    # probability rule's threshold so only the loss rule can fire.
    rows = segment(0, 80, seed=4, noise=0.03, d_x=0.9, d_g_z1=0.1, d_g_z2=0.1, loss_d=0.001, loss_g=29.0)
    events = feed(MonitorSuite(), rows)
    assert summary(events) == [("d_saturation", "warning", "started")]
    assert events[0].evidence["rules"] == ["loss_g_blowup"]
    assert events[0].evidence["means"]["loss_g"] > 25


def test_fully_saturated_d_matches_both_rules() -> None:
    rows = segment(0, 40, seed=5, d_x=1.0, d_g_z1=0.0, d_g_z2=0.0, loss_d=0.0, loss_g=29.0)
    events = feed(MonitorSuite(), rows)
    assert [e.evidence["rules"] for e in events] == [["d_x_high_d_g_z_low", "loss_g_blowup", "g_starved"]]


def test_g_overpowering_d_fires_on_inverted_scores() -> None:
    rows = healthy(0, 50) + segment(
        50, 100, seed=6, noise=0.1, d_x=0.2, d_g_z1=0.8, d_g_z2=0.8, loss_d=2.5, loss_g=0.3
    )
    events = feed(MonitorSuite(), rows)
    assert summary(events) == [("g_overpowers_d", "warning", "started")]
    assert events[0].evidence["rules"] == ["d_x_low_d_g_z_high"]
    assert 50 < events[0].step <= 80


def test_seed_log_loss_d_100_with_d_g_z_at_one_is_a_stuck_d_and_g_overpowering_d() -> None:
    # Seed 000's epoch 11: Loss_D ≈ 100 (BCE's clamp) with D(G(z)) stuck at 1.0.
    rows = segment(0, 40, seed=7, d_x=1.0, d_g_z1=1.0, d_g_z2=1.0, loss_d=100.0, loss_g=0.0)
    events = feed(MonitorSuite(), rows)
    assert summary(events) == [("d_stuck", "error", "started"), ("g_overpowers_d", "warning", "started")]
    assert events[0].step == DetectorSettings().stuck_rows - 1  # rows count from step 0
    assert events[0].evidence["pinned_at"] == "1" and "calls every image real" in events[0].message
    assert events[1].evidence["rules"] == ["loss_d_blowup"]


def test_nan_is_an_immediate_error_reported_once_per_episode() -> None:
    nan_row = healthy(50, 1)[0]
    nan_row = replace(nan_row, loss_g=math.nan)
    inf_row = replace(healthy(61, 1)[0], d_x=math.inf)
    rows = healthy(0, 50) + [nan_row] + healthy(51, 10) + [inf_row] + healthy(62, 60)
    events = feed(MonitorSuite(), rows)
    assert summary(events) == [("divergence", "error", "started"), ("divergence", "info", "cleared")]
    assert events[0].step == 50
    assert events[0].evidence["values"] == {"loss_g": "nan"}
    assert "loss_g" in events[0].message
    assert events[1].step == 61 + DetectorSettings().rearm_after
    assert_json_safe(events)


def test_huge_loss_is_divergence() -> None:
    big = replace(healthy(20, 1)[0], loss_d=-5000.0)
    events = feed(MonitorSuite(), [*healthy(0, 20), big])
    assert summary(events) == [("divergence", "error", "started")]
    assert events[0].evidence["values"] == {"loss_d": -5000.0}


def test_nan_rows_do_not_blind_the_saturation_window() -> None:
    rows = segment(0, 60, seed=8, noise=0.01, **SATURATED)
    rows[10] = replace(rows[10], loss_d=math.nan)
    assert summary(feed(MonitorSuite(), rows)) == [
        ("divergence", "error", "started"),
        ("d_saturation", "warning", "started"),
        ("divergence", "info", "cleared"),
    ]


def test_wgan_critic_scores_are_not_judged_as_probabilities() -> None:
    suite = MonitorSuite(objective="wgan-gp")
    rows = segment(0, 60, seed=9, d_x=12.0, d_g_z1=-30.0, d_g_z2=-30.0, loss_d=-42.0, loss_g=30.0)
    assert feed(suite, rows) == []
    nan_row = replace(rows[-1], step=60, loss_d=math.nan)
    assert summary(suite.observe_iteration(nan_row)) == [("divergence", "error", "started")]


def test_unknown_objective_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown objective"):
        MonitorSuite(objective="lsgan")


# Samples at epoch end --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return make_sprites(64, seed=0)


def test_diverse_samples_from_the_data_distribution_stay_quiet(real: torch.Tensor) -> None:
    suite = MonitorSuite()
    events = [
        e
        for epoch in range(4)
        for e in suite.observe_epoch(epoch * 14, epoch, make_sprites(64, 10 + epoch), real)
    ]
    assert events == []


# These judge collapsed samples from the very first epoch, so the warm-up for untrained generators is off.
NO_WARMUP = DetectorSettings(collapse_warmup_steps=0)


def test_same_image_plus_noise_is_mode_collapse_then_escalates_and_clears(real: torch.Tensor) -> None:
    suite = MonitorSuite(NO_WARMUP)
    bad = collapsed(real[3], 64, seed=1)
    events = [e for epoch in range(3) for e in suite.observe_epoch(100 * epoch, epoch, bad, real)]
    events += suite.observe_epoch(300, 3, make_sprites(64, 20), real)
    assert summary(events) == [
        ("mode_collapse", "warning", "started"),
        ("mode_collapse", "error", "sustained"),
        ("mode_collapse", "info", "cleared"),
    ]
    assert [e.step for e in events] == [0, 200, 300]
    evidence = events[0].evidence
    assert evidence["rules"] == ["low_diversity", "near_duplicates"]
    assert evidence["pixel_ratio"] < 0.05 and evidence["feature_ratio"] < 0.05
    assert evidence["pixel_ratio"] == pytest.approx(evidence["pixel_fake"] / evidence["pixel_real"], rel=1e-4)
    assert evidence["feature_space"] == "random"
    assert evidence["duplicate_fraction"] == 1.0
    assert_json_safe(events)


def test_few_modes_are_caught_as_near_duplicates(real: torch.Tensor) -> None:
    four_modes = torch.cat([collapsed(real[i], 16, seed=i, noise=0.02) for i in range(4)])
    events = MonitorSuite(NO_WARMUP).observe_epoch(10, 0, four_modes, real)
    assert summary(events) == [("mode_collapse", "warning", "started")]
    assert events[0].evidence["rules"] == ["near_duplicates"]
    assert events[0].evidence["pixel_ratio"] > 0.25  # the overall spread alone would have missed it


def test_an_untrained_generator_is_not_collapsed_until_the_warm_up_ends(real: torch.Tensor) -> None:
    blob = collapsed(real[0], 64, seed=4)  # what every DCGAN draws in its first iterations
    suite = MonitorSuite(DetectorSettings(collapse_warmup_steps=100))
    assert suite.observe_epoch(5, 1, blob, real) == [] and suite.observe_epoch(95, 19, blob, real) == []
    assert summary(suite.observe_epoch(100, 20, blob, real)) == [("mode_collapse", "warning", "started")]
    # Samples that were diverse once and then collapse count at once, warm-up or not.
    suite = MonitorSuite(DetectorSettings(collapse_warmup_steps=100))
    assert suite.observe_epoch(5, 1, make_sprites(64, 40), real) == []
    assert summary(suite.observe_epoch(10, 2, blob, real)) == [("mode_collapse", "warning", "started")]


def test_discriminator_features_replace_random_ones(real: torch.Tensor) -> None:
    projection = torch.randn(3 * 32 * 32, 48, generator=torch.Generator().manual_seed(3))

    def d_feats(images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(images.flatten(1) @ projection / 30)

    suite = MonitorSuite()
    fake = make_sprites(64, 30)
    assert suite.observe_epoch(0, 0, fake, real, d_feats(fake), d_feats(real)) == []
    bad = collapsed(real[5], 64, seed=2)
    events = suite.observe_epoch(14, 1, bad, real, d_feats(bad), d_feats(real))
    assert [e.evidence["feature_space"] for e in events] == ["discriminator"]
    with pytest.raises(ImageBatchError, match="both"):
        suite.observe_epoch(28, 2, fake, real, d_feats_fake=d_feats(fake))


def test_a_drop_in_one_space_alone_is_not_collapse(real: torch.Tensor) -> None:
    # Pixel spread can drop for harmless reasons (a palette shift), and D's features can squeeze samples
    # together while D is confident; only a drop in both counts.
    projection = torch.randn(3 * 32 * 32, 48, generator=torch.Generator().manual_seed(3))

    def d_feats(images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(images.flatten(1) @ projection / 30)

    diverse = make_sprites(64, 50)
    mean = diverse.mean(0, keepdim=True)
    squeezed = mean + 0.2 * (diverse - mean)  # pixel spread ≈ 0.19 of real, no near-duplicates
    suite = MonitorSuite()
    assert suite.observe_epoch(0, 0, squeezed, real, d_feats(diverse), d_feats(real)) == []
    assert suite.observe_epoch(14, 1, diverse, real, d_feats(squeezed), d_feats(real)) == []
    events = suite.observe_epoch(28, 2, squeezed, real, d_feats(squeezed), d_feats(real))
    assert [e.evidence["rules"] for e in events] == [["low_diversity"]]


def test_bad_sample_batches_get_clear_errors(real: torch.Tensor) -> None:
    suite = MonitorSuite()
    with pytest.raises(ValueError, match="N x C x H x W"):
        suite.observe_epoch(0, 0, real[0], real)
    with pytest.raises(ValueError, match="at least 2"):
        suite.observe_epoch(0, 0, real[:1], real)
    with pytest.raises(ValueError, match="channels"):
        suite.observe_epoch(0, 0, real[:, :1], real)


def overfit_logits(epoch: int, seed: int, drift: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(64, generator=g) + drift * epoch, torch.randn(64, generator=g) - drift * epoch


def test_growing_train_holdout_gap_is_d_overfitting(real: torch.Tensor) -> None:
    suite = MonitorSuite()
    fake = make_sprites(64, 40)
    events = []
    for epoch in range(6):
        train, holdout = overfit_logits(epoch, seed=epoch, drift=0.4)
        events += suite.observe_epoch(
            14 * epoch, epoch, fake, real, d_logits_train=train, d_logits_holdout=holdout
        )
    assert summary(events) == [("d_overfitting", "warning", "started")]
    evidence = events[0].evidence
    assert evidence["gap"] > DetectorSettings().overfit_gap
    assert evidence["p_train"] > evidence["p_holdout"]
    assert evidence["rt_train"] > 0.5
    gaps = [g for _, g in evidence["gap_history"]]
    assert gaps == sorted(gaps) and len(gaps) == events[0].step // 14 + 1


def test_same_distribution_train_and_holdout_is_not_overfitting(real: torch.Tensor) -> None:
    suite = MonitorSuite()
    fake = make_sprites(64, 41)
    events = []
    for epoch in range(10):
        train, holdout = overfit_logits(epoch, seed=100 + epoch, drift=0.0)
        events += suite.observe_epoch(
            14 * epoch, epoch, fake, real, d_logits_train=train, d_logits_holdout=holdout
        )
    assert events == []


def test_overfit_stats_values() -> None:
    stats = overfit_stats(torch.tensor([2.0, 2.0, -2.0, 2.0]), torch.zeros(2, 2))
    assert stats.rt_train == pytest.approx(0.5)
    assert stats.rt_holdout == 0.0
    assert stats.p_holdout == pytest.approx(0.5)
    assert stats.p_train == pytest.approx(
        (3 * torch.sigmoid(torch.tensor(2.0)).item() + 0.1192029) / 4, rel=1e-5
    )
    assert stats.logit_gap == pytest.approx(1.0)
    with pytest.raises(ValueError, match="NaN"):
        overfit_stats(torch.tensor([math.nan]), torch.zeros(1))


def test_logits_for_only_one_side_are_refused(real: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="or neither"):
        MonitorSuite().observe_epoch(0, 0, real, real, d_logits_train=torch.zeros(4))


# Settings and state ----------------------------------------------------------------------------------------


def test_settings_refuse_inconsistent_thresholds_and_unknown_fields() -> None:
    with pytest.raises(ValueError, match="saturation_d_g_z must be below saturation_d_x"):
        DetectorSettings(saturation_d_x=0.01)
    with pytest.raises(ValueError, match="windw"):
        DetectorSettings(windw=10)
    assert MonitorSuite(DetectorSettings(window=5)).window.rows.maxlen == 5


def run_script(suite: MonitorSuite, script: list, real: torch.Tensor) -> list[TrainEvent]:
    events = []
    for item in script:
        if isinstance(item, IterationMetrics):
            events += suite.observe_iteration(item)
        else:
            step, epoch, fake = item
            events += suite.observe_epoch(step, epoch, fake, real)
    return events


def test_state_round_trip_through_a_weights_only_checkpoint(real: torch.Tensor) -> None:
    bad = collapsed(real[1], 32, seed=5)
    rows = healthy(0, 100) + segment(100, 200, seed=11, noise=0.01, **SATURATED)
    script: list = rows[:120] + [(120, 8, bad)] + rows[120:170] + [(170, 12, bad)]
    script += rows[170:] + [(300, 21, bad)]
    cut = 150  # mid-window, mid-episode for both the saturation and the collapse detector

    uninterrupted = run_script(MonitorSuite(NO_WARMUP), script, real)

    first = MonitorSuite(NO_WARMUP)
    before = run_script(first, script[:cut], real)
    state = first.state_dict()
    json.dumps(state)  # plain Python values only
    buffer = io.BytesIO()
    torch.save({"monitor": state}, buffer)
    buffer.seek(0)
    resumed = MonitorSuite(NO_WARMUP)
    resumed.load_state_dict(torch.load(buffer, weights_only=True)["monitor"])
    after = run_script(resumed, script[cut:], real)

    assert before + after == uninterrupted
    assert ("d_saturation", "error", "sustained") in summary(after)
    assert ("mode_collapse", "error", "sustained") in summary(after)
    whole = MonitorSuite(NO_WARMUP)
    run_script(whole, script, real)
    assert resumed.state_dict() == whole.state_dict()


def test_state_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        MonitorSuite().load_state_dict({"version": 99})
