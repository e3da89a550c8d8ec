"""Config errors as the new-run form shows them: each at its field, in plain words.

pydantic runs TrainConfig's cross-field check (image size vs. architecture) only once every field is valid,
and reports it without a field; the form checks the size itself so the error shows at the size field from
the first submit, beside any other field errors.
"""

from __future__ import annotations

from typing import Any

from models.archs import ARCHS, upsampling_steps
from models.config import TrainConfig

PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain(message: str) -> str:
    """The sentence without pydantic's "Value error, " prefix."""
    for prefix in PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message


def size_error(values: dict[str, Any]) -> dict[str, str]:
    """{field: message} when the image size does not fit the architecture (the side to blame), else {}."""
    arch = values.get("arch", TrainConfig.model_fields["arch"].default)
    height = values.get("image_size", TrainConfig.model_fields["image_size"].default)
    width = values.get("image_width")
    if arch not in ARCHS or not isinstance(height, int) or not isinstance(width, int | None):
        return {}  # those fields have their own errors
    try:
        upsampling_steps(arch, height, width if width is not None else height)
    except ValueError as exc:
        try:
            upsampling_steps(arch, height, height)
            field = "image_width" if width is not None else "image_size"
        except ValueError:
            field = "image_size"
        return {field: str(exc)}
    return {}


def form_errors(errors: list[dict[str, Any]], values: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(messages by field, messages about no single field) from a ConfigError's FastAPI-shaped errors."""
    fields = {str(e["loc"][-1]): plain(e["msg"]) for e in errors if len(e["loc"]) > 2}
    for field, message in size_error(values).items():
        fields.setdefault(field, message)
    shown = set(fields.values())
    general = [plain(e["msg"]) for e in errors if len(e["loc"]) <= 2 and plain(e["msg"]) not in shown]
    return fields, general
