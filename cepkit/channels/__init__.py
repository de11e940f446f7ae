"""Notification channels, one registry: Slack, Email, SMS, Discord (+ a generic Webhook).

A channel is known by its canonical name (as the guide spells it) and validated by its
configuration model. Names match case-insensitively, so rules may say ``"slack"``.
Delivery itself lives in one module per channel (the channels issue); this registry is
what rules are validated against.

>>> canonical_channel("slack")
'Slack'
>>> canonical_channel("pager")
Traceback (most recent call last):
...
ValueError: unknown channel 'pager'; expected one of: Slack, Email, SMS, Discord, Webhook
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "CHANNELS",
    "ChannelConfig",
    "DiscordConfig",
    "EmailConfig",
    "SMSConfig",
    "SlackConfig",
    "WebhookChannelConfig",
    "canonical_channel",
]


class ChannelConfig(BaseModel):
    """Base of every channel's configuration: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SlackConfig(ChannelConfig):
    """Slack Incoming Webhook."""

    webhook_url: SecretStr


class DiscordConfig(ChannelConfig):
    """Discord webhook."""

    webhook_url: SecretStr


class EmailConfig(ChannelConfig):
    """SMTP delivery (STARTTLS on 587, SSL on 465)."""

    model_config = ConfigDict(populate_by_name=True)

    smtp_host: str
    smtp_port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    use_ssl: bool = False
    starttls: bool = True


class SMSConfig(ChannelConfig):
    """SMS through an HTTP provider with Twilio's REST shape."""

    provider: str = "twilio"
    api_key: SecretStr
    account_sid: str | None = None
    base_url: str | None = None
    from_number: str
    to_numbers: list[str] = Field(min_length=1)


class WebhookChannelConfig(ChannelConfig):
    """A generic HTTP endpoint used as a notification channel."""

    url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)


#: canonical name -> configuration model
CHANNELS: dict[str, type[ChannelConfig]] = {
    "Slack": SlackConfig,
    "Email": EmailConfig,
    "SMS": SMSConfig,
    "Discord": DiscordConfig,
    "Webhook": WebhookChannelConfig,
}


def canonical_channel(name: str) -> str:
    """The registry's spelling of ``name`` (any case); ValueError naming the valid ones."""
    for known in CHANNELS:
        if isinstance(name, str) and known.lower() == name.strip().lower():
            return known
    raise ValueError(f"unknown channel {name!r}; expected one of: {', '.join(CHANNELS)}")
