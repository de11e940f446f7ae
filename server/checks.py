"""The guide's daily and weekly checks (section 20.4), computed from :mod:`server.stats`.

Daily: events in the period, the ACK backlog, failed notifications, scheduler health and
anomaly precision; weekly: the top-5 rules by firings and by dismissed-as-noise, channel
failure rates and the mean time to ACK. Each item passes, warns or is unknown against
:class:`Thresholds`; :func:`compute_checks` is a pure function of a :class:`Stats`,
:func:`collect_checks` reads the stores first.

>>> from datetime import UTC, datetime
>>> from server.stats import AckBacklog, compute_stats, period_of
>>> now = datetime(2026, 2, 8, 12, tzinfo=UTC)
>>> quiet = AckBacklog(unacked=0, sla_seconds=3600)
>>> stats = compute_stats([], [], period=period_of("week", now), now=now, backlog=quiet)
>>> checks = compute_checks(stats, kind="weekly", scheduler=scheduler_health(None))
>>> checks.kind, [item.title for item in checks.items][:2]
('weekly', ['Top 5 rules by firings', 'Top 5 rules dismissed as noise'])
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from cepkit.clock import Clock
from cepkit.store import EventStore, ExecutionLogStore, RuleStore
from server.stats import (
    ChannelStats,
    Period,
    RuleStats,
    Stats,
    _Frozen,
    _ratio,
    collect_stats,
    period_of,
)

__all__ = [
    "CheckItem",
    "CheckStatus",
    "Checklist",
    "RuleCount",
    "SchedulerHealth",
    "Thresholds",
    "collect_checks",
    "compute_checks",
    "scheduler_health",
]

log = logging.getLogger(__name__)

CheckStatus = Literal["pass", "warn", "unknown"]


# --- the scheduler -------------------------------------------------------------------------


class SchedulerHealth(_Frozen):
    """``healthy`` / ``degraded`` from what the scheduler reports, else ``unknown``."""

    state: Literal["healthy", "degraded", "unknown"]
    detail: str
    status: dict[str, Any] | None = Field(
        default=None, description="the scheduler's own status report, as JSON"
    )


_HEALTHY = {"ok", "healthy", "running", "leader", "follower", "standby", "active"}
_DEGRADED = {"stopped", "error", "failed", "degraded", "unhealthy", "down"}


def _report(scheduler: object) -> Any:
    status = getattr(scheduler, "status", None)
    if callable(status):
        status = status()
    if inspect.isawaitable(status):
        if inspect.iscoroutine(status):
            status.close()
        raise TypeError("the scheduler's status() is asynchronous")
    if isinstance(status, BaseModel):
        return status.model_dump(mode="json")
    return status


def scheduler_health(scheduler: object | None) -> SchedulerHealth:
    """Read ``scheduler.status()`` (or ``.status``) defensively: ``healthy``/``running``
    booleans, a ``state``/``status`` word, or ``missed``/``missed_runs`` > 0 decide.

    >>> scheduler_health(None).state
    'unknown'
    >>> class Scheduler:
    ...     def status(self):
    ...         return {"running": True, "missed_runs": 0}
    >>> scheduler_health(Scheduler()).state
    'healthy'
    """
    if scheduler is None:
        return SchedulerHealth(state="unknown", detail="no scheduler runs in this server")
    try:
        report = _report(scheduler)
    except Exception as exc:  # a broken scheduler must not break the stats
        log.warning("scheduler status unreadable: %s", exc)
        return SchedulerHealth(state="unknown", detail=f"status unreadable: {exc}")
    if not isinstance(report, Mapping):
        return SchedulerHealth(state="unknown", detail="the scheduler reports no status")
    status = {str(key): value for key, value in report.items()}
    missed = next((status[k] for k in ("missed", "missed_runs") if k in status), None)
    word = next((status[k] for k in ("state", "status") if isinstance(status.get(k), str)), None)
    flag = next(
        (status[k] for k in ("healthy", "running") if isinstance(status.get(k), bool)), None
    )
    problems = status.get("problems")
    if flag is False or (isinstance(word, str) and word.lower() in _DEGRADED):
        state: Literal["healthy", "degraded", "unknown"] = "degraded"
        detail = f"scheduler reports {word or 'not healthy'}"
        if isinstance(problems, list) and problems:
            detail = "; ".join(str(problem) for problem in problems)
    elif isinstance(missed, int) and not isinstance(missed, bool) and missed > 0:
        state, detail = "degraded", f"{missed} missed runs"
    elif flag is True or (isinstance(word, str) and word.lower() in _HEALTHY):
        state, detail = "healthy", f"scheduler reports {word or 'running'}"
    else:
        state, detail = "unknown", "the scheduler's status says neither healthy nor not"
    return SchedulerHealth(state=state, detail=detail, status=status)


# --- the checklists of guide 20.4 ------------------------------------------------------------


class Thresholds(_Frozen):
    """The limits the checks use; defaults from guide section 25 (and 20.4)."""

    ack_sla_seconds: float = Field(default=3600.0, description="ACK wait < 1 h (25.2)")
    max_failed_notifications: int = Field(default=0, description="failed or partial runs")
    min_channel_success_rate: float = Field(default=0.95, description="success rate > 95%")
    max_fallback_rate: float = Field(default=0.10, description="fallback rate < 10%")
    max_breaker_opens: int = Field(default=0, description="circuit breaker opens: 0")
    max_false_positive_rate: float = Field(default=0.05, description="false positives < 5%")
    max_firings_per_rule_per_day: float = Field(
        default=24.0, description="one alert per rule per hour (the guide's suppression)"
    )


class RuleCount(_Frozen):
    """One line of a top-5."""

    rule_id: str | None
    rule_name: str
    count: int
    rate: float | None = None


class CheckItem(_Frozen):
    """One line of a checklist: the figure, the limit it is held to, pass/warn/unknown."""

    key: str
    title: str
    status: CheckStatus
    value: int | float | str | None = None
    threshold: str
    detail: str
    top: list[RuleCount] = Field(default_factory=list)


class Checklist(_Frozen):
    """``GET /cep/stats/checks``: the daily or weekly routine of guide 20.4."""

    kind: Literal["daily", "weekly"]
    period: Period
    generated_at: datetime
    status: CheckStatus
    items: list[CheckItem]
    thresholds: Thresholds


def _held(ok: bool | None) -> CheckStatus:
    """``pass`` when the limit holds, ``warn`` when not, ``unknown`` with nothing to judge."""
    return "unknown" if ok is None else "pass" if ok else "warn"


def _worst(items: Sequence[CheckItem]) -> CheckStatus:
    statuses = {item.status for item in items}
    return "warn" if "warn" in statuses else "unknown" if "unknown" in statuses else "pass"


def _percent(rate: float) -> str:
    return f"{rate * 100:.4g}%"


def _daily(
    stats: Stats,
    limits: Thresholds,
    scheduler: SchedulerHealth,
    anomaly_rule_ids: set[str],
    active_rules: int,
) -> list[CheckItem]:
    days = stats.period.days(stats.generated_at) or 1.0
    budget = limits.max_firings_per_rule_per_day * days * max(active_rules, 1)
    created = stats.events.created
    backlog = stats.backlog
    failed = stats.executions.failed + stats.executions.partial
    anomaly = [r for r in stats.rules if r.rule_id in anomaly_rule_ids]
    verdicts = sum(r.acked for r in anomaly)
    noise = sum(r.dismissed for r in anomaly)
    precision = _ratio(verdicts - noise, verdicts)
    age = backlog.oldest_unacked_age_seconds
    return [
        CheckItem(
            key="events_count",
            title="Events count",
            status=_held(created <= budget),
            value=created,
            threshold=f"<= {budget:g} ({limits.max_firings_per_rule_per_day:g} per active rule "
            f"per day x {max(active_rules, 1)} rules)",
            detail=f"{created} events created, {stats.events.unacked} of them not acknowledged",
        ),
        CheckItem(
            key="ack_backlog",
            title="ACK backlog",
            status=_held(backlog.over_sla == 0),
            value=backlog.unacked,
            threshold=f"no event unacknowledged for more than {limits.ack_sla_seconds:g} s",
            detail=f"{backlog.unacked} unacknowledged, {backlog.over_sla} beyond the SLA"
            + (f"; the oldest waits {age:g} s" if age is not None else ""),
        ),
        CheckItem(
            key="failed_notifications",
            title="Failed notifications",
            status=_held(failed <= limits.max_failed_notifications),
            value=failed,
            threshold=f"<= {limits.max_failed_notifications} failed or partial executions",
            detail=f"{stats.executions.failed} failed and {stats.executions.partial} partial "
            f"executions; {sum(c.undelivered for c in stats.channels)} deliveries lost",
        ),
        CheckItem(
            key="scheduler_health",
            title="Scheduler health",
            status=_held(None if scheduler.state == "unknown" else scheduler.state == "healthy"),
            value=scheduler.state,
            threshold="healthy",
            detail=scheduler.detail,
        ),
        CheckItem(
            key="anomaly_precision",
            title="Anomaly precision",
            status=_held(
                None if precision is None else precision >= 1 - limits.max_false_positive_rate
            ),
            value=precision,
            threshold=f">= {_percent(1 - limits.max_false_positive_rate)} of acknowledged "
            "anomaly events are incidents (not dismissed as noise)",
            detail=f"{verdicts - noise} incidents, {noise} noise among {verdicts} verdicts "
            f"on {len(anomaly_rule_ids)} anomaly rules",
        ),
    ]


def _top(rules: Sequence[RuleStats], count: str, rate: str | None = None) -> list[RuleCount]:
    ranked = sorted(
        (r for r in rules if getattr(r, count) > 0),
        key=lambda r: (-getattr(r, count), -(getattr(r, rate) or 0) if rate else 0, r.rule_name),
    )
    return [
        RuleCount(
            rule_id=r.rule_id,
            rule_name=r.rule_name,
            count=getattr(r, count),
            rate=getattr(r, rate) if rate else None,
        )
        for r in ranked[:5]
    ]


def _channel_problems(channel: ChannelStats, limits: Thresholds) -> list[str]:
    problems = []
    if channel.success_rate is not None and channel.success_rate < limits.min_channel_success_rate:
        problems.append(f"success {_percent(channel.success_rate)}")
    if channel.fallback_rate is not None and channel.fallback_rate > limits.max_fallback_rate:
        problems.append(f"fallback {_percent(channel.fallback_rate)}")
    if channel.breaker_opens > limits.max_breaker_opens:
        problems.append(f"breaker opened {channel.breaker_opens}x")
    return problems


def _weekly(stats: Stats, limits: Thresholds) -> list[CheckItem]:
    days = stats.period.days(stats.generated_at) or 7.0
    per_rule = limits.max_firings_per_rule_per_day * days
    firings = _top(stats.rules, "firings")
    noisy = _top(stats.rules, "dismissed", "false_positive_rate")
    deliveries = sum(c.deliveries for c in stats.channels)
    failures = sum(c.failed for c in stats.channels)
    problems = {c.channel: _channel_problems(c, limits) for c in stats.channels}
    bad = {name: found for name, found in problems.items() if found}
    mtta = stats.events.mtta_seconds
    return [
        CheckItem(
            key="top_rules_by_firings",
            title="Top 5 rules by firings",
            status=_held(all(r.count <= per_rule for r in firings)),
            value=firings[0].count if firings else 0,
            threshold=f"<= {per_rule:g} firings per rule",
            detail=", ".join(f"{r.rule_name} {r.count}" for r in firings) or "no firings",
            top=firings,
        ),
        CheckItem(
            key="top_rules_by_noise",
            title="Top 5 rules dismissed as noise",
            status=_held(all((r.rate or 0) <= limits.max_false_positive_rate for r in noisy)),
            value=noisy[0].count if noisy else 0,
            threshold=f"false-positive rate (dismissed / acknowledged) <= "
            f"{_percent(limits.max_false_positive_rate)}",
            detail=", ".join(f"{r.rule_name} {r.count}" for r in noisy) or "nothing dismissed",
            top=noisy,
        ),
        CheckItem(
            key="channel_failure_rate",
            title="Channel failure rate",
            status=_held(not bad),
            value=_ratio(failures, deliveries),
            threshold=f"per channel: success >= {_percent(limits.min_channel_success_rate)}, "
            f"fallback <= {_percent(limits.max_fallback_rate)}, breaker opens <= "
            f"{limits.max_breaker_opens}",
            detail="; ".join(f"{name}: {', '.join(found)}" for name, found in bad.items())
            or f"{failures} of {deliveries} deliveries failed",
        ),
        CheckItem(
            key="mean_time_to_ack",
            title="Mean time to ACK",
            status=_held(None if mtta is None else mtta <= limits.ack_sla_seconds),
            value=mtta,
            threshold=f"<= {limits.ack_sla_seconds:g} s",
            detail=f"{stats.events.acked} of {stats.events.created} events acknowledged",
        ),
    ]


def compute_checks(
    stats: Stats,
    *,
    kind: Literal["daily", "weekly"],
    scheduler: SchedulerHealth,
    anomaly_rule_ids: Iterable[str] = (),
    active_rules: int = 0,
    thresholds: Thresholds | None = None,
) -> Checklist:
    """The daily (events, backlog, failed notifications, scheduler, anomaly precision) or
    weekly (top-5 by firings and by noise, channel failure rate, MTTA) checks (pure)."""
    limits = thresholds or Thresholds()
    if kind == "daily":
        items = _daily(stats, limits, scheduler, set(anomaly_rule_ids), active_rules)
    else:
        items = _weekly(stats, limits)
    return Checklist(
        kind=kind,
        period=stats.period,
        generated_at=stats.generated_at,
        status=_worst(items),
        items=items,
        thresholds=limits,
    )


# --- from the stores ---------------------------------------------------------------------------


def collect_checks(
    *,
    engine: Engine,
    events: EventStore,
    logs: ExecutionLogStore,
    rules: RuleStore,
    clock: Clock,
    period: Literal["day", "week"],
    scheduler: object | None,
    thresholds: Thresholds | None = None,
    tenant: str | None = None,
) -> Checklist:
    """The daily (``day``) or weekly (``week``) checklist from the stores."""
    limits = thresholds or Thresholds()
    stats = collect_stats(
        engine=engine,
        events=events,
        logs=logs,
        clock=clock,
        period=period_of(period, clock.now()),
        sla_seconds=limits.ack_sla_seconds,
        tenant=tenant,
    )
    stored = rules.list(tenant=tenant)
    anomaly = {
        rule.rule_id
        for rule in stored
        if str(rule.document.get("trigger_type", "")).strip().lower() == "anomaly"
    }
    return compute_checks(
        stats,
        kind="daily" if period == "day" else "weekly",
        scheduler=scheduler_health(scheduler),
        anomaly_rule_ids=anomaly,
        active_rules=sum(rule.document.get("is_active") is True for rule in stored),
        thresholds=limits,
    )
