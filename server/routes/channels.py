"""``/cep/channels``: channel types, status, configuration and tests (guide Lab 6).

- ``GET /cep/channels/types`` → ``{"channels": ["Slack", "Email", "SMS", "Discord", ...]}``
- ``GET /cep/channels/status`` → per channel ``configured``, ``last_test``, ``status``
  (``ok`` / ``error`` / ``untested`` / ``not_configured``), plus the last test's message
  and latency and the circuit breaker's state.
- ``GET /cep/channels/{name}`` and ``PUT /cep/channels/{name}``: the configuration,
  validated by the channel's model (errors name ``config.<field>``); secrets are
  write-only (masked on read; send them back masked to keep them).
- ``POST /cep/channels/test`` with the guide's body (``channel``, optional ``config``,
  ``test_message``) → ``channel, status, message, latency_ms``; without ``config`` the
  stored one is tested.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cepkit.actions.results import ChannelTestResult
from cepkit.channels import CHANNELS
from server.deps import LiveDep, TenantDep
from server.schemas import ValidationErrorOut

__all__ = ["router"]

router = APIRouter(prefix="/cep/channels", tags=["channels"])


class ChannelTypes(BaseModel):
    """The channels a rule can notify."""

    model_config = ConfigDict(frozen=True)

    channels: list[str]


class ChannelStatus(BaseModel):
    """One channel's state, as Lab 6 shows it."""

    model_config = ConfigDict(frozen=True)

    configured: bool
    last_test: datetime | None
    status: str
    message: str | None = None
    latency_ms: float | None = None
    breaker: str | None = None


class ChannelStatusList(BaseModel):
    """Every channel by name."""

    model_config = ConfigDict(frozen=True)

    channels: dict[str, ChannelStatus]


class ChannelOut(BaseModel):
    """A channel's configuration, secrets masked."""

    model_config = ConfigDict(frozen=True)

    channel: str
    configured: bool
    config: dict[str, Any] | None
    updated_at: datetime | None = None


class ChannelPut(BaseModel):
    """The configuration to store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: dict[str, Any]


class ChannelTestRequest(BaseModel):
    """The guide's test body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str = Field(min_length=1, max_length=40)
    config: dict[str, Any] | None = None
    test_message: str | None = Field(default=None, max_length=4000)


@router.get("/types", summary="Channel types", response_model=ChannelTypes)
def channel_types() -> ChannelTypes:
    """The registry's channels, as rules spell them."""
    return ChannelTypes(channels=list(CHANNELS))


@router.get("/status", summary="Channel status (Lab 6)", response_model=ChannelStatusList)
async def channel_status(live: LiveDep, tenant: TenantDep) -> ChannelStatusList:
    """``configured``, ``last_test`` and ``status`` per channel, with the breaker state."""
    out: dict[str, ChannelStatus] = {}
    for channel in live.channels.all(tenant=tenant):
        state = await live.delivery.dispatcher.breaker_state(f"channel:{channel.name}")
        out[channel.name] = ChannelStatus(
            configured=channel.configured,
            last_test=channel.last_test,
            status=channel.status,
            message=channel.last_message,
            latency_ms=channel.last_latency_ms,
            breaker=getattr(state, "state", None),
        )
    return ChannelStatusList(channels=out)


@router.get(
    "/{name}",
    summary="A channel's configuration",
    response_model=ChannelOut,
    responses={422: {"model": ValidationErrorOut}},
)
def get_channel(name: str, live: LiveDep, tenant: TenantDep) -> ChannelOut:
    """Secrets masked."""
    channel = live.channels.get(name, tenant=tenant)
    return ChannelOut(
        channel=channel.name,
        configured=channel.configured,
        config=channel.public_config(),
        updated_at=channel.updated_at,
    )


@router.put(
    "/{name}",
    summary="Configure a channel",
    response_model=ChannelOut,
    responses={422: {"model": ValidationErrorOut}},
)
def put_channel(name: str, body: ChannelPut, live: LiveDep, tenant: TenantDep) -> ChannelOut:
    """Validate and store; masked secrets keep their stored value."""
    channel = live.channels.put(name, body.config, tenant=tenant)
    return ChannelOut(
        channel=channel.name,
        configured=True,
        config=channel.public_config(),
        updated_at=channel.updated_at,
    )


@router.post("/test", summary="Send a test message", response_model=ChannelTestResult)
async def test_channel(
    body: ChannelTestRequest, live: LiveDep, tenant: TenantDep
) -> ChannelTestResult:
    """One delivery, no retry; ``status`` ``ok`` or ``error`` with the reason."""
    return await live.delivery.test(body.channel, body.config, body.test_message, tenant=tenant)
