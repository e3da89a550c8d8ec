"""A conditional run judged label by label: collapse per label at each epoch end, and the final C2ST,
diversity and collapse of each label's samples."""

from __future__ import annotations

from pathlib import Path

import torch

from models.config import TrainConfig
from models.monitoring import MonitorHook
from models.monitoring.per_label import LabelImages, judge_label, label_groups
from models.monitoring.settings import DetectorSettings
from models.monitoring.suite import MonitorSuite
from models.sink import ListSink
from models.store import RunDirStore
from models.train import train
from tests.models.conftest import TINY
from tests.models.labelled import coloured

PAST_WARMUP = 10_000  # a step after the collapse detector's warm-up


def _fire_and_water(n: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(real images, labels, samples, sample labels): Fire samples as varied as Fire images, every Water
    sample the same image."""
    images, labels = coloured(n, size=16)
    other, other_labels = coloured(n, size=16, seed=1)
    samples = other.float() / 127.5 - 1
    water = samples[other_labels == 1]
    samples[other_labels == 1] = water[:1].expand_as(water)
    return images, labels, samples, other_labels


def test_one_collapsed_label_is_named_while_the_other_passes() -> None:
    images, labels, samples, sample_labels = _fire_and_water()
    groups = label_groups(samples, sample_labels, images, labels, ("Fire", "Water"))
    assert set(groups) == {"Fire", "Water"} and len(groups["Water"].real) == 24
    suite = MonitorSuite(DetectorSettings())
    [event] = suite.observe_labels(PAST_WARMUP, groups)
    assert event.kind == "mode_collapse" and event.evidence["label"] == "Water"
    assert event.message.startswith("Mode collapse in label 'Water' started")

    restored = MonitorSuite(DetectorSettings())
    restored.load_state_dict(suite.state_dict())
    assert restored.state_dict() == suite.state_dict()
    assert restored.observe_labels(PAST_WARMUP + 1, groups) == []  # the open episode is not announced again


def test_a_label_with_too_few_images_is_not_judged_each_epoch() -> None:
    images, labels, samples, sample_labels = _fire_and_water(n=6)
    assert label_groups(samples, sample_labels, images, labels, ("Fire", "Water")) == {}


def test_the_final_judgement_per_label() -> None:
    images, labels, samples, sample_labels = _fire_and_water()
    settings = DetectorSettings()
    fire = judge_label(
        LabelImages(samples[sample_labels == 0], images[labels == 0], images[labels == 0][:4]), settings
    )
    water = judge_label(LabelImages(samples[sample_labels == 1], images[labels == 1]), settings)
    assert fire["collapsed"] is False and water["collapsed"] is True
    assert "near_duplicates" in water["collapse_rules"] and water["duplicate_fraction"] == 1.0
    assert fire["c2st_reference"] == "training"  # four held-back images are too few for k = 8
    assert 0.0 <= fire["c2st"] <= 1.0 and water["c2st"] > fire["c2st"]  # one repeated image is easy to catch
    tiny = judge_label(LabelImages(samples[:10], images[:3]), settings)
    assert tiny["c2st"] is None and "needs 12 real images" in tiny["c2st_note"]
    assert "too few" in tiny["diversity_note"]


def test_a_conditional_training_run_watches_every_label(tmp_path: Path) -> None:
    images, labels = coloured(12, size=16)
    config = TrainConfig(**TINY, conditional=True, label_names=("Fire", "Water"), holdout_fraction=0)
    hook = MonitorHook(ListSink())
    train(config, images, ListSink(), RunDirStore(tmp_path), labels=labels, hooks=[hook])
    assert set(hook.suite.label_collapse) == {"Fire", "Water"}
