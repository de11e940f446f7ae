"""Compile a rule into the plan the engine executes: filters, windows, aggregates, checks.

The guide's pipeline is *Event -> Filter -> Aggregation -> Anomaly -> Window -> Action*.
For a windowed rule the plan therefore splits the rule's conditions in two:

- the **event filter**: the trigger's ``event_type``/``source`` and inline conditions,
  plus ``composite_condition`` when it speaks of event fields (``cpu > 80``); events
  that fail it never enter a window;
- the **window check**: a metric trigger's threshold (``cpu_usage > 85`` compares the
  window's aggregate of ``cpu_usage``) plus ``composite_condition`` when it speaks of
  window values (aggregate aliases such as ``avg_cpu``, ``window_start``,
  ``window_end``, ``event_count``). A windowed rule with no window check fires on
  every closed window (a report rule).

A composite condition that mixes the two is rejected with its JSON path. Group-by
fields, and a metric trigger's own metric, count as both (Lab 8's ``cpu_usage > 85 AND
memory_percent > 70`` on a ``cpu_usage > 85 for 5m`` rule filters events, then the
5-minute average is checked). Rules without a window are evaluated per event.

>>> from cepkit.rules import parse_rule
>>> plan = compile_plan(parse_rule({
...     "rule_name": "cpu_5m", "trigger_type": "metric",
...     "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 85,
...                      "duration": "5m"}}))
>>> plan.mode, plan.windowing, [a.alias for a in plan.aggregates]
('window', Tumbling(size=300.0), ['cpu_usage'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cepkit.aggregations import needs_field
from cepkit.conditions import (
    CompiledCondition,
    Condition,
    ConditionGroup,
    all_of,
    compile_condition,
    leaves,
)
from cepkit.durations import parse_duration
from cepkit.errors import Problem, RuleValidationError
from cepkit.rules import (
    AnomalyTrigger,
    EventTrigger,
    MetricTrigger,
    Rule,
    ScheduleTrigger,
    TumblingWindow,
    parse_rule,
)
from cepkit.windows import Windowing, build_windowing

__all__ = ["WINDOW_FIELDS", "AggregatePlan", "RulePlan", "check_rule", "compile_plan"]

#: names a window check may use besides the aggregate aliases and group-by fields
WINDOW_FIELDS = ("window_start", "window_end", "event_count")

#: aggregations that take the field's raw value instead of a number
RAW_VALUE_AGGREGATIONS = frozenset({"distinct_count", "first", "last"})

Mode = Literal["window", "event", "schedule"]


@dataclass(frozen=True)
class AggregatePlan:
    """One aggregate the windows compute: ``alias = name(field)``."""

    alias: str
    name: str
    field: str | None
    raw: bool


@dataclass(frozen=True)
class RulePlan:
    """Everything the runtime needs, computed once per rule."""

    rule: Rule
    rule_key: str
    mode: Mode
    timestamp_field: str
    lateness: float
    group_by: tuple[str, ...]
    windowing: Windowing | None
    aggregates: tuple[AggregatePlan, ...]
    event_filter: CompiledCondition | None
    window_check: CompiledCondition | None
    anomaly: AnomalyTrigger | None
    pending: int | None = None
    recovery: CompiledCondition | None = None

    @property
    def controlled(self) -> bool:
        """Whether firings depend on earlier evaluations (pending or recovery)."""
        return self.pending is not None or self.recovery is not None


def _window_config(rule: Rule) -> Any:
    if rule.window_config is not None:
        return rule.window_config
    spec = rule.trigger_spec
    if isinstance(spec, MetricTrigger) and spec.duration:
        return TumblingWindow(size=spec.duration)
    return None


def _aggregates(rule: Rule, windowed: bool) -> list[AggregatePlan]:
    out: list[AggregatePlan] = []
    spec = rule.trigger_spec
    if windowed and isinstance(spec, MetricTrigger) and spec.threshold_field:
        # "cpu_usage > 85 for 5m": the window's aggregate of the metric, under its own name
        name = spec.aggregation
        out.append(
            AggregatePlan(
                alias=spec.threshold_field,
                name=name,
                field=spec.threshold_field if needs_field(name) else None,
                raw=name in RAW_VALUE_AGGREGATIONS,
            )
        )
    for agg in rule.aggregation:
        out.append(
            AggregatePlan(
                alias=agg.alias,
                name=agg.type,
                field=agg.field,
                raw=agg.type in RAW_VALUE_AGGREGATIONS,
            )
        )
    seen: set[str] = set()
    unique: list[AggregatePlan] = []
    for planned in out:
        if planned.alias not in seen:
            seen.add(planned.alias)
            unique.append(planned)
    return unique


def _split_composite(
    rule: Rule, window_names: set[str], group_by: set[str]
) -> tuple[Condition | ConditionGroup | None, Condition | ConditionGroup | None]:
    """(event-level part, window-level part) of ``composite_condition``."""
    composite = rule.composite_condition
    if composite is None:
        return None, None
    fields = {leaf.field for leaf in leaves(composite)} - group_by
    on_window = sorted(fields & window_names)
    on_events = sorted(fields - window_names)
    if on_window and on_events:
        raise RuleValidationError(
            [
                Problem(
                    path="composite_condition",
                    loc=("composite_condition",),
                    message=(
                        "mixes window values ("
                        + ", ".join(on_window)
                        + ") with event fields ("
                        + ", ".join(on_events)
                        + "); event fields filter events before "
                        "aggregation, window values are checked when a window closes: "
                        "use one kind, or move the event filter into the trigger spec"
                    ),
                )
            ],
            rule_name=rule.rule_name,
        )
    if on_window:
        return None, composite
    return composite, None


def compile_plan(rule: Rule) -> RulePlan:
    """The execution plan of ``rule`` (raises RuleValidationError for unrunnable rules)."""
    spec = rule.trigger_spec
    config = _window_config(rule)
    windowed = config is not None
    if rule.aggregation and not windowed:
        raise RuleValidationError(
            [
                Problem(
                    path="aggregation",
                    loc=("aggregation",),
                    message="aggregations need a window_config (or a metric trigger duration)",
                )
            ],
            rule_name=rule.rule_name,
        )
    group_by = tuple(rule.grouping())
    aggregates = _aggregates(rule, windowed)
    window_names = {a.alias for a in aggregates} | set(WINDOW_FIELDS) if windowed else set()
    inline = spec.condition() if isinstance(spec, EventTrigger) else None
    threshold = rule.threshold_condition()
    mode: Mode
    event_node: Condition | ConditionGroup | None
    window_node: Condition | ConditionGroup | None
    if isinstance(spec, ScheduleTrigger):
        mode = "schedule"
        event_node, window_node = rule.composite_condition, None
    elif windowed:
        mode = "window"
        # a metric trigger's own metric is both an event field and a window value (its
        # aggregate): like the group-by fields it does not decide where a condition goes
        neutral = set(group_by)
        if isinstance(spec, MetricTrigger) and spec.threshold_field:
            neutral.add(spec.threshold_field)
        event_part, window_part = _split_composite(rule, window_names, neutral)
        event_node = all_of(inline, event_part)
        window_node = all_of(threshold, window_part)
    else:
        mode = "event"
        event_node = all_of(threshold, inline, rule.composite_condition)
        window_node = None
    anomaly = spec if isinstance(spec, AnomalyTrigger) else None
    if anomaly is not None and windowed and anomaly.value_path not in window_names:
        raise RuleValidationError(
            [
                Problem(
                    path="trigger_spec.value_path",
                    loc=("trigger_spec", "value_path"),
                    message=(
                        f"a windowed anomaly rule scores a window value; {anomaly.value_path!r} "
                        f"is not one of: {', '.join(sorted(window_names))}"
                    ),
                )
            ],
            rule_name=rule.rule_name,
        )
    windowing = build_windowing(config) if config is not None else None
    lateness_text = getattr(config, "allowed_lateness", None) if config is not None else None
    timestamp_field: str = rule.timestamp_field or (
        str(getattr(config, "timestamp_field", "timestamp")) if config else "timestamp"
    )
    return RulePlan(
        rule=rule,
        rule_key=rule.rule_id or rule.rule_name,
        mode=mode,
        timestamp_field=timestamp_field,
        lateness=parse_duration(lateness_text) if lateness_text else 0.0,
        group_by=group_by,
        windowing=windowing,
        aggregates=tuple(aggregates),
        event_filter=compile_condition(event_node) if event_node is not None else None,
        window_check=compile_condition(window_node) if window_node is not None else None,
        anomaly=anomaly,
        pending=rule.pending,
        recovery=compile_condition(recovery) if (recovery := rule.recovery_condition()) else None,
    )


def check_rule(document: Mapping[str, Any] | Rule) -> Rule:
    """:func:`~cepkit.rules.parse_rule` plus what only the engine can tell (a composite
    condition mixing event fields and window values, a windowed anomaly rule scoring no
    window value, aggregations without a window): the rule, or RuleValidationError.

    >>> check_rule({"rule_name": "x", "trigger_type": "event", "trigger_spec": {},
    ...             "aggregation": {"type": "count"}})
    Traceback (most recent call last):
    ...
    cepkit.errors.RuleValidationError: invalid rule 'x': aggregation: aggregations need a
    window_config (or a metric trigger duration)
    """
    rule = parse_rule(document)
    compile_plan(rule)
    return rule
