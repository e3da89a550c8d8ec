"""What an import did: how many images it accepted and what it skipped, with reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from datasets.kinds import SourceKind

if TYPE_CHECKING:
    from datasets.csv_rows import CsvRow


class SkippedItem(NamedTuple):
    name: str
    reason: str


@dataclass
class IngestReport:
    kind: SourceKind
    accepted: int = 0  # images written to raw/ by this call
    files: list[str] = field(default_factory=list)  # their names in raw/
    skipped: list[SkippedItem] = field(default_factory=list)
    rows: list[CsvRow] = field(default_factory=list)  # CSV only: the rows to download
    already_present: int = 0  # CSV only: rows a previous, interrupted import already downloaded
    aborted: bool = False  # CSV only: should_abort stopped it early; call again to resume
    members: dict[str, str] = field(default_factory=dict)  # raw name -> path in the archive or folder
    label_tables: list[tuple[str, bytes]] = field(default_factory=list)  # labels.csv files found

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(item.reason for item in self.skipped))


def summarise_skipped(skipped: list[SkippedItem]) -> str:
    """'3 skipped: 2 not an image, 1 symlink'"""
    if not skipped:
        return "nothing was found"
    counts = Counter(item.reason for item in skipped)
    details = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
    return f"{len(skipped)} skipped: {details}"
