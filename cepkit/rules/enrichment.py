"""Enrichment specs (guide Lab 8 step 6): ``lookup``, ``aggregate``, ``ml_model``.

>>> spec = LookupEnrichment.model_validate(
...     {"type": "lookup", "source": "redis://server-metadata", "key": "host",
...      "output_field": "server_info"})
>>> spec.output_field
'server_info'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Discriminator, Field, Tag, field_validator

from cepkit.aggregations import check_aggregation_name
from cepkit.rules._base import Spec, check_duration

__all__ = [
    "ENRICHMENTS",
    "AggregateEnrichment",
    "Enrichment",
    "LookupEnrichment",
    "ModelEnrichment",
]

_OUTPUT = AliasChoices("output_field", "outputField", "output")


class LookupEnrichment(Spec):
    """Look ``key``'s value up in ``source`` (a static table, ``sqlite://...``, ``redis://hash``)."""

    type: Literal["lookup"] = "lookup"
    source: str = Field(min_length=1, validation_alias=AliasChoices("source", "data_source"))
    key: str = Field(min_length=1, validation_alias=AliasChoices("key", "lookup_key", "lookupKey"))
    output_field: str = Field(min_length=1, validation_alias=_OUTPUT)


class AggregateEnrichment(Spec):
    """A historical aggregate of ``field`` over ``window`` from the engine's own state."""

    type: Literal["aggregate"] = "aggregate"
    field: str = Field(min_length=1)
    aggregation: str = "avg"
    window: str = "1h"
    output_field: str = Field(min_length=1, validation_alias=_OUTPUT)

    @field_validator("aggregation", mode="before")
    @classmethod
    def _aggregation(cls, value: Any) -> Any:
        return check_aggregation_name(value)

    _window = field_validator("window", mode="before")(check_duration)


class ModelEnrichment(Spec):
    """A registered detector or user model by name, applied to ``input_field``."""

    type: Literal["ml_model"] = "ml_model"
    model: str = Field(min_length=1)
    input_field: str = Field(
        min_length=1, validation_alias=AliasChoices("input_field", "inputField", "field")
    )
    output_field: str = Field(min_length=1, validation_alias=_OUTPUT)


ENRICHMENTS: dict[str, type[Spec]] = {
    "lookup": LookupEnrichment,
    "aggregate": AggregateEnrichment,
    "ml_model": ModelEnrichment,
}


def _tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) else None


Enrichment = Annotated[
    Annotated[LookupEnrichment, Tag("lookup")]
    | Annotated[AggregateEnrichment, Tag("aggregate")]
    | Annotated[ModelEnrichment, Tag("ml_model")],
    Discriminator(_tag),
]
