"""Adding a metric series is one declaration plus its computation: the loop, log and sinks carry it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import series
from models.series import Series, declared
from models.sink import JsonlSink, ListSink
from models.store import RunDirStore
from models.train import train
from tests.conftest import synthetic_images

# The declaration and its computation: how much more D trusts real images than the fakes before its step.
D_GAP = Series(
    "d_gap",
    "D gap",
    "d_output",
    "D",
    "#ffffff",
    "D(x) - D(G(z)) before",
    compute=lambda v, s: v["d_x"] - v["d_g_z1"],
)


def test_a_declared_series_reaches_every_row_the_log_and_metrics_jsonl(tmp_path: Path, tiny_config) -> None:
    lines: list[str] = []
    with declared(D_GAP):
        sink = ListSink()
        train(
            tiny_config(epochs=1),
            synthetic_images(8, 16),
            sink,
            RunDirStore(tmp_path / "a"),
            log=lines.append,
        )
        jsonl = JsonlSink(tmp_path / "metrics.jsonl")
        train(tiny_config(epochs=1), synthetic_images(8, 16), jsonl, RunDirStore(tmp_path / "b"))
    assert len(sink.iterations) == 2
    for row in sink.iterations:
        assert list(row.values) == [*series.names(), "d_gap"]
        assert row.d_gap == pytest.approx(row.d_x - row.d_g_z1, abs=1e-6)
    assert lines[1].startswith("[0/1][0/2] Loss_D: ") and "D gap" not in lines[1]  # the seed's line, as is
    written = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    iterations = [r for r in written if r["type"] == "iteration"]
    assert [r["step"] for r in iterations] == [1, 2]
    assert iterations[0]["d_gap"] == pytest.approx(iterations[0]["d_x"] - iterations[0]["d_g_z1"], abs=1e-6)
    # undeclared again afterwards: the next run records the seed's five only
    after = ListSink()
    train(tiny_config(epochs=1), synthetic_images(8, 16), after, RunDirStore(tmp_path / "c"))
    assert list(after.iterations[0].values) == list(series.names()) and "d_gap" not in series.names()


def test_a_series_name_is_declared_once_on_a_known_chart() -> None:
    with pytest.raises(ValueError, match="loss_d"):
        with declared(Series("loss_d", "again", "loss", "D", "#000")):
            pass
    with pytest.raises(ValueError, match="other_p"):
        with declared(Series("other_p", "p", "no-such-chart", None, "#000")):
            pass
    assert series.names()[:5] == series.SEED_SERIES and len(set(series.names())) == len(series.names())


def test_augment_p_is_adas_p_one_with_fixed_diffaugment_and_zero_without(tmp_path: Path, tiny_config) -> None:
    def p_of(**overrides) -> list[float]:
        sink, store = ListSink(), RunDirStore(tmp_path / str(len(list(tmp_path.iterdir()))))
        train(tiny_config(epochs=3, **overrides), synthetic_images(8, 16), sink, store)
        return [row.aug_p for row in sink.iterations]

    assert p_of() == [0.0] * 6
    assert p_of(diffaugment="color") == [1.0] * 6
    # a D sure of the reals (r_t above a tiny target) pushes p up by 4 images / 0.02 kimg = 0.2 a step
    ada = p_of(diffaugment="color", ada_target=0.01, ada_interval=1, ada_kimg=0.02)
    assert all(0.0 <= p <= 1.0 for p in ada) and max(ada) > 0 and len(set(ada)) > 1
