"""Natural order for file names, as a person reads them: 1, 2, 10, 100 (not 1, 10, 100, 2)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: runs of digits compare as numbers, the rest case-insensitively ("B2" before "b10")."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in _DIGITS.split(name))
