"""Cron schedules: the next fire times of a schedule rule, in its time zone.

The rule's ``timezone`` (an IANA name, default UTC) decides what ``0 9 * * 1-5`` means:
09:00 on weekdays *there*. Times come back timezone-aware in UTC.

>>> from datetime import UTC, datetime
>>> rule = {"rule_name": "daily_report", "trigger_type": "schedule",
...         "trigger_spec": {"scheduleExpression": "0 9 * * 1-5", "timezone": "Asia/Seoul"}}
>>> [t.isoformat() for t in next_fire_times(rule, datetime(2026, 2, 6, 12, tzinfo=UTC), 2)]
['2026-02-09T00:00:00+00:00', '2026-02-10T00:00:00+00:00']
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cepkit.rules import Rule, ScheduleTrigger, parse_rule

__all__ = ["next_fire_times"]


def next_fire_times(rule: Rule | Mapping[str, Any], after: datetime, n: int = 1) -> list[datetime]:
    """The next ``n`` instants after ``after`` (exclusive) at which ``rule`` fires.

    Raises ValueError for a rule that is not a schedule rule or a naive ``after``.
    """
    model = parse_rule(rule)
    spec = model.trigger_spec
    if not isinstance(spec, ScheduleTrigger):
        raise ValueError(f"rule {model.rule_name!r} is a {model.trigger_type} rule, not schedule")
    if n < 0:
        raise ValueError("n must not be negative")
    return spec.next_times(after, n)
