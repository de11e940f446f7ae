"""Action specs, one model per action type, found through :data:`ACTIONS`.

``webhook`` (endpoint, method GET/POST/PUT/DELETE, headers, body, timeout),
``notify`` (channels, message template, ``fallback_channel``), ``trigger`` (chain
another rule) and ``store`` (append to a named store). Each may carry an
``action_config`` with a circuit breaker and a retry policy (guide section 24).

>>> NotifyAction.model_validate(
...     {"type": "notify", "channels": ["slack"], "message": "hi", "fallback_channel": "email"}
... ).channels
['Slack']
>>> WebhookAction.model_validate({"type": "webhook", "endpoint": "https://x.example/a"}).method
'POST'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Discriminator, Field, Tag, field_validator, model_validator

from cepkit.channels import CHANNELS, canonical_channel
from cepkit.rules._base import Spec, one_of

__all__ = [
    "ACTIONS",
    "Action",
    "ActionConfig",
    "CircuitBreakerConfig",
    "NotifyAction",
    "RetryConfig",
    "StoreAction",
    "TriggerAction",
    "WebhookAction",
]

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")


class CircuitBreakerConfig(Spec):
    """Breaker: opens after ``failure_threshold`` failures, half-opens after ``timeout_seconds``."""

    failure_threshold: int = Field(default=3, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    half_open_max_requests: int = Field(default=1, ge=1)


class RetryConfig(Spec):
    """Exponential backoff: 1 s, 2 s, 4 s, 8 s by default (4 retries, 5 tries)."""

    max_retries: int = Field(default=4, ge=0, le=20)
    initial_delay_seconds: float = Field(
        default=1.0, ge=0, validation_alias=AliasChoices("initial_delay_seconds", "initial_delay")
    )
    max_delay_seconds: float = Field(
        default=8.0, ge=0, validation_alias=AliasChoices("max_delay_seconds", "max_delay")
    )
    multiplier: float = Field(default=2.0, ge=1)
    jitter: bool = False


class ActionConfig(Spec):
    """Reliability settings; at rule level ``action`` names the action type or channel."""

    action: str | None = None
    circuit_breaker: CircuitBreakerConfig | None = None
    retry: RetryConfig | None = None
    timeout_seconds: float | None = Field(default=None, gt=0)

    @field_validator("action", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, str) and value.strip().lower() in ACTIONS:
            return value.strip().lower()
        try:
            return canonical_channel(value)
        except ValueError:
            raise ValueError(
                f"unknown action or channel {value!r}; expected one of: "
                f"{', '.join([*ACTIONS, *CHANNELS])}"
            ) from None


class _Action(Spec):
    description: str | None = None
    action_config: ActionConfig | None = None

    @field_validator("type", mode="before", check_fields=False)
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class WebhookAction(_Action):
    """Call an HTTP endpoint."""

    type: Literal["webhook"] = "webhook"
    endpoint: str = Field(validation_alias=AliasChoices("endpoint", "url"))
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias=AliasChoices("timeout_seconds", "timeout")
    )

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL, got {value!r}")
        return value.strip()

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        return one_of(value, HTTP_METHODS, "HTTP method")


class NotifyAction(_Action):
    """Send ``message`` (a ``{{field}}`` template) to every channel; fall back on failure."""

    type: Literal["notify"] = "notify"
    channels: list[str] = Field(min_length=1, validation_alias=AliasChoices("channels", "channel"))
    message: str = Field(min_length=1, validation_alias=AliasChoices("message", "message_template"))
    subject: str | None = None
    fallback_channel: str | None = Field(
        default=None, validation_alias=AliasChoices("fallback_channel", "fallbackChannel")
    )

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            return value
        return [canonical_channel(item) for item in items]

    @field_validator("fallback_channel", mode="before")
    @classmethod
    def _fallback(cls, value: Any) -> Any:
        return None if value is None else canonical_channel(value)

    @model_validator(mode="after")
    def _fallback_differs(self) -> NotifyAction:
        if self.fallback_channel is not None and self.channels == [self.fallback_channel]:
            raise ValueError("fallback_channel must differ from the only primary channel")
        return self


class TriggerAction(_Action):
    """Run another rule with this firing as its payload (depth-limited, no cycles)."""

    type: Literal["trigger"] = "trigger"
    rule_id: str = Field(
        min_length=1,
        validation_alias=AliasChoices("rule_id", "target_rule_id", "target_rule", "rule"),
    )
    pass_payload: bool = True


class StoreAction(_Action):
    """Append the firing to a named store (the events table, a file, a Redis stream)."""

    type: Literal["store"] = "store"
    target: str = Field(
        min_length=1, validation_alias=AliasChoices("target", "store", "destination")
    )


#: action type -> model
ACTIONS: dict[str, type[_Action]] = {
    "webhook": WebhookAction,
    "notify": NotifyAction,
    "trigger": TriggerAction,
    "store": StoreAction,
}


def _tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind.strip().lower() if isinstance(kind, str) else None


Action = Annotated[
    Annotated[WebhookAction, Tag("webhook")]
    | Annotated[NotifyAction, Tag("notify")]
    | Annotated[TriggerAction, Tag("trigger")]
    | Annotated[StoreAction, Tag("store")],
    Discriminator(_tag),
]
