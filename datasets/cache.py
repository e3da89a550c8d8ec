"""Prepared tensors cached per options: decode the images once, load them in milliseconds afterwards.

cache/prepared-<key>.pt holds {"images": uint8 tensor} (loadable with weights_only=True) and
cache/prepared-<key>.json the options, names, stats and a fingerprint of raw/ when it was made.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from datasets.layout import DatasetPaths, list_raw_images
from datasets.limits import DatasetLimits
from datasets.options import PrepareOptions
from datasets.prepare import PreparedDataset, PrepareStats, prepare_dataset


def cache_path(dataset_dir: Path, options: PrepareOptions) -> Path:
    """The tensor file for these options; the JSON sidecar has the same name with .json."""
    return DatasetPaths(dataset_dir).cache / f"prepared-{options.cache_key()}.pt"


def load_or_prepare(
    dataset_dir: Path,
    options: PrepareOptions,
    *,
    limits: DatasetLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> PreparedDataset:
    """The cached preparation when raw/ has not changed since (or is gone), else prepare and cache it."""
    cached = load_cached(dataset_dir, options)
    if cached is not None:
        return cached
    prepared = prepare_dataset(
        DatasetPaths(dataset_dir).raw, options, limits=limits, progress=progress, workers=workers
    )
    _save(dataset_dir, prepared)
    return prepared


def load_cached(dataset_dir: Path, options: PrepareOptions) -> PreparedDataset | None:
    """The cached preparation, or None when there is none or raw/ changed after it was made."""
    tensor_path = cache_path(dataset_dir, options)
    meta_path = tensor_path.with_suffix(".json")
    if not (tensor_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        fingerprint = raw_fingerprint(DatasetPaths(dataset_dir).raw)
        # A missing raw/ (deleted to save space) is not a change: the cache is all there is.
        if fingerprint is not None and fingerprint != meta["raw_fingerprint"]:
            return None
        images = torch.load(tensor_path, map_location="cpu", weights_only=True)["images"]
        return PreparedDataset(images, meta["names"], PrepareStats.from_json(meta["stats"]), options)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None  # unreadable or from an older layout: prepare again


def clear_cache(dataset_dir: Path) -> None:
    """Forget every prepared tensor of the dataset (e.g. after adding images)."""
    shutil.rmtree(DatasetPaths(dataset_dir).cache, ignore_errors=True)


def raw_fingerprint(raw_dir: Path) -> str | None:
    """A hash of the names, sizes and modification times in raw/; None when raw/ holds no image."""
    paths = list_raw_images(raw_dir)
    if not paths:
        return None
    digest = hashlib.sha256()
    for path in paths:
        info = path.stat()
        digest.update(f"{path.name}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _save(dataset_dir: Path, prepared: PreparedDataset) -> None:
    tensor_path = cache_path(dataset_dir, prepared.options)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "options": prepared.options.model_dump(mode="json"),
        "names": prepared.names,
        "stats": prepared.stats.to_json(),
        "raw_fingerprint": raw_fingerprint(DatasetPaths(dataset_dir).raw),
    }
    # Write both under temporary names, then rename: a reader never sees half a cache.
    tensor_tmp = tensor_path.with_name(f".{tensor_path.name}.tmp")
    meta_tmp = tensor_path.with_name(f".{tensor_path.stem}.json.tmp")
    torch.save({"images": prepared.images}, tensor_tmp)
    meta_tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(meta_tmp, tensor_path.with_suffix(".json"))
    os.replace(tensor_tmp, tensor_path)
