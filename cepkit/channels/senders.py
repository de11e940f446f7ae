"""The sender registry: canonical channel name -> :class:`~cepkit.channels.base.Sender`.

A new channel is one module with a ``Sender`` subclass plus one line here (and its
configuration model in :data:`cepkit.channels.CHANNELS`). :func:`build_sender`
validates a configuration (a model or a plain mapping) before building; validation
messages name the field, never its value, so a secret typed in the wrong place does
not leak.

>>> from cepkit.channels.base import SendContext
>>> from cepkit.channels.http import HttpClient
>>> from cepkit.clock import FakeClock
>>> context = SendContext(client=HttpClient(), clock=FakeClock())
>>> build_sender("slack", {"webhook_url": "https://hooks.example/x"}, context).channel
'Slack'
>>> build_sender("Slack", {"url": "https://hooks.example/x"}, context)
Traceback (most recent call last):
...
cepkit.errors.ChannelError: invalid Slack config: webhook_url: Field required; url: Extra ...
>>> sorted(SENDERS)
['Discord', 'Email', 'SMS', 'Slack', 'Webhook']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from cepkit.channels import CHANNELS, ChannelConfig, canonical_channel
from cepkit.channels.base import SendContext, Sender
from cepkit.channels.discord import DiscordSender
from cepkit.channels.email import EmailSender
from cepkit.channels.slack import SlackSender
from cepkit.channels.sms import SMSSender
from cepkit.channels.webhook import WebhookSender
from cepkit.errors import ChannelError

__all__ = ["SENDERS", "build_sender", "register_sender", "validate_config"]

#: canonical channel name -> sender class
SENDERS: dict[str, type[Sender]] = {}


def register_sender(cls: type[Sender]) -> type[Sender]:
    """Add a sender; its channel must be in ``CHANNELS`` with the same config model."""
    if not (isinstance(cls, type) and issubclass(cls, Sender)):
        raise TypeError(f"{cls!r} is not a Sender subclass")
    if CHANNELS.get(cls.channel) is not cls.config_model:
        raise TypeError(
            f"{cls.__name__}: channel {cls.channel!r} with that config is not in CHANNELS"
        )
    SENDERS[cls.channel] = cls
    return cls


for _sender in (SlackSender, EmailSender, SMSSender, DiscordSender, WebhookSender):
    register_sender(_sender)


def validate_config(channel: str, config: ChannelConfig | Mapping[str, Any]) -> ChannelConfig:
    """``config`` as the channel's model; :class:`ChannelError` naming bad fields."""
    name = canonical_channel(channel)
    model = CHANNELS[name]
    if isinstance(config, model):
        return config
    if isinstance(config, ChannelConfig):
        raise ChannelError(f"invalid {name} config: got a {type(config).__name__}")
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(config)'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ChannelError(f"invalid {name} config: {problems}") from None


def build_sender(
    channel: str, config: ChannelConfig | Mapping[str, Any], context: SendContext
) -> Sender:
    """A ready sender for ``channel`` (any case) with a validated ``config``."""
    name = canonical_channel(channel)
    if name not in SENDERS:
        raise ChannelError(f"no sender registered for channel {name!r}")
    return SENDERS[name](validate_config(name, config), context)
