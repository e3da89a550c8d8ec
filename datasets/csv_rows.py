"""Reading a CSV of image URLs (e.g. the Kaggle Pokémon cards CSV): image_url, optional name and label."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from datasets.errors import DatasetError, DatasetTooLarge, UnsupportedSource
from datasets.limits import DatasetLimits, format_bytes
from datasets.report import SkippedItem

# The Kaggle Pokémon TCG CSV's card text, kept per image for the card text model (cards/metadata.py).
CARD_COLUMNS = ("hp", "types", "attacks", "flavorText")


@dataclass(frozen=True)
class CsvRow:
    row: int  # 1-based data row number (the header is row 0)
    url: str
    name: str | None = None
    label: str | None = None
    meta: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def display(self) -> str:
        return f"row {self.row} ({self.url})" if self.url else f"row {self.row}"


def read_csv_rows(csv_path: Path, limits: DatasetLimits) -> tuple[list[CsvRow], list[SkippedItem]]:
    """The rows worth downloading, and the rows skipped with why (empty, duplicate or non-http URL)."""
    if csv_path.stat().st_size > limits.max_upload_bytes:
        raise DatasetTooLarge(
            f"{csv_path.name} is larger than the {format_bytes(limits.max_upload_bytes)} limit."
        )
    rows: list[CsvRow] = []
    skipped: list[SkippedItem] = []
    seen: set[str] = set()
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            columns = _column_map(reader.fieldnames or [])
            for number, record in enumerate(reader, start=1):
                if number > limits.max_members:
                    raise DatasetTooLarge(f"{csv_path.name} has more than {limits.max_members:,} rows.")
                row = _to_row(number, record, columns)
                reason = _row_problem(row, seen)
                if reason:
                    skipped.append(SkippedItem(row.display, reason))
                else:
                    seen.add(row.url)
                    rows.append(row)
    except UnicodeDecodeError as error:
        raise UnsupportedSource(f"{csv_path.name} is not UTF-8 text.") from error
    except csv.Error as error:
        raise DatasetError(f"{csv_path.name} is not a valid CSV file: {error}.") from error
    return rows, skipped


def _column_map(fieldnames: list[str]) -> dict[str, str]:
    """Normalised column name -> the header cell as written; image_url is required."""
    columns = {name.strip().lower(): name for name in fieldnames if name}
    if "image_url" not in columns:
        raise UnsupportedSource("The CSV has no image_url column in its header row.")
    return columns


def _to_row(number: int, record: dict[str, str | None], columns: dict[str, str]) -> CsvRow:
    def cell(column: str) -> str | None:
        value = record.get(columns[column]) if column in columns else None
        return value.strip() if isinstance(value, str) and value.strip() else None

    meta = {column: value for column in CARD_COLUMNS if (value := cell(column.lower()))}
    return CsvRow(number, cell("image_url") or "", cell("name"), cell("label"), meta)


def _row_problem(row: CsvRow, seen: set[str]) -> str | None:
    if not row.url:
        return "empty image_url"
    if urlsplit(row.url).scheme.lower() not in ("http", "https"):
        return "only http and https URLs are allowed"
    if row.url in seen:
        return "duplicate URL"
    return None
