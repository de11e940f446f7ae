"""Discord sender against a local fake of Discord's execute-webhook endpoint."""

from __future__ import annotations

import pytest

from cepkit.channels import DiscordConfig
from cepkit.channels.base import Message, SendContext
from cepkit.channels.discord import DISCORD_LIMIT, DiscordSender, discord_payload
from cepkit.channels.http import HttpClient
from cepkit.clock import FakeClock
from tests.fakes import FakeService

pytestmark = pytest.mark.anyio


def test_long_messages_are_cut_at_the_limit() -> None:
    content = discord_payload(Message(text="x" * 5000))["content"]
    assert len(content) == DISCORD_LIMIT and content.endswith("…")


async def test_posts_content_without_mentions(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    url = service.route("/api/webhooks/1/abc", 204)
    config = DiscordConfig(webhook_url=url)
    message = Message(text="@everyone disk 97%", subject="Disk full")
    outcome = await DiscordSender(config, SendContext(http, clock)).send(message)
    assert outcome.ok and outcome.status_code == 204
    (request,) = service.hits("/api/webhooks/1/abc")
    assert request.json == {
        "content": "**Disk full**\n@everyone disk 97%",
        "allowed_mentions": {"parse": []},
    }


async def test_not_found(service: FakeService, http: HttpClient, clock: FakeClock) -> None:
    config = DiscordConfig(webhook_url=service.url("/api/webhooks/gone"))
    outcome = await DiscordSender(config, SendContext(http, clock)).send(Message(text="x"))
    assert outcome.error == "HTTP 404: Webhook URL not found"
