"""Is pokegan's training loop as fast as a bare PyTorch DCGAN loop? Interleaved A/B timing in one process.

A: models.train on the seed-000-classic networks (dcgan64), with a JsonlSink and a RunDirStore at the default
   cadence (a fixed-noise grid and a full checkpoint every epoch, gradient statistics every 50 steps), so the
   per-epoch work is amortised exactly as in a real run. Each block is one train() call resuming the same run
   for one more epoch; its clock starts after the block's first iteration (set-up and resume are excluded,
   they happen once per run, not per epoch) and stops when train() returns.
B: the inner loop of pytorch/examples dcgan/main.py (BCE, Adam, D on real then fake, G through D, the .item()
   calls of its log line) on the same networks, batch, memory layout and in-memory data; no artifacts.
   Its clock also starts after the block's first iteration.
Blocks alternate A, B, A, B... after one warm-up block each, so load from other processes hits both alike.

Also printed: image decoding in the first epoch vs later ones (pokegan decodes once, then reads its cache),
and the channels_last speed-up of the bare loop.

    .venv/bin/python bench/train_throughput.py [--data FOLDER] [--seconds 90] [--batches 64 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from models.config import TrainConfig
from models.nets import build_networks
from models.presets import apply_preset
from models.sink import JsonlSink
from models.store import RunDirStore
from models.train import Progress, epoch_order, train

Block = tuple[int, float]  # (images timed, seconds)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a folder of real images (default: synthetic tensors)")
    parser.add_argument("--images", type=int, default=749, help="synthetic dataset size (default 749)")
    parser.add_argument("--seconds", type=float, default=90, help="timed seconds per comparison")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=("decode", "ratio", "channels_last"))
    return parser.parse_args()


class PokeganLoop:
    """models.train resuming one run for one epoch per block, with the CLI's sink and store."""

    def __init__(self, config: TrainConfig, data: torch.Tensor, run_dir: Path) -> None:
        self.config, self.data, self.run_dir = config, data, run_dir
        self.store = RunDirStore(run_dir)
        self.epochs = 0

    def block(self) -> Block:
        self.epochs += 1
        config = self.config.model_copy(update={"epochs": self.epochs})
        marks: list[float] = []

        def mark(progress: Progress) -> None:
            if not marks:
                marks.append(time.perf_counter())

        result = train(
            config, self.data, JsonlSink(self.run_dir / "metrics.jsonl"), self.store, on_progress=mark
        )
        seconds = time.perf_counter() - marks[0]
        self._keep_latest_checkpoint(result.checkpoint.path)
        return (len(self.data) // config.batch_size - 1) * config.batch_size, seconds

    def _keep_latest_checkpoint(self, latest: Path) -> None:
        for path in self.run_dir.glob("ckpt-*.pt"):  # 76 MB each at dcgan64; only the latest is resumed
            if path != latest:
                path.unlink()


class BareLoop:
    """pytorch/examples dcgan/main.py's loop body on pokegan's networks (D gives logits: BCEWithLogits)."""

    def __init__(self, config: TrainConfig, data: torch.Tensor, *, channels_last: bool) -> None:
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        G, D = build_networks(config)
        self.G, self.D = G.to(memory_format=self.fmt), D.to(memory_format=self.fmt)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.criterion = nn.BCEWithLogitsLoss()
        self.data = data.float().div_(127.5).sub_(1.0)  # what the examples' DataLoader hands over
        self.batch, self.nz = config.batch_size, config.nz
        self.epoch = 0

    def block(self) -> Block:
        order = epoch_order(0, self.epoch, len(self.data))
        self.epoch += 1
        iters = len(self.data) // self.batch
        start = 0.0
        for i in range(iters):
            idx = order[i * self.batch : (i + 1) * self.batch]
            self.step(self.data[idx].contiguous(memory_format=self.fmt))
            if i == 0:
                start = time.perf_counter()
        return (iters - 1) * self.batch, time.perf_counter() - start

    def step(self, real: torch.Tensor) -> None:
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        self.D.zero_grad()
        n = real.size(0)
        label = torch.full((n,), 1.0)
        output = self.D(real)
        err_d_real = self.criterion(output, label)
        err_d_real.backward()
        D_x = torch.sigmoid(output).mean().item()
        fake = self.G(torch.randn(n, self.nz, 1, 1))
        label.fill_(0.0)
        output = self.D(fake.detach())
        err_d_fake = self.criterion(output, label)
        err_d_fake.backward()
        D_G_z1 = torch.sigmoid(output).mean().item()
        err_d = err_d_real + err_d_fake
        self.opt_d.step()
        # (2) Update G: maximize log(D(G(z)))
        self.G.zero_grad()
        label.fill_(1.0)
        output = self.D(fake)
        err_g = self.criterion(output, label)
        err_g.backward()
        D_G_z2 = torch.sigmoid(output).mean().item()
        self.opt_g.step()
        _ = (err_d.item(), err_g.item(), D_x, D_G_z1, D_G_z2)  # the examples' log line reads all five


def interleave(
    a: Callable[[], Block], b: Callable[[], Block], seconds: float
) -> tuple[list[Block], list[Block]]:
    """One warm-up block each, then A, B, A, B... until `seconds` of timed work (at least 3 pairs)."""
    a(), b()
    blocks_a: list[Block] = []
    blocks_b: list[Block] = []
    while len(blocks_a) < 3 or sum(s for _, s in blocks_a + blocks_b) < seconds:
        blocks_a.append(a())
        blocks_b.append(b())
    return blocks_a, blocks_b


def rate(blocks: list[Block]) -> float:
    return sum(n for n, _ in blocks) / sum(s for _, s in blocks)


def paired_ratio(blocks_a: list[Block], blocks_b: list[Block]) -> float:
    """Median of per-pair speed ratios: robust to load that drifts over the run."""
    return statistics.median(
        (na / sa) / (nb / sb) for (na, sa), (nb, sb) in zip(blocks_a, blocks_b, strict=True)
    )


def compare_loops(data: torch.Tensor, batch: int, seconds: float) -> None:
    config = apply_preset("seed-000-classic", {"batch_size": batch})
    with tempfile.TemporaryDirectory(prefix="pokegan-bench-") as tmp:
        pokegan = PokeganLoop(config, data, Path(tmp))
        bare = BareLoop(config, data, channels_last=config.channels_last)
        blocks_a, blocks_b = interleave(pokegan.block, bare.block, seconds)
    a, b = rate(blocks_a), rate(blocks_b)
    print(
        f"dcgan64 batch {batch:>3}: pokegan {a:6.1f} img/s, bare loop {b:6.1f} img/s, ratio {a / b:.3f} "
        f"(median of {len(blocks_a)} pairs {paired_ratio(blocks_a, blocks_b):.3f}; goal >= 0.97)",
        flush=True,
    )


def compare_layouts(data: torch.Tensor, batch: int, seconds: float) -> None:
    config = apply_preset("seed-000-classic", {"batch_size": batch})
    nhwc = BareLoop(config, data, channels_last=True)
    nchw = BareLoop(config, data, channels_last=False)
    blocks_a, blocks_b = interleave(nhwc.block, nchw.block, seconds)
    a, b = rate(blocks_a), rate(blocks_b)
    print(
        f"bare loop batch {batch}: channels_last {a:6.1f} img/s, contiguous {b:6.1f} img/s, speed-up "
        f"x{a / b:.3f} (median of {len(blocks_a)} pairs x{paired_ratio(blocks_a, blocks_b):.3f})",
        flush=True,
    )


def decode_times(folder: Path | None, n_synthetic: int, size: int = 64) -> torch.Tensor:
    """Prepare the images as `pokegan train` does; time the first epoch's decoding against later ones."""
    from datasets import DatasetLimits, PrepareOptions, ingest_folder, load_or_prepare

    with tempfile.TemporaryDirectory(prefix="pokegan-decode-") as tmp:
        if folder is None:
            folder = write_synthetic_pngs(Path(tmp) / "png", n_synthetic)
        dataset = Path(tmp) / "dataset"
        ingest_folder(folder, dataset / "raw", DatasetLimits(allowed_folder_roots=(folder,)))
        options = PrepareOptions(height=size, width=size)
        started = time.perf_counter()
        images = load_or_prepare(dataset, options).images
        first = time.perf_counter() - started
        started = time.perf_counter()
        load_or_prepare(dataset, options)
        cached = time.perf_counter() - started
    batch_time = epoch_batch_assembly(images, 128)
    print(
        f"decoding {len(images)} images from {folder}: first epoch {first:.2f} s (decode, fit, write cache); "
        f"later epochs 0 s decoding (the loop indexes the in-memory uint8 tensor: {batch_time:.3f} s "
        f"per epoch to gather and scale batches; a new run or resume reads the cache in {cached:.3f} s)",
        flush=True,
    )
    return images


def epoch_batch_assembly(images: torch.Tensor, batch: int) -> float:
    """Seconds one epoch spends turning uint8 indices into float batches (what replaces decoding)."""
    order = epoch_order(0, 1, len(images))
    started = time.perf_counter()
    for i in range(len(images) // batch):
        idx = order[i * batch : (i + 1) * batch]
        images.index_select(0, idx).float().div_(127.5).sub_(1.0).contiguous(
            memory_format=torch.channels_last
        )
    return time.perf_counter() - started


def write_synthetic_pngs(folder: Path, n: int) -> Path:
    """n 96 px PNGs of smooth random colour fields, as a stand-in for real sprites."""
    from PIL import Image

    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    for i in range(n):
        low = torch.rand(1, 3, 6, 6, generator=generator)
        image = nn.functional.interpolate(low, size=96, mode="bicubic").clamp(0, 1)[0]
        Image.fromarray((image * 255).byte().permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.png")
    return folder


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()}")
    if "decode" in args.skip:
        data = torch.randint(0, 256, (args.images, 3, 64, 64), dtype=torch.uint8)
    else:
        data = decode_times(args.data, args.images)
        if args.data is None:  # the PNGs only served the decode timing; train on random tensors
            data = torch.randint(0, 256, (args.images, 3, 64, 64), dtype=torch.uint8)
    if "ratio" not in args.skip:
        for batch in args.batches:
            compare_loops(data, batch, args.seconds)
    if "channels_last" not in args.skip:
        compare_layouts(data, max(args.batches), args.seconds)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
