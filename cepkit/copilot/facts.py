"""What the rule-based drafter read from a sentence, before it becomes a rule.

Each record keeps the position where its phrase started, so actions keep the order in
which the sentence names them. :class:`Facts` is filled by :mod:`cepkit.copilot.parser`
and turned into a rule by :mod:`cepkit.copilot.builder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cepkit.copilot.schedules import ScheduleFacts

__all__ = [
    "AnomalyFacts",
    "Comparison",
    "CountFacts",
    "EventFacts",
    "Facts",
    "Logic",
    "WebhookFacts",
    "WindowFacts",
]

Logic = Literal["AND", "OR"]


@dataclass(frozen=True)
class Comparison:
    """``field op value``, e.g. ``cpu_usage > 90``; ``joins`` is the logic its wording
    gives to the next comparison (``넘고`` -> AND, ``넘거나`` -> OR)."""

    field: str
    op: str
    value: float
    start: int
    end: int
    joins: Logic | None = None

    def describe(self) -> str:
        """``cpu_usage > 90``."""
        return f"{self.field} {self.op} {self.value:g}"


@dataclass(frozen=True)
class WindowFacts:
    """A window length (``5m``) and the aggregation named with it (None when none)."""

    duration: str
    aggregation: str | None
    text: str = ""


@dataclass(frozen=True)
class CountFacts:
    """A number of events in the window: ``count op value`` ("에러 5건 이상")."""

    op: str
    value: int
    event_type: str | None
    severity: str | None


@dataclass(frozen=True)
class EventFacts:
    """An event pattern: its type, where it comes from, the severity it must carry."""

    event_type: str | None = None
    source: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class AnomalyFacts:
    """A detector: the method and the parameters the sentence gave (None: the default)."""

    method: str | None = None
    threshold: float | None = None
    multiplier: float | None = None
    alpha: float | None = None
    window: int | None = None
    subject: str | None = None


@dataclass(frozen=True)
class WebhookFacts:
    """A URL to call, and where it was written."""

    url: str
    start: int


@dataclass
class Facts:
    """Everything read from one sentence (mutable while the parser fills it)."""

    comparisons: list[Comparison] = field(default_factory=list)
    links: list[Logic] = field(default_factory=list)
    window: WindowFacts | None = None
    count: CountFacts | None = None
    event: EventFacts | None = None
    schedule: ScheduleFacts | None = None
    anomaly: AnomalyFacts | None = None
    webhooks: list[WebhookFacts] = field(default_factory=list)
    method: str | None = None
    channels: list[tuple[int, str]] = field(default_factory=list)
    fallback: str | None = None
    message: str | None = None
    severity: str | None = None
    priority: str | None = None
    rule_name: str | None = None
    group_by: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)

    @property
    def kind(self) -> Literal["metric", "event", "schedule", "anomaly"] | None:
        """The trigger type the facts call for (None: nothing to trigger on)."""
        if self.anomaly is not None:
            return "anomaly"
        if self.schedule is not None and self.schedule.cron is not None:
            return "schedule"
        if self.event is not None or self.count is not None:
            return "event"
        if self.comparisons:
            return "metric"
        return None
