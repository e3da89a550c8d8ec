"""A conditional run's inputs: the labelled images of its dataset and their class indices."""

from __future__ import annotations

from pathlib import Path

import torch

from datasets.labels import label_indices, read_labels
from datasets.prepare import PreparedDataset
from models.config import TrainConfig
from models.errors import TrainingError


def training_inputs(
    dataset_dir: Path, prepared: PreparedDataset, config: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(images, labels): all images and None for an unconditional run; for a conditional one the images
    whose label is one of config.label_names, with the index of that label (unlabelled ones are left out)."""
    if not config.conditional:
        return prepared.images, None
    label_set = read_labels(dataset_dir)
    if label_set is None:
        raise TrainingError("the dataset has no labels any more; a conditional run cannot train on it")
    indices = label_indices(prepared.names, label_set.labels, list(config.label_names))
    keep = [i for i, index in enumerate(indices) if index >= 0]
    if len(keep) < config.batch_size:
        raise TrainingError(
            f"only {len(keep)} prepared images carry one of the run's labels "
            f"({', '.join(config.label_names)}), fewer than batch_size {config.batch_size}"
        )
    labels = torch.tensor([indices[i] for i in keep], dtype=torch.int64)
    return prepared.images[keep], labels
