"""Durations as the guide writes them: ``1s 10s 30s 1m 5m 10m 30m 1h`` and any ``<n><s|m|h|d>``.

>>> parse_duration("5m")
300.0
>>> parse_duration("1.5h")
5400.0
>>> format_duration(300)
'5m'
>>> parse_duration("7q")
Traceback (most recent call last):
...
ValueError: invalid duration '7q': expected <number><s|m|h|d>, e.g. 30s, 5m, 1h, 1d
"""

from __future__ import annotations

import re

__all__ = ["GUIDE_SIZES", "format_duration", "parse_duration"]

#: The window sizes the guide's builder offers.
GUIDE_SIZES = ("1s", "10s", "30s", "1m", "5m", "10m", "30m", "1h")

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text``; a bare number is taken as seconds. Zero or less is an error."""
    if isinstance(text, bool):
        raise ValueError(f"invalid duration {text!r}: expected <number><s|m|h|d>")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _PATTERN.match(str(text))
        if not match:
            raise ValueError(
                f"invalid duration {text!r}: expected <number><s|m|h|d>, e.g. 30s, 5m, 1h, 1d"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest ``<n><unit>`` spelling of ``seconds`` (whole units only).

    >>> format_duration(90)
    '90s'
    >>> format_duration(86400)
    '1d'
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and float(seconds) % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
