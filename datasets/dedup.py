"""Choosing which images to keep when some are duplicates: the first (by name) of each group wins."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def exact_duplicates(pixels: Sequence[np.ndarray]) -> dict[int, int]:
    """index of a dropped image -> index of the identical image kept (same prepared pixels)."""
    first_seen: dict[bytes, int] = {}
    dropped: dict[int, int] = {}
    for index, array in enumerate(pixels):
        digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).digest()
        if digest in first_seen:
            dropped[index] = first_seen[digest]
        else:
            first_seen[digest] = index
    return dropped


def near_duplicates(hashes: Sequence[int], threshold: int) -> dict[int, int]:
    """index of a dropped image -> index of a kept image whose 64-bit hash is within `threshold` bits."""
    kept_hashes = np.zeros(len(hashes), dtype=np.uint64)
    kept_indices: list[int] = []
    dropped: dict[int, int] = {}
    for index, value in enumerate(hashes):
        if kept_indices:
            distances = hamming(kept_hashes[: len(kept_indices)], value)
            closest = int(distances.argmin())
            if distances[closest] <= threshold:
                dropped[index] = kept_indices[closest]
                continue
        kept_hashes[len(kept_indices)] = value
        kept_indices.append(index)
    return dropped


def hamming(hashes: np.ndarray, value: int) -> np.ndarray:
    """Bit differences between each uint64 in `hashes` and `value`."""
    xor = np.bitwise_xor(hashes, np.uint64(value))
    return _POPCOUNT[xor.view(np.uint8)].reshape(-1, 8).sum(axis=1)
