"""A dataset's class labels: read from an import, set from a CSV column, cleared, read back per label.

The labels themselves live in <dataset>/labels.json (datasets.labels); the row's stats keep the counts,
the rule and the warnings, so lists and pages need no file access. A refusal changes neither.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.crud.datasets import effective_image_count
from app.errors import ConflictError, InvalidInputError
from core.dataset_status import READY
from core.db.tables import Dataset
from core.settings import Settings
from datasets.csv_import import read_import_state
from datasets.labels import (
    NO_LABEL_STATS,
    LabelError,
    LabelSet,
    labels_from_csv_column,
    labels_from_import,
    read_labels,
    remove_labels,
    write_labels,
)
from datasets.layout import CSV_SOURCE_NAME, DatasetPaths, list_raw_images
from datasets.report import IngestReport
from models.config import UNLABELLED_LABEL, TrainConfig

PREVIEW_PER_LABEL = 8


def small_label_threshold() -> int:
    """A label with fewer images than the default batch is warned about."""
    return int(TrainConfig.model_fields["batch_size"].default)


def label_import(report: IngestReport, dataset_root: Path, image_count: int) -> dict[str, object]:
    """Write the labels an archive or folder import carries (its labels.csv, else its folders) and return
    the stats for the row; LabelError (a DatasetError) refuses the import."""
    label_set = labels_from_import(
        report.members, report.label_tables, image_count=image_count, small_below=small_label_threshold()
    )
    if label_set is None:
        return dict(NO_LABEL_STATS)
    write_labels(dataset_root, label_set)
    return label_set.stats()


def set_labels_from_column(session: Session, *, settings: Settings, dataset: Dataset, column: str) -> Dataset:
    """Label a CSV dataset by one of its CSV's columns (list cells give their first value)."""
    root = settings.dataset_dir(dataset.id)
    csv_path = root / CSV_SOURCE_NAME
    if dataset.source_kind != "csv" or not csv_path.is_file():
        raise InvalidInputError(
            f"dataset {dataset.id} was not imported from a CSV, so it has no columns to label by; "
            "its labels come from folder names or a labels.csv in the archive",
            loc=("body", "column"),
        )
    if dataset.status != READY:
        raise ConflictError(f"dataset {dataset.id} is {dataset.status}; label it once its import is done")
    raw = DatasetPaths(root).raw
    url_to_file = {url: entry["file"] for url, entry in read_import_state(raw).items() if entry["file"]}
    try:
        label_set = labels_from_csv_column(
            csv_path,
            column,
            url_to_file,
            image_count=len(list_raw_images(raw)),
            small_below=small_label_threshold(),
        )
    except LabelError as exc:
        raise InvalidInputError(str(exc), loc=("body", "column")) from exc
    write_labels(root, label_set)
    dataset.stats = {**(dataset.stats or {}), **label_set.stats()}
    session.commit()
    return dataset


def clear_labels(session: Session, *, settings: Settings, dataset: Dataset) -> Dataset:
    remove_labels(settings.dataset_dir(dataset.id))
    dataset.stats = {**(dataset.stats or {}), **NO_LABEL_STATS}
    session.commit()
    return dataset


def dataset_labels(settings: Settings, dataset: Dataset) -> LabelSet | None:
    return read_labels(settings.dataset_dir(dataset.id))


def label_counts(dataset: Dataset) -> dict[str, int]:
    return dict((dataset.stats or {}).get("labels") or {})


def unlabelled_count(dataset: Dataset) -> int:
    return int((dataset.stats or {}).get("unlabelled") or 0)


def preview_rows(
    settings: Settings, dataset: Dataset, *, per_label: int = PREVIEW_PER_LABEL
) -> dict[str, list[str]]:
    """label -> thumbnail file names of its first images, for the dataset page's row per label."""
    from datasets.preview import thumbnail_name  # datasets.preview loads torch; pages need it anyway

    label_set = dataset_labels(settings, dataset)
    if label_set is None:
        return {}
    rows: dict[str, list[str]] = {name: [] for name in label_set.counts()}
    for raw_name, label in sorted(label_set.labels.items()):
        if len(rows[label]) < per_label:
            rows[label].append(thumbnail_name(raw_name))
    return rows


def csv_columns(settings: Settings, dataset: Dataset) -> list[str]:
    """The header of a CSV dataset's CSV (the columns it can be labelled by); [] for other datasets."""
    csv_path = settings.dataset_dir(dataset.id) / CSV_SOURCE_NAME
    if dataset.source_kind != "csv" or not csv_path.is_file():
        return []
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f), [])
    return [name for name in header if name.strip() and name.strip().lower() != "image_url"]


def with_label_names(dataset: Dataset, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The config overrides of a new run, with label_names set from the dataset when the run is
    conditional; InvalidInputError (422) when it is and the dataset has fewer than two labels. Given
    label_names (a listed preset's full config, a clone) must be empty or the dataset's own."""
    overrides = dict(overrides)
    given = overrides.pop("label_names", None)
    if given and list(given) not in (
        sorted(label_counts(dataset)),
        [*sorted(label_counts(dataset)), UNLABELLED_LABEL],
    ):
        raise InvalidInputError(
            "label_names are set from the dataset's labels; leave them out",
            loc=("body", "config", "label_names"),
        )
    conditional, keep_unlabelled = overrides.get("conditional"), overrides.get("keep_unlabelled")
    if preset and (conditional is None or keep_unlabelled is None):
        from models.presets import apply_preset

        try:
            base = apply_preset(preset, {})
        except ValueError:
            return overrides  # build_config names the unknown preset
        conditional = base.conditional if conditional is None else conditional
        keep_unlabelled = base.keep_unlabelled if keep_unlabelled is None else keep_unlabelled
    if not conditional:
        return overrides
    names = sorted(label_counts(dataset))
    if len(names) < 2:
        found = f"only the label {names[0]!r}" if names else "no labels"
        raise InvalidInputError(
            f"a conditional run needs a dataset with at least two labels; dataset '{dataset.name}' has "
            f"{found}. Import it with one folder per label or a labels.csv, "
            "or label a CSV dataset by a column",
            loc=("body", "config", "conditional"),
        )
    if keep_unlabelled and unlabelled_count(dataset):
        names.append(UNLABELLED_LABEL)
    return {**overrides, "label_names": names}


def training_image_count(dataset: Dataset, config: TrainConfig) -> int:
    """Images per epoch before deduplication: a conditional run leaves out the unlabelled ones."""
    if not config.conditional:
        return effective_image_count(dataset)
    counts = {**label_counts(dataset), UNLABELLED_LABEL: unlabelled_count(dataset)}
    labelled = sum(counts.get(name, 0) for name in config.label_names)
    return labelled * int((dataset.prepare or {}).get("augment_factor", 1) or 1)


def run_labels(session: Session, run_id: int) -> tuple[list[str], dict[str, int]]:
    """A run's label names (empty when it is not conditional) and its dataset's count of each."""
    from app.crud.runs import get_run

    run = get_run(session, run_id=run_id)
    names = list((run.config or {}).get("label_names") or []) if (run.config or {}).get("conditional") else []
    counts = {}
    if run.dataset is not None and names:
        counts = {**label_counts(run.dataset), UNLABELLED_LABEL: unlabelled_count(run.dataset)}
    return names, counts
