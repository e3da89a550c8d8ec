"""Safe, flat, collision-free file names for raw images, whatever the source called them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath

MAX_STEM_CHARS = 80
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def slugify(text: str, fallback: str = "image") -> str:
    """ASCII, lower-case, [a-z0-9._-] only, no leading dots: 'Flabébé (Red)' -> 'flabebe-red'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("-", ascii_text.lower()).strip(".-_")
    return slug[:MAX_STEM_CHARS].rstrip(".-_") or fallback


def is_unsafe_member_path(name: str) -> bool:
    """True for archive member names that try to leave the extraction folder (absolute, drive, '..')."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised) or "\x00" in normalised:
        return True
    return ".." in PurePosixPath(normalised).parts


def member_stem(name: str) -> str:
    """The base name of a member path without its extension: 'a/b/Pikachu.PNG' -> 'Pikachu'."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base


class NameAllocator:
    """Hands out names unique in one folder (case-insensitively), suffixing -2, -3, ... on collisions."""

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self._taken = {name.lower() for name in existing}

    def allocate(self, stem: str, extension: str) -> str:
        base = slugify(stem)
        candidate, n = f"{base}{extension}", 1
        while candidate.lower() in self._taken:
            n += 1
            candidate = f"{base}-{n}{extension}"
        self._taken.add(candidate.lower())
        return candidate
