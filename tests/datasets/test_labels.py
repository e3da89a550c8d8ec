"""Labels from folders, labels.csv and CSV columns: cleaning, limits and warnings (datasets.labels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datasets.labels import (
    MAX_LABELS,
    LabelError,
    build_label_set,
    first_value,
    label_indices,
    labels_from_csv_column,
    labels_from_import,
    labels_from_members,
    read_labels,
    write_labels,
)


def check(raw: dict[str, str], image_count: int | None = None, small_below: int = 1):
    count = len(raw) if image_count is None else image_count
    return build_label_set(raw, source="test", rule="r", image_count=count, small_below=small_below)


def test_folder_labels_skip_the_wrapper_folder_every_member_shares() -> None:
    members = {"a.png": "pokemon/Fire/a.png", "b.png": "pokemon/Water/b.png", "c.png": "pokemon/c.png"}
    assert labels_from_members(members) == {"a.png": "Fire", "b.png": "Water"}
    assert labels_from_members({"a.png": "a.png", "b.png": "b.png"}) == {}
    assert labels_from_members({"a.png": "x/a.png", "b.png": "x/b.png"}) == {}
    assert labels_from_members({"a.png": "Fire/deep/a.png", "b.png": "Grass\\b.png"}) == {
        "a.png": "Fire",
        "b.png": "Grass",
    }


def test_a_labels_csv_wins_over_folders_and_reports_rows_that_match_nothing() -> None:
    members = {"a.png": "set/Fire/a.png", "b.png": "set/Water/b.png", "c.png": "set/c.png"}
    table = b"file,label\nFire/a.png,Ember\nc.png,Ice\nmissing.png,Rock\n"
    label_set = labels_from_import(members, [("set/labels.csv", table)], image_count=3, small_below=1)
    assert label_set is not None
    assert label_set.labels == {"a.png": "Ember", "c.png": "Ice"}
    assert label_set.source == "labels.csv"
    assert "1 row(s) of labels.csv name no imported image" in label_set.warnings
    assert "1 image(s) have no label" in " ".join(label_set.warnings)
    with pytest.raises(LabelError, match="'file' and 'label'"):
        labels_from_import(
            members, [("labels.csv", b"name,type\na.png,Fire\n")], image_count=3, small_below=1
        )


def test_path_characters_are_replaced_and_said() -> None:
    label_set = check({"a.png": "../Fire", "b.png": "Fire/Flying", "c.png": " Water "})
    assert label_set.labels == {"a.png": "Fire", "b.png": "Fire-Flying", "c.png": "Water"}
    assert any("'Fire/Flying' was renamed 'Fire-Flying'" in w for w in label_set.warnings)
    assert any("'../Fire' was renamed 'Fire'" in w for w in label_set.warnings)


def test_too_many_labels_are_refused_with_the_limit() -> None:
    with pytest.raises(LabelError, match=f"1,000 distinct labels; at most {MAX_LABELS} are allowed"):
        check({f"{i}.png": f"kind-{i}" for i in range(1000)})
    assert len(check({f"{i}.png": f"kind-{i}" for i in range(MAX_LABELS)}).counts()) == MAX_LABELS


def test_one_label_and_small_labels_are_warned_about() -> None:
    same = check({"a.png": "Fire", "b.png": "Fire"})
    assert any("same label ('Fire')" in w for w in same.warnings)
    small = check({f"{i}.png": "Fire" if i < 5 else "Water" for i in range(7)}, small_below=4)
    assert small.counts() == {"Fire": 5, "Water": 2}
    assert any("1 label(s) have fewer images than a batch of 4: Water (2)" in w for w in small.warnings)
    with pytest.raises(LabelError, match="no image got a label"):
        check({"a.png": "  ", "b.png": ""})


def test_first_value_of_a_list_cell() -> None:
    assert first_value("['Fire', 'Flying']") == "Fire"
    assert first_value('["Water"]') == "Water"
    assert first_value("[Grass, Poison]") == "Grass"  # not a Python literal: split on commas
    assert first_value("[]") == ""
    assert first_value("Psychic") == "Psychic"
    assert first_value("__import__('os')") == "__import__('os')"  # never evaluated


def test_csv_column_labels_join_by_url_and_name_the_columns_when_missing(tmp_path: Path) -> None:
    csv_path = tmp_path / "source.csv"
    csv_path.write_text(
        "name,image_url,types\na,http://h/a.png,\"['Fire', 'Flying']\"\nb,http://h/b.png,['Water']\n"
        "c,http://h/c.png,Water\n",
        encoding="utf-8",
    )
    files = {"http://h/a.png": "00001-a.png", "http://h/b.png": "00002-b.png"}
    label_set = labels_from_csv_column(csv_path, "Types", files, image_count=2, small_below=1)
    assert label_set.labels == {"00001-a.png": "Fire", "00002-b.png": "Water"}
    assert "['Fire', 'Flying']" in label_set.rule and label_set.source == "column 'types'"
    with pytest.raises(LabelError, match="no column 'kind'; its columns are name, image_url, types"):
        labels_from_csv_column(csv_path, "kind", files, image_count=2, small_below=1)


def test_labels_round_trip_and_index_augmented_copies(tmp_path: Path) -> None:
    label_set = check({"a.png": "Water", "b.png": "Fire"}, image_count=3)
    write_labels(tmp_path, label_set)
    back = read_labels(tmp_path)
    assert back == label_set and back.names == ["Fire", "Water"] and back.unlabelled == 1
    assert label_indices(["a.png", "b.png#aug1", "c.png"], back.labels, back.names) == [1, 0, -1]
    assert read_labels(tmp_path / "none") is None
