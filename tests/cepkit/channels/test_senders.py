"""The sender registry, and a contract every registered sender keeps."""

from __future__ import annotations

from typing import Any

import pytest

from cepkit.channels import CHANNELS, ChannelConfig
from cepkit.channels.base import Message, SendContext, Sender
from cepkit.channels.http import HttpClient
from cepkit.channels.senders import SENDERS, build_sender, register_sender, validate_config
from cepkit.clock import FakeClock
from cepkit.errors import ChannelError
from tests.fakes import FakeService

pytestmark = pytest.mark.anyio

SECRET = "sekret-value-4711"


def configs(base: str) -> dict[str, dict[str, Any]]:
    """A working configuration per channel, each holding SECRET somewhere secret."""
    return {
        "Slack": {"webhook_url": f"{base}/slack/{SECRET}"},
        "Discord": {"webhook_url": f"{base}/discord/{SECRET}"},
        "Webhook": {"url": f"{base}/hook", "headers": {"X-Token": SECRET}},
        "SMS": {
            "api_key": SECRET,
            "account_sid": "AC1",
            "base_url": base,
            "from_number": "+1",
            "to_numbers": ["+2"],
        },
        "Email": {
            "smtp_host": "127.0.0.1",
            "smtp_port": 1,
            "username": "u",
            "password": SECRET,
            "from": "a@example.com",
            "to": ["b@example.com"],
        },
    }


def test_every_channel_has_a_sender() -> None:
    assert set(SENDERS) == set(CHANNELS)
    for name, cls in SENDERS.items():
        assert cls.channel == name and cls.config_model is CHANNELS[name]


def test_registering_checks_the_class() -> None:
    class Teams(Sender):
        channel = "Teams"
        config_model = ChannelConfig

        async def send(self, message: Message) -> Any:
            raise NotImplementedError

        def targets(self) -> list[str]:
            return []

    with pytest.raises(TypeError, match="not in CHANNELS"):
        register_sender(Teams)
    with pytest.raises(TypeError, match="not a Sender"):
        register_sender(dict)  # type: ignore[arg-type]


def test_validation_errors_never_echo_values() -> None:
    with pytest.raises(ChannelError) as caught:
        validate_config("email", {"smtp_host": "h", "from": "a@x", "to": SECRET, "password": 1})
    assert SECRET not in str(caught.value)
    assert "to: Input should be a valid list" in str(caught.value)


@pytest.mark.parametrize("name", sorted(SENDERS))
async def test_contract(name: str, service: FakeService, clock: FakeClock) -> None:
    async with HttpClient() as http:
        config = configs(service.url().rstrip("/"))[name]
        sender = build_sender(name.lower(), config, SendContext(http, clock))
        assert any(SECRET in secret for secret in sender.secrets())
        assert SECRET not in sender.describe()
        assert sender.targets(), "a sender names what it contacts"
        outcome = await sender.send(Message(text="hello", severity="info"))
    # nothing routed on the fake (and nothing listens on port 1): a failure, no exception
    assert not outcome.ok and outcome.error
    assert SECRET not in (outcome.error or "")
