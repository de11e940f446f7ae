"""Firings: what the engine emits when a rule fires.

A firing's ``firing_id`` is a digest of the rule, the kind, the group, the window and
the evaluated instant (plus, for per-event firings, the event's content), so the same
rules over the same input always give the same ids: replay, the live runner and the
Bytewax flow agree on them, and a re-delivered event collapses onto its first firing.

>>> f = Firing.build(rule_key="r1", rule_name="cpu", severity="high", group={"host": "a"},
...                  window_start=0.0, window_end=300.0, event_time=300.0,
...                  values={"avg_cpu": 91.5})
>>> f.firing_id == Firing.build(rule_key="r1", rule_name="cpu", severity="high",
...     group={"host": "a"}, window_start=0.0, window_end=300.0, event_time=300.0,
...     values={"avg_cpu": 91.5}).firing_id
True
>>> f.window_end.isoformat()
'1970-01-01T00:05:00+00:00'
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cepkit.conditions import ExplainGroup, ExplainLeaf
from cepkit.timefields import to_datetime

__all__ = ["Firing", "Silence", "digest"]


def digest(*parts: Any) -> str:
    """A short stable hex digest of JSON-able ``parts`` (keys sorted, non-JSON via str)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


class Silence(BaseModel):
    """The suppression a firing opens: later firings of its rule with the same ``key``
    values (``{}``: the whole rule) are suppressed until ``until`` (event time)."""

    model_config = ConfigDict(frozen=True)

    key: dict[str, Any] = Field(default_factory=dict)
    until: datetime


class Firing(BaseModel):
    """One firing of one rule (``kind="firing"``) or its recovery (``kind="recovery"``)."""

    model_config = ConfigDict(frozen=True)

    firing_id: str
    rule_id: str | None
    rule_name: str
    severity: str
    kind: Literal["firing", "recovery"] = "firing"
    group: dict[str, Any] = Field(default_factory=dict)
    window_start: datetime | None = None
    window_end: datetime | None = None
    event_time: datetime
    values: dict[str, Any] = Field(default_factory=dict)
    explain: ExplainLeaf | ExplainGroup | None = None
    payload: dict[str, Any] | None = None
    suppressed: bool = False
    silence: Silence | None = None
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def build(
        cls,
        *,
        rule_key: str,
        rule_name: str,
        severity: str,
        event_time: float,
        group: dict[str, Any] | None = None,
        window_start: float | None = None,
        window_end: float | None = None,
        values: dict[str, Any] | None = None,
        explain: ExplainLeaf | ExplainGroup | None = None,
        payload: dict[str, Any] | None = None,
        kind: Literal["firing", "recovery"] = "firing",
        rule_id: str | None = None,
        suppressed: bool = False,
        silence: Silence | None = None,
        identity: Any = None,
        notes: list[str] | None = None,
    ) -> Firing:
        """A firing with its id computed from what identifies it.

        ``identity`` adds to the id what else distinguishes two firings at the same
        instant (the engine passes the event's content for per-event firings).
        """
        group = group or {}
        firing_id = digest(rule_key, kind, group, window_start, window_end, event_time, identity)
        return cls(
            firing_id=firing_id,
            rule_id=rule_id,
            rule_name=rule_name,
            severity=severity,
            kind=kind,
            group=group,
            window_start=None if window_start is None else to_datetime(window_start),
            window_end=None if window_end is None else to_datetime(window_end),
            event_time=to_datetime(event_time),
            values=values or {},
            explain=explain,
            payload=payload,
            suppressed=suppressed,
            silence=silence,
            notes=notes or [],
        )
