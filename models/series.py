"""The per-iteration metric series, declared once.

The training step computes them, IterationMetrics carries them, the sinks and the database store them, the
API serves them and the run page charts them, all from SERIES. Adding a series is one `Series(...)` here
plus its computation: either the step returns a value under its name (see models/steps.py), or the
declaration's `compute` derives it from the step's values and the training state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the web app reads this list without loading torch
    import torch

# chart id -> title, in page order
CHARTS: dict[str, str] = {"loss": "Loss_D and Loss_G", "d_output": "D(x) and D(G(z))"}

Compute = Callable[[dict[str, "torch.Tensor"], Any], "torch.Tensor"]


@dataclass(frozen=True)
class Series:
    name: str  # the key everywhere: row values, DB column (or JSON key), API field, chart key
    label: str  # legend text, in the seed's vocabulary
    chart: str  # a key of CHARTS
    loss: Literal["D", "G"] | None  # the network whose step produces it
    color: str
    help: str = ""
    compute: Compute | None = (
        None  # (the step's values, the TrainingState) -> 0-d tensor; None: the step's own
    )

    def public(self) -> dict[str, Any]:
        """What the API and the run page get (no code)."""
        return {"name": self.name, "label": self.label, "chart": self.chart, "loss": self.loss,
                "color": self.color, "help": self.help}  # fmt: skip


_SEED = [
    Series("loss_d", "Loss_D", "loss", "D", "#ff6b6b", "D's loss on one real and one fake batch"),
    Series("loss_g", "Loss_G", "loss", "G", "#5aa9ff", "G's loss"),
    Series("d_x", "D(x)", "d_output", "D", "#4cc38a", "D's mean score for real images"),
    Series("d_g_z1", "D(G(z)) before", "d_output", "D", "#f2c94c", "D on fakes before its step"),
    Series("d_g_z2", "D(G(z)) after", "d_output", "G", "#b197fc", "D on fakes after its step"),
]
# What every GAN step returns, the detectors watch and the seed's log line prints, in this order.
SEED_SERIES: tuple[str, ...] = tuple(s.name for s in _SEED)


def _augment_p(values: dict[str, torch.Tensor], state: Any) -> torch.Tensor:
    import torch

    return torch.tensor(state.augment_p)


SERIES: list[Series] = [
    *_SEED,
    Series(
        "aug_p", "augment p", "d_output", "D", "#e599f7",
        "chance each DiffAugment op is applied: adaptive augmentation (ADA) steers it toward ada_target; "
        "1 without ADA, 0 without DiffAugment",
        compute=_augment_p,
    ),
]  # fmt: skip


def names() -> tuple[str, ...]:
    return tuple(s.name for s in SERIES)


def public_list() -> list[dict[str, Any]]:
    return [s.public() for s in SERIES]


def step_values(values: dict[str, torch.Tensor], state: Any) -> dict[str, float]:
    """Every declared series for one step, in SERIES order, with one device sync for all of them."""
    import torch

    tensors = [values[s.name] if s.compute is None else s.compute(values, state) for s in SERIES]
    floats = torch.stack([t.detach().float().reshape(()) for t in tensors]).tolist()
    return dict(zip(names(), floats, strict=True))


@contextmanager
def declared(*extra: Series) -> Iterator[None]:
    """Declare more series for a while (a plugin, a test); they are removed again afterwards."""
    taken = {s.name for s in SERIES}
    clashes = [s.name for s in extra if s.name in taken or s.chart not in CHARTS]
    if clashes:
        raise ValueError(f"series already declared or on an unknown chart: {', '.join(clashes)}")
    SERIES.extend(extra)
    try:
        yield
    finally:
        for s in extra:
            SERIES.remove(s)
