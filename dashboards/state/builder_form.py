"""The Form Builder's state (guide Lab 8): every section of the form, and the rule it makes.

The form holds what the operator typed, section by section (BasicInfo, Trigger,
Conditions, Windowing, Aggregation, Enrichment, Actions). :meth:`FormState.document`
turns it into the guide's rule JSON, and the one rule model judges it
(:func:`cepkit.plan.check_rule`, as ``POST /cep/rules/form`` does): :attr:`FormState.problems`
lists each defect by its JSON path, so an empty name shows "규칙명을 입력하세요". No rule
semantics live here; the form only arranges fields. It imports no Panel.

>>> form = FormState()
>>> form.name_error
'규칙명을 입력하세요 (rule_name must not be empty)'
>>> form.rule_name = "cpu_high"
>>> form.metric_name, form.operator, form.threshold = "cpu_usage", ">", "85"
>>> form.window_type, form.window_size = "tumbling", "5m"
>>> form.window_sentence
'5m 크기의 윈도우로 데이터를 분할합니다'
>>> form.can_create
False
>>> form.add_action().type = "notify"
>>> form.actions[0].channels, form.actions[0].message = ["Slack"], "CPU {{cpu_usage}}"
>>> form.can_create, form.document()["trigger_spec"]["threshold"]
(True, '85')
"""

from __future__ import annotations

import json
from typing import Any

import param

from cepkit.aggregations import AGGREGATIONS
from cepkit.errors import CepkitError, Problem, RuleValidationError
from cepkit.plan import check_rule
from cepkit.rules import (
    SEVERITIES,
    TRIGGERS,
    WINDOWS,
    AggregateEnrichment,
    AnomalyTrigger,
    EventTrigger,
    LookupEnrichment,
    MetricTrigger,
    ModelEnrichment,
    NotifyAction,
    Rule,
    ScheduleTrigger,
    SessionWindow,
    SlidingWindow,
    StoreAction,
    TriggerAction,
    TumblingWindow,
    WebhookAction,
    parse_rule,
)
from dashboards.state.builder_rows import (
    GUIDE_OPERATORS,
    ActionRow,
    AggregationRow,
    ConditionRow,
    EnrichmentRow,
    Row,
    condition_text,
)

__all__ = [
    "GUIDE_OPERATORS",
    "WINDOW_SIZES",
    "ActionRow",
    "AggregationRow",
    "ConditionRow",
    "EnrichmentRow",
    "FormState",
]

#: the guide's window sizes (section 0.2)
WINDOW_SIZES = ["1s", "10s", "30s", "1m", "5m", "10m", "30m", "1h"]
#: the cron help text of the schedule trigger (Lab 8 step 2)
CRON_HELP = "예: 0 9 * * * (매일 9시)"


def _number_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _from_rows(rows: list[dict[str, Any]]) -> Any:
    """One object as an object (the guide's shape), several as a list, none left out."""
    return rows[0] if len(rows) == 1 else rows


class FormState(param.Parameterized):
    """Every section of the Form Builder; :meth:`document` is the rule JSON it makes."""

    # BasicInfo
    rule_name = param.String(default="")
    description = param.String(default="")
    is_active = param.Boolean(default=False)
    severity: param.Selector[str] = param.Selector(default="medium", objects=list(SEVERITIES))
    # Trigger
    trigger_type: param.Selector[str] = param.Selector(default="metric", objects=list(TRIGGERS))
    metric_name = param.String(default="")
    operator: param.Selector[str] = param.Selector(
        default=">", objects=[">", "<", ">=", "<=", "==", "!="]
    )
    threshold = param.String(default="")
    metric_aggregation: param.Selector[str] = param.Selector(
        default="avg", objects=list(AGGREGATIONS)
    )
    duration: param.Selector[str] = param.Selector(default="", objects=["", *WINDOW_SIZES])
    event_type = param.String(default="")
    source = param.String(default="")
    schedule_expression = param.String(default="")
    timezone = param.String(default="UTC")
    value_path = param.String(default="")
    anomaly_method: param.Selector[str] = param.Selector(
        default="zscore", objects=["zscore", "iqr", "ema"]
    )
    anomaly_threshold = param.String(default="3")
    # Conditions
    conditions = param.List(default=[], item_type=ConditionRow)
    logic: param.Selector[str] = param.Selector(default="AND", objects=["AND", "OR", "NOT"])
    # Windowing
    window_type: param.Selector[str] = param.Selector(default="", objects=["", *WINDOWS])
    window_size: param.Selector[str] = param.Selector(default="5m", objects=WINDOW_SIZES)
    window_slide: param.Selector[str] = param.Selector(default="1m", objects=WINDOW_SIZES)
    session_timeout: param.Selector[str] = param.Selector(default="10m", objects=WINDOW_SIZES)
    # Aggregation, Enrichment, Actions
    aggregations = param.List(default=[], item_type=AggregationRow)
    enrichments = param.List(default=[], item_type=EnrichmentRow)
    actions = param.List(default=[], item_type=ActionRow)
    # what the view shows
    revision = param.Integer(default=0, precedence=-1, doc="bumped on every edit")
    notes = param.List(default=[], item_type=str, doc="what loading a rule could not show")

    CRON_HELP = CRON_HELP

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        self._judged: tuple[int, list[Problem]] | None = None
        own = [n for n in self.param if n not in ("name", "revision", "notes")]
        self.param.watch(self._bump, own)

    def _bump(self, *_events: Any) -> None:
        self.revision += 1

    def _adopt(self, row: Row) -> None:
        row.param.watch(self._bump, ["revision"])

    # -- rows ------------------------------------------------------------------------------

    def add_condition(self, **values: Any) -> ConditionRow:
        """``+ 조건 추가``."""
        row = ConditionRow(**values)
        self._adopt(row)
        self.conditions = [*self.conditions, row]
        return row

    def add_aggregation(self, **values: Any) -> AggregationRow:
        """``+ 집계 추가``."""
        row = AggregationRow(**values)
        self._adopt(row)
        self.aggregations = [*self.aggregations, row]
        return row

    def add_enrichment(self, **values: Any) -> EnrichmentRow:
        """``+ 보강 추가``."""
        row = EnrichmentRow(**values)
        self._adopt(row)
        self.enrichments = [*self.enrichments, row]
        return row

    def add_action(self, **values: Any) -> ActionRow:
        """``+ 액션 추가``."""
        row = ActionRow(**values)
        self._adopt(row)
        self.actions = [*self.actions, row]
        return row

    def remove(self, row: Row) -> None:
        """Remove one row (the delete button of a condition, aggregate, enrichment, action)."""
        for name in ("conditions", "aggregations", "enrichments", "actions"):
            rows = getattr(self, name)
            if any(item is row for item in rows):
                setattr(self, name, [item for item in rows if item is not row])
                return

    # -- the rule it makes -----------------------------------------------------------------

    def trigger_spec(self) -> dict[str, Any]:
        """The trigger spec in the guide's spelling (``metricName``, ``scheduleExpression``)."""
        kind = self.trigger_type
        spec: dict[str, Any] = {}
        if kind == "metric":
            spec = {"metricName": self.metric_name.strip()}
            if self.threshold.strip():  # no threshold: a metric whose conditions decide
                spec["operator"] = self.operator
                spec["threshold"] = self.threshold.strip()
            spec["aggregation"] = self.metric_aggregation
            if self.duration:
                spec["duration"] = self.duration
        elif kind == "event":
            if self.event_type.strip():
                spec["event_type"] = self.event_type.strip()
            if self.source.strip():
                spec["source"] = self.source.strip()
            if self.conditions:  # an event rule carries its conditions inline (guide Lab 2)
                spec["conditions"] = [row.document() for row in self.conditions]
                spec["logic"] = self.logic
        elif kind == "schedule":
            spec = {"scheduleExpression": self.schedule_expression.strip()}
            spec["timezone"] = self.timezone.strip() or "UTC"
        else:
            spec = {"value_path": self.value_path.strip(), "anomaly_method": self.anomaly_method}
            spec["threshold"] = self.anomaly_threshold.strip()
        return spec

    def window_config(self) -> dict[str, Any] | None:
        """The window block of the chosen type with its extra field, or None."""
        if self.window_type == "tumbling":
            return {"type": "tumbling", "size": self.window_size}
        if self.window_type == "sliding":
            return {"type": "sliding", "size": self.window_size, "slide": self.window_slide}
        if self.window_type == "session":
            return {"type": "session", "timeout": self.session_timeout}
        return None

    def document(self) -> dict[str, Any]:
        """The rule JSON, in the order of the guide's JSON preview (Lab 8 step 8)."""
        doc: dict[str, Any] = {
            "rule_name": self.rule_name.strip(),
            "description": self.description,
            "is_active": self.is_active,
            "severity": self.severity,
            "trigger_type": self.trigger_type,
            "trigger_spec": self.trigger_spec(),
        }
        if self.conditions and self.trigger_type != "event":
            doc["composite_condition"] = {
                "conditions": [row.document() for row in self.conditions],
                "logic": self.logic,
            }
        window = self.window_config()
        if window is not None:
            doc["window_config"] = window
        if self.aggregations:
            doc["aggregation"] = _from_rows([row.document() for row in self.aggregations])
        if self.enrichments:
            doc["enrichment"] = _from_rows([row.document() for row in self.enrichments])
        doc["actions"] = [row.document() for row in self.actions]
        return doc

    @property
    def preview(self) -> str:
        """The JSON preview (what Copy puts on the clipboard)."""
        return json.dumps(self.document(), indent=2, ensure_ascii=False)

    def rule(self) -> Rule:
        """The rule, judged by the model and the engine; RuleValidationError otherwise."""
        return check_rule(self.document())

    @property
    def problems(self) -> list[Problem]:
        """Every defect of :meth:`document`, each with its JSON path (empty when valid);
        judged once per :attr:`revision`."""
        cached = self._judged
        if cached is not None and cached[0] == self.revision:
            return list(cached[1])
        found: list[Problem] = []
        try:
            self.rule()
        except RuleValidationError as exc:
            found = list(exc.problems)
        except CepkitError as exc:
            found = [Problem(path="", message=str(exc))]
        self._judged = (self.revision, found)
        return list(found)

    def error_at(self, path: str) -> str:
        """The messages of the problems at ``path`` or under it ('' when none)."""
        found = [
            p.message
            for p in self.problems
            if p.path == path or p.path.startswith((path + ".", path + "["))
        ]
        return "; ".join(found)

    @property
    def name_error(self) -> str:
        """ "규칙명을 입력하세요" while the name is empty."""
        return self.error_at("rule_name")

    @property
    def can_create(self) -> bool:
        """``규칙 생성`` is enabled with at least one action and a valid rule."""
        return bool(self.actions) and not self.problems

    @property
    def window_sentence(self) -> str:
        """The confirmation sentence under the window settings, from the window model."""
        window = self.window_config()
        if window is None:
            return ""
        model: dict[str, type[TumblingWindow | SlidingWindow | SessionWindow]] = {
            "tumbling": TumblingWindow,
            "sliding": SlidingWindow,
            "session": SessionWindow,
        }
        try:
            return model[window["type"]].model_validate(window).describe()
        except ValueError as exc:
            return str(exc)

    # -- loading a rule (the rule list, Copilot's Apply) -----------------------------------

    def reset(self) -> None:
        """An empty form (``New Rule``)."""
        defaults = {
            n: p.default
            for n, p in self.param.objects().items()
            if n not in ("name", "revision", "notes")
        }
        self.param.update(**{**defaults, "conditions": [], "aggregations": []})
        self.param.update(enrichments=[], actions=[], notes=[])

    def load(self, document: dict[str, Any] | Rule) -> None:
        """Fill every section from a rule (RuleValidationError when it is not one).

        What the form cannot show (nested condition groups, extra action settings) is
        named in :attr:`notes`; the JSON Editor shows the whole rule.
        """
        rule = parse_rule(document)
        notes: list[str] = []
        values: dict[str, Any] = {
            "rule_name": rule.rule_name,
            "description": rule.description,
            "is_active": rule.is_active,
            "severity": rule.severity,
            "trigger_type": rule.trigger_type,
        }
        values.update(self._trigger_values(rule))
        group = rule.composite_condition
        spec = rule.trigger_spec
        if isinstance(spec, EventTrigger) and spec.conditions:
            group = spec.condition()
        leaves = []
        if group is not None:
            values["logic"] = group.logic
            for item in group.conditions:
                if hasattr(item, "conditions"):
                    notes.append("nested condition groups: edit them in the JSON Editor")
                    continue
                leaves.append(item)
        window = rule.window_config
        values["window_type"] = window.type if window is not None else ""
        if isinstance(window, TumblingWindow | SlidingWindow):
            values["window_size"] = self._size(window.size, notes)
        if isinstance(window, SlidingWindow):
            values["window_slide"] = self._size(window.slide, notes)
        if isinstance(window, SessionWindow):
            values["session_timeout"] = self._size(window.timeout, notes)
        self.reset()
        self.param.update(**values)
        for leaf in leaves:
            value = leaf.value
            op = leaf.op if leaf.op in GUIDE_OPERATORS else ">"
            if op != leaf.op:
                notes.append(f"operator {leaf.op!r}: edit it in the JSON Editor")
            self.add_condition(field=leaf.field, op=op, value=condition_text(value), loaded=value)
        for agg in rule.aggregation:
            self.add_aggregation(
                type=agg.type,
                field=agg.field or "",
                output_alias=agg.output_alias or "",
                group_by=", ".join(agg.group_by),
            )
        for enrichment in rule.enrichment:
            self.add_enrichment(**_enrichment_values(enrichment))
        for action in rule.actions:
            self.add_action(**_action_values(action))
        missing = self._not_shown(rule)
        if missing:
            notes.append(
                f"the form does not hold every setting of this rule ({', '.join(missing)}); "
                "edit and save it in the JSON Editor"
            )
        self.notes = notes

    def _not_shown(self, rule: Rule) -> list[str]:
        """The top-level keys where the form's rule differs from ``rule``."""
        try:
            shown = check_rule(self.document()).to_document()
        except CepkitError:
            shown = {}
        wanted = rule.to_document()
        return sorted(k for k in set(shown) | set(wanted) if shown.get(k) != wanted.get(k))

    def _trigger_values(self, rule: Rule) -> dict[str, Any]:
        spec = rule.trigger_spec
        if isinstance(spec, MetricTrigger):
            return {
                "metric_name": spec.metric_name or spec.value_path or "",
                "operator": spec.operator or ">",
                "threshold": _number_text(spec.threshold),
                "metric_aggregation": spec.aggregation,
                "duration": spec.duration if spec.duration in WINDOW_SIZES else "",
            }
        if isinstance(spec, EventTrigger):
            return {"event_type": spec.event_type or "", "source": spec.source or ""}
        if isinstance(spec, ScheduleTrigger):
            return {"schedule_expression": spec.schedule_expression, "timezone": spec.timezone}
        assert isinstance(spec, AnomalyTrigger)
        return {
            "value_path": spec.value_path,
            "anomaly_method": spec.anomaly_method,
            "anomaly_threshold": _number_text(spec.threshold),
        }

    @staticmethod
    def _size(size: str, notes: list[str]) -> str:
        if size in WINDOW_SIZES:
            return size
        notes.append(f"window size {size!r} is not one of the form's sizes: 5m shown")
        return "5m"


def _enrichment_values(spec: Any) -> dict[str, Any]:
    if isinstance(spec, LookupEnrichment):
        return {"type": "lookup", "source": spec.source, "key": spec.key,
                "output_field": spec.output_field}  # fmt: skip
    if isinstance(spec, AggregateEnrichment):
        return {"type": "aggregate", "field": spec.field, "aggregation": spec.aggregation,
                "window": spec.window, "output_field": spec.output_field}  # fmt: skip
    assert isinstance(spec, ModelEnrichment)
    return {"type": "ml_model", "model": spec.model, "field": spec.input_field,
            "output_field": spec.output_field}  # fmt: skip


def _action_values(action: Any) -> dict[str, Any]:
    if isinstance(action, WebhookAction):
        return {"type": "webhook", "endpoint": action.endpoint, "method": action.method}
    if isinstance(action, NotifyAction):
        return {"type": "notify", "message": action.message, "channels": list(action.channels),
                "fallback_channel": action.fallback_channel or ""}  # fmt: skip
    if isinstance(action, TriggerAction):
        return {"type": "trigger", "rule_id": action.rule_id}
    assert isinstance(action, StoreAction)
    return {"type": "store", "target": action.target}
