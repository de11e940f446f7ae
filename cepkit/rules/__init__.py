"""Rules: the frozen model of the guide's rule JSON, validation with JSON paths, schema.

Contract: :func:`parse_rule` accepts every JSON shape the guide shows and either returns
a :class:`Rule` or raises :class:`~cepkit.errors.RuleValidationError` whose ``problems``
name each defect by its path in the document as written, with what would be valid.
``Rule.to_document()`` gives the canonical form, which parses back to an equal rule.

>>> rule = parse_rule({
...     "rule_name": "critical_error_event",
...     "trigger_type": "event",
...     "trigger_spec": {"event_type": "error", "conditions": [
...         {"field": "severity", "op": "==", "value": "critical"}], "logic": "AND"},
...     "actions": {"type": "multi_action", "actions": [
...         {"type": "webhook", "endpoint": "https://events.pagerduty.com/v2/enqueue",
...          "method": "POST"}]},
... })
>>> rule.action_types
['webhook']
>>> parse_rule(rule.to_document()) == rule
True
"""

from cepkit.rules.actions import (
    ACTIONS,
    Action,
    ActionConfig,
    CircuitBreakerConfig,
    NotifyAction,
    RetryConfig,
    StoreAction,
    TriggerAction,
    WebhookAction,
)
from cepkit.rules.aggregation import AggregationSpec
from cepkit.rules.enrichment import (
    ENRICHMENTS,
    AggregateEnrichment,
    Enrichment,
    LookupEnrichment,
    ModelEnrichment,
)
from cepkit.rules.model import SEVERITIES, Rule, Suppression, normalize_document
from cepkit.rules.parse import format_path, load_rule_files, parse_rule
from cepkit.rules.schema import rule_json_schema
from cepkit.rules.triggers import (
    TRIGGERS,
    AnomalyTrigger,
    EventTrigger,
    MetricTrigger,
    ScheduleTrigger,
    TriggerSpec,
)
from cepkit.rules.windowing import (
    WINDOWS,
    SessionWindow,
    SlidingWindow,
    TumblingWindow,
    WindowConfig,
)

__all__ = [
    "ACTIONS",
    "ENRICHMENTS",
    "SEVERITIES",
    "TRIGGERS",
    "WINDOWS",
    "Action",
    "ActionConfig",
    "AggregateEnrichment",
    "AggregationSpec",
    "AnomalyTrigger",
    "CircuitBreakerConfig",
    "Enrichment",
    "EventTrigger",
    "LookupEnrichment",
    "MetricTrigger",
    "ModelEnrichment",
    "NotifyAction",
    "RetryConfig",
    "Rule",
    "ScheduleTrigger",
    "SessionWindow",
    "SlidingWindow",
    "StoreAction",
    "Suppression",
    "TriggerAction",
    "TriggerSpec",
    "TumblingWindow",
    "WebhookAction",
    "WindowConfig",
    "format_path",
    "load_rule_files",
    "normalize_document",
    "parse_rule",
    "rule_json_schema",
]
