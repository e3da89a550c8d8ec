"""The new-run form, derived from TrainConfig's JSON schema so every field (and its limits) shows up.

Also turns the submitted strings back into config values: blank optional fields become None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.form_help import CHOICE_LABELS, HELP
from models.config import TrainConfig

# Headings for the form; a field the engine adds later and nobody lists here lands in "More".
SECTIONS: dict[str, tuple[str, ...]] = {
    "Training": ("epochs", "batch_size", "lr_g", "lr_d", "beta1", "beta2", "d_steps", "seed"),
    "Network": (
        "arch",
        "image_size",
        "image_width",
        "nz",
        "ngf",
        "ndf",
        "extra_layers",
        "spectral_norm",
        "d_norm",
    ),
    "Loss and stabilisers": (
        "loss",
        "gp_weight",
        "r1_weight",
        "feature_matching_weight",
        "real_label",
        "label_flip_prob",
        "diffaugment",
        "ema_decay",
        "grad_clip",
        "ada_target",
        "ada_interval",
        "ada_kimg",
        "recon_weight",
        "recon_lpips_weights",
    ),
    "Learning-rate schedule": ("lr_schedule", "lr_step_epochs", "lr_gamma", "lr_min_factor"),
    "Conditioning (needs a labelled dataset)": (
        "conditional",
        "cond_transition_start_epochs",
        "cond_transition_epochs",
    ),
    "Hardware": (
        "device",
        "amp",
        "channels_last",
        "torch_compile",
        "world_size",
        "nnodes",
        "rendezvous",
        "sync_batchnorm",
    ),
    "Logging and artifacts": (
        "log_every",
        "grid_every_epochs",
        "checkpoint_every_epochs",
        "grad_stats_every",
        "nan_max_retries",
    ),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str  # int | float | bool | choice | text
    optional: bool
    description: str
    default: Any
    choices: tuple[str, ...] = ()
    choice_labels: tuple[str, ...] = ()  # what the drop-down shows for each choice
    minimum: float | None = None
    maximum: float | None = None

    @property
    def step(self) -> str:
        return "1" if self.kind == "int" else "any"


SET_BY_SERVER = frozenset({"label_names"})  # filled from the dataset when a run is created


def field_specs() -> list[FieldSpec]:
    schema = TrainConfig.model_json_schema()
    return [_spec(name, prop) for name, prop in schema["properties"].items() if name not in SET_BY_SERVER]


def sections() -> list[tuple[str, list[FieldSpec]]]:
    """(heading, fields) in display order; every TrainConfig field but SET_BY_SERVER appears once."""
    specs = {spec.name: spec for spec in field_specs()}
    grouped = [(title, [specs.pop(n) for n in names if n in specs]) for title, names in SECTIONS.items()]
    if specs:
        grouped.append(("More", list(specs.values())))
    return [(title, fields) for title, fields in grouped if fields]


def parse_form(form: dict[str, str], present_bools: set[str] | None = None) -> dict[str, Any]:
    """Config overrides from form strings; unparseable numbers pass through for pydantic to name."""
    values: dict[str, Any] = {}
    for spec in field_specs():
        if spec.kind == "bool":
            values[spec.name] = spec.name in (present_bools or set())
            continue
        raw = form.get(spec.name)
        if raw is None:
            continue
        raw = raw.strip()
        if raw == "" and spec.optional:
            values[spec.name] = None
        elif spec.kind == "int":
            values[spec.name] = _number(raw, int)
        elif spec.kind == "float":
            values[spec.name] = _number(raw, float)
        else:
            values[spec.name] = raw
    return values


def _number(raw: str, kind: type) -> Any:
    try:
        return kind(raw)
    except ValueError:
        return raw


def _spec(name: str, prop: dict[str, Any]) -> FieldSpec:
    optional = False
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        optional = len(options) < len(prop["anyOf"])
        prop = {**prop, **(options[0] if options else {})}
    kind = {"integer": "int", "number": "float", "boolean": "bool"}.get(prop.get("type", ""), "text")
    if "enum" in prop:
        kind = "choice"
    return FieldSpec(
        name=name,
        label=name.replace("_", " "),
        kind=kind,
        optional=optional,
        description=HELP.get(name, prop.get("description", "")),
        default=prop.get("default"),
        choices=tuple(str(c) for c in prop.get("enum", ())),
        choice_labels=tuple(CHOICE_LABELS.get(name, str)(str(c)) for c in prop.get("enum", ())),
        minimum=prop.get("minimum", prop.get("exclusiveMinimum")),
        maximum=prop.get("maximum", prop.get("exclusiveMaximum")),
    )
