"""Aggregation specs: ``{"type": "avg", "field": "cpu_percent", "outputAlias": "avg_cpu"}``.

>>> spec = AggregationSpec.model_validate(
...     {"type": "avg", "field": "cpu_percent", "group_by": "region, service_name"})
>>> spec.alias, spec.group_by
('avg_cpu_percent', ['region', 'service_name'])
>>> AggregationSpec.model_validate({"type": "count"}).alias
'count'
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from cepkit.aggregations import check_aggregation_name, default_alias, needs_field
from cepkit.rules._base import Spec, comma_list

__all__ = ["AggregationSpec"]


class AggregationSpec(Spec):
    """One aggregate over the window; ``field`` is required except for count and rate."""

    type: str
    field: str | None = None
    output_alias: str | None = Field(
        default=None, validation_alias=AliasChoices("output_alias", "outputAlias", "alias")
    )
    group_by: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("group_by", "groupBy")
    )

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        return check_aggregation_name(value)

    @field_validator("group_by", mode="before")
    @classmethod
    def _group_by(cls, value: Any) -> Any:
        return comma_list(value)

    @field_validator("field", "output_alias", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _field_needed(self) -> AggregationSpec:
        if needs_field(self.type) and not self.field:
            raise ValueError(
                f"aggregation {self.type!r} needs a field (only count and rate do not)"
            )
        return self

    @property
    def alias(self) -> str:
        """The name of the result: ``outputAlias`` or ``<type>_<field>``."""
        return self.output_alias or default_alias(self.type, self.field)
