"""Shared base for the rule models: frozen, unknown keys rejected, aliases accepted."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from cepkit.durations import parse_duration
from cepkit.operators import as_number


class Spec(BaseModel):
    """Frozen model; accepts field names and their aliases; unknown keys are errors."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, validate_by_alias=True
    )


def check_duration(value: Any) -> Any:
    """Validate a duration string (``5m``), keeping the user's spelling."""
    if value is None:
        return value
    parse_duration(value)
    return value


def to_number(value: Any, what: str) -> float:
    """A number from a number or numeric string, else ValueError naming ``what``."""
    number = as_number(value)
    if number is None:
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(number)


def comma_list(value: Any) -> Any:
    """``"region, service_name"`` -> ``["region", "service_name"]``; lists pass through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def one_of(value: Any, choices: list[str] | tuple[str, ...], what: str) -> str:
    """``value`` (case-insensitive) from ``choices`` or ValueError listing them."""
    if isinstance(value, str):
        for choice in choices:
            if value.strip().lower() == choice.lower():
                return choice
    raise ValueError(f"unknown {what} {value!r}; expected one of: {', '.join(choices)}")
