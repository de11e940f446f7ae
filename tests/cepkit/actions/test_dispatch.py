"""The dispatcher as the server uses it: statuses, dead letters, channel tests, secrets."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import pytest

from cepkit.actions import (
    TEST_OK,
    ChannelTestResult,
    DeadLetter,
    Dispatcher,
    ExecutionResult,
    TargetPolicy,
)
from cepkit.channels import (
    ChannelConfig,
    EmailConfig,
    SlackConfig,
    SMSConfig,
    WebhookChannelConfig,
)
from cepkit.errors import RuleError
from tests.fakes import FakeService, FakeSleep, SmtpServer, free_port, make_firing, make_rule

pytestmark = pytest.mark.anyio

PAYLOAD = {"severity": "critical", "summary": "Connection pool exhausted"}


async def test_success_partial_failed(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    ok, bad = service.route("/ok", 200), service.route("/bad", 404)
    both_ok = make_rule({"type": "webhook", "endpoint": ok}, {"type": "webhook", "endpoint": ok})
    mixed = make_rule({"type": "webhook", "endpoint": ok}, {"type": "webhook", "endpoint": bad})
    none_ok = make_rule({"type": "webhook", "endpoint": bad})
    statuses = [
        (await dispatcher.execute(rule, make_firing(rule), PAYLOAD)).status
        for rule in (both_ok, mixed, none_ok, make_rule())
    ]
    assert statuses == ["success", "partial", "failed", "success"]


async def test_result_is_json_and_round_trips(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 500, 200))
    rule = make_rule({"type": "notify", "channels": ["Slack"], "message": "{{summary}}"})
    result = await dispatcher.execute(rule, make_firing(rule), PAYLOAD)
    assert result.exec_id.startswith("exec_") and result.rule_name == "cpu_high"
    assert result.started_at.isoformat() == "2026-02-08T10:30:00+00:00"
    text = result.model_dump_json()
    again = ExecutionResult.model_validate_json(text)
    assert again.actions[0].attempts == result.actions[0].attempts
    assert again.model_dump_json() == text


async def test_payload_defaults_to_the_firings(
    dispatcher: Dispatcher, service: FakeService
) -> None:
    url = service.route("/hook", 200)
    rule = make_rule({"type": "webhook", "endpoint": url, "body": {"s": "{{summary}}"}})
    firing = make_firing(rule).model_copy(update={"payload": PAYLOAD})
    assert (await dispatcher.execute(rule, firing)).status == "success"
    assert service.hits("/hook")[0].json == {"s": "Connection pool exhausted"}


async def test_dead_letter_then_retry_after_the_endpoint_is_fixed(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    broken = make_rule({"type": "webhook", "endpoint": service.url("/wrong")})
    firing = make_firing(broken)
    letter = (await dispatcher.execute(broken, firing, PAYLOAD)).actions[0].dead_letter
    assert letter is not None
    assert (letter.action_index, letter.action_type, letter.error) == (
        0,
        "webhook",
        "HTTP 404: Endpoint not found",
    )
    stored = DeadLetter.model_validate_json(letter.model_dump_json())  # as the server keeps it
    assert stored == letter
    # a failed retry keeps the dead letter's id and counts the redelivery
    again = await dispatcher.retry(stored, broken)
    assert again.role == "retry" and again.dead_letter is not None
    assert again.dead_letter.dead_letter_id == letter.dead_letter_id
    assert again.dead_letter.redeliveries == 1
    # the operator fixes the rule's endpoint; the retry uses the rule as it is now
    fixed = make_rule({"type": "webhook", "endpoint": service.route("/right", 200)})
    done = await dispatcher.retry(stored, fixed)
    assert done.status == "success" and done.dead_letter is None
    assert service.hits("/right")[0].json["firing_id"] == firing.firing_id


async def test_notify_dead_letter_retry_after_the_channel_is_fixed(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.url("/gone"))
    rule = make_rule(
        {"type": "notify", "channels": ["Slack"], "message": "{{summary}}"},
    )
    letter = (await dispatcher.execute(rule, make_firing(rule), PAYLOAD)).dead_letters[0]
    assert letter.channel == "Slack" and letter.target == "Slack"
    channels["Slack"] = SlackConfig(webhook_url=service.route("/new", 200))
    done = await dispatcher.retry(letter, rule)
    assert (done.status, done.channel, done.role) == ("success", "Slack", "retry")
    assert service.hits("/new")[0].json["text"] == "Connection pool exhausted"


async def test_retry_needs_the_same_action(dispatcher: Dispatcher, service: FakeService) -> None:
    rule = make_rule({"type": "webhook", "endpoint": service.url("/x")})
    letter = (await dispatcher.execute(rule, make_firing(rule), {})).dead_letters[0]
    changed = make_rule({"type": "store", "target": "events"})
    with pytest.raises(RuleError, match=r"has no webhook action at actions\[0\]"):
        await dispatcher.retry(letter, changed)


# -- channel tests (guide Lab 6) ----------------------------------------------------------


async def test_channel_test_ok_and_not_found(dispatcher: Dispatcher, service: FakeService) -> None:
    good = {"webhook_url": service.route("/services/T/B/x", 200, body="ok")}
    result = await dispatcher.test_channel(
        "Slack", good, "CEP 채널 테스트: Slack 알림이 정상 수신되면 성공입니다."
    )
    assert (result.channel, result.status, result.message) == ("Slack", "ok", TEST_OK)
    assert result.latency_ms > 0
    sent = service.hits("/services/T/B/x")[0].json
    assert sent["text"] == "CEP 채널 테스트: Slack 알림이 정상 수신되면 성공입니다."
    bad = {"webhook_url": service.url("/services/T/B/wrong")}
    result = await dispatcher.test_channel("slack", bad, "x")
    assert (result.status, result.message, result.status_code) == (
        "error",
        "HTTP 404: Webhook URL not found",
        404,
    )
    assert set(result.model_dump()) == {"channel", "status", "message", "latency_ms", "status_code"}


async def test_channel_test_uses_the_configured_channel(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    assert (await dispatcher.test_channel("Discord")).message == "Discord is not configured"
    channels["Webhook"] = WebhookChannelConfig(url=service.route("/hook", 200))
    assert (await dispatcher.test_channel("webhook")).status == "ok"


async def test_channel_test_email(
    make_dispatcher: Any,
    smtp_starttls: SmtpServer,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    dispatcher = make_dispatcher(smtp_ssl_context=tls[1])
    config = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_starttls.port,
        "username": "alerts",
        "password": "s3cret-pw",
        "from": "cep-alerts@example.com",
        "to": ["ops-team@example.com"],
    }
    result = await dispatcher.test_channel(
        "Email", config, "CEP 채널 테스트: Email 알림 테스트입니다."
    )
    assert result.status == "ok", result.message
    wrong = await dispatcher.test_channel("Email", {**config, "password": "nope"}, "x")
    assert wrong.message == "SMTP 535: authentication failed"


async def test_channel_test_errors(dispatcher: Dispatcher, service: FakeService) -> None:
    unknown = await dispatcher.test_channel("Pager", {}, "x")
    assert unknown.status == "error" and unknown.message.startswith("unknown channel 'Pager'")
    invalid = await dispatcher.test_channel("SMS", {"api_key": "k"}, "x")
    assert invalid.message.startswith("invalid SMS config: from_number: Field required")
    denied = await dispatcher.test_channel("Slack", {"webhook_url": "http://169.254.169.254/x"})
    assert denied.message == "target 169.254.169.254 is denied (169.254.0.0/16)"
    slow = {"webhook_url": service.route("/slow", 200, delay=1.0)}
    timed_out = await dispatcher.test_channel("Slack", slow, "x", timeout=0.2)
    assert timed_out.message == "Timed out after 0.2 s"
    assert len(service.hits("/slow")) == 1  # no retry in a test


# -- secrets --------------------------------------------------------------------------------

SECRETS = ("T0SECRET/B0SECRET/xoxSECRET", "tw-auth-SECRET-1", "smtp-SECRET-pw", "hdr-SECRET-tok")


def secret_channels(service: FakeService, smtp_port: int) -> dict[str, ChannelConfig]:
    return {
        "Slack": SlackConfig(webhook_url=service.url(f"/services/{SECRETS[0]}")),
        "SMS": SMSConfig(
            api_key=SECRETS[1],
            account_sid="AC1",
            base_url=service.url(),
            from_number="+1",
            to_numbers=["+2"],
        ),
        "Email": EmailConfig.model_validate(
            {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "username": "alerts",
                "password": SECRETS[2],
                "from": "a@example.com",
                "to": ["b@example.com"],
            }
        ),
        "Webhook": WebhookChannelConfig(
            url=service.url("/hook"), headers={"Authorization": f"Bearer {SECRETS[3]}"}
        ),
    }


@pytest.mark.parametrize("answer", [200, 401, 500])
async def test_secrets_never_appear_in_results_or_logs(
    make_dispatcher: Any,
    service: FakeService,
    smtp_starttls: SmtpServer,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    channels: dict[str, ChannelConfig],
    caplog: pytest.LogCaptureFixture,
    answer: int,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cepkit")
    channels.update(secret_channels(service, smtp_starttls.port))
    echoes = {  # services that echo the credential they were given, as some do
        f"/services/{SECRETS[0]}": f"no_service for /services/{SECRETS[0]}",
        "/2010-04-01/Accounts/AC1/Messages.json": f'{{"message": "bad token {SECRETS[1]}"}}',
        "/hook": f"token Bearer {SECRETS[3]} rejected",
    }
    for path, echo in echoes.items():
        service.route(path, answer, body=echo)
    dispatcher = make_dispatcher(smtp_ssl_context=tls[1] if answer == 200 else None)
    rule = make_rule(
        {
            "type": "notify",
            "channels": ["Slack", "SMS", "Email"],
            "message": "{{summary}}",
            "fallback_channel": "Webhook",
            "action_config": {"retry": {"max_retries": 1}},
        }
    )
    result = await dispatcher.execute(rule, make_firing(rule), PAYLOAD)
    tests = [await dispatcher.test_channel(name) for name in channels]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("cepkit"))
    texts = [result.model_dump_json(), *(t.model_dump_json() for t in tests), logged]
    assert "channel test Slack" in logged and "delivery to Slack" in logged
    if answer == 200:
        assert result.status == "success"
    else:
        assert result.status == "failed" and result.dead_letters
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret.replace("/", "%2F") not in text


async def test_secrets_in_invalid_configs_are_not_echoed(dispatcher: Dispatcher) -> None:
    result = await dispatcher.test_channel(
        "Email", {"smtp_host": "h", "from": "a@x", "to": ["b@x"], "password": ["smtp-SECRET-pw"]}
    )
    assert isinstance(result, ChannelTestResult) and "smtp-SECRET-pw" not in result.message


async def test_connection_refused_channel_test(dispatcher: Dispatcher) -> None:
    result = await dispatcher.test_channel(
        "Webhook", {"url": f"http://127.0.0.1:{free_port()}/x"}, "x"
    )
    assert result.status == "error" and result.message.startswith("Connection failed")


async def test_default_policy_is_used(make_dispatcher: Any) -> None:
    dispatcher = make_dispatcher(policy=TargetPolicy(allow=["hooks.slack.com"], resolve=False))
    result = await dispatcher.test_channel("Slack", {"webhook_url": "http://127.0.0.1:1/x"}, "x")
    assert result.message == "target 127.0.0.1 is not in the allow list"
