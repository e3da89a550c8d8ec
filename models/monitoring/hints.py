"""What to try when a detector fires, leaving out what the run's config already does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Config = dict[str, Any]
Remedy = tuple[str, Callable[[Config], bool]]  # (what to try, "the config already does it")


def _never(config: Config) -> bool:
    return False


REMEDIES: dict[str, list[Remedy]] = {
    "d_saturation": [
        ("a lower lr_d", _never),
        ("real_label 0.9", lambda c: (c.get("real_label") or 1.0) <= 0.9),
        ("DiffAugment", lambda c: bool(c.get("diffaugment"))),
        ("spectral_norm", lambda c: bool(c.get("spectral_norm"))),
    ],
    "g_overpowers_d": [("a higher lr_d", _never), ("d_steps 2", lambda c: (c.get("d_steps") or 1) >= 2)],
    "mode_collapse": [
        ("DiffAugment", lambda c: bool(c.get("diffaugment"))),
        ("feature_matching_weight 1", lambda c: (c.get("feature_matching_weight") or 0) >= 1),
        ("a lower lr_g", _never),
    ],
    "divergence": [
        ("lower learning rates", _never),
        ("grad_clip", lambda c: c.get("grad_clip") is not None),
        ("a gradient penalty", lambda c: (c.get("gp_weight") or 0) > 0 or (c.get("r1_weight") or 0) > 0),
    ],
    "d_stuck": [
        ("a lower lr_d", _never),
        ("spectral_norm", lambda c: bool(c.get("spectral_norm"))),
        ("hinge loss", lambda c: c.get("loss") == "hinge"),
    ],
}
PREFIX = {"d_stuck": "D's output is pinned, so no gradient flows: restart with "}


def hint(kind: str, config: Config | None = None) -> str:
    """'try a, b or c' for this failure, without the remedies `config` already has (every one without it)."""
    remedies = [text for text, done in REMEDIES.get(kind, []) if config is None or not done(config)]
    if not remedies:
        return ""
    listed = remedies[0] if len(remedies) == 1 else f"{', '.join(remedies[:-1])} or {remedies[-1]}"
    return f"{PREFIX.get(kind, 'try ')}{listed}"
