"""The text model for a run's cards: trained on its dataset's card metadata (kept by the CSV importer),
built in when the dataset has none."""

from __future__ import annotations

from cards import TextModel, read_records
from core.settings import Settings
from datasets.csv_import import METADATA_FILE
from datasets.layout import DatasetPaths


def text_model(settings: Settings, *, dataset_id: int) -> TextModel:
    path = DatasetPaths(settings.dataset_dir(dataset_id)).raw / METADATA_FILE
    records = read_records(path) if path.is_file() else []
    return TextModel(records, dataset=f"dataset #{dataset_id}")
