"""The retry loop every delivery runs in: backoff, Retry-After, what is never retried."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cepkit.actions import Dispatcher
from cepkit.actions.runtime import Redactor, settings_for
from cepkit.clock import FakeClock
from cepkit.rules.actions import ActionConfig
from tests.fakes import FakeService, FakeSleep, free_port, make_firing, make_rule

pytestmark = pytest.mark.anyio


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "webhook", "endpoint": url, **extra}


async def run(dispatcher: Dispatcher, *actions: dict[str, Any], **rule: Any) -> Any:
    made = make_rule(*actions, **rule)
    return await dispatcher.execute(made, make_firing(made), {"host": "web-01", "cpu": 92.5})


async def test_backoff_is_1_2_4_8_then_final_failure(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 500)
    result = await run(dispatcher, webhook(url))
    (action,) = result.actions
    assert sleep.delays == [1.0, 2.0, 4.0, 8.0]
    assert [a.attempt for a in action.attempts] == [1, 2, 3, 4, 5]
    assert [a.delay_before_s for a in action.attempts] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert {a.status_code for a in action.attempts} == {500}
    assert action.attempts[0].error == "HTTP 500: Internal Server Error"
    assert all(a.latency_ms >= 0 for a in action.attempts)
    assert (result.status, action.status) == ("failed", "failed")
    assert action.dead_letter is not None and action.dead_letter.attempts == 5
    assert len(service.hits("/hook")) == 5
    # the attempts are timed by the (fake) clock the sleeps moved
    times = [a.at for a in action.attempts if a.at is not None]
    assert [(t - times[0]).total_seconds() for t in times] == [0, 1, 3, 7, 15]


async def test_recovers_on_a_later_try(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 503, 502, 200)
    result = await run(dispatcher, webhook(url))
    assert result.status == "success" and sleep.delays == [1.0, 2.0]
    assert [a.status_code for a in result.actions[0].attempts] == [503, 502, 200]
    assert result.actions[0].attempts[-1].error is None
    assert result.actions[0].dead_letter is None


async def test_429_waits_what_retry_after_says(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 429, 429, 200, retry_after="3")
    result = await run(dispatcher, webhook(url))
    assert result.status == "success" and sleep.delays == [3.0, 3.0]
    assert result.actions[0].attempts[1].delay_before_s == 3.0


async def test_retry_after_as_http_date_is_read_against_the_clock(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep, clock: FakeClock
) -> None:
    url = service.route("/hook", 429, 200, retry_after="Sun, 08 Feb 2026 10:30:20 GMT")
    assert (await run(dispatcher, webhook(url))).status == "success"
    assert sleep.delays == [20.0]


async def test_429_without_retry_after_backs_off(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 429, 429, 200)
    assert (await run(dispatcher, webhook(url))).status == "success"
    assert sleep.delays == [1.0, 2.0]


@pytest.mark.parametrize("status", [401, 403, 404, 400, 410])
async def test_client_errors_are_not_retried(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep, status: int
) -> None:
    url = service.route("/hook", status)
    result = await run(dispatcher, webhook(url))
    assert [a.status_code for a in result.actions[0].attempts] == [status]
    assert sleep.delays == [] and len(service.hits("/hook")) == 1
    assert result.status == "failed"


async def test_template_error_is_not_retried_and_sends_nothing(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 200)
    result = await run(dispatcher, webhook(url, body={"text": "{{summary}}"}))
    (action,) = result.actions
    assert action.attempts == [] and sleep.delays == [] and service.requests == []
    assert action.error == (
        "template error: summary: undefined name in template (the payload has no such field)"
    )
    assert action.dead_letter is not None


async def test_timeouts_are_retried_then_fail(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/slow", 200, delay=1.0)
    config = {"retry": {"max_retries": 2}}
    result = await run(dispatcher, webhook(url, timeout_seconds=0.2, action_config=config))
    (action,) = result.actions
    assert [a.error for a in action.attempts] == ["Timed out after 0.2 s"] * 3
    assert sleep.delays == [1.0, 2.0] and action.status == "failed"
    assert all(150 <= a.latency_ms < 1000 for a in action.attempts)


async def test_connection_refused_is_retried(dispatcher: Dispatcher, sleep: FakeSleep) -> None:
    result = await run(dispatcher, webhook(f"http://127.0.0.1:{free_port()}/hook"))
    (action,) = result.actions
    assert len(action.attempts) == 5 and sleep.delays == [1.0, 2.0, 4.0, 8.0]
    assert all((a.error or "").startswith("Connection failed") for a in action.attempts)
    assert all(a.status_code is None for a in action.attempts)


async def test_action_config_sets_the_policy(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 500)
    retry = {"max_retries": 3, "initial_delay": 0.5, "multiplier": 3, "max_delay": 2}
    await run(dispatcher, webhook(url, action_config={"retry": retry}))
    assert sleep.delays == [0.5, 1.5, 2.0]


async def test_rule_level_action_config_applies_by_action_type(
    dispatcher: Dispatcher, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 500)
    config = [{"action": "webhook", "retry": {"max_retries": 1}}]
    result = await run(dispatcher, webhook(url), action_config=config)
    assert len(result.actions[0].attempts) == 2 and sleep.delays == [1.0]


async def test_jitter_stays_within_half_and_full_delay(
    make_dispatcher: Any, service: FakeService, sleep: FakeSleep
) -> None:
    url = service.route("/hook", 500)
    dispatcher = make_dispatcher(rng=random.Random(7))
    await run(dispatcher, webhook(url, action_config={"retry": {"jitter": True}}))
    assert len(sleep.delays) == 4
    for delay, plain in zip(sleep.delays, [1.0, 2.0, 4.0, 8.0], strict=True):
        assert plain / 2 <= delay <= plain
    assert sleep.delays != [1.0, 2.0, 4.0, 8.0]


def test_settings_precedence() -> None:
    own = ActionConfig.model_validate({"retry": {"max_retries": 1}})
    by_channel = ActionConfig.model_validate({"action": "Slack", "timeout_seconds": 3})
    by_type = ActionConfig.model_validate(
        {"action": "notify", "retry": {"max_retries": 2}, "timeout_seconds": 4}
    )
    anywhere = ActionConfig.model_validate({"circuit_breaker": {"failure_threshold": 5}})
    settings = settings_for(own, [anywhere, by_type, by_channel], "Slack", "notify")
    assert settings.retry.max_retries == 1
    assert settings.timeout == 3
    assert settings.breaker.failure_threshold == 5
    assert settings_for(None, [by_type], "Email", "notify").retry.max_retries == 2


def test_redactor_covers_url_encoded_forms() -> None:
    redactor = Redactor(["p@ss word"])
    assert redactor.redact("a p@ss word b p%40ss%20word c") == "a *** b *** c"
    assert redactor.redact(None) is None
