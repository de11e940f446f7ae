"""The rule handoff sheet (guide 18 and 20.5): what a new owner must know about a rule.

:func:`handoff_sheet` reads a :class:`~cepkit.rules.Rule` (and, optionally, the store's
metadata: id, version, last change) into a :class:`HandoffSheet` whose sections are the
guide's five: purpose, trigger and conditions in plain words, the action path (channels
and fallbacks, endpoints, retries, circuit breakers, timeouts), failure handling, and
deactivation criteria; plus owner, backup owner, runbook, and the *open items* a
review would raise (no backup owner on a P1 rule, no fallback channel, no deactivation
criteria...). :func:`handoff_markdown` renders it as Markdown. Header values are never
shown (they may hold credentials), nor the query or user part of an endpoint.

>>> from cepkit.rules import parse_rule
>>> rule = parse_rule({
...     "rule_name": "critical_cpu", "owner": "ops-oncall", "priority": "P1",
...     "purpose": "Page the on-call before a host saturates",
...     "trigger_type": "metric",
...     "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
...     "window_config": {"type": "tumbling", "size": "1m"},
...     "aggregation": {"type": "avg", "field": "cpu_usage", "group_by": ["host"]},
...     "actions": [{"type": "notify", "channels": ["Slack"], "fallback_channel": "Email",
...                  "message": "CPU {{cpu_usage}}% on {{host}}"}],
...     "disable_criteria": "the host pool is retired",
... })
>>> text = handoff_markdown(rule)
>>> print(text.splitlines()[0])
# Rule handoff: critical_cpu
>>> print(next(line for line in text.splitlines() if line.startswith("- Metric")))
- Metric: cpu_usage > 90, 1-minute average per host
>>> print(next(line for line in text.splitlines() if line.startswith("1. ")))
1. Notify Slack; if it fails, fall back to Email. Message: `CPU {{cpu_usage}}% on {{host}}`
>>> for item in handoff_sheet(rule).open_items:
...     print(item)
No backup owner for a P1 rule (guide 22: P1 rules need owner and backup owner).
No runbook linked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from cepkit.actions.retry import backoff_schedule
from cepkit.actions.runtime import settings_for
from cepkit.conditions import Condition, ConditionGroup
from cepkit.durations import format_duration, parse_duration
from cepkit.rules.actions import (
    ActionConfig,
    NotifyAction,
    StoreAction,
    TriggerAction,
    WebhookAction,
)
from cepkit.rules.model import RECOVERY_OPERATOR, Rule
from cepkit.rules.triggers import AnomalyTrigger, EventTrigger, MetricTrigger, ScheduleTrigger
from cepkit.store.base import StoredRule

__all__ = ["ActionStep", "HandoffSheet", "describe_condition", "handoff_markdown", "handoff_sheet"]

NOT_DOCUMENTED = "not documented"

_UNITS = {"ms": "millisecond", "s": "second", "m": "minute", "h": "hour", "d": "day"}
_AGGREGATES = {
    "avg": "average",
    "min": "minimum",
    "max": "maximum",
    "stddev": "standard deviation",
    "distinct_count": "distinct count",
    "first": "first value",
    "last": "last value",
}
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


class ActionStep(BaseModel):
    """One action of the path: what it does, and its retries / breaker / timeout."""

    model_config = ConfigDict(frozen=True)

    summary: str
    details: list[str] = Field(default_factory=list)


class HandoffSheet(BaseModel):
    """The sections of the handoff sheet, as data (``?format=json``)."""

    model_config = ConfigDict(frozen=True)

    rule_id: str | None = None
    rule_name: str
    version: int | None = None
    updated_at: datetime | None = None
    severity: str
    priority: str | None = None
    is_active: bool
    owner: str | None = None
    backup_owner: str | None = None
    runbook: str | None = None
    purpose: str
    trigger: list[str]
    actions: list[ActionStep]
    failure_handling: list[str]
    deactivation: list[str]
    open_items: list[str]


# --- words ---------------------------------------------------------------------------------


def _span(text: str) -> str:
    """``"1m"`` -> ``"1-minute"`` (an adjective)."""
    number, unit = _split(text)
    return f"{number}-{_UNITS[unit]}"


def _amount(text: str) -> str:
    """``"10m"`` -> ``"10 minutes"``, ``"1h"`` -> ``"1 hour"``."""
    number, unit = _split(text)
    return f"{number} {_UNITS[unit]}{'' if number == '1' else 's'}"


def _split(text: str) -> tuple[str, str]:
    spelled = format_duration(parse_duration(text))
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", spelled)
    assert match is not None
    return match.group(1), match.group(2)


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _aggregate(name: str) -> str:
    return _AGGREGATES.get(name, name)


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _leaf(leaf: Condition) -> str:
    if leaf.op == "exists":
        return f"{leaf.field} exists" if leaf.value is not False else f"{leaf.field} is absent"
    if leaf.op == "between" and isinstance(leaf.value, list | tuple) and len(leaf.value) == 2:
        return f"{leaf.field} between {_value(leaf.value[0])} and {_value(leaf.value[1])}"
    return f"{leaf.field} {leaf.op} {_value(leaf.value)}"


def describe_condition(node: Condition | ConditionGroup, *, nested: bool = False) -> str:
    """A condition in plain words; NOT over a list reads "none of".

    >>> describe_condition(ConditionGroup.model_validate({"logic": "OR", "conditions": [
    ...     {"field": "severity", "op": "==", "value": "critical"},
    ...     {"logic": "AND", "conditions": [{"field": "retry", "op": ">", "value": 3},
    ...                                     {"field": "code", "op": "in", "value": [500, 503]}]}]}))
    'severity == "critical" or (retry > 3 and code in [500, 503])'
    """
    if isinstance(node, Condition):
        return _leaf(node)
    parts = [describe_condition(item, nested=True) for item in node.conditions]
    if node.logic == "NOT":
        return "none of (" + "; ".join(parts) + ")"
    if len(parts) == 1:
        return parts[0]
    text = f" {node.logic.lower()} ".join(parts)
    return f"({text})" if nested else text


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    shown = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
    hidden = parts.query or parts.username or parts.password
    return shown + (" (query and credentials not shown)" if hidden else "")


def _code(text: str) -> str:
    flat = " ".join(text.split())
    return f"`` {flat} ``" if "`" in flat else f"`{flat}`"


def _cron_words(expression: str) -> str | None:
    minute, hour, day, month, weekday = expression.split()
    if (day, month) != ("*", "*"):
        return None
    if hour == "*" and weekday == "*":
        if minute == "*":
            return "every minute"
        if minute.startswith("*/") and minute[2:].isdigit():
            return f"every {minute[2:]} minutes"
        if minute.isdigit():
            return f"every hour at minute {int(minute)}"
        return None
    if not (minute.isdigit() and hour.isdigit()):
        return None
    at = f"{int(hour):02d}:{int(minute):02d}"
    if weekday == "*":
        return f"daily at {at}"
    if weekday == "1-5":
        return f"on weekdays at {at}"
    if weekday.isdigit() and int(weekday) <= 7:
        return f"every {_DAYS[int(weekday) % 7]} at {at}"
    return None


def _per(fields: Sequence[str]) -> str:
    return f" per {' and '.join(fields)}" if fields else ""


# --- sections ------------------------------------------------------------------------------


def _metric(rule: Rule, spec: MetricTrigger) -> list[str]:
    name = spec.metric_name or spec.value_path or "the metric"
    aggregate = _aggregate(spec.aggregation)
    window = rule.window_config
    if window is not None and window.type == "tumbling":
        how = f"{_span(window.size)} {aggregate}"
    elif window is not None and window.type == "sliding":
        how = f"{_span(window.size)} {aggregate}, recomputed every {_amount(window.slide)}"
    elif window is not None and window.type == "session":
        how = f"{aggregate} per session (a session ends after {_amount(window.timeout)} quiet)"
    elif spec.duration:
        how = f"{_span(spec.duration)} {aggregate}"
    else:
        how = "each value as it arrives"
    test = f"{name} {spec.operator} {spec.threshold:g}" if spec.threshold is not None else name
    lines = [f"Metric: {test}, {how}{_per(rule.grouping())}"]
    if spec.threshold is None:
        lines.append("No threshold on the metric itself: the conditions below decide.")
    if spec.endpoint:
        every = f" every {_amount(spec.interval)}" if spec.interval else ""
        at = f", value at {spec.value_path}" if spec.value_path else ""
        lines.append(f"Polled: {spec.method} {_endpoint(spec.endpoint)}{every}{at}")
    return lines


def _event(spec: EventTrigger) -> list[str]:
    what = f"events of type {_value(spec.event_type)}" if spec.event_type else "every event"
    source = f" from source {_value(spec.source)}" if spec.source else ""
    lines = [f"Event: {what}{source}"]
    condition = spec.condition()
    if condition is not None:
        lines.append(f"Conditions: {describe_condition(condition)}")
    return lines


def _schedule(spec: ScheduleTrigger) -> list[str]:
    words = _cron_words(spec.schedule_expression)
    told = f", {words}" if words else ""
    return [f"Schedule: cron {_code(spec.schedule_expression)} in {spec.timezone}{told}"]


def _anomaly(rule: Rule, spec: AnomalyTrigger) -> list[str]:
    path, z = spec.value_path, f"{spec.threshold:g}"
    last = f"the last {spec.window} samples" if spec.window else "every sample so far"
    methods = {
        "zscore": f"z-score above {z} against the mean and deviation of {last}",
        "iqr": f"outside Q1 - {spec.multiplier:g} x IQR .. Q3 + {spec.multiplier:g} x IQR "
        f"of {last}",
        "ema": f"more than {z} deviations from its exponentially weighted mean "
        f"(alpha {spec.alpha:g})",
        "mad": f"more than {z} median absolute deviations from the median of {last}",
    }
    how = methods.get(spec.anomaly_method, f"{spec.anomaly_method} score above {z}")
    return [
        f"Anomaly: {path} {how}{_per(rule.grouping())}",
        f"Needs {spec.min_baseline} samples of baseline first (until then: "
        "baseline_insufficient, never fires)",
    ]


def _trigger(rule: Rule) -> list[str]:
    spec = rule.trigger_spec
    if isinstance(spec, MetricTrigger):
        lines = _metric(rule, spec)
    elif isinstance(spec, EventTrigger):
        lines = _event(spec)
    elif isinstance(spec, ScheduleTrigger):
        lines = _schedule(spec)
    else:
        lines = _anomaly(rule, spec)
    if rule.composite_condition is not None:
        lines.append(f"Also required: {describe_condition(rule.composite_condition)}")
    for agg in rule.aggregation:
        of = f" of {agg.field}" if agg.field else ""
        lines.append(f"Aggregation: {_aggregate(agg.type)}{of} as {agg.alias}{_per(agg.group_by)}")
    for enrichment in rule.enrichment:
        lines.append(f"Enrichment: {enrichment.type} into {enrichment.output_field}")
    if rule.pending:
        lines.append(f"Fires only after {rule.pending} consecutive evaluations hold")
    recovery = rule.recovery
    if recovery is not None and recovery.threshold is not None and isinstance(spec, MetricTrigger):
        back = RECOVERY_OPERATOR[spec.operator or ">"]
        lines.append(f"Recovers when {spec.metric_name} {back} {recovery.threshold:g}")
    elif recovery is not None and recovery.condition() is not None:
        condition = recovery.condition()
        assert condition is not None
        lines.append(f"Recovers when {describe_condition(condition)}")
    if rule.suppression is not None:
        lines.append(
            f"Suppression: at most one alert per {_amount(rule.suppression.interval)}"
            f"{_per(rule.suppression.key)}"
        )
    return lines


def _reliability(
    rule: Rule, own: ActionConfig | None, *names: str, timeout: float | None = None
) -> str:
    """Retries, breaker and timeout as the dispatcher resolves them (``settings_for``)."""
    settings = settings_for(own, rule.action_config, *names)
    retry, breaker = settings.retry, settings.breaker
    waits = backoff_schedule(retry)
    if waits:
        jitter = ", with jitter" if retry.jitter else ""
        tries = (
            f"{retry.max_retries} retries (waits {', '.join(_seconds(w) for w in waits)}{jitter})"
        )
    else:
        tries = "no retries"
    limit = timeout if timeout is not None else settings.timeout
    return (
        f"{tries}; circuit breaker opens after {breaker.failure_threshold} failed deliveries, "
        f"trial after {_seconds(breaker.timeout_seconds)}; timeout {_seconds(limit)}"
    )


def _actions(rule: Rule) -> list[ActionStep]:
    steps = []
    for action in rule.actions:
        if isinstance(action, NotifyAction):
            fallback = (
                f"; if it fails, fall back to {action.fallback_channel}"
                if action.fallback_channel
                else "; no fallback channel"
            )
            channels = [*action.channels]
            if action.fallback_channel and action.fallback_channel not in channels:
                channels.append(action.fallback_channel)
            by_setting: dict[str, list[str]] = {}
            for channel in channels:
                text = _reliability(rule, action.action_config, channel, "notify")
                by_setting.setdefault(text, []).append(channel)
            details = [f"{', '.join(names)}: {text}" for text, names in by_setting.items()]
            summary = (
                f"Notify {', '.join(action.channels)}{fallback}. Message: {_code(action.message)}"
            )
            steps.append(ActionStep(summary=summary, details=details))
        elif isinstance(action, WebhookAction):
            own = action.timeout_seconds if "timeout_seconds" in action.model_fields_set else None
            details = [_reliability(rule, action.action_config, "webhook", timeout=own)]
            if action.headers:
                details.append(f"headers: {', '.join(sorted(action.headers))} (values not shown)")
            steps.append(
                ActionStep(
                    summary=f"Call {action.method} {_endpoint(action.endpoint)}", details=details
                )
            )
        elif isinstance(action, TriggerAction):
            passed = " with this firing as its payload" if action.pass_payload else ""
            steps.append(ActionStep(summary=f"Chain to rule {_code(action.rule_id)}{passed}"))
        elif isinstance(action, StoreAction):
            details = [_reliability(rule, action.action_config, "store")]
            steps.append(
                ActionStep(summary=f"Store the firing in {_code(action.target)}", details=details)
            )
    return steps


def _failure_handling(rule: Rule) -> list[str]:
    lines = []
    for action in rule.actions:
        if isinstance(action, NotifyAction) and action.fallback_channel:
            who = ", ".join(action.channels)
            who = f"any of {who}" if len(action.channels) > 1 else who
            lines.append(
                f"If {who} fails after its retries (or its breaker is open), the message goes "
                f"once through {action.fallback_channel}."
            )
        elif isinstance(action, NotifyAction):
            lines.append(
                f"{', '.join(action.channels)} has no fallback: while it is down these "
                "notifications are only kept as dead letters."
            )
    if rule.actions:
        lines.append(
            "A delivery that finally fails is kept as a dead letter and can be delivered again "
            "once the cause is fixed; 401/403/404 answers and template errors are not retried "
            "(fix the credentials or the template)."
        )
    lines.append(
        "A run longer than the server's execution limit (action_timeout, 5 s by default) is "
        "cut off and logged as failed."
    )
    if isinstance(rule.trigger_spec, AnomalyTrigger):
        lines.append(
            "After a restart or for a new group the detector rebuilds its baseline: no alert "
            "until then is expected, not a fault."
        )
    lines.append(
        "Triage (guide 19): check the events for the impact, this rule's trigger and actions, "
        "test the channels, classify the failure (auth / network / config), mitigate "
        "(deactivate or raise the threshold), then fix for good."
    )
    lines.append(f"Runbook: {rule.runbook}" if rule.runbook else "Runbook: " + NOT_DOCUMENTED)
    return lines


def _deactivation(rule: Rule, stored: StoredRule | None) -> list[str]:
    lines = list(rule.disable_criteria) or [
        "Criteria " + NOT_DOCUMENTED + " (guide 18, question 5)."
    ]
    lines.append(f"Currently {'active' if rule.is_active else 'inactive'}.")
    rule_id = stored.rule_id if stored is not None else rule.rule_id
    if rule_id:
        lines.append(
            f"To deactivate: POST /cep/rules/{rule_id}/deactivate; to go back to an earlier "
            f'version: POST /cep/rules/{rule_id}/rollback {{"version": N}}.'
        )
    return lines


def _open_items(rule: Rule) -> list[str]:
    items = []
    if not rule.owner:
        items.append("No owner (guide 17: every rule has an owner).")
    if rule.priority == "P1" and not rule.backup_owner:
        items.append(
            "No backup owner for a P1 rule (guide 22: P1 rules need owner and backup owner)."
        )
    if not (rule.purpose or rule.description):
        items.append("No purpose or description (guide 17: a description is required).")
    if not rule.actions:
        items.append("No actions: a firing only becomes an event.")
    for action in rule.actions:
        if isinstance(action, NotifyAction) and not action.fallback_channel:
            items.append(
                f"No fallback channel for {', '.join(action.channels)} (guide 18, question 3)."
            )
    if not rule.disable_criteria:
        items.append("No deactivation criteria (guide 18, question 5).")
    if not rule.runbook:
        items.append("No runbook linked.")
    return items


def handoff_sheet(rule: Rule, *, stored: StoredRule | None = None) -> HandoffSheet:
    """The handoff sheet of ``rule``; ``stored`` adds the id, version and last change."""
    purpose = rule.purpose or rule.description or NOT_DOCUMENTED
    if rule.purpose and rule.description and rule.description != rule.purpose:
        purpose = f"{rule.purpose}\n\n{rule.description}"
    return HandoffSheet(
        rule_id=stored.rule_id if stored is not None else rule.rule_id,
        rule_name=rule.rule_name,
        version=stored.version if stored is not None else None,
        updated_at=stored.updated_at if stored is not None else None,
        severity=rule.severity,
        priority=rule.priority,
        is_active=rule.is_active,
        owner=rule.owner,
        backup_owner=rule.backup_owner,
        runbook=rule.runbook,
        purpose=purpose,
        trigger=_trigger(rule),
        actions=_actions(rule),
        failure_handling=_failure_handling(rule),
        deactivation=_deactivation(rule, stored),
        open_items=_open_items(rule),
    )


# --- Markdown ------------------------------------------------------------------------------


def _bullets(lines: Sequence[str]) -> list[str]:
    return [f"- {' '.join(line.split())}" for line in lines]


def _render(sheet: HandoffSheet) -> str:
    ident = f"`{sheet.rule_id}`" if sheet.rule_id else "not stored yet"
    if sheet.version is not None:
        ident += f" (version {sheet.version}"
        ident += f", updated {sheet.updated_at.isoformat()})" if sheet.updated_at else ")"
    priority = f" / {sheet.priority}" if sheet.priority else ""
    out = [
        f"# Rule handoff: {sheet.rule_name}",
        "",
        f"- **Rule id:** {ident}",
        f"- **Severity / priority:** {sheet.severity}{priority}",
        f"- **State:** {'active' if sheet.is_active else 'inactive'}",
        f"- **Owner:** {sheet.owner or NOT_DOCUMENTED}",
        f"- **Backup owner:** {sheet.backup_owner or NOT_DOCUMENTED}",
        f"- **Runbook:** {sheet.runbook or NOT_DOCUMENTED}",
        "",
        "## 1. Purpose (목적)",
        "",
        sheet.purpose,
        "",
        "## 2. Trigger and conditions (트리거/조건)",
        "",
        *_bullets(sheet.trigger),
        "",
        "## 3. Action path (액션 경로)",
        "",
    ]
    if not sheet.actions:
        out.append("No actions.")
    for number, step in enumerate(sheet.actions, start=1):
        out.append(f"{number}. {step.summary}")
        out.extend(f"   - {detail}" for detail in step.details)
    out += ["", "## 4. Failure handling (실패 시 조치)", "", *_bullets(sheet.failure_handling)]
    out += ["", "## 5. Deactivation criteria (비활성화 기준)", "", *_bullets(sheet.deactivation)]
    if sheet.open_items:
        out += ["", "## Open items (리뷰 필요)", "", *_bullets(sheet.open_items)]
    return "\n".join(out) + "\n"


def handoff_markdown(rule: Rule, *, stored: StoredRule | None = None) -> str:
    """The handoff sheet as Markdown (see the module docstring for an example)."""
    return _render(handoff_sheet(rule, stored=stored))
