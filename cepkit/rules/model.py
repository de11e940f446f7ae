"""The rule: one frozen model holding every block of the guide's rule JSON.

The model accepts every shape the guide shows and keeps one canonical form:

- ``actions`` as a list, or ``{"type": "multi_action", "actions": [...], "description"}``,
  or under the builder's name ``action_spec``;
- ``aggregation``, ``enrichment`` and ``action_config`` as one object or a list;
- ``composite_condition`` as a group, a single leaf, or a bare list (AND);
- the trigger spec chosen by ``trigger_type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cepkit.conditions import Condition, ConditionGroup, ConditionNode, all_of
from cepkit.rules._base import Spec, check_duration, comma_list, one_of, to_number
from cepkit.rules.actions import Action, ActionConfig
from cepkit.rules.aggregation import AggregationSpec
from cepkit.rules.enrichment import Enrichment
from cepkit.rules.triggers import (
    TRIGGERS,
    AnomalyTrigger,
    EventTrigger,
    MetricTrigger,
    ScheduleTrigger,
)
from cepkit.rules.windowing import WindowConfig

__all__ = [
    "RECOVERY_OPERATOR",
    "SEVERITIES",
    "Recovery",
    "Rule",
    "Suppression",
    "normalize_document",
]

SEVERITIES = ("critical", "high", "warning", "medium", "low", "info")
TRIGGER_TYPES = tuple(TRIGGERS)


class Suppression(Spec):
    """At most one firing per ``interval`` for this rule (per ``key`` values when given)."""

    interval: str = Field(validation_alias=AliasChoices("interval", "window", "period", "for"))
    key: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("key", "keys", "per", "group_by")
    )

    _interval = field_validator("interval", mode="before")(check_duration)
    _key = field_validator("key", mode="before")(comma_list)


class Recovery(Spec):
    """When a firing clears: a metric's ``threshold`` (hysteresis) or a condition group.

    With a recovery, a rule fires once when its condition starts to hold for a group,
    stays firing (no repeats) and emits a ``recovery`` firing when this holds.
    """

    threshold: float | None = None
    conditions: list[ConditionNode] | None = None
    logic: Literal["AND", "OR", "NOT"] = "AND"

    @field_validator("threshold", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return None if value is None else to_number(value, "recovery threshold")

    @field_validator("logic", mode="before")
    @classmethod
    def _logic(cls, value: Any) -> Any:
        return one_of(value, ["AND", "OR", "NOT"], "logic")

    @model_validator(mode="after")
    def _one(self) -> Recovery:
        if (self.threshold is None) == (not self.conditions):
            raise ValueError("recovery takes either a threshold or conditions")
        return self

    def condition(self) -> ConditionGroup | None:
        """The recovery conditions as one group (None for a threshold recovery)."""
        if not self.conditions:
            return None
        return ConditionGroup(logic=self.logic, conditions=self.conditions)


#: a metric operator -> the operator under which its recovery threshold holds
RECOVERY_OPERATOR = {">": "<", ">=": "<", "<": ">", "<=": ">", "==": "!=", "!=": "=="}


def _trigger_tag(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, Mapping) else getattr(value, "kind", None)
    return kind if isinstance(kind, str) else None


TriggerSpecField = Annotated[
    Annotated[MetricTrigger, Tag("metric")]
    | Annotated[EventTrigger, Tag("event")]
    | Annotated[ScheduleTrigger, Tag("schedule")]
    | Annotated[AnomalyTrigger, Tag("anomaly")],
    Discriminator(_trigger_tag),
]


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    return [value] if isinstance(value, Mapping) else value


def normalize_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document with the guide's alternative shapes turned canonical (no validation).

    >>> normalize_document({"trigger_type": "event", "trigger_spec": {},
    ...     "actions": {"type": "multi_action", "actions": [], "description": "d"}})
    {'trigger_type': 'event', 'trigger_spec': {'kind': 'event'}, 'actions': [],
     'action_description': 'd'}
    """
    data = dict(doc)
    if "action_spec" in data and "actions" not in data:
        data["actions"] = data.pop("action_spec")
    actions = data.get("actions")
    if isinstance(actions, Mapping):
        if str(actions.get("type", "")).lower() == "multi_action":
            data["actions"] = actions.get("actions", [])
            if actions.get("description") is not None and "action_description" not in data:
                data["action_description"] = actions.get("description")
        else:
            data["actions"] = [actions]
    for key in ("aggregation", "enrichment", "action_config"):
        if key in data:
            data[key] = _as_list(data[key])
    condition = data.get("composite_condition")
    if isinstance(condition, list):
        data["composite_condition"] = {"logic": "AND", "conditions": condition}
    elif isinstance(condition, Mapping) and "conditions" not in condition:
        data["composite_condition"] = {"logic": "AND", "conditions": [condition]}
    kind = data.get("trigger_type")
    spec = data.get("trigger_spec")
    if isinstance(kind, str) and kind.strip().lower() in TRIGGERS:
        kind = data["trigger_type"] = kind.strip().lower()
        if spec is None and kind in ("event",):
            spec = {}
        if isinstance(spec, Mapping):
            data["trigger_spec"] = {**spec, "kind": kind}
    return data


class Rule(Spec):
    """A CEP rule. Build it with :func:`cepkit.rules.parse_rule` for path-precise errors.

    >>> rule = Rule.model_validate({
    ...     "rule_name": "cpu_high_alert",
    ...     "trigger_type": "metric",
    ...     "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 85},
    ...     "actions": [{"type": "notify", "channels": ["Slack"], "message": "CPU high"}],
    ... })
    >>> rule.trigger_spec.threshold, rule.action_types
    (85.0, ['notify'])
    """

    rule_id: str | None = None
    rule_name: str
    description: str = ""
    owner: str | None = None
    backup_owner: str | None = Field(
        default=None, validation_alias=AliasChoices("backup_owner", "backupOwner")
    )
    purpose: str | None = None
    runbook: str | None = Field(default=None, description="link to (or text of) the runbook")
    disable_criteria: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("disable_criteria", "disableCriteria"),
        description="when to deactivate the rule (one sentence, or a list of them)",
    )
    severity: str = "medium"
    priority: Literal["P1", "P2", "P3", "P4", "P5"] | None = None
    is_active: bool = False
    trigger_type: Literal["metric", "event", "schedule", "anomaly"]
    trigger_spec: TriggerSpecField
    composite_condition: ConditionGroup | None = None
    window_config: WindowConfig | None = None
    aggregation: list[AggregationSpec] = Field(default_factory=list)
    enrichment: list[Enrichment] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    action_description: str | None = None
    action_config: list[ActionConfig] = Field(default_factory=list)
    suppression: Suppression | None = None
    pending: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("pending", "for_evaluations"),
        description="fire only after the condition held for this many consecutive "
        "evaluations (windows, or events) of a group",
    )
    recovery: Recovery | None = None
    timestamp_field: str | None = Field(
        default=None,
        min_length=1,
        description="the event-time field (default: the window's, else 'timestamp'); "
        "without it in an event, the clock's time is used",
    )
    group_by: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("group_by", "groupBy"),
        description="keys for per-group windows, baselines, pending and recovery "
        "(default: the aggregations' group_by)",
    )
    tags: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: Any) -> Any:
        return normalize_document(data) if isinstance(data, Mapping) else data

    @field_validator("rule_name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("규칙명을 입력하세요 (rule_name must not be empty)")
        return value.strip() if isinstance(value, str) else value

    @field_validator("trigger_type", mode="before")
    @classmethod
    def _trigger_type(cls, value: Any) -> Any:
        return one_of(value, TRIGGER_TYPES, "trigger type")

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return one_of(value, SEVERITIES, "severity")

    @field_validator("group_by", mode="before")
    @classmethod
    def _group_by(cls, value: Any) -> Any:
        return comma_list(value)

    @field_validator("disable_criteria", mode="before")
    @classmethod
    def _criteria(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value.strip()] if value.strip() else []
        return value

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.trigger_spec.kind != self.trigger_type:
            raise ValueError(
                f"trigger_spec is a {self.trigger_spec.kind} spec but trigger_type is "
                f"{self.trigger_type!r}"
            )
        if self.is_active and not self.actions:
            raise ValueError("an active rule needs at least one action (actions is empty)")
        groupings = {tuple(a.group_by) for a in self.aggregation if a.group_by}
        if self.group_by:
            groupings.add(tuple(self.group_by))
        if len(groupings) > 1:
            raise ValueError(
                "group_by disagrees between the rule and its aggregations: "
                + " vs ".join(", ".join(g) for g in sorted(groupings))
            )
        aliases = [a.alias for a in self.aggregation]
        duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
        if duplicates:
            raise ValueError(f"two aggregations have the same output name: {duplicates[0]!r}")
        return self

    @field_validator("recovery")
    @classmethod
    def _hysteresis(cls, recovery: Recovery | None, info: ValidationInfo) -> Recovery | None:
        if recovery is None or recovery.threshold is None:
            return recovery
        spec = info.data.get("trigger_spec")
        if not isinstance(spec, MetricTrigger) or spec.operator not in RECOVERY_OPERATOR:
            raise ValueError(
                "recovery.threshold needs a metric trigger with an operator and a threshold; "
                "use recovery.conditions otherwise"
            )
        fire_at, recover_at = spec.threshold, recovery.threshold
        assert fire_at is not None
        if (spec.operator in (">", ">=") and recover_at > fire_at) or (
            spec.operator in ("<", "<=") and recover_at < fire_at
        ):
            raise ValueError(
                f"recovery threshold {recover_at:g} is on the firing side of {spec.operator} "
                f"{fire_at:g}: a rule that fires above a threshold recovers below it"
            )
        return recovery

    # -- derived views used by simulate and the engine -------------------------------------

    def recovery_condition(self) -> Condition | ConditionGroup | None:
        """When a firing clears (None without a recovery)."""
        if self.recovery is None:
            return None
        if self.recovery.threshold is not None:
            spec = self.trigger_spec
            assert isinstance(spec, MetricTrigger) and spec.metric_name and spec.operator
            return Condition(
                field=spec.metric_name,
                op=RECOVERY_OPERATOR[spec.operator],
                value=self.recovery.threshold,
            )
        return self.recovery.condition()

    @property
    def action_types(self) -> list[str]:
        """The action types in order, e.g. ``["webhook", "notify"]``."""
        return [action.type for action in self.actions]

    def grouping(self) -> list[str]:
        """The group-by fields: the rule's ``group_by``, else the aggregations' (all agree)."""
        if self.group_by:
            return list(self.group_by)
        for spec in self.aggregation:
            if spec.group_by:
                return list(spec.group_by)
        return []

    def threshold_condition(self) -> Condition | None:
        """A metric trigger's ``metric_name operator threshold`` as a condition leaf."""
        spec = self.trigger_spec
        if isinstance(spec, MetricTrigger) and spec.operator is not None and spec.threshold_field:
            return Condition(field=spec.threshold_field, op=spec.operator, value=spec.threshold)
        return None

    def condition(self) -> Condition | ConditionGroup | None:
        """Everything that must hold for a firing: trigger threshold / inline conditions
        AND ``composite_condition`` (None when the rule has no condition at all)."""
        spec = self.trigger_spec
        inline = spec.condition() if isinstance(spec, EventTrigger) else None
        return all_of(self.threshold_condition(), inline, self.composite_condition)

    def to_document(self) -> dict[str, Any]:
        """The canonical JSON form; ``Rule.model_validate(rule.to_document()) == rule``."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
