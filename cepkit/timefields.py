"""Event time: read a timestamp from an event as epoch seconds (UTC).

Accepted: ISO-8601 strings (``2026-02-08T10:30:00Z``, ``...+09:00``; a string without an
offset is taken as UTC), epoch seconds or milliseconds (numbers or numeric strings; a
value above 10^11 is taken as milliseconds, above 10^14 as microseconds) and aware
``datetime`` objects (a naive one is taken as UTC). Anything else raises
:class:`EventTimeError` naming the field.

>>> parse_event_time("2026-02-08T10:30:00Z")
1770546600.0
>>> parse_event_time("2026-02-08T19:30:00+09:00")
1770546600.0
>>> parse_event_time(1770546600000)
1770546600.0
>>> to_datetime(1770546600.0).isoformat()
'2026-02-08T10:30:00+00:00'
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from cepkit.errors import EvaluationError

__all__ = ["MS_ABOVE", "EventTimeError", "parse_event_time", "to_datetime"]

#: an epoch number this large or larger is milliseconds (or, past 1e14, microseconds)
MS_ABOVE = 1e11
_US_ABOVE = 1e14


class EventTimeError(EvaluationError):
    """An event's timestamp field holds something that is not a time."""


def _from_number(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    if abs(value) >= _US_ABOVE:
        return value / 1e6
    if abs(value) >= MS_ABOVE:
        return value / 1e3
    return float(value)


def parse_event_time(value: Any, field: str = "timestamp") -> float:
    """Epoch seconds from ``value``; :class:`EventTimeError` naming ``field`` otherwise."""
    try:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a time")
        if isinstance(value, int | float):
            return _from_number(float(value))
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return aware.timestamp()
        if isinstance(value, str):
            text = value.strip()
            try:
                return _from_number(float(text))
            except ValueError:
                pass
            parsed = datetime.fromisoformat(text)
            aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            return aware.timestamp()
        if hasattr(value, "timestamp") and callable(value.timestamp):  # pandas.Timestamp
            return float(value.timestamp())
    except (ValueError, OverflowError, OSError) as exc:
        raise EventTimeError(field, f"cannot read a time from {value!r}: {exc}") from None
    raise EventTimeError(field, f"cannot read a time from {type(value).__name__} {value!r}")


def to_datetime(seconds: float) -> datetime:
    """The UTC datetime of epoch ``seconds``."""
    return datetime.fromtimestamp(seconds, UTC)
