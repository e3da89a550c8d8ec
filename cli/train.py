"""`pokegan train DATA [--preset NAME] [--set key=value ...] [--out RUN_DIR] [--resume]`: train from a shell.

DATA (a folder, .zip or .tar[.gz] of images) is ingested into RUN_DIR/dataset/ and prepared once at the
config's size (cached there). The loop writes config.json, metrics.jsonl, grids and checkpoints to RUN_DIR.
Ctrl-C stops after the current iteration with a checkpoint saved; the same command plus --resume continues.
Heavy imports (torch, the dataset library) happen inside run() so `pokegan serve` starts fast.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from cli.usage import EXIT_BAD_INPUT, UsageError
from models.presets import PRESETS

if TYPE_CHECKING:
    import torch

    from models.config import TrainConfig
    from models.train import Progress

DEFAULT_PRESET = "recommended"
EXIT_CANCELLED = 130  # the shell's convention for "ended by Ctrl-C"
SMALL_LABEL = 32  # a label with fewer images than the default batch is warned about


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "train",
        help="train a GAN on a folder or archive of images",
        description="Train a GAN on a folder, .zip or .tar(.gz) of images; artifacts go to RUN_DIR.",
    )
    parser.add_argument("data", type=Path, metavar="DATA", help="a folder, .zip or .tar(.gz) of images")
    parser.add_argument(
        "--preset",
        metavar="NAME",
        help=f"named starting config, one of: {', '.join(PRESETS)} (default {DEFAULT_PRESET}; with --resume, "
        "the run's saved config.json); `pokegan presets` describes them",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        nargs="+",
        action="extend",
        default=[],
        help="override config fields, e.g. --set epochs=50 lr_g=1e-4 (values are read as JSON, else text)",
    )
    parser.add_argument("--out", type=Path, help="run directory (default runs/<DATA name>-<preset>)")
    parser.add_argument("--resume", action="store_true", help="continue RUN_DIR's run from its checkpoint")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _train(args)
    except UsageError as exc:
        print(f"pokegan train: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("pokegan train: interrupted", file=sys.stderr)
        return EXIT_CANCELLED


def _train(args: argparse.Namespace) -> int:
    from models.errors import TrainingError
    from models.sink import JsonlSink
    from models.store import RunDirStore
    from models.train import train
    from models.training_state import check_resume_config

    overrides = parse_overrides(args.overrides)
    data_path = _existing(args.data)
    run_dir = args.out or Path("runs") / f"{data_path.stem}-{args.preset or DEFAULT_PRESET}"
    saved = checkpoint_config(run_dir) if args.resume else None
    if not args.resume:
        _refuse_existing_run(run_dir)
    dataset_dir = run_dir / "dataset"
    if not args.resume and _conditional(args.preset, overrides):
        # every other option is checked before any work; the label names come from the data below
        build_config(args.preset, {**overrides, "label_names": ["label 1", "label 2"]}, None)
    elif not args.resume:
        build_config(args.preset, overrides, None)
    present = _raw_images(dataset_dir) if args.resume else 0
    if present:
        _write(f"using the {present} images already in {dataset_dir}")
    else:
        _fresh_ingest(data_path, dataset_dir)
    if not args.resume:
        overrides = with_label_names(dataset_dir, args.preset, overrides)
    config = build_config(args.preset, overrides, saved)
    try:
        if saved is not None:  # refuse before config.json is overwritten or any image is decoded
            check_resume_config(saved, config)
        data, labels = load_data(dataset_dir, config)
        store = RunDirStore(run_dir)
        store.save_config(config.model_dump(mode="json"))
        bar = _ProgressBar()
        with _CancelOnSignal() as cancel, bar:
            result = train(
                config,
                data,
                JsonlSink(run_dir / "metrics.jsonl"),
                store,
                should_abort=cancel.requested,
                on_progress=bar.update,
                log=_write,
                labels=labels,
            )
    except TrainingError as exc:
        raise UsageError(str(exc)) from exc
    return _report(result, run_dir)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """["epochs=5", "diffaugment=color"] -> {"epochs": 5, "diffaugment": "color"}: JSON values, else text."""
    from models.config import TrainConfig

    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {pair!r}")
        if key not in TrainConfig.model_fields:
            raise UsageError(f"--set: unknown config field {key!r}{_did_you_mean(key)}")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


def build_config(preset: str | None, overrides: dict[str, Any], saved: dict[str, Any] | None) -> TrainConfig:
    """The preset (or, resuming without one, the checkpoint's own config) with the overrides, validated."""
    from pydantic import ValidationError

    from models.config import TrainConfig
    from models.presets import PresetError, apply_preset

    try:
        if preset is None and saved is not None:
            return TrainConfig.model_validate({**saved, **overrides})
        return apply_preset(preset or DEFAULT_PRESET, overrides)
    except PresetError as exc:
        raise UsageError(str(exc)) from exc
    except ValidationError as exc:
        raise UsageError(f"invalid config: {describe_validation(exc)}") from exc


def checkpoint_config(run_dir: Path) -> dict[str, Any]:
    """The config stored in the run's newest checkpoint (what --resume must continue)."""
    import torch

    found = sorted(run_dir.glob("ckpt-*.pt"))
    if not found:
        raise UsageError(f"nothing to resume: {run_dir} holds no checkpoint; run without --resume to start")
    try:
        return dict(torch.load(found[-1], map_location="cpu", weights_only=True, mmap=True)["config"])
    except Exception as exc:  # any unreadable file means the same thing here
        raise UsageError(f"cannot resume from {found[-1]}: it is not a readable pokegan checkpoint") from exc


def describe_validation(exc: Any) -> str:
    """One readable line per problem: 'lr_g: Input should be greater than 0 (got -1)'."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "config"
        got = f" (got {error['input']!r})" if error["loc"] else ""
        parts.append(f"{field}: {error['msg']}{got}")
    return "; ".join(parts)


def load_data(dataset_dir: Path, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The ingested images as uint8 N x 3 x H x W at the config's size (prepared once, cached), and for a
    conditional run only the labelled ones (unless it keeps the unlabelled), with their class indices."""
    from datasets import DatasetError, DatasetPaths, PrepareOptions, list_raw_images, load_or_prepare
    from models.errors import TrainingError
    from worker.labels import training_inputs

    paths = DatasetPaths(dataset_dir)
    try:
        if not list_raw_images(paths.raw):
            raise UsageError(f"no images in {paths.raw} to train on")
        started = time.perf_counter()
        options = PrepareOptions(height=config.height, width=config.width)
        prepared = load_or_prepare(dataset_dir, options)
    except DatasetError as exc:
        raise UsageError(str(exc)) from exc
    _write(
        f"{len(prepared)} images at {config.height}x{config.width} ready in "
        f"{time.perf_counter() - started:.1f} s (cached in {paths.cache})"
    )
    try:
        images, labels = training_inputs(dataset_dir, prepared, config)
    except TrainingError as exc:
        raise UsageError(str(exc)) from exc
    if labels is not None:
        counts = ", ".join(f"{name} {int((labels == i).sum())}" for i, name in enumerate(config.label_names))
        _write(f"conditional: {len(images)} labelled images ({counts})")
    return images, labels


def with_label_names(dataset_dir: Path, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """A conditional run's overrides with label_names from the labels the import carried (folder names or
    a labels.csv), written beside the images; unchanged for an unconditional run."""
    from datasets.labels import read_labels
    from models.config import UNLABELLED_LABEL
    from models.presets import apply_preset

    if not _conditional(preset, overrides):
        return overrides
    base = apply_preset(preset or DEFAULT_PRESET, {})
    if "label_names" in overrides:
        raise UsageError(
            "label_names are set from the data's labels (its folders or labels.csv); leave them out"
        )
    label_set = read_labels(dataset_dir)
    names = label_set.names if label_set is not None else []
    if len(names) < 2:
        found = f"only the label {names[0]!r}" if names else "no labels"
        raise UsageError(
            f"a conditional run needs at least two labels; the data has {found}. "
            "Put the images in one folder per label (Fire/, Water/) or add a labels.csv (file,label)"
        )
    for warning in label_set.warnings:
        _write(f"labels: {warning}")
    keep = overrides.get("keep_unlabelled", base.keep_unlabelled)
    if keep and label_set.unlabelled:
        names.append(UNLABELLED_LABEL)
    return {**overrides, "label_names": names}


def _conditional(preset: str | None, overrides: dict[str, Any]) -> bool:
    from models.presets import apply_preset

    if "conditional" in overrides:
        return bool(overrides["conditional"])
    return preset in (None, *PRESETS) and apply_preset(preset or DEFAULT_PRESET, {}).conditional


def _raw_images(dataset_dir: Path) -> int:
    from datasets import DatasetPaths, list_raw_images

    return len(list_raw_images(DatasetPaths(dataset_dir).raw))


def _fresh_ingest(source: Path, dataset_dir: Path) -> None:
    """A new run never mixes in an old attempt's images: ingest DATA into an empty dataset_dir, with its
    labels when it carries them."""
    from datasets import DatasetError, DatasetPaths

    shutil.rmtree(dataset_dir, ignore_errors=True)
    try:
        _ingest(source, DatasetPaths(dataset_dir).raw, dataset_dir)
    except DatasetError as exc:
        raise UsageError(str(exc)) from exc


def _ingest(source: Path, raw_dir: Path, dataset_dir: Path) -> None:
    from datasets import DatasetLimits, SourceKind, detect_kind, ingest_folder, ingest_upload
    from datasets.labels import labels_from_import, write_labels

    if source.is_dir():
        report = ingest_folder(source, raw_dir, DatasetLimits(allowed_folder_roots=(source,)))
    else:
        kind = detect_kind(source)
        if kind not in (SourceKind.ZIP, SourceKind.TAR, SourceKind.TAR_GZ):
            raise UsageError(f"{source} is a {kind.value} file; give a folder, .zip or .tar(.gz) of images")
        report = ingest_upload([source], raw_dir, DatasetLimits())
    n = len(report.skipped)
    skipped = f" (skipped {n} file{'s' * (n != 1)}: not images or unreadable)" if n else ""
    _write(f"ingested {report.accepted} images from {source}{skipped}")
    label_set = labels_from_import(
        report.members, report.label_tables, image_count=report.accepted, small_below=SMALL_LABEL
    )
    if label_set is not None:
        write_labels(dataset_dir, label_set)
        _write(
            f"labels ({label_set.source}): "
            + ", ".join(f"{k} {v}" for k, v in sorted(label_set.counts().items()))
        )


def _existing(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"DATA {path} does not exist; give a folder, .zip or .tar(.gz) of images")
    return path


def _refuse_existing_run(run_dir: Path) -> None:
    if any(run_dir.glob("ckpt-*.pt")):
        raise UsageError(
            f"{run_dir} already holds a run; add --resume to continue it, or choose another --out"
        )


def _did_you_mean(key: str) -> str:
    import difflib

    from models.config import TrainConfig

    close = difflib.get_close_matches(key, list(TrainConfig.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else "; see the TrainConfig fields in models/config.py"


def _write(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line)


def _report(result: Any, run_dir: Path) -> int:
    where = f"checkpoint {result.checkpoint.path}; grids and metrics.jsonl in {run_dir}"
    if result.status == "cancelled":
        print(f"cancelled at step {result.step} (epoch {result.epoch}); {where}")
        print(f"continue with the same command plus --resume (--out {run_dir})")
        return EXIT_CANCELLED
    stopped = f" ({result.reason})" if result.status == "stopped" else ""
    print(f"{result.status}{stopped}: {result.epoch} epochs, {result.step} steps in {result.elapsed_s:.0f} s")
    print(where)
    return 0


class _ProgressBar:
    """A tqdm bar over the run's steps, opened at the first report so a resumed run starts where it was."""

    def __init__(self) -> None:
        self.bar: Any = None

    def update(self, progress: Progress) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=progress.total_steps, initial=progress.step - 1, unit="it", dynamic_ncols=True
            )
        self.bar.total = progress.total_steps
        self.bar.update(progress.step - self.bar.n)
        self.bar.set_postfix_str(
            f"epoch {progress.epoch + 1}/{progress.epochs}, {progress.images_per_s:.0f} img/s", refresh=False
        )

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


class _CancelOnSignal:
    """The first Ctrl-C (or SIGTERM) asks the loop to stop after this iteration; a second quits at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> _CancelOnSignal:
        self._asked = False
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def requested(self) -> bool:
        return self._asked

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._asked:
            raise KeyboardInterrupt
        self._asked = True
        _write("stopping after this iteration and saving a checkpoint (Ctrl-C again to quit at once)")
