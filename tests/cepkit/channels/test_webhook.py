"""Generic webhook channel: JSON body, secret headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cepkit.channels import WebhookChannelConfig
from cepkit.channels.base import Message, SendContext
from cepkit.channels.http import HttpClient
from cepkit.channels.webhook import WebhookSender
from cepkit.clock import FakeClock
from tests.fakes import FakeService

pytestmark = pytest.mark.anyio


async def test_posts_the_message_with_configured_headers(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    url = service.route("/alerts/abc", 202)
    config = WebhookChannelConfig(url=url + "?key=k1", headers={"Authorization": "Bearer tok-123"})
    sender = WebhookSender(config, SendContext(http, clock))
    message = Message(
        text="cpu=92",
        severity="high",
        rule_name="cpu",
        firing_id="f1",
        event_time=datetime(2026, 2, 8, 10, 30, tzinfo=UTC),
    )
    outcome = await sender.send(message)
    assert outcome.ok and outcome.status_code == 202
    (request,) = service.hits("/alerts/abc")
    assert request.headers["authorization"] == "Bearer tok-123"
    assert request.query == {"key": ["k1"]}
    assert request.json == {
        "text": "cpu=92",
        "subject": None,
        "severity": "high",
        "rule_name": "cpu",
        "rule_id": None,
        "firing_id": "f1",
        "event_time": "2026-02-08T10:30:00Z",
        "source": "cepkit",
    }
    assert sender.describe() == f"http://127.0.0.1:{service.port}"
    assert {"Bearer tok-123", "k1"} <= set(sender.secrets())
