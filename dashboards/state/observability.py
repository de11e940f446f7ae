"""The observability page's state (guide section 25, "Admin > Observability").

Everything comes from ``GET /cep/stats`` and ``GET /cep/stats/checks`` through
:class:`cepkit.client.Client`: per rule the execution durations (average, p95, p99),
per channel the success and fallback rates and breaker opens, the ACK backlog, and the
server's daily or weekly checklist. The guide's targets for rule durations (average
< 500 ms, p95 < 2 s, p99 < 5 s) are shown next to the figures; every other judgement is
the server's (its checklist). Nothing here imports Panel; :meth:`refresh` blocks.

>>> within_targets(avg_ms=120.0, p95_ms=1900.0, p99_ms=4000.0)
True
>>> within_targets(avg_ms=120.0, p95_ms=2500.0, p99_ms=None)
False
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
import param

from cepkit.client import Client
from cepkit.errors import ClientError
from server.checks import Checklist
from server.stats import Stats

__all__ = [
    "AVG_TARGET_MS",
    "P95_TARGET_MS",
    "P99_TARGET_MS",
    "ObservabilityState",
    "within_targets",
]

#: guide 25.2: rule performance targets (ms)
AVG_TARGET_MS = 500.0
P95_TARGET_MS = 2000.0
P99_TARGET_MS = 5000.0

RULE_COLUMNS = (
    "rule_name",
    "executions",
    "firings",
    "avg_ms",
    "p95_ms",
    "p99_ms",
    "within_targets",
    "failed",
    "false_positive_rate",
)
CHANNEL_COLUMNS = (
    "channel",
    "deliveries",
    "success_rate",
    "fallback_rate",
    "breaker_opens",
    "short_circuited",
    "breaker_state",
)
CHECK_COLUMNS = ("status", "title", "value", "threshold", "detail")


def within_targets(*, avg_ms: float | None, p95_ms: float | None, p99_ms: float | None) -> bool:
    """Whether a rule's durations meet the guide's targets (a missing figure passes)."""
    pairs = ((avg_ms, AVG_TARGET_MS), (p95_ms, P95_TARGET_MS), (p99_ms, P99_TARGET_MS))
    return all(value is None or value < limit for value, limit in pairs)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


class ObservabilityState(param.Parameterized):
    """What the observability page shows."""

    period: param.Selector[str] = param.Selector(default="day", objects=["day", "week", "all"])
    stats = param.ClassSelector(class_=Stats, default=None, allow_None=True)
    checks = param.ClassSelector(class_=Checklist, default=None, allow_None=True)
    message = param.String(default="")

    def __init__(self, client: Client, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        self.client = client

    def refresh(self) -> None:
        """Read the figures for :attr:`period` and the matching checklist."""
        checklist: Literal["day", "week"] = "day" if self.period == "day" else "week"
        try:
            stats = self.client.stats(self.period)
            checks = self.client.checks(checklist)
        except ClientError as exc:
            self.message = str(exc)
            return
        self.param.update(stats=stats, checks=checks, message="")

    def rule_rows(self) -> pd.DataFrame:
        """Per rule: executions, firings, durations against the targets, failures, noise."""
        rows = []
        for rule in self.stats.rules if self.stats else []:
            d = rule.duration
            rows.append(
                {
                    "rule_name": rule.rule_name,
                    "executions": rule.executions,
                    "firings": rule.firings,
                    "avg_ms": _ms(d.avg_ms),
                    "p95_ms": _ms(d.p95_ms),
                    "p99_ms": _ms(d.p99_ms),
                    "within_targets": within_targets(
                        avg_ms=d.avg_ms, p95_ms=d.p95_ms, p99_ms=d.p99_ms
                    ),
                    "failed": rule.failed + rule.partial,
                    "false_positive_rate": _percent(rule.false_positive_rate),
                }
            )
        return pd.DataFrame(rows, columns=list(RULE_COLUMNS))

    def channel_rows(self) -> pd.DataFrame:
        """Per channel: deliveries, success and fallback rates, breaker opens and state."""
        rows = [
            {
                "channel": channel.channel,
                "deliveries": channel.deliveries,
                "success_rate": _percent(channel.success_rate),
                "fallback_rate": _percent(channel.fallback_rate),
                "breaker_opens": channel.breaker_opens,
                "short_circuited": channel.short_circuited,
                "breaker_state": channel.breaker_state or "",
            }
            for channel in (self.stats.channels if self.stats else [])
        ]
        return pd.DataFrame(rows, columns=list(CHANNEL_COLUMNS))

    def check_rows(self) -> pd.DataFrame:
        """The server's checklist: each item pass / warn / unknown with its threshold."""
        rows = [
            {
                "status": item.status,
                "title": item.title,
                "value": "" if item.value is None else str(item.value),
                "threshold": item.threshold,
                "detail": item.detail,
            }
            for item in (self.checks.items if self.checks else [])
        ]
        return pd.DataFrame(rows, columns=list(CHECK_COLUMNS))

    def backlog_text(self) -> str:
        """The ACK backlog in one line (as of now, whatever the period)."""
        if self.stats is None:
            return "ACK backlog: …"
        backlog = self.stats.backlog
        text = f"ACK backlog: {backlog.unacked} unacked"
        if backlog.oldest_unacked_age_seconds is not None:
            text += f", oldest {backlog.oldest_unacked_age_seconds / 60:.0f} min"
        return text + f", {backlog.over_sla} beyond the {backlog.sla_seconds / 3600:g} h SLA"

    def events_text(self) -> str:
        """Events of the period and the mean time to ACK."""
        if self.stats is None:
            return ""
        events = self.stats.events
        mtta = "n/a" if events.mtta_seconds is None else f"{events.mtta_seconds / 60:.1f} min"
        return (
            f"Events: {events.created} created, {events.acked} acked, "
            f"{events.dismissed} dismissed as noise; mean time to ACK {mtta}"
        )
