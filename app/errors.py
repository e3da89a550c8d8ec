"""Errors the CRUD layer raises with a human sentence; app.main maps each to its HTTP status."""

from __future__ import annotations

from collections.abc import Sequence


class AppError(ValueError):
    status_code = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class NotFoundError(AppError):
    status_code = 404


class ConflictError(AppError):
    status_code = 409


class TooLargeError(AppError):
    status_code = 413


class InvalidInputError(AppError):
    """A 422 naming the offending field, shaped like FastAPI's own validation errors."""

    status_code = 422

    def __init__(self, message: str, *, loc: Sequence[str | int] = ()) -> None:
        super().__init__(message)
        self.loc = tuple(loc)


class BusyError(AppError):
    status_code = 429


class UnavailableError(AppError):
    status_code = 503
