"""Min/max bucket downsampling of metric series, so a 100k-step run charts from a few thousand rows.

Algorithm: split the rows (ordered by step) into B consecutive buckets of equal row count, with
B = max_points // (2 * S) for S series. In each bucket keep, for every series, the row holding its minimum
and the row holding its maximum, then return the union of those rows in step order. Each bucket keeps at
most 2*S rows, so the result has at most max_points rows; every kept row is a real step (all its values
come from that step), and every bucket's extremes survive, so spikes never disappear from the chart.
A NaN counts as an extreme (numpy's argmin/argmax return it first) so divergence stays visible.
"""

from __future__ import annotations

import math

import numpy as np


def minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted row indices to keep from `values` (rows x series) so at most `max_points` rows remain."""
    n_rows, n_series = values.shape
    if n_rows <= max_points:
        return np.arange(n_rows)
    if max_points < 2 * n_series:
        raise ValueError(f"max_points must be at least {2 * n_series} to keep each series' min and max")
    buckets = max_points // (2 * n_series)
    size = math.ceil(n_rows / buckets)
    buckets = math.ceil(n_rows / size)  # the last bucket may be short; none is empty
    padded_rows = buckets * size
    low = np.full((padded_rows, n_series), np.inf)
    high = np.full((padded_rows, n_series), -np.inf)
    low[:n_rows] = values
    high[:n_rows] = values
    offsets = (np.arange(buckets) * size)[:, None]
    mins = low.reshape(buckets, size, n_series).argmin(axis=1) + offsets
    maxs = high.reshape(buckets, size, n_series).argmax(axis=1) + offsets
    return np.unique(np.concatenate([mins.ravel(), maxs.ravel()]))
