"""Core tests use the worker tests' private, migrated back-end per test."""

from tests.worker.conftest import backend, session_factory, settings  # noqa: F401
