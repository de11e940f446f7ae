"""Aggregations by name: avg sum min max count stddev, pNN percentiles, distinct_count,
rate, first, last.

This module is the registry rules are validated against; the engine's incremental
implementations register here too (engine issue).

>>> check_aggregation_name("AVG")
'avg'
>>> check_aggregation_name("p95")
'p95'
>>> needs_field("count"), needs_field("avg")
(False, True)
>>> check_aggregation_name("median")
Traceback (most recent call last):
...
ValueError: unknown aggregation 'median'; expected one of: avg, sum, min, max, count, ...
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["AGGREGATIONS", "check_aggregation_name", "default_alias", "needs_field"]

#: name -> whether it needs a field
AGGREGATIONS: dict[str, bool] = {
    "avg": True,
    "sum": True,
    "min": True,
    "max": True,
    "count": False,
    "stddev": True,
    "distinct_count": True,
    "rate": False,
    "first": True,
    "last": True,
}

_PERCENTILE = re.compile(r"^p([1-9]\d?(?:\.\d+)?)$")


def check_aggregation_name(name: Any) -> str:
    """The canonical (lower-case) name, or ValueError listing the valid ones."""
    if isinstance(name, str):
        lowered = name.strip().lower()
        if lowered in AGGREGATIONS or _PERCENTILE.match(lowered):
            return lowered
    valid = ", ".join(AGGREGATIONS)
    raise ValueError(
        f"unknown aggregation {name!r}; expected one of: {valid}, p<1-99> (e.g. p50, p95, p99)"
    )


def needs_field(name: str) -> bool:
    """Whether aggregation ``name`` reads a field (``count`` and ``rate`` do not)."""
    return AGGREGATIONS.get(name, True)


def default_alias(name: str, field: str | None) -> str:
    """``<type>_<field>``, or the bare type for field-less aggregations.

    >>> default_alias("avg", "cpu_percent"), default_alias("count", None)
    ('avg_cpu_percent', 'count')
    """
    return f"{name}_{field}" if field else name
