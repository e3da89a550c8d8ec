"""The class-consistency judge: a classifier trained on labelled real images scores samples per label."""

from __future__ import annotations

import pytest
import torch

from models.monitoring.class_consistency import class_consistency, held_out_split
from models.monitoring.features import ImageBatchError
from tests.models.labelled import coloured

NAMES = ["Fire", "Water"]


def test_samples_of_the_right_colour_are_consistent_and_swapped_ones_are_not() -> None:
    images, labels = coloured(20)  # red Fire, blue Water
    bank = {index: images[labels == index] for index in range(2)}

    def right(classes: torch.Tensor) -> torch.Tensor:
        return torch.stack([bank[int(c)][i % 20] for i, c in enumerate(classes)])

    def swapped(classes: torch.Tensor) -> torch.Tensor:
        return right(1 - classes)

    good = class_consistency(images, labels, NAMES, right, samples_per_label=16)
    assert good.held_out_accuracy == 1.0 and good.chance == 0.5 and good.held_out == 10
    assert good.per_label == {"Fire": 1.0, "Water": 1.0}
    assert class_consistency(images, labels, NAMES, swapped, samples_per_label=16).per_label == {
        "Fire": 0.0,
        "Water": 0.0,
    }


def test_labels_that_pixels_cannot_tell_apart_stay_near_chance() -> None:
    images, _ = coloured(40, names=("Fire",))  # one colour, labels at random
    labels = torch.randint(0, 2, (40,), generator=torch.Generator().manual_seed(1))
    result = class_consistency(images, labels, NAMES, lambda c: images[: len(c)], samples_per_label=8)
    assert result.held_out_accuracy <= 0.8


def test_the_split_holds_out_a_share_of_every_label() -> None:
    labels = torch.tensor([0] * 8 + [1] * 4)
    train, test = held_out_split(labels, 0.25, seed=0)
    assert sorted(labels[test].tolist()) == [0, 0, 1] and len(train) + len(test) == 12
    assert set(train.tolist()).isdisjoint(test.tolist())
    with pytest.raises(ImageBatchError, match="at least two images per label"):
        class_consistency(
            torch.zeros(3, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 1]), NAMES, lambda c: c
        )
