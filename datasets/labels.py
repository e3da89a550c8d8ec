"""Per-image class labels of a dataset: where they come from, how they are checked, where they are kept.

Labels come from the folder an image sat in inside an archive or server folder (`Fire/charmander.png`), from
a `labels.csv` (`file,label`) inside the archive, or from a chosen column of an imported CSV. They live in
<dataset>/labels.json keyed by the image's file name in raw/, so relabelling never touches raw/ or the
prepared-tensor cache. Every check runs before anything is written: a refusal leaves the stored labels as
they were.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from datasets.errors import DatasetError
from models.config import UNLABELLED_LABEL

LABELS_FILE = "labels.json"
LABELS_CSV = "labels.csv"
MAX_LABELS = 100  # a class embedding per label; beyond this the labels are names, not classes
MAX_LABEL_CHARS = 40
MAX_LABELS_CSV_BYTES = 4 * 1024 * 1024
MULTI_VALUE_RULE = "a cell holding a list such as ['Fire', 'Flying'] gives its first value (Fire)"
_PATH_CHARS = re.compile(r"[/\\:\x00-\x1f\x7f]+")


class LabelError(DatasetError):
    """Labels that cannot be used (too many, none at all, a column that does not exist)."""


@dataclass
class LabelSet:
    source: str  # "folders", "labels.csv" or "column 'types'"
    rule: str  # how a label was read, in a sentence the dataset page shows
    labels: dict[str, str]  # raw file name -> label
    image_count: int  # images in the dataset, labelled or not
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Label -> images, most common first (ties by name)."""
        counted = Counter(self.labels.values())
        return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))

    @property
    def names(self) -> list[str]:
        """The label names in a fixed order (sorted), which is also the class index order."""
        return sorted(set(self.labels.values()))

    @property
    def unlabelled(self) -> int:
        return self.image_count - len(self.labels)

    def stats(self) -> dict[str, object]:
        """What the dataset row keeps in its stats (the page and GET /api/datasets/{id} read these)."""
        return {
            "labels": self.counts(),
            "unlabelled": self.unlabelled,
            "label_source": self.source,
            "label_rule": self.rule,
            "label_warnings": list(self.warnings),
        }


NO_LABEL_STATS: dict[str, object] = {
    "labels": {},
    "unlabelled": None,
    "label_source": None,
    "label_rule": None,
    "label_warnings": [],
}


def clean_label(raw: str) -> tuple[str | None, str | None]:
    """(label, warning): whitespace trimmed; path characters (/ \\ : control) become '-', leading dots go.

    Labels are names, never paths; a renamed label is said in the warning. Empty cells give (None, None).
    """
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        return None, None
    parts = [part.strip() for part in _PATH_CHARS.split(text) if part.strip() not in ("", ".", "..")]
    cleaned = "-".join(parts).lstrip(".").strip()[:MAX_LABEL_CHARS].strip()
    if not cleaned:
        return None, f"label {raw!r} has no usable characters (path characters are not allowed); left out"
    if cleaned == UNLABELLED_LABEL:
        return (
            None,
            f"label {raw!r} is the name kept for images without a label; those images count as unlabelled",
        )
    if cleaned != text:
        return cleaned, (
            f"label {raw!r} was renamed {cleaned!r} (labels may not hold path characters / \\ : or "
            f"leading dots, and are cut at {MAX_LABEL_CHARS} characters)"
        )
    return cleaned, None


def build_label_set(
    raw_labels: dict[str, str], *, source: str, rule: str, image_count: int, small_below: int
) -> LabelSet:
    """Clean and check labels (file name -> label as found); LabelError when they cannot be used.

    Warnings (kept, shown to the user): renamed labels, one label only, labels with fewer than
    `small_below` images (a batch), images without a label.
    """
    warnings: list[str] = []
    labels: dict[str, str] = {}
    for name, raw in raw_labels.items():
        label, warning = clean_label(raw)
        if warning and warning not in warnings:
            warnings.append(warning)
        if label is not None:
            labels[name] = label
    if not labels:
        raise LabelError(f"no image got a label from {source}")
    label_set = LabelSet(source, rule, labels, image_count, warnings)
    counts = label_set.counts()
    if len(counts) > MAX_LABELS:
        raise LabelError(
            f"{source} gives {len(counts):,} distinct labels; at most {MAX_LABELS} are allowed "
            "(a conditional GAN learns one class per label; pick a column with fewer values)"
        )
    if len(counts) == 1:
        warnings.append(
            f"every labelled image has the same label ({next(iter(counts))!r}): nothing to condition on"
        )
    small = [f"{name} ({n})" for name, n in counts.items() if n < small_below]
    if small:
        warnings.append(
            f"{len(small)} label(s) have fewer images than a batch of {small_below}: {', '.join(small[:10])}"
        )
    if label_set.unlabelled:
        warnings.append(
            f"{label_set.unlabelled} image(s) have no label; conditional runs leave them out "
            "unless they keep them (keep_unlabelled) as a label of their own"
        )
    return label_set


def is_labels_table(member: str) -> bool:
    """True for a member named labels.csv (any folder, any case)."""
    return PurePosixPath(member.replace("\\", "/")).name.lower() == LABELS_CSV


def labels_from_members(members: dict[str, str]) -> dict[str, str]:
    """raw file name -> the folder it sat in, below the folders every member shares.

    `members` maps raw names to the paths inside the archive or server folder. A zip whose images all sit
    under one wrapper folder (`pokemon/Fire/a.png`, `pokemon/Water/b.png`) labels by the next level;
    images at that top level get no label.
    """
    parents = {name: PurePosixPath(path.replace("\\", "/")).parent.parts for name, path in members.items()}
    if not parents:
        return {}
    shared = 0
    shortest = min(len(parts) for parts in parents.values())
    first = next(iter(parents.values()))
    while shared < shortest and all(parts[shared] == first[shared] for parts in parents.values()):
        shared += 1
    return {name: parts[shared] for name, parts in parents.items() if len(parts) > shared}


def parse_labels_csv(data: bytes, where: str = LABELS_CSV) -> dict[str, str]:
    """file -> label from a `file,label` CSV (header required, UTF-8); LabelError when it is unusable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LabelError(f"{where} is not UTF-8 text") from error
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or [] if name}
    if "file" not in columns or "label" not in columns:
        found = ", ".join(columns) or "none"
        raise LabelError(f"{where} needs a header row with 'file' and 'label' columns (found: {found})")
    table: dict[str, str] = {}
    try:
        for record in reader:
            key = (record.get(columns["file"]) or "").strip().replace("\\", "/")
            if key:
                table[key] = record.get(columns["label"]) or ""
    except csv.Error as error:
        raise LabelError(f"{where} is not a valid CSV file: {error}") from error
    return table


def labels_from_table(members: dict[str, str], table: dict[str, str], table_dir: str = "") -> dict[str, str]:
    """raw file name -> label for each member the table names, by its path (relative to the table's
    folder) or, failing that, its base name."""
    by_base = {PurePosixPath(key).name: label for key, label in table.items()}
    labels: dict[str, str] = {}
    for name, path in members.items():
        member = path.replace("\\", "/")
        relative = (
            member[len(table_dir) + 1 :] if table_dir and member.startswith(table_dir + "/") else member
        )
        label = table.get(relative, table.get(member, by_base.get(PurePosixPath(member).name)))
        if label is not None:
            labels[name] = label
    return labels


def labels_from_import(
    members: dict[str, str], tables: list[tuple[str, bytes]], *, image_count: int, small_below: int
) -> LabelSet | None:
    """The labels an archive or folder import carries: its labels.csv if it has one, else its folders;
    None when it has neither (all images in one folder)."""
    if len(tables) > 1:
        raise LabelError(f"the upload has {len(tables)} {LABELS_CSV} files; keep one")
    if tables:
        where, data = tables[0]
        table = parse_labels_csv(data, where)
        table_dir = str(PurePosixPath(where.replace("\\", "/")).parent).removeprefix(".")
        raw = labels_from_table(members, table, table_dir)
        label_set = build_label_set(
            raw,
            source=LABELS_CSV,
            rule=f"each image's label is the 'label' cell of its row in {LABELS_CSV} (matched by 'file')",
            image_count=image_count,
            small_below=small_below,
        )
        unmatched = len(table) - len(raw)
        if unmatched > 0:
            label_set.warnings.append(f"{unmatched} row(s) of {LABELS_CSV} name no imported image")
        return label_set
    raw = labels_from_members(members)
    if not raw:
        return None
    return build_label_set(
        raw,
        source="folders",
        rule="each image's label is the name of the folder it was in (Fire/charmander.png -> Fire)",
        image_count=image_count,
        small_below=small_below,
    )


def first_value(cell: str) -> str:
    """A list-shaped cell's first value ("['Fire', 'Flying']" -> 'Fire'); any other cell as it is."""
    text = cell.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            values = ast.literal_eval(text)  # literals only: never evaluates code
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            values = [part.strip(" '\"") for part in text[1:-1].split(",")]
        if isinstance(values, list | tuple):
            return str(values[0]).strip() if values else ""
    return text


def labels_from_csv_column(
    csv_path: Path, column: str, url_to_file: dict[str, str], *, image_count: int, small_below: int
) -> LabelSet:
    """Labels from one column of the CSV a dataset was imported from, joined by image_url to the files the
    import downloaded (url_to_file); LabelError naming the columns when `column` is not one of them."""
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [name for name in reader.fieldnames or [] if name]
        by_name = {name.strip().lower(): name for name in header}
        wanted = by_name.get(column.strip().lower())
        if wanted is None:
            raise LabelError(f"the CSV has no column {column!r}; its columns are {', '.join(header)}")
        url_column = by_name.get("image_url")
        raw: dict[str, str] = {}
        for record in reader:
            url = (record.get(url_column) or "").strip() if url_column else ""
            file = url_to_file.get(url)
            if file:
                raw[file] = first_value(record.get(wanted) or "")
    return build_label_set(
        raw,
        source=f"column {wanted!r}",
        rule=f"each image's label is its row's {wanted!r} cell; {MULTI_VALUE_RULE}",
        image_count=image_count,
        small_below=small_below,
    )


def write_labels(dataset_root: Path, label_set: LabelSet) -> None:
    """Replace the dataset's labels.json atomically (a reader never sees half a file)."""
    path = dataset_root / LABELS_FILE
    tmp = path.with_name(f".{LABELS_FILE}.tmp")
    tmp.write_text(json.dumps(asdict(label_set), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_labels(dataset_root: Path) -> LabelSet | None:
    """The dataset's labels, or None when it has none (or the file is unreadable)."""
    path = dataset_root / LABELS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LabelSet(
            str(data["source"]),
            str(data["rule"]),
            {str(k): str(v) for k, v in data["labels"].items()},
            int(data["image_count"]),
            [str(w) for w in data.get("warnings", [])],
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remove_labels(dataset_root: Path) -> None:
    (dataset_root / LABELS_FILE).unlink(missing_ok=True)


def label_indices(image_names: list[str], labels: dict[str, str], label_names: list[str]) -> list[int]:
    """Class index per prepared image (augmented copies "<name>#aug<k>" share their source's label);
    -1 where the image has a label outside label_names, or none (unless label_names has UNLABELLED_LABEL:
    a run that keeps the unlabelled images)."""
    index = {name: i for i, name in enumerate(label_names)}
    return [index.get(labels.get(name.split("#aug", 1)[0], UNLABELLED_LABEL), -1) for name in image_names]
