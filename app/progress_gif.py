"""An animated GIF of a run's fixed-noise grids across epochs (the 'watch it learn' download)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image


def build_progress_gif(grid_paths: Sequence[Path], dest: Path, *, frame_ms: int = 400) -> Path:
    """Write the grids, in order, as a looping GIF at `dest`; the last frame is held longer."""
    if not grid_paths:
        raise ValueError("there are no epoch grids yet to animate")
    frames = [np.asarray(Image.open(path).convert("RGB")) for path in grid_paths]
    height, width = frames[0].shape[:2]
    frames = [f if f.shape[:2] == (height, width) else _resize(f, width, height) for f in frames]
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".gif.tmp")
    iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=durations, loop=0)
    tmp.replace(dest)
    return dest


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.NEAREST))
