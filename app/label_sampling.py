"""Which class each generated image gets: a name, a list of names, or (no label) drawn in proportion to
the training data. Label i is a function of (seed + i) alone, like latent i, so any image can be remade."""

from __future__ import annotations

import numpy as np

from app.errors import InvalidInputError


def resolve_labels(
    names: list[str],
    counts: dict[str, int],
    *,
    label: str | None,
    labels: list[str] | None,
    n: int,
    seed: int,
) -> list[int] | None:
    """Class indices for n images, or None for an unconditional run; InvalidInputError (422) for a label
    the run does not know (listing those it knows), a list of the wrong length, or labels on a run without."""
    if not names:
        if label is not None or labels is not None:
            field = "label" if label is not None else "labels"
            raise InvalidInputError(
                "this run was trained without labels (not conditional), so it cannot generate by label",
                loc=("body", field),
            )
        return None
    if label is not None and labels is not None:
        raise InvalidInputError("give label or labels, not both", loc=("body", "labels"))
    if label is not None:
        return [_index(names, label, ("body", "label"))] * n
    if labels is not None:
        if len(labels) != n:
            raise InvalidInputError(
                f"labels has {len(labels)} entries but n is {n}: give one label per image",
                loc=("body", "labels"),
            )
        return [_index(names, name, ("body", "labels", i)) for i, name in enumerate(labels)]
    return proportional_labels(names, counts, n=n, seed=seed)


def proportional_labels(names: list[str], counts: dict[str, int], *, n: int, seed: int) -> list[int]:
    """Labels drawn with the training data's label frequencies (uniform when those are unknown)."""
    weights = np.array([max(0, int(counts.get(name, 0))) for name in names], dtype=np.float64)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(names), 1 / len(names))
    return [int(np.random.default_rng([seed + i, 1]).choice(len(names), p=weights)) for i in range(n)]


def _index(names: list[str], name: str, loc: tuple[str | int, ...]) -> int:
    if name not in names:
        raise InvalidInputError(f"unknown label {name!r}; this run knows {', '.join(names)}", loc=loc)
    return names.index(name)
