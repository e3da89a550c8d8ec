"""The installed pokegan version, stored in every checkpoint."""

from importlib.metadata import PackageNotFoundError, version


def pokegan_version() -> str:
    try:
        return version("pokegan")
    except PackageNotFoundError:
        return "0+unknown"
