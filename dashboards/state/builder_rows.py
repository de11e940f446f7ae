"""The repeated rows of the Form Builder: conditions, aggregations, enrichments, actions.

Each row holds what the operator typed and gives its part of the rule JSON
(:meth:`document`); any edit bumps its ``revision``, which the form follows.

>>> ConditionRow(field="region", op="in", value="us-east, eu-west").document()
{'field': 'region', 'op': 'in', 'value': ['us-east', 'eu-west']}
>>> AggregationRow(type="count", field="ignored").document()
{'type': 'count'}
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import param

from cepkit.aggregations import AGGREGATIONS, needs_field
from cepkit.channels import CHANNELS
from cepkit.rules import ACTIONS, ENRICHMENTS
from cepkit.rules._base import comma_list
from cepkit.rules.actions import HTTP_METHODS

__all__ = [
    "GUIDE_OPERATORS",
    "ActionRow",
    "AggregationRow",
    "ConditionRow",
    "EnrichmentRow",
    "Row",
    "condition_text",
]

#: the operators the guide lists for the form (Lab 8 step 3)
GUIDE_OPERATORS = [">", "<", ">=", "<=", "==", "!=", "in", "contains"]
_LIST_OPERATORS = ("in", "not_in")


def condition_text(value: Any) -> str:
    """A condition value as the form shows it (a list comma-separated)."""
    if isinstance(value, list):
        return ", ".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


class Row(param.Parameterized):
    """A row of a repeated section; any change bumps ``revision``."""

    revision = param.Integer(default=0, precedence=-1)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        watched = [name for name in self.param if name not in ("name", "revision")]
        self.param.watch(self._bump, watched)

    def _bump(self, *_events: Any) -> None:
        self.revision += 1


class ConditionRow(Row):
    """``field op value``; the value is text (a list, comma-separated, for ``in``)."""

    field = param.String(default="")
    op: param.Selector[str] = param.Selector(default=">", objects=GUIDE_OPERATORS)
    value = param.String(default="")
    loaded = param.Parameter(default=None, precedence=-1, doc="the value of a loaded rule")

    def document(self) -> dict[str, Any]:
        value: Any = self.value
        if self.loaded is not None and condition_text(self.loaded) == self.value:
            value = self.loaded  # unchanged since loading: keep its JSON type
        elif self.op in _LIST_OPERATORS:
            try:
                parsed = json.loads(self.value)
            except ValueError:
                parsed = None
            value = parsed if isinstance(parsed, list) else comma_list(self.value)
        return {"field": self.field.strip(), "op": self.op, "value": value}


class AggregationRow(Row):
    """One aggregate; ``field`` is not used (and hidden) for ``count``."""

    type: param.Selector[str] = param.Selector(default="avg", objects=list(AGGREGATIONS))
    field = param.String(default="")
    output_alias = param.String(default="")
    group_by = param.String(default="", doc="comma-separated, e.g. 'region, service_name'")

    @property
    def needs_field(self) -> bool:
        """Whether the aggregation reads a field (the model's rule: count and rate do not)."""
        return needs_field(str(self.type))

    @property
    def group_by_fields(self) -> list[str]:
        """The group-by text parsed as the rule model parses it."""
        parsed: list[str] = comma_list(self.group_by)
        return parsed

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.needs_field:
            out["field"] = self.field.strip()
        if self.output_alias.strip():
            out["outputAlias"] = self.output_alias.strip()
        if self.group_by_fields:
            out["group_by"] = self.group_by_fields
        return out


class EnrichmentRow(Row):
    """lookup (source, key, output), aggregate (field, aggregation, window) or ml_model."""

    type: param.Selector[str] = param.Selector(default="lookup", objects=list(ENRICHMENTS))
    source = param.String(default="")
    key = param.String(default="")
    field = param.String(default="")
    aggregation: param.Selector[str] = param.Selector(default="avg", objects=list(AGGREGATIONS))
    window = param.String(default="1h")
    model = param.String(default="")
    output_field = param.String(default="")

    #: the inputs each type shows
    FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "lookup": ("source", "key", "output_field"),
        "aggregate": ("field", "aggregation", "window", "output_field"),
        "ml_model": ("model", "field", "output_field"),
    }

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in self.FIELDS[str(self.type)]:
            value = getattr(self, name)
            key = "input_field" if (self.type == "ml_model" and name == "field") else name
            out[key] = value.strip() if isinstance(value, str) else value
        return out


class ActionRow(Row):
    """webhook (endpoint, method), notify (message, channel checkboxes), trigger, store."""

    type: param.Selector[str] = param.Selector(default="webhook", objects=list(ACTIONS))
    endpoint = param.String(default="")
    method: param.Selector[str] = param.Selector(default="POST", objects=list(HTTP_METHODS))
    message = param.String(default="")
    channels = param.ListSelector(default=[], objects=list(CHANNELS))
    fallback_channel: param.Selector[str] = param.Selector(default="", objects=["", *CHANNELS])
    rule_id = param.String(default="")
    target = param.String(default="")

    #: the inputs each type shows
    FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "webhook": ("endpoint", "method"),
        "notify": ("message", "channels", "fallback_channel"),
        "trigger": ("rule_id",),
        "store": ("target",),
    }

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in self.FIELDS[str(self.type)]:
            value = getattr(self, name)
            if name == "fallback_channel" and not value:
                continue
            out[name] = value.strip() if isinstance(value, str) else list(value)
        return out
