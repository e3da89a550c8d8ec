"""`pokegan train` and `pokegan generate` as a user runs them: real subprocesses on a folder of tiny PNGs."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from torchvision.utils import save_image

from cli.main import main
from models.generate import generate, load_generator
from tests.conftest import synthetic_images

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--preset", "seed-000-classic",
    "--set", "arch=dcgan", "image_size=16", "nz=8", "ngf=8", "ndf=8", "batch_size=8", "log_every=1",
]  # fmt: skip
SEED_LINE = re.compile(
    r"^\[\d+/\d+\]\[\d+/2\] Loss_D: \S+ Loss_G: \S+ D\(x\): \S+ D\(G\(z\)\): \S+ / \S+$", re.M
)


def pokegan(*args: str | Path, cwd: Path, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "cli", *map(str, args)]
    return subprocess.Popen(command, cwd=cwd, env=env, text=True, **popen)  # type: ignore[call-overload]


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """17 PNGs of 24 px (prepared down to 16 px) and one file that is not an image."""
    folder = tmp_path / "sprites"
    folder.mkdir()
    for i, image in enumerate(synthetic_images(17, 24)):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:02d}.png")
    (folder / "readme.txt").write_text("not an image")
    return folder


def iteration_steps(run_dir: Path) -> list[int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row["step"] for row in rows if row["type"] == "iteration"]


@pytest.mark.slow
def test_train_then_generate(tmp_path: Path, image_folder: Path) -> None:
    run_dir = tmp_path / "run"
    args = ("train", image_folder, *TINY, "epochs=1", "grad_stats_every=1", "--out", run_dir)
    code, out, err = finish(pokegan(*args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    assert code == 0, err

    assert "ingested 17 images" in out and "skipped 1 file" in out
    assert len(SEED_LINE.findall(out)) == 2  # 17 images at batch 8: two iterations, both logged
    assert "completed: 1 epochs, 2 steps" in out
    assert "2/2" in err  # the progress bar reached the end
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "metrics.jsonl", "real.png", "grid-00001.png", "ckpt-000000002.pt"} <= names
    assert len(list((run_dir / "dataset" / "raw").iterdir())) == 17
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["arch"], config["image_size"], config["batch_size"]) == ("dcgan", 16, 8)

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    iterations = [r for r in rows if r["type"] == "iteration"]
    assert [(r["step"], r["epoch"], r["iteration"]) for r in iterations] == [(1, 0, 0), (2, 0, 1)]
    values = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")
    assert all(math.isfinite(r[k]) for r in iterations for k in values)
    assert {r["net"] for r in rows if r["type"] == "grad"} == {"G", "D"}

    out_png = tmp_path / "grids" / "six.png"
    args = ("generate", run_dir, "-n", "6", "--seed", "2", "-o", out_png)
    code, out, err = finish(pokegan(*args, cwd=tmp_path, stdout=subprocess.PIPE))
    assert code == 0 and "wrote 6 images (seeds 2-7)" in out
    state = torch.load(run_dir / "ckpt-000000002.pt", weights_only=True)
    expected = tmp_path / "expected.png"
    save_image(generate(load_generator(state), 6, 2), expected, nrow=3, padding=2)
    assert Image.open(out_png).size == (3 * 16 + 4 * 2, 2 * 16 + 3 * 2)
    assert Image.open(out_png).tobytes() == Image.open(expected).tobytes()


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path: Path, image_folder: Path) -> None:
    run_dir = tmp_path / "run"
    process = pokegan(
        "train", image_folder, *TINY, "epochs=100000", "--out", run_dir,
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # wait until the loop runs, then press Ctrl-C
        if SEED_LINE.match(line.strip()):
            process.send_signal(signal.SIGINT)
            break
    code, out, _ = finish(process)
    assert code == 130, out
    stopped = re.search(r"cancelled at step (\d+) \(epoch (\d+)\)", out)
    assert stopped, out
    step, epoch = map(int, stopped.groups())
    assert torch.load(sorted(run_dir.glob("ckpt-*.pt"))[-1], weights_only=True)["step"] == step
    assert iteration_steps(run_dir) == list(range(1, step + 1))

    # Resuming without --preset continues the checkpoint's own config; only the length changes.
    args = ("train", image_folder, "--out", run_dir, "--resume", "--set", f"epochs={epoch + 1}")
    code, out, err = finish(pokegan(*args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    assert code == 0, err
    assert f"resumed from step {step}" in out
    assert iteration_steps(run_dir) == list(range(1, 2 * (epoch + 1) + 1))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "nope"], "unknown preset 'nope'; choose one of seed-000-classic"),
        (["--set", "lr=0.1"], "unknown config field 'lr' (did you mean 'lr_g'?)"),
        (["--set", "lr_g=-1"], "invalid config: lr_g: Input should be greater than 0 (got -1)"),
        (["--set", "diffaugment=zoom"], "unknown DiffAugment op(s) ['zoom']"),
        (["--set", "epochs"], "--set expects KEY=VALUE, got 'epochs'"),
        (["--resume"], "nothing to resume"),
    ],
)
def test_bad_options_are_refused_before_any_work(
    tmp_path: Path, image_folder: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    run_dir = tmp_path / "run"
    assert main(["train", str(image_folder), "--out", str(run_dir), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (run_dir / "dataset").exists()


def test_a_missing_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    assert f"pokegan train: DATA {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_generate_refuses_a_file_that_is_not_a_checkpoint(
    image_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", str(image_folder / "00.png")]) == 2
    assert "00.png is not a readable pokegan checkpoint" in capsys.readouterr().err


def test_an_existing_run_is_never_overwritten(
    tmp_path: Path, image_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "ckpt-000000004.pt").write_bytes(b"an earlier run's checkpoint")
    assert main(["train", str(image_folder), "--out", str(run_dir)]) == 2
    assert "already holds a run; add --resume to continue it" in capsys.readouterr().err
    assert (run_dir / "ckpt-000000004.pt").read_bytes() == b"an earlier run's checkpoint"
