"""Errors the dataset layer raises: each carries a sentence a user can act on."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset source or operation was refused; str(error) is a human sentence."""


class UnsupportedSource(DatasetError):
    """The file is not an archive, CSV or image we can read."""


class DatasetTooLarge(DatasetError):
    """A size, member-count or pixel limit was exceeded."""


class NoImagesFound(DatasetError):
    """The source held no usable image; `skipped` says what was found instead."""

    def __init__(self, message: str, skipped: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.skipped = list(skipped or [])


class FolderNotAllowed(DatasetError):
    """A server folder outside the configured import roots."""


class UrlRefused(DatasetError):
    """A URL with a forbidden scheme, host or address."""


class ImageRejected(DatasetError):
    """One image could not be decoded; `reason` is a short category for reports."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
