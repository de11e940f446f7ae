"""notify: message rendering, each channel's format, fallback, template errors."""

from __future__ import annotations

from email import message_from_bytes
from typing import Any

import pytest

from cepkit.actions import Dispatcher
from cepkit.channels import ChannelConfig, DiscordConfig, EmailConfig, SlackConfig
from tests.fakes import FakeService, FakeSleep, SmtpServer, free_port, make_firing, make_rule

pytestmark = pytest.mark.anyio

PAYLOAD = {"severity": "critical", "summary": "Connection pool exhausted", "host": "web-01"}


def notify(*channels: str, **extra: Any) -> dict[str, Any]:
    message = "[CRITICAL] API Gateway error detected: {{severity}} - {{summary}}"
    return {"type": "notify", "channels": list(channels), "message": message, **extra}


def email_config(smtp: SmtpServer) -> EmailConfig:
    return EmailConfig.model_validate(
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "from": "cep@example.com",
            "to": ["ops@example.com"],
            "starttls": False,
        }
    )


def email_config_refused() -> EmailConfig:
    return EmailConfig.model_validate(
        {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "from": "a@x.io", "to": ["b@x.io"]}
    )


async def fire(dispatcher: Dispatcher, *actions: dict[str, Any], **values: Any) -> Any:
    rule = make_rule(*actions)
    return await dispatcher.execute(rule, make_firing(rule, **values), PAYLOAD)


async def test_each_channel_gets_its_own_format(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 200))
    channels["Discord"] = DiscordConfig(webhook_url=service.route("/discord", 204))
    result = await fire(dispatcher, notify("Slack", "Discord"))
    assert result.status == "success"
    assert [(a.channel, a.status) for a in result.actions] == [
        ("Slack", "success"),
        ("Discord", "success"),
    ]
    text = "[CRITICAL] API Gateway error detected: critical - Connection pool exhausted"
    assert service.hits("/slack")[0].json["text"] == text
    assert service.hits("/discord")[0].json["content"] == text


async def test_filters_and_firing_values_in_messages(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 200))
    action = {
        "type": "notify",
        "channels": ["slack"],
        "message": "{{rule_name|upper}} {{host}} avg={{avg_cpu|round(1)}} {{owner|default('ops')}}",
    }
    await fire(dispatcher, action, avg_cpu=91.26)
    assert service.hits("/slack")[0].json["text"] == "CPU_HIGH web-01 avg=91.3 ops"


async def test_fallback_delivers_and_both_are_recorded(
    dispatcher: Dispatcher,
    service: FakeService,
    smtp: SmtpServer,
    channels: dict[str, ChannelConfig],
    sleep: FakeSleep,
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 500))
    channels["Email"] = email_config(smtp)
    result = await fire(dispatcher, notify("Slack", fallback_channel="Email"))
    (primary,) = result.actions
    assert primary.status == "failed" and len(primary.attempts) == 5
    assert sleep.delays == [1.0, 2.0, 4.0, 8.0]
    assert primary.fallback_used and primary.delivered
    assert primary.fallback is not None
    assert (primary.fallback.channel, primary.fallback.role) == ("Email", "fallback")
    assert primary.fallback.status == "success"
    assert primary.dead_letter is None
    assert result.status == "success"
    message = message_from_bytes(smtp.messages[0][2])
    assert message["Subject"] == "[HIGH] cpu_high"
    dumped = result.model_dump(mode="json")
    assert dumped["actions"][0]["fallback_used"] is True
    assert dumped["actions"][0]["fallback"]["channel"] == "Email"


async def test_fallback_when_the_breaker_is_open(
    dispatcher: Dispatcher,
    service: FakeService,
    smtp: SmtpServer,
    channels: dict[str, ChannelConfig],
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 500))
    channels["Email"] = email_config(smtp)
    no_retry = {"retry": {"max_retries": 0}}
    for _ in range(3):
        await fire(dispatcher, notify("Slack", action_config=no_retry))
    result = await fire(dispatcher, notify("Slack", fallback_channel="Email"))
    (primary,) = result.actions
    assert primary.attempts == [] and (primary.error or "").startswith("circuit open")
    assert primary.fallback is not None and primary.fallback.status == "success"
    assert len(service.hits("/slack")) == 3 and len(smtp.messages) == 1


async def test_unconfigured_channel_falls_back(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Discord"] = DiscordConfig(webhook_url=service.route("/discord", 204))
    result = await fire(dispatcher, notify("SMS", fallback_channel="Discord"))
    (primary,) = result.actions
    assert primary.error == "channel SMS is not configured" and primary.attempts == []
    assert primary.delivered and result.status == "success"


async def test_failed_fallback_leaves_a_dead_letter(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 404))
    channels["Discord"] = DiscordConfig(webhook_url=service.route("/discord", 401))
    result = await fire(dispatcher, notify("Slack", fallback_channel="Discord"))
    (primary,) = result.actions
    assert primary.fallback is not None and primary.fallback.status == "failed"
    assert primary.fallback.error == "HTTP 401: Unauthorized (check the token or API key)"
    assert primary.fallback.dead_letter is None
    assert primary.dead_letter is not None and primary.dead_letter.channel == "Slack"
    assert not primary.delivered and result.status == "failed"
    assert result.error == "notify Slack: HTTP 404: Webhook URL not found"


async def test_one_fallback_delivery_for_several_failed_channels(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 404))
    channels["Email"] = email_config_refused()
    channels["Discord"] = DiscordConfig(webhook_url=service.route("/discord", 204))
    action = notify(
        "Slack", "Email", fallback_channel="Discord", action_config={"retry": {"max_retries": 0}}
    )
    result = await fire(dispatcher, action)
    assert [a.fallback_used for a in result.actions] == [True, True]
    assert len(service.hits("/discord")) == 1
    assert result.status == "success"


async def test_no_fallback_when_a_channel_already_delivered(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 404))
    channels["Discord"] = DiscordConfig(webhook_url=service.route("/discord", 204))
    result = await fire(dispatcher, notify("Slack", "Discord", fallback_channel="Discord"))
    assert len(service.hits("/discord")) == 1
    assert result.status == "partial"


async def test_template_error_fails_every_channel_without_sending(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 200))
    channels["Discord"] = DiscordConfig(webhook_url=service.route("/discord", 204))
    action = {"type": "notify", "channels": ["Slack"], "message": "{{severity}} {{missing.field}}"}
    result = await fire(dispatcher, {**action, "fallback_channel": "Discord"})
    (primary,) = result.actions
    assert primary.error == (
        "template error: missing.field: undefined name in template (the payload has no such field)"
    )
    assert primary.attempts == [] and primary.fallback is None
    assert service.requests == []
    assert primary.dead_letter is not None
