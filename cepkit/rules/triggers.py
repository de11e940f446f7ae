"""Trigger specs, one model per trigger type, found through :data:`TRIGGERS`.

The guide's spellings are accepted as aliases (``metricName``, ``scheduleExpression``,
``value_path``, ``anomaly_method``); the canonical names are snake_case.

>>> MetricTrigger.model_validate({"metricName": "cpu_usage", "operator": ">", "threshold": "85"})
MetricTrigger(kind='metric', metric_name='cpu_usage', operator='>', threshold=85.0, ...)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AliasChoices, Field, field_validator, model_validator

from cepkit.aggregations import check_aggregation_name
from cepkit.anomaly import DETECTORS
from cepkit.conditions import ConditionGroup, ConditionNode
from cepkit.operators import OPERATORS
from cepkit.rules._base import Spec, check_duration, one_of, to_number

__all__ = [
    "TRIGGERS",
    "AnomalyTrigger",
    "EventTrigger",
    "MetricTrigger",
    "ScheduleTrigger",
    "TriggerSpec",
]


class _Trigger(Spec):
    def __repr_args__(self) -> Any:  # keep doctest reprs short and stable
        shown = list(super().__repr_args__())
        return [*shown[:5], ("...", ...)] if len(shown) > 5 else shown


class MetricTrigger(_Trigger):
    """A metric compared with a threshold, optionally over a window ("cpu_usage > 85 for 5m").

    ``endpoint`` + ``value_path`` make it a polled metric: the server fetches the
    endpoint every ``interval`` and takes the snapshot at ``value_path``.
    """

    kind: Literal["metric"] = Field(default="metric", exclude=True, repr=True)
    metric_name: str | None = Field(
        default=None, validation_alias=AliasChoices("metric_name", "metricName", "metric")
    )
    operator: str | None = Field(default=None, validation_alias=AliasChoices("operator", "op"))
    threshold: float | None = None
    aggregation: str = "avg"
    duration: str | None = Field(
        default=None, validation_alias=AliasChoices("duration", "window", "for")
    )
    endpoint: str | None = None
    value_path: str | None = Field(
        default=None, validation_alias=AliasChoices("value_path", "valuePath")
    )
    method: Literal["GET", "POST"] = "GET"
    interval: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def subject_name(self) -> str | None:
        """The name the threshold compares: ``metric_name``, else the last part of
        ``value_path`` (``data.cpu`` -> ``cpu``), so a polled value has a name.

        >>> MetricTrigger(value_path="data.cpu", operator=">", threshold=90).subject_name
        'cpu'
        """
        if self.metric_name:
            return self.metric_name
        return self.value_path.rsplit(".", 1)[-1] if self.value_path else None

    @property
    def threshold_field(self) -> str | None:
        """What the threshold (and a window's aggregate) is about: ``metric_name``, or the
        named polled value when the trigger has an ``operator`` but no ``metric_name``.

        >>> MetricTrigger(value_path="data.metrics").threshold_field is None
        True
        """
        if self.metric_name:
            return self.metric_name
        return self.subject_name if self.operator is not None else None

    @field_validator("operator", mode="before")
    @classmethod
    def _op(cls, value: Any) -> Any:
        if value is None:
            return value
        return one_of(value, list(OPERATORS), "operator")

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        return None if value is None else to_number(value, "threshold")

    @field_validator("aggregation", mode="before")
    @classmethod
    def _aggregation(cls, value: Any) -> Any:
        return check_aggregation_name(value)

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        return one_of(value, ["GET", "POST"], "method")

    @field_validator("duration", "interval", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return check_duration(value)

    @model_validator(mode="after")
    def _complete(self) -> MetricTrigger:
        if self.metric_name is None and self.value_path is None:
            raise ValueError("a metric trigger needs metric_name (or endpoint + value_path)")
        if (self.operator is None) != (self.threshold is None):
            missing = "threshold" if self.threshold is None else "operator"
            raise ValueError(f"operator and threshold go together: {missing} is missing")
        return self


class EventTrigger(_Trigger):
    """An event pattern: ``event_type``/``source`` filter plus optional inline conditions."""

    kind: Literal["event"] = Field(default="event", exclude=True, repr=True)
    event_type: str | None = Field(
        default=None, validation_alias=AliasChoices("event_type", "eventType")
    )
    source: str | None = None
    conditions: list[ConditionNode] | None = None
    logic: Literal["AND", "OR", "NOT"] = "AND"

    @field_validator("logic", mode="before")
    @classmethod
    def _logic(cls, value: Any) -> Any:
        return one_of(value, ["AND", "OR", "NOT"], "logic")

    def condition(self) -> ConditionGroup | None:
        """The inline conditions as one group (None when there are none)."""
        if not self.conditions:
            return None
        return ConditionGroup(logic=self.logic, conditions=self.conditions)


class ScheduleTrigger(_Trigger):
    """A cron schedule (5 fields: minute hour day month weekday) in a time zone."""

    kind: Literal["schedule"] = Field(default="schedule", exclude=True, repr=True)
    schedule_expression: str = Field(
        validation_alias=AliasChoices(
            "schedule_expression", "scheduleExpression", "cron", "schedule"
        )
    )
    timezone: str = Field(default="UTC", validation_alias=AliasChoices("timezone", "tz"))

    @field_validator("schedule_expression")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not croniter.is_valid(value):
            raise ValueError(
                f"invalid cron expression {value!r}: expected 5 fields "
                "'minute hour day month weekday', e.g. '*/5 * * * *' or '0 9 * * 1-5'"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Asia/Seoul'"
            ) from None
        return value

    def next_times(self, after: datetime, n: int = 1) -> list[datetime]:
        """The next ``n`` fire times after ``after``, in UTC.

        >>> spec = ScheduleTrigger(scheduleExpression="0 9 * * *", timezone="Asia/Seoul")
        >>> spec.next_times(datetime(2026, 2, 7, 12, tzinfo=UTC))[0].isoformat()
        '2026-02-08T00:00:00+00:00'
        """
        if after.tzinfo is None:
            raise ValueError("next_times needs a timezone-aware datetime")
        it = croniter(self.schedule_expression, after.astimezone(ZoneInfo(self.timezone)))
        return [it.get_next(datetime).astimezone(UTC) for _ in range(n)]


class AnomalyTrigger(_Trigger):
    """A statistical detector on the value at ``value_path`` (no fixed threshold on the value)."""

    kind: Literal["anomaly"] = Field(default="anomaly", exclude=True, repr=True)
    value_path: str = Field(
        validation_alias=AliasChoices("value_path", "valuePath", "metric_name", "metricName")
    )
    anomaly_method: str = Field(
        default="zscore", validation_alias=AliasChoices("anomaly_method", "method")
    )
    threshold: float = 3.0
    window: int | None = Field(default=100, ge=2)
    min_baseline: int = Field(default=30, ge=2)
    multiplier: float = Field(
        default=1.5, gt=0, validation_alias=AliasChoices("multiplier", "k", "iqr_multiplier")
    )
    alpha: float = Field(default=0.3, gt=0, le=1)

    @field_validator("anomaly_method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        return one_of(value, list(DETECTORS), "anomaly method")

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        number = to_number(value, "threshold")
        if number <= 0:
            raise ValueError(f"threshold must be greater than 0, got {value!r}")
        return number


TriggerSpec = MetricTrigger | EventTrigger | ScheduleTrigger | AnomalyTrigger

#: trigger_type -> spec model
TRIGGERS: dict[str, type[MetricTrigger | EventTrigger | ScheduleTrigger | AnomalyTrigger]] = {
    "metric": MetricTrigger,
    "event": EventTrigger,
    "schedule": ScheduleTrigger,
    "anomaly": AnomalyTrigger,
}
