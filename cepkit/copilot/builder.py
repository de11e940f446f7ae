"""Facts -> a rule built through the rule model (never a hand-made document) -> a Draft.

Shapes chosen (so the Form Builder shows each part where the guide puts it):

- one metric comparison: the trigger's ``metric_name operator threshold`` (plus
  ``aggregation``/``duration`` with a window: "cpu_usage > 90 for 5m");
- several: the trigger names the first metric, the comparisons form
  ``composite_condition`` (AND binds tighter than OR); with a window, each metric gets
  an aggregation over a tumbling window and the condition compares their aliases;
- an event count: a tumbling window, a ``count`` aggregation and ``count op N``;
- an event's severity and comparisons are the event trigger's inline conditions.

The rule passes :func:`cepkit.plan.check_rule` (the engine's own checks) before a draft
is called ready. Rules are drafted inactive (``is_active: false``).

>>> from cepkit.copilot.parser import parse
>>> text = "1분 내 에러 5건 이상이면 문자"
>>> rule = build_draft(parse(text), text).rule
>>> rule["trigger_spec"]["event_type"], rule["window_config"]["size"], rule["composite_condition"]
('error', '1m', {'logic': 'AND', 'conditions': [{'field': 'count', 'op': '>=', 'value': 5}]})
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from cepkit.conditions import Condition, ConditionGroup, all_of
from cepkit.copilot.facts import Comparison, Facts
from cepkit.copilot.model import Draft
from cepkit.errors import RuleValidationError
from cepkit.plan import check_rule
from cepkit.rules import (
    AggregationSpec,
    AnomalyTrigger,
    EventTrigger,
    MetricTrigger,
    NotifyAction,
    Rule,
    ScheduleTrigger,
    TumblingWindow,
    WebhookAction,
)

__all__ = ["build_draft"]

NO_TRIGGER = (
    "조건, 일정, 이벤트, 이상 탐지를 찾지 못했습니다: 예) CPU가 90% 넘으면 "
    "(no condition, schedule, event or anomaly found)"
)
NO_ACTION = (
    "보낼 곳이 없습니다: Slack, 이메일, 문자, 디스코드 또는 웹훅 URL을 적어 주세요 "
    "(no action: name a channel or a webhook URL)"
)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _tree(comparisons: list[Comparison], links: list[str], name: dict[str, str]) -> Any:
    """The comparisons as one condition: AND runs, joined by OR."""
    runs: list[list[Condition]] = [[]]
    for index, comparison in enumerate(comparisons):
        if index and links[index - 1] == "OR":
            runs.append([])
        field = name.get(comparison.field, comparison.field)
        runs[-1].append(Condition(field=field, op=comparison.op, value=_number(comparison.value)))
    nodes: list[Condition | ConditionGroup] = [
        run[0] if len(run) == 1 else ConditionGroup(logic="AND", conditions=list(run))
        for run in runs
        if run
    ]
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else ConditionGroup(logic="OR", conditions=list(nodes))


def _text(node: Any) -> str:
    if isinstance(node, Condition):
        return f"{node.field} {node.op} {node.value}"
    if isinstance(node, ConditionGroup):
        inner = f" {node.logic} ".join(
            f"({_text(c)})" if isinstance(c, ConditionGroup) else _text(c) for c in node.conditions
        )
        return inner
    return ""


def _slug(*parts: str | None) -> str:
    text = "_".join(p for p in parts if p)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "copilot_draft"


def _schedule_name(cron: str) -> str:
    minute, hour, dom, _month, dow = cron.split()
    if minute.startswith("*/"):
        when = f"every_{minute[2:]}m"
    elif hour.startswith("*/"):
        when = f"every_{hour[2:]}h"
    elif minute == "*":
        when = "every_minute"
    elif hour == "*":
        when = "hourly"
    else:
        when = f"at_{int(hour):02d}{int(minute):02d}"
    days = {"*": "", "1-5": "weekdays", "0,6": "weekends"}.get(dow, f"dow{dow}")
    return _slug("schedule", when, days, f"day{dom}" if dom != "*" else None)


class _Build:
    """One draft being built: the rule's fields as models, notes and blocking problems."""

    def __init__(self, facts: Facts, text: str) -> None:
        self.facts = facts
        self.fields: dict[str, Any] = {"description": text.strip()}
        self.notes = list(facts.notes)
        self.blocking = False
        self.summary = ""

    def problem(self, message: str) -> None:
        self.notes.append(message)
        self.blocking = True

    def condition(self, name: dict[str, str] | None = None) -> Any:
        return _tree(self.facts.comparisons, list(self.facts.links), name or {})

    def metric(self) -> None:
        comparisons, window = self.facts.comparisons, self.facts.window
        first = comparisons[0]
        agg = (window.aggregation or "avg") if window else None
        if window and window.aggregation is None:
            self.notes.append("집계를 말하지 않아 평균(avg)으로 했습니다 (no aggregation: avg)")
        if len(comparisons) == 1:
            self.fields["trigger_spec"] = MetricTrigger(
                metric_name=first.field,
                operator=first.op,
                threshold=first.value,
                **({"aggregation": agg, "duration": window.duration} if window and agg else {}),
            )
            self.summary = first.describe() + (f" ({agg} {window.duration})" if window else "")
            return
        self.fields["trigger_spec"] = MetricTrigger(metric_name=first.field)
        names: dict[str, str] = {}
        if window and agg:
            specs = []
            for field in dict.fromkeys(c.field for c in comparisons):
                spec = AggregationSpec(type=agg, field=field)
                specs.append(spec)
                names[field] = spec.alias
            self.fields["window_config"] = TumblingWindow(size=window.duration)
            self.fields["aggregation"] = specs
            self.notes.append(
                f"{window.duration} {agg}는 모든 지표 조건에 적용됩니다 "
                f"(the {window.duration} {agg} applies to every metric)"
            )
        condition = self.condition(names)
        self.fields["composite_condition"] = (
            condition if isinstance(condition, ConditionGroup) else all_of(condition)
        )
        self.summary = _text(condition) + (f" ({window.duration})" if window else "")

    def event(self) -> None:
        facts = self.facts
        event, count = facts.event, facts.count
        severity = event.severity if event else None
        node = all_of(
            Condition(field="severity", op="==", value=severity) if severity else None,
            self.condition(),
        )
        inline: dict[str, Any] = {}
        if isinstance(node, ConditionGroup):
            inline = {"conditions": list(node.conditions), "logic": node.logic}
        elif node is not None:
            inline = {"conditions": [node]}
        self.fields["trigger_spec"] = EventTrigger(
            event_type=event.event_type if event else None,
            source=event.source if event else None,
            **inline,
        )
        what = " ".join(p for p in (severity, event.event_type if event else None) if p)
        self.summary = (what or "event") + (
            f" from {event.source}" if event and event.source else ""
        )
        if count is not None:
            if facts.window is None:
                self.problem(
                    "건수에는 기간이 필요합니다: 예) 1분 내 (an event count needs a window)"
                )
                return
            spec = AggregationSpec(type="count")
            self.fields["window_config"] = TumblingWindow(size=facts.window.duration)
            self.fields["aggregation"] = [spec]
            self.fields["composite_condition"] = ConditionGroup(
                conditions=[Condition(field=spec.alias, op=count.op, value=count.value)]
            )
            self.summary += f": count {count.op} {count.value} in {facts.window.duration}"

    def schedule(self) -> None:
        schedule = self.facts.schedule
        assert schedule is not None and schedule.cron is not None
        if self.facts.comparisons:
            self.problem(
                "일정 규칙은 이벤트 없이 실행되어 지표 조건을 판단할 수 없습니다 "
                "(a schedule rule has no metric values to compare)"
            )
        timezone = schedule.timezone
        if timezone is None:
            self.notes.append(
                "시간대를 말하지 않아 UTC로 했습니다: 한국 시간은 'KST' (no time zone given: UTC)"
            )
        self.fields["trigger_spec"] = ScheduleTrigger(
            schedule_expression=schedule.cron, timezone=timezone or "UTC"
        )
        self.summary = f"schedule {schedule.cron} ({timezone or 'UTC'})"

    def anomaly(self) -> None:
        anomaly = self.facts.anomaly
        assert anomaly is not None
        if anomaly.subject is None:
            self.blocking = True
            return
        if anomaly.method is None:
            self.notes.append("방법을 말하지 않아 z-score로 했습니다 (no method given: zscore)")
        given = {
            "threshold": anomaly.threshold,
            "multiplier": anomaly.multiplier,
            "alpha": anomaly.alpha,
            "window": anomaly.window,
        }
        method = anomaly.method or "zscore"
        self.fields["trigger_spec"] = AnomalyTrigger(
            value_path=anomaly.subject,
            anomaly_method=method,
            **{key: value for key, value in given.items() if value is not None},
        )
        self.summary = f"{method} anomaly on {anomaly.subject}"
        self._composite()

    def _composite(self) -> None:
        condition = self.condition()
        if condition is not None:
            self.fields["composite_condition"] = (
                condition if isinstance(condition, ConditionGroup) else all_of(condition)
            )

    def name(self) -> str:
        facts, kind = self.facts, self.facts.kind
        if facts.rule_name:
            return facts.rule_name
        if kind == "metric":
            return _slug(*dict.fromkeys(c.field for c in facts.comparisons), "alert")
        if kind == "event":
            event = facts.event
            parts = (event.source, event.severity, event.event_type) if event else ()
            return _slug(*parts, "burst" if facts.count else "event")
        if kind == "schedule" and facts.schedule and facts.schedule.cron:
            return _schedule_name(facts.schedule.cron)
        if kind == "anomaly" and facts.anomaly:
            return _slug(facts.anomaly.subject, facts.anomaly.method or "zscore", "anomaly")
        return "copilot_draft"

    def actions(self) -> list[BaseModel]:
        facts = self.facts
        placed: list[tuple[int, BaseModel]] = []
        if facts.channels:
            default = "[{{severity}}] {{rule_name}}" + (f": {self.summary}" if self.summary else "")
            message = facts.message or default
            placed.append(
                (
                    facts.channels[0][0],
                    NotifyAction(
                        channels=[name for _, name in facts.channels],
                        message=message,
                        fallback_channel=facts.fallback,
                    ),
                )
            )
        elif facts.fallback or facts.message:
            self.problem("대체 채널/메시지에는 알림 채널이 필요합니다 (needs a notify channel)")
        for hook in facts.webhooks:
            placed.append(
                (hook.start, WebhookAction(endpoint=hook.url, method=facts.method or "POST"))
            )
        return [action for _, action in sorted(placed, key=lambda item: item[0])]


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list):
        return [_dump(item) for item in value]
    return value


def _problems(exc: ValidationError | RuleValidationError) -> list[str]:
    if isinstance(exc, RuleValidationError):
        return [f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems]
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]


def build_draft(facts: Facts, text: str) -> Draft:
    """The draft for what was read from ``text``."""
    build = _Build(facts, text)
    kind = facts.kind
    try:
        if kind is None:
            build.problem(NO_TRIGGER)
        else:
            getattr(build, kind)()
        actions = build.actions()
    except ValidationError as exc:
        build.notes.extend(_problems(exc))
        build.blocking, actions = True, []
    fields = build.fields
    fields["rule_name"] = build.name()
    for key, value in (("severity", facts.severity), ("priority", facts.priority)):
        if value is not None:
            fields[key] = value
    if facts.group_by:
        fields["group_by"] = list(facts.group_by)
    fields["actions"] = actions
    if not actions:
        build.problem(NO_ACTION)
    if kind is not None and "trigger_spec" in fields:
        fields["trigger_type"] = kind
        try:
            rule = check_rule(Rule(**fields))
        except (ValidationError, RuleValidationError) as exc:
            build.notes.extend(_problems(exc))
            build.blocking = True
        else:
            ready = not build.blocking and not facts.unparsed
            return Draft(
                status="ready" if ready else "needs_input",
                rule=rule.to_document(),
                notes=build.notes,
                unparsed=list(facts.unparsed),
            )
    document = {key: _dump(value) for key, value in fields.items()}
    return Draft(
        status="needs_input", rule=document, notes=build.notes, unparsed=list(facts.unparsed)
    )
