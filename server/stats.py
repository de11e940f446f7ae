"""Operational figures for ``/cep/stats`` (guide section 25); the daily / weekly checks
built on them (20.4) are :mod:`server.checks`.

Everything is computed over a :class:`Period` from three inputs: the events created in
it (:class:`EventFacts`), the execution logs started in it, and the ACK backlog *now*.
The computations are pure functions of those rows and the clock's ``now``;
:func:`collect_stats` reads the stores and calls them.

- **Rules**: per rule, firings (events created), ACKs and dismissals, executions by
  status, suppressed firings, and the duration of executions (every status but
  ``suppressed``): average, p50, p95, p99 and max. Percentiles are exact over the
  period's values, linearly interpolated between the closest ranks (numpy's default,
  the same as pandas ``quantile``).
- **Channels**: every delivery in the logs' per-action results that names a channel
  (``webhook`` results count under ``webhook:<host>``) and says ``success`` or
  ``failed``; results lacking either key are not counted. ``success_rate`` is over
  every delivery to the channel (as primary or as another's fallback);
  ``fallback_rate`` is the share of its primary deliveries that needed the fallback; a
  *breaker open* is a failed delivery that was attempted and left the breaker
  ``open``, a *short-circuit* one refused because it already was.
- **ACKs**: for the events created in the period, the mean time to ACK (``acked_at -
  created_at``; a dismissal acknowledges too); the backlog (unacknowledged events,
  the oldest one's age, how many wait longer than the SLA) is as of now, whatever the
  period.

>>> from datetime import UTC, datetime, timedelta
>>> now = datetime(2026, 2, 8, 12, tzinfo=UTC)
>>> period = period_of("day", now)
>>> period.since.isoformat(), period.until
('2026-02-07T12:00:00+00:00', None)
>>> duration_stats([10.0, 20.0, 30.0, 40.0]).p95_ms
38.5
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from cepkit.clock import Clock
from cepkit.store import EventStore, ExecutionLog, ExecutionLogStore
from cepkit.store.events import events_table
from cepkit.store.sql import mapped

__all__ = [
    "AckBacklog",
    "ChannelStats",
    "DurationStats",
    "EventFacts",
    "EventTotals",
    "ExecutionTotals",
    "Period",
    "RuleStats",
    "Stats",
    "channel_stats",
    "collect_stats",
    "compute_stats",
    "duration_stats",
    "execution_totals",
    "period_of",
]

log = logging.getLogger(__name__)

PeriodName = Literal["day", "week", "all", "custom"]
_SPANS = {"day": timedelta(days=1), "week": timedelta(days=7)}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- the period ----------------------------------------------------------------------------


class Period(_Frozen):
    """``since`` inclusive (None: from the start), ``until`` exclusive (None: up to now)."""

    name: PeriodName
    since: datetime | None = None
    until: datetime | None = None

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` falls in the period."""
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )

    def days(self, now: datetime) -> float | None:
        """The period's length in days (None when it has no start)."""
        if self.since is None:
            return None
        return ((self.until or now) - self.since).total_seconds() / 86400.0


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def period_of(
    name: Literal["day", "week", "all"],
    now: datetime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Period:
    """The last 24 hours, the last 7 days, or everything; ``since``/``until`` (naive
    datetimes are UTC) make a custom period instead. ValueError when since >= until.

    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 2, 8, 12, tzinfo=UTC)
    >>> period_of("week", now).since.isoformat()
    '2026-02-01T12:00:00+00:00'
    >>> period_of("day", now, since=datetime(2026, 2, 8)).name
    'custom'
    """
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    if since is not None or until is not None:
        return Period(name="custom", since=since, until=until)
    if name == "all":
        return Period(name="all")
    return Period(name=name, since=now - _SPANS[name])


# --- inputs --------------------------------------------------------------------------------


class EventFacts(_Frozen):
    """What the figures need of one event."""

    event_id: str
    rule_id: str | None
    rule_name: str
    created_at: datetime
    acked: bool = False
    acked_at: datetime | None = None
    dismissed: bool = False


def load_events(engine: Engine, period: Period, tenant: str | None = None) -> list[EventFacts]:
    """The events created in ``period`` (by ``created_at``, the console's time), oldest first."""
    t = events_table.c
    query = select(
        t.event_id, t.rule_id, t.rule_name, t.created_at, t.acked, t.acked_at, t.dismissed
    ).order_by(t.seq)
    if tenant is not None:
        query = query.where(t.tenant == tenant)
    if period.since is not None:
        query = query.where(t.created_at >= period.since)
    if period.until is not None:
        query = query.where(t.created_at < period.until)
    with mapped("read events for the statistics"), engine.connect() as conn:
        rows = conn.execute(query).all()
    return [EventFacts.model_validate(row._asdict()) for row in rows]


def load_logs(
    logs: ExecutionLogStore, period: Period, tenant: str | None = None
) -> list[ExecutionLog]:
    """The execution logs started in ``period``, oldest first."""
    entries = logs.since(period.since, tenant=tenant)
    return sorted(
        (entry for entry in entries if period.contains(entry.started_at)),
        key=lambda entry: entry.started_at,
    )


class AckBacklog(_Frozen):
    """Unacknowledged events now, the oldest one's age, and how many wait beyond the SLA."""

    unacked: int
    oldest_unacked_at: datetime | None = None
    oldest_unacked_age_seconds: float | None = None
    over_sla: int = 0
    sla_seconds: float


def ack_backlog(
    events: EventStore,
    engine: Engine,
    now: datetime,
    *,
    sla_seconds: float,
    tenant: str | None = None,
) -> AckBacklog:
    """The backlog as of ``now`` (every unacknowledged event, whenever it was created)."""
    counts = events.counts(tenant=tenant)
    oldest = _utc(counts.get("oldest_unacked"))
    t = events_table.c
    query = (
        select(func.count())
        .select_from(events_table)
        .where(t.acked.is_(False), t.created_at < now - timedelta(seconds=sla_seconds))
    )
    if tenant is not None:
        query = query.where(t.tenant == tenant)
    with mapped("count the ACK backlog"), engine.connect() as conn:
        over = int(conn.execute(query).scalar_one())
    return AckBacklog(
        unacked=int(counts.get("unacked", 0)),
        oldest_unacked_at=oldest,
        oldest_unacked_age_seconds=_round((now - oldest).total_seconds()) if oldest else None,
        over_sla=over,
        sla_seconds=sla_seconds,
    )


# --- figures -------------------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


class DurationStats(_Frozen):
    """Execution durations in milliseconds (None when there is none)."""

    count: int = 0
    avg_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


def duration_stats(values: Sequence[float]) -> DurationStats:
    """Average, exact percentiles (linear interpolation) and max, rounded to the µs.

    >>> d = duration_stats([float(ms) for ms in range(1, 101)])
    >>> d.avg_ms, d.p50_ms, d.p95_ms, d.p99_ms, d.max_ms
    (50.5, 50.5, 95.05, 99.01, 100.0)
    >>> duration_stats([]).p95_ms is None
    True
    """
    if not values:
        return DurationStats()
    data = np.asarray(values, dtype=float)
    p50, p95, p99 = np.percentile(data, [50, 95, 99])
    return DurationStats(
        count=len(values),
        avg_ms=_round(float(data.mean())),
        p50_ms=_round(float(p50)),
        p95_ms=_round(float(p95)),
        p99_ms=_round(float(p99)),
        max_ms=_round(float(data.max())),
    )


class ExecutionTotals(_Frozen):
    """Every execution log of the period."""

    executions: int = 0
    success: int = 0
    failed: int = 0
    partial: int = 0
    dry_run: int = 0
    suppressed: int = 0
    duration: DurationStats = Field(default_factory=DurationStats)


class RuleStats(ExecutionTotals):
    """One rule over the period: firings and verdicts, executions and their durations."""

    rule_id: str | None
    rule_name: str
    firings: int = 0
    acked: int = 0
    dismissed: int = 0
    unacked: int = 0
    false_positive_rate: float | None = Field(
        default=None, description="dismissed as noise / acknowledged (dismissals included)"
    )
    mtta_seconds: float | None = None


class EventTotals(_Frozen):
    """The events created in the period and how they were answered."""

    created: int = 0
    acked: int = 0
    dismissed: int = 0
    unacked: int = 0
    mtta_seconds: float | None = Field(default=None, description="mean time to ACK")


class ChannelStats(_Frozen):
    """Deliveries to one channel over the period (see the module docstring)."""

    channel: str
    deliveries: int = 0
    primary: int = 0
    as_fallback: int = 0
    succeeded: int = 0
    failed: int = 0
    success_rate: float | None = None
    failure_rate: float | None = None
    fallback_used: int = 0
    fallback_rate: float | None = None
    undelivered: int = Field(default=0, description="failed, and no fallback got it through")
    attempts: int = 0
    breaker_opens: int = 0
    short_circuited: int = 0
    breaker_state: str | None = Field(default=None, description="as the newest delivery left it")


class Stats(_Frozen):
    """The answer of ``GET /cep/stats``."""

    period: Period
    generated_at: datetime
    events: EventTotals
    backlog: AckBacklog
    executions: ExecutionTotals
    rules: list[RuleStats]
    channels: list[ChannelStats]


def _mtta(events: Iterable[EventFacts]) -> float | None:
    waits = [
        (e.acked_at - e.created_at).total_seconds()
        for e in events
        if e.acked and e.acked_at is not None
    ]
    return _round(sum(waits) / len(waits)) if waits else None


def execution_totals(logs: Sequence[ExecutionLog]) -> ExecutionTotals:
    """Counts by status; durations over every execution but the suppressed ones."""
    statuses = [entry.status for entry in logs]
    return ExecutionTotals(
        executions=len(statuses) - statuses.count("suppressed"),
        success=statuses.count("success"),
        failed=statuses.count("failed"),
        partial=statuses.count("partial"),
        dry_run=statuses.count("dry_run"),
        suppressed=statuses.count("suppressed"),
        duration=duration_stats([e.duration_ms for e in logs if e.status != "suppressed"]),
    )


@dataclass
class _RuleTally:
    rule_id: str | None
    rule_name: str
    events: list[EventFacts] = field(default_factory=list)
    logs: list[ExecutionLog] = field(default_factory=list)

    def freeze(self) -> RuleStats:
        acked = sum(e.acked for e in self.events)
        dismissed = sum(e.dismissed for e in self.events)
        return RuleStats(
            rule_id=self.rule_id,
            rule_name=self.rule_name,
            firings=len(self.events),
            acked=acked,
            dismissed=dismissed,
            unacked=len(self.events) - acked,
            false_positive_rate=_ratio(dismissed, acked),
            mtta_seconds=_mtta(self.events),
            **dict(execution_totals(self.logs)),
        )


def rule_stats(events: Sequence[EventFacts], logs: Sequence[ExecutionLog]) -> list[RuleStats]:
    """Per rule (by ``rule_id``, else by name), most firings first, then most executions."""
    tallies: dict[tuple[str | None, str | None], _RuleTally] = {}

    def tally(rule_id: str | None, rule_name: str) -> _RuleTally:
        key = (rule_id, None if rule_id is not None else rule_name)
        found = tallies.get(key)
        if found is None:
            found = tallies[key] = _RuleTally(rule_id, rule_name)
        found.rule_name = rule_name  # the newest name wins
        return found

    for entry in logs:
        tally(entry.rule_id, entry.rule_name).logs.append(entry)
    for event in events:
        tally(event.rule_id, event.rule_name).events.append(event)
    rules = [t.freeze() for t in tallies.values()]
    return sorted(rules, key=lambda r: (-r.firings, -r.executions, r.rule_name))


@dataclass
class _ChannelTally:
    primary: int = 0
    as_fallback: int = 0
    succeeded: int = 0
    failed: int = 0
    fallback_used: int = 0
    undelivered: int = 0
    attempts: int = 0
    breaker_opens: int = 0
    short_circuited: int = 0
    breaker_state: str | None = None

    def count(self, result: Mapping[str, Any]) -> None:
        """The attempts, outcome and breaker of one delivery (primary or fallback)."""
        failed = result.get("status") == "failed"
        self.succeeded += not failed
        self.failed += failed
        attempts = result.get("attempts")
        tried = len(attempts) if isinstance(attempts, list) else 0
        self.attempts += tried
        breaker = result.get("breaker")
        if breaker in ("closed", "open", "half_open"):
            self.breaker_state = breaker
            if breaker == "open" and failed:
                if tried:
                    self.breaker_opens += 1
                else:
                    self.short_circuited += 1

    def freeze(self, channel: str) -> ChannelStats:
        deliveries = self.primary + self.as_fallback
        return ChannelStats(
            channel=channel,
            deliveries=deliveries,
            primary=self.primary,
            as_fallback=self.as_fallback,
            succeeded=self.succeeded,
            failed=self.failed,
            success_rate=_ratio(self.succeeded, deliveries),
            failure_rate=_ratio(self.failed, deliveries),
            fallback_used=self.fallback_used,
            fallback_rate=_ratio(self.fallback_used, self.primary),
            undelivered=self.undelivered,
            attempts=self.attempts,
            breaker_opens=self.breaker_opens,
            short_circuited=self.short_circuited,
            breaker_state=self.breaker_state,
        )


def _channel_of(result: Mapping[str, Any]) -> str | None:
    if result.get("status") not in ("success", "failed"):
        return None
    channel = result.get("channel")
    if isinstance(channel, str) and channel:
        return channel
    if result.get("action_type") == "webhook":
        target = result.get("target")
        host = urlsplit(target).netloc.rpartition("@")[2] if isinstance(target, str) else ""
        return f"webhook:{host}" if host else "webhook"
    return None


def _delivered(result: Mapping[str, Any], fallback: Mapping[str, Any] | None) -> bool:
    delivered = result.get("delivered")
    if isinstance(delivered, bool):
        return delivered
    return result.get("status") == "success" or (
        fallback is not None and fallback.get("status") == "success"
    )


def channel_stats(logs: Iterable[ExecutionLog]) -> list[ChannelStats]:
    """Per channel, from the logs' per-action results (oldest log first), by name.

    A ``fallback`` shared by several failed channels of one action counts once.

    >>> from datetime import UTC, datetime
    >>> entry = ExecutionLog.new(rule_id="r", rule_name="cpu", trigger="ingest",
    ...     status="success", started_at=datetime(2026, 2, 8, tzinfo=UTC), duration_ms=5.0,
    ...     actions=[{"action_type": "notify", "channel": "Slack", "status": "failed",
    ...               "attempts": [{"attempt": 1}], "breaker": "closed",
    ...               "fallback": {"channel": "Email", "role": "fallback",
    ...                            "status": "success", "attempts": [{"attempt": 1}]}}])
    >>> [(c.channel, c.deliveries, c.success_rate, c.fallback_rate) for c in channel_stats([entry])]
    [('Email', 1, 1.0, None), ('Slack', 1, 0.0, 1.0)]
    """
    tallies: dict[str, _ChannelTally] = {}
    for entry in logs:
        fallbacks_seen: set[tuple[Any, str]] = set()
        for result in entry.actions:
            if not isinstance(result, Mapping):
                continue
            channel = _channel_of(result)
            if channel is None:
                continue
            tally = tallies.setdefault(channel, _ChannelTally())
            fallback = result.get("fallback")
            backup = fallback if isinstance(fallback, Mapping) else None
            if result.get("role") == "fallback":
                key = (result.get("action_index"), channel)
                if key not in fallbacks_seen:
                    fallbacks_seen.add(key)
                    tally.as_fallback += 1
                    tally.count(result)
                continue
            tally.primary += 1
            tally.count(result)
            failed = result.get("status") == "failed"
            if failed and (backup is not None or result.get("fallback_used") is True):
                tally.fallback_used += 1
            if failed and not _delivered(result, backup):
                tally.undelivered += 1
            backup_channel = _channel_of(backup) if backup is not None else None
            if backup is not None and backup_channel is not None:
                key = (result.get("action_index"), backup_channel)
                if key not in fallbacks_seen:
                    fallbacks_seen.add(key)
                    other = tallies.setdefault(backup_channel, _ChannelTally())
                    other.as_fallback += 1
                    other.count(backup)
    return [tallies[name].freeze(name) for name in sorted(tallies)]


def compute_stats(
    events: Sequence[EventFacts],
    logs: Sequence[ExecutionLog],
    *,
    period: Period,
    now: datetime,
    backlog: AckBacklog,
) -> Stats:
    """Every figure of ``GET /cep/stats`` from the period's rows (pure)."""
    acked = sum(e.acked for e in events)
    return Stats(
        period=period,
        generated_at=now,
        events=EventTotals(
            created=len(events),
            acked=acked,
            dismissed=sum(e.dismissed for e in events),
            unacked=len(events) - acked,
            mtta_seconds=_mtta(events),
        ),
        backlog=backlog,
        executions=execution_totals(logs),
        rules=rule_stats(events, logs),
        channels=channel_stats(logs),
    )


# --- from the stores -------------------------------------------------------------------------


def collect_stats(
    *,
    engine: Engine,
    events: EventStore,
    logs: ExecutionLogStore,
    clock: Clock,
    period: Period,
    sla_seconds: float = 3600.0,
    tenant: str | None = None,
) -> Stats:
    """Read the period's rows and the backlog (one tenant's, when given), then
    :func:`compute_stats`."""
    now = clock.now()
    return compute_stats(
        load_events(engine, period, tenant),
        load_logs(logs, period, tenant),
        period=period,
        now=now,
        backlog=ack_backlog(events, engine, now, sla_seconds=sla_seconds, tenant=tenant),
    )
