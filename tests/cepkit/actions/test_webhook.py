"""webhook: methods, bodies, headers, the host breaker, the target policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cepkit.actions import Dispatcher, TargetPolicy
from cepkit.actions.runtime import Job, firing_record
from tests.fakes import FakeService, make_firing, make_rule

pytestmark = pytest.mark.anyio


async def fire(dispatcher: Dispatcher, **action: Any) -> Any:
    rule = make_rule({"type": "webhook", **action})
    return await dispatcher.execute(rule, make_firing(rule, avg_cpu=91.5), {"host": "web-01"})


async def test_post_sends_the_firing_by_default(
    dispatcher: Dispatcher, service: FakeService
) -> None:
    url = service.route("/v2/enqueue", 202)
    result = await fire(dispatcher, endpoint=url)
    assert result.status == "success"
    (request,) = service.hits("/v2/enqueue")
    body = request.json
    assert (request.method, body["rule_name"], body["severity"]) == ("POST", "cpu_high", "high")
    assert body["values"] == {"avg_cpu": 91.5} and body["payload"] == {"host": "web-01"}
    assert body["event_time"] == "2026-02-08T10:30:00+00:00"


async def test_get_sends_no_body(dispatcher: Dispatcher, service: FakeService) -> None:
    url = service.route("/health/check", 200)
    await fire(dispatcher, endpoint=url, method="get")
    (request,) = service.hits("/health/check")
    assert (request.method, request.body) == ("GET", b"")


async def test_json_body_template_keeps_types(dispatcher: Dispatcher, service: FakeService) -> None:
    url = service.route("/alerts", 200)
    body = {"summary": "{{host}} at {{avg_cpu}}%", "cpu": "{{avg_cpu}}", "tags": ["{{severity}}"]}
    await fire(dispatcher, endpoint=url, method="PUT", body=body, headers={"X-Team": "sre"})
    (request,) = service.hits("/alerts")
    assert request.method == "PUT" and request.headers["x-team"] == "sre"
    assert request.json == {"summary": "web-01 at 91.5%", "cpu": 91.5, "tags": ["high"]}


async def test_string_bodies(dispatcher: Dispatcher, service: FakeService) -> None:
    url = service.route("/text", 200)
    await fire(dispatcher, endpoint=url, body='{"host": "{{host}}"}')
    await fire(dispatcher, endpoint=url, body="host {{host}} is hot")
    as_json, as_text = service.hits("/text")
    assert as_json.json == {"host": "web-01"}
    assert as_text.body == b"host web-01 is hot"
    assert as_text.headers["content-type"] == "text/plain"


async def test_target_is_described_without_credentials(
    dispatcher: Dispatcher, service: FakeService
) -> None:
    service.route("/hook", 401)
    url = f"http://user:hunter22@127.0.0.1:{service.port}/hook?token=abcdef123"
    result = await fire(dispatcher, endpoint=url, headers={"Authorization": "Bearer zzz-secret"})
    action = result.actions[0]
    assert action.target == f"http://127.0.0.1:{service.port}/hook"
    dumped = result.model_dump_json()
    for secret in ("hunter22", "abcdef123", "zzz-secret"):
        assert secret not in dumped


async def test_breaker_is_per_host(
    dispatcher: Dispatcher, service: FakeService, clock: Any
) -> None:
    url = service.route("/down", 500)
    config = {"retry": {"max_retries": 0}}
    for _ in range(3):
        await fire(dispatcher, endpoint=url, action_config=config)
    key = f"webhook:127.0.0.1:{service.port}"
    assert (await dispatcher.breaker_state(key)).state == "open"
    other = service.route("/up", 200)
    (blocked,) = (await fire(dispatcher, endpoint=other)).actions
    assert blocked.attempts == [] and blocked.breaker == "open"


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
async def test_denied_targets_are_never_contacted(
    dispatcher: Dispatcher, endpoint: str, sleep: Any
) -> None:
    (action,) = (await fire(dispatcher, endpoint=endpoint)).actions
    assert action.status == "failed" and action.attempts == [] and sleep.delays == []
    assert "is denied" in (action.error or "")


async def test_policy_is_configurable(make_dispatcher: Any, service: FakeService) -> None:
    url = service.route("/hook", 200)
    closed = make_dispatcher(policy=TargetPolicy(allow_loopback=False))
    (action,) = (await fire(closed, endpoint=url)).actions
    assert action.error == "target 127.0.0.1 is denied (loopback)" and service.requests == []
    only = make_dispatcher(policy=TargetPolicy(allow=["hooks.example.com"]))
    (action,) = (await fire(only, endpoint=url)).actions
    assert action.error == "target 127.0.0.1 is not in the allow list"
    listed = make_dispatcher(policy=TargetPolicy(allow=["127.0.0.0/8"]))
    assert (await fire(listed, endpoint=url)).status == "success"


async def test_the_default_body_is_the_firing_as_json_exactly(
    dispatcher: Dispatcher, service: FakeService
) -> None:
    """What goes out is the JSON round trip of the firing record (``default=str``), sent
    compact: a plain payload as it is, other values as their text or JSON's reading."""
    url = service.route("/exact", 200)
    rule = make_rule({"type": "webhook", "endpoint": url})
    firing = make_firing(rule, avg_cpu=91.5)
    plain = {"host": "wéb-01", "n": [1, 2.5, None, True], "deep": {"k": ("a",)}}
    odd = {"when": datetime(2026, 2, 8, tzinfo=UTC), "dup": {1: "a", "1": "b"}, "big": 10**20}
    for payload in (plain, odd):
        assert (await dispatcher.execute(rule, firing, payload)).status == "success"
    sent_plain, sent_odd = service.hits("/exact")
    for sent, payload in ((sent_plain, plain), (sent_odd, odd)):
        record = firing_record(Job(rule, firing, payload))
        expected = json.dumps(
            json.loads(json.dumps(record, default=str)),
            ensure_ascii=False,
            separators=(",", ":"),
        )
        assert sent.body == expected.encode()
        assert sent.headers["content-type"] == "application/json"
    assert sent_odd.json["payload"]["dup"] == {"1": "b"}


async def test_a_nan_in_the_default_body_is_not_sent(
    dispatcher: Dispatcher, service: FakeService
) -> None:
    url = service.route("/nan", 200)
    rule = make_rule({"type": "webhook", "endpoint": url})
    result = await dispatcher.execute(rule, make_firing(rule, avg_cpu=1.0), {"x": float("nan")})
    (action,) = result.actions
    assert action.status == "failed" and service.hits("/nan") == []
    assert action.error is not None and action.error.startswith("ValueError: Out of range float")
