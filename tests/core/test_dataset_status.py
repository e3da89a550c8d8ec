"""The dataset status machine: the only writer of datasets.status, on a real migrated database."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.dataset_status import FAILED, IMPORTING, READY, InvalidDatasetTransition, can_transition, transition
from core.db.session import session_scope
from core.db.tables import Dataset


def new_dataset(session: Session, status: str) -> Dataset:
    dataset = Dataset(name="d", status=status, source_kind="csv", progress=0.25)
    session.add(dataset)
    session.flush()
    return dataset


def test_an_import_ends_ready_or_failed_and_a_failed_one_can_be_queued_again(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        dataset = new_dataset(session, IMPORTING)
        transition(session, dataset, FAILED, error="broker down")
        dataset_id = dataset.id
    with session_scope(session_factory) as session:
        dataset = session.get(Dataset, dataset_id)
        assert (dataset.status, dataset.error, dataset.progress) == (FAILED, "broker down", 1.0)
        transition(session, dataset, IMPORTING)
        assert dataset.error is None
        transition(session, dataset, READY)
    with session_scope(session_factory) as session:
        assert session.get(Dataset, dataset_id).status == READY


def test_a_ready_dataset_never_goes_back(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        dataset = new_dataset(session, READY)
        for new in (IMPORTING, FAILED, READY):
            with pytest.raises(InvalidDatasetTransition, match="is ready; it cannot become"):
                transition(session, dataset, new)
        assert dataset.status == READY


def test_allowed_moves() -> None:
    assert can_transition(IMPORTING, IMPORTING)  # paused by a shutdown, queued again
    assert can_transition(FAILED, IMPORTING)
    assert not can_transition(FAILED, READY)
    assert not can_transition("nonsense", READY)
