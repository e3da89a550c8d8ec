"""Class consistency of a conditional generator: does a "Fire" sample look like a Fire image?

A small CNN is trained to tell the labels apart on the labelled real images, its accuracy measured on real
images it did not train on (so one can see whether the labels can be learned from pixels at all), then it
labels samples drawn for each label: the share it gives the intended label is that label's consistency.
This is the "classification accuracy score" idea run the other way round (Ravuri & Vinyals 2019,
https://arxiv.org/abs/1905.10887, train on real, test on generated as in their baseline).

Runs on the CPU under a private seed (torch.random.fork_rng), so the training RNG is never moved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.monitoring.c2st import prepare_images
from models.monitoring.features import ImageBatchError

DEFAULT_PX = 32
DEFAULT_STEPS = 300
HELD_OUT_SHARE = 0.25
SAMPLES_PER_LABEL = 64
REPORT_FILE = "class_consistency.json"  # in the run folder, read by the run report


class LabelNet(nn.Module):
    """Three stride-2 convolutions, global average pooling, one logit per label."""

    def __init__(self, n_classes: int, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, 2, 1),
            nn.LeakyReLU(0.2),
            # state size. width x px/2 x px/2
            nn.Conv2d(width, width * 2, 3, 2, 1),
            nn.LeakyReLU(0.2),
            # state size. (width*2) x px/4 x px/4
            nn.Conv2d(width * 2, width * 4, 3, 2, 1),
            nn.LeakyReLU(0.2),
            # state size. (width*4) x px/8 x px/8
        )
        self.head = nn.Linear(width * 4, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).mean(dim=(2, 3)))


@dataclass(frozen=True)
class ClassConsistency:
    held_out_accuracy: float  # the classifier on real images it did not see
    chance: float  # the accuracy of always answering the most common label on those images
    held_out: int  # how many real images that accuracy is measured on
    per_label: dict[str, float]  # label -> share of its samples the classifier gives that label
    samples_per_label: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def held_out_split(labels: Tensor, share: float, seed: int) -> tuple[Tensor, Tensor]:
    """(train, test) indices with `share` of every label (at least one when it has two) in test."""
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_test = max(1, round(share * len(members))) if len(members) >= 2 else 0
        test.append(members[:n_test])
        train.append(members[n_test:])
    return torch.cat(train), torch.cat(test)


def train_label_classifier(
    images: Tensor,
    labels: Tensor,
    n_classes: int,
    *,
    steps: int = DEFAULT_STEPS,
    px: int = DEFAULT_PX,
    seed: int = 0,
) -> tuple[LabelNet, float, float, int]:
    """(classifier, held-out accuracy, chance accuracy, held-out count) from real images and labels."""
    if len(images) != len(labels) or len(images) < 2 * n_classes:
        raise ImageBatchError(
            f"a label classifier needs one label per image and at least two images per label; "
            f"got {len(images)} images and {len(labels)} labels for {n_classes} labels"
        )
    x = prepare_images(images, px, "real images")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        train_idx, test_idx = held_out_split(labels, HELD_OUT_SHARE, seed)
        net = LabelNet(n_classes)
        optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
        for _ in range(steps):
            optimiser.zero_grad(set_to_none=True)
            F.cross_entropy(net(x[train_idx]), labels[train_idx]).backward()
            optimiser.step()
    net.eval()
    with torch.no_grad():
        predicted = net(x[test_idx]).argmax(dim=1)
    truth = labels[test_idx]
    accuracy = (predicted == truth).float().mean().item() if len(test_idx) else float("nan")
    chance = truth.bincount(minlength=n_classes).max().item() / max(1, len(truth))
    return net, accuracy, chance, len(test_idx)


def class_consistency(
    images: Tensor,
    labels: Tensor,
    label_names: list[str],
    sample: Callable[[Tensor], Tensor],
    *,
    samples_per_label: int = SAMPLES_PER_LABEL,
    px: int = DEFAULT_PX,
    seed: int = 0,
) -> ClassConsistency:
    """Train the classifier on (images, labels), then judge `samples_per_label` samples of each label;
    sample(class indices) returns images for those classes (uint8, or floats in [-1, 1])."""
    net, accuracy, chance, held_out = train_label_classifier(
        images, labels, len(label_names), px=px, seed=seed
    )
    per_label = {}
    for index, name in enumerate(label_names):
        wanted = torch.full((samples_per_label,), index, dtype=torch.int64)
        with torch.no_grad():
            predicted = net(prepare_images(sample(wanted), px, f"{name} samples")).argmax(dim=1)
        per_label[name] = round((predicted == index).float().mean().item(), 4)
    return ClassConsistency(round(accuracy, 4), round(chance, 4), held_out, per_label, samples_per_label)


def save_report(run_dir: Path, report: dict[str, object]) -> None:
    tmp = run_dir / f".{REPORT_FILE}.tmp"
    tmp.write_text(json.dumps(report), encoding="utf-8")
    os.replace(tmp, run_dir / REPORT_FILE)


def read_report(run_dir: Path) -> dict | None:
    """The saved class consistency of a run, or None when it has none."""
    try:
        return json.loads((run_dir / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
