"""What running actions returns: frozen, JSON-ready models the server stores as logs.

An :class:`ExecutionResult` holds one :class:`ActionResult` per delivery (a ``notify``
action gives one per channel), each with every :class:`Attempt`. A delivery that
finally failed carries a :class:`DeadLetter`, enough to deliver it again later with
``Dispatcher.retry``. No model holds a secret: targets are described, never spelled
out (a Slack webhook URL *is* a credential), and error texts are redacted.

>>> attempt = Attempt(attempt=1, status_code=503, error="HTTP 503: Service Unavailable",
...                   latency_ms=12.5, delay_before_s=0.0)
>>> ActionResult(action_index=0, action_type="notify", channel="Slack", target="Slack",
...              status="failed", attempts=[attempt]).model_dump()["attempts"][0]["status_code"]
503
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from cepkit.firing import Firing

__all__ = [
    "ActionResult",
    "ActionStatus",
    "ActionType",
    "Attempt",
    "BreakerName",
    "ChannelTestResult",
    "DeadLetter",
    "ExecutionResult",
    "ExecutionStatus",
    "Role",
]

ActionType = Literal["webhook", "notify", "trigger", "store"]
ActionStatus = Literal["success", "failed"]
ExecutionStatus = Literal["success", "failed", "partial"]
BreakerName = Literal["closed", "open", "half_open"]
Role = Literal["primary", "fallback", "retry"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Attempt(_Result):
    """One try: HTTP status (or SMTP reply code) or error, latency, the wait before it."""

    attempt: int = Field(ge=1)
    status_code: int | None = None
    error: str | None = None
    latency_ms: float = 0.0
    delay_before_s: float = 0.0
    at: datetime | None = None


class DeadLetter(_Result):
    """A delivery that finally failed, kept to be delivered again (``Dispatcher.retry``).

    The action is named by its index in the rule's ``actions`` (the retry takes the rule
    as it is then, so a fixed endpoint or template is used); ``channel`` is the channel
    that failed for ``notify``. ``dead_letter_id`` is stable for one firing, action and
    channel, so a failed retry replaces its dead letter instead of adding one.
    """

    dead_letter_id: str
    rule_id: str | None
    rule_name: str
    action_index: int
    action_type: ActionType
    channel: str | None = None
    target: str | None = None
    firing: Firing
    payload: dict[str, Any] = Field(default_factory=dict)
    error: str
    attempts: int = 0
    redeliveries: int = 0
    created_at: datetime


class ActionResult(_Result):
    """One delivery of one action (for ``notify``: to one channel).

    ``fallback`` is the delivery through ``fallback_channel`` made because this one
    failed (one per action, shared by every failed channel of it): ``status`` stays
    ``failed`` (the primary did fail) while ``delivered`` is true when the fallback got
    through, and then there is no dead letter. ``breaker`` is the circuit state after it.
    """

    action_index: int
    action_type: ActionType
    channel: str | None = None
    target: str | None = None
    role: Role = "primary"
    status: ActionStatus
    attempts: list[Attempt] = Field(default_factory=list)
    error: str | None = None
    breaker: BreakerName | None = None
    fallback: ActionResult | None = None
    dead_letter: DeadLetter | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fallback_used(self) -> bool:
        """Whether a fallback channel was tried for this delivery."""
        return self.fallback is not None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delivered(self) -> bool:
        """Whether the notification got through, here or through the fallback."""
        return self.status == "success" or (
            self.fallback is not None and self.fallback.status == "success"
        )


class ExecutionResult(_Result):
    """All of a rule's actions for one firing: ``success`` | ``partial`` | ``failed``."""

    exec_id: str
    rule_id: str | None
    rule_name: str
    firing_id: str
    status: ExecutionStatus
    started_at: datetime
    duration_ms: float
    actions: list[ActionResult] = Field(default_factory=list)
    error: str | None = None

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter of this execution, in action order."""
        return [result.dead_letter for result in self.actions if result.dead_letter]


class ChannelTestResult(_Result):
    """The answer of a channel test (guide Lab 6)."""

    channel: str
    status: Literal["ok", "error"]
    message: str
    latency_ms: float
    status_code: int | None = None
