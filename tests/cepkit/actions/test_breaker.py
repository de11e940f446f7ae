"""Circuit breaker: transitions, the stores (memory and real Redis), through the dispatcher."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from cepkit.actions import Dispatcher, MemoryBreakerStore, RedisBreakerStore
from cepkit.actions.breaker import BreakerState, CircuitBreaker, on_acquire, on_result
from cepkit.channels import ChannelConfig, SlackConfig
from cepkit.clock import FakeClock
from cepkit.errors import CircuitOpen
from cepkit.rules.actions import CircuitBreakerConfig
from tests.fakes import FakeService, make_firing, make_rule

pytestmark = pytest.mark.anyio

CONFIG = CircuitBreakerConfig()
NO_RETRY = {"retry": {"max_retries": 0}}


def test_transitions() -> None:
    closed = BreakerState()
    one = on_result(closed, False, 10.0, CONFIG)
    two = on_result(one, False, 11.0, CONFIG)
    opened = on_result(two, False, 12.0, CONFIG)
    assert (one.state, two.state, two.failures) == ("closed", "closed", 2)
    assert (opened.state, opened.opened_at) == ("open", 12.0)
    assert on_result(two, True, 12.0, CONFIG) == closed
    assert on_acquire(opened, 41.9, CONFIG)[0] is False
    allowed, trial, half = on_acquire(opened, 42.0, CONFIG)
    assert (allowed, trial, half.state, half.trials) == (True, True, "half_open", 1)
    assert on_acquire(half, 43.0, CONFIG)[0] is False  # one trial at a time
    assert on_acquire(half, 72.0, CONFIG)[:2] == (True, True)  # a lost trial is replaced
    assert on_result(half, False, 45.0, CONFIG).state == "open"
    assert on_result(half, True, 45.0, CONFIG).state == "closed"
    two_trials = CircuitBreakerConfig(half_open_max_requests=2)
    assert on_acquire(half, 43.0, two_trials)[0] is True


async def test_memory_store_compare_and_set_and_ttl(clock: FakeClock) -> None:
    store = MemoryBreakerStore(clock)
    assert await store.compare_and_set("k", None, "a", 10)
    assert not await store.compare_and_set("k", None, "b", 10)
    assert await store.compare_and_set("k", "a", "b", 10)
    assert await store.get("k") == "b"
    clock.advance(10)
    assert await store.get("k") is None
    assert await store.compare_and_set("k", None, "c", 10)
    assert await store.compare_and_set("k", "c", None, 10)
    assert await store.get("k") is None


async def test_breaker_raises_circuit_open(clock: FakeClock) -> None:
    breaker = CircuitBreaker(MemoryBreakerStore(clock), clock)
    for _ in range(3):
        await breaker.record(await breaker.acquire("channel:Slack", CONFIG), success=False)
    clock.advance(10)
    with pytest.raises(CircuitOpen, match="circuit open for channel:Slack after 3 failed"):
        await breaker.acquire("channel:Slack", CONFIG)
    clock.advance(20)
    permit = await breaker.acquire("channel:Slack", CONFIG)
    assert permit.trial
    assert (await breaker.record(permit, success=True)).state == "closed"
    assert await breaker.state("channel:Slack") == BreakerState()


async def test_an_open_breaker_outlives_a_shorter_ttl(clock: FakeClock) -> None:
    """A breaker's key lives ``ttl_seconds`` from its last change, but an open one at least
    its open period and a trial's: a 10-minute timeout is not cut short by a 1-minute TTL."""
    breaker = CircuitBreaker(MemoryBreakerStore(clock), clock, ttl_seconds=60)
    slow = CircuitBreakerConfig(timeout_seconds=600)
    await breaker.record(await breaker.acquire("k", slow), success=False)
    clock.advance(61)
    assert await breaker.state("k") == BreakerState()  # a closed failure count expires
    for _ in range(3):
        await breaker.record(await breaker.acquire("k", slow), success=False)
    clock.advance(599)
    with pytest.raises(CircuitOpen):
        await breaker.acquire("k", slow)
    clock.advance(1)
    permit = await breaker.acquire("k", slow)
    assert permit.trial
    clock.advance(599)  # a trial that never reports holds the breaker half-open
    assert (await breaker.state("k")).state == "half_open"
    with pytest.raises(CircuitOpen):
        await breaker.acquire("k", slow)


def slack_rule(**extra: Any) -> Any:
    return make_rule({"type": "notify", "channels": ["Slack"], "message": "cpu={{cpu}}", **extra})


async def fire(dispatcher: Dispatcher, rule: Any) -> Any:
    return await dispatcher.execute(rule, make_firing(rule), {"cpu": 95})


async def test_open_half_open_closed_through_the_dispatcher(
    dispatcher: Dispatcher,
    service: FakeService,
    channels: dict[str, ChannelConfig],
    clock: FakeClock,
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 500))
    rule = slack_rule(action_config=NO_RETRY)
    states = [(await fire(dispatcher, rule)).actions[0].breaker for _ in range(3)]
    assert states == ["closed", "closed", "open"]
    assert (await dispatcher.breaker_state("channel:Slack")).failures == 3
    blocked = (await fire(dispatcher, rule)).actions[0]
    assert blocked.attempts == [] and blocked.breaker == "open"
    assert (blocked.error or "").startswith("circuit open for channel:Slack")
    assert blocked.dead_letter is not None
    assert len(service.hits("/slack")) == 3
    clock.advance(30)
    service.route("/slack", 200)
    trial = (await fire(dispatcher, slack_rule())).actions[0]
    assert trial.status == "success" and trial.breaker == "closed"
    assert len(trial.attempts) == 1


async def test_a_failed_trial_opens_again_after_one_attempt(
    dispatcher: Dispatcher,
    service: FakeService,
    channels: dict[str, ChannelConfig],
    clock: FakeClock,
    sleep: Any,
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 503))
    for _ in range(3):
        await fire(dispatcher, slack_rule(action_config=NO_RETRY))
    clock.advance(31)
    trial = (await fire(dispatcher, slack_rule())).actions[0]  # default: 4 retries...
    assert len(trial.attempts) == 1 and sleep.delays == []  # ...but a trial is one request
    assert trial.breaker == "open"
    clock.advance(29)
    assert (await fire(dispatcher, slack_rule())).actions[0].attempts == []


async def test_per_action_breaker_config(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 500))
    config = {**NO_RETRY, "circuit_breaker": {"failure_threshold": 1, "timeout_seconds": 60}}
    rule = slack_rule(action_config=config)
    assert (await fire(dispatcher, rule)).actions[0].breaker == "open"
    assert (await fire(dispatcher, rule)).actions[0].attempts == []


async def test_template_errors_do_not_count_against_the_channel(
    dispatcher: Dispatcher, service: FakeService, channels: dict[str, ChannelConfig]
) -> None:
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 200))
    broken = make_rule({"type": "notify", "channels": ["Slack"], "message": "{{nope}}"})
    for _ in range(4):
        await fire(dispatcher, broken)
    assert (await dispatcher.breaker_state("channel:Slack")).failures == 0
    assert (await fire(dispatcher, slack_rule())).status == "success"


# -- Redis ------------------------------------------------------------------------------


@pytest.fixture
async def redis_async(redis_client: Any) -> AsyncIterator[tuple[Callable[[], Any], str]]:
    """(factory of asyncio Redis clients, key prefix); the prefix's keys are deleted after."""
    import redis.asyncio

    url = redis_client.connection_pool.connection_kwargs
    made: list[Any] = []

    def connect() -> Any:
        client = redis.asyncio.Redis(
            host=url.get("host", "127.0.0.1"), port=url.get("port", 6379), db=url.get("db", 0)
        )
        made.append(client)
        return client

    try:
        yield connect, f"{redis_client.prefix}breaker-{uuid.uuid4().hex[:6]}:"
    finally:
        for client in made:
            await client.aclose()


async def test_redis_store_compare_and_set_with_ttl(
    redis_async: tuple[Callable[[], Any], str],
) -> None:
    connect, prefix = redis_async
    client = connect()
    store = RedisBreakerStore(client, prefix=prefix)
    assert await store.get("k") is None
    assert await store.compare_and_set("k", None, '{"state":"open"}', 30)
    assert not await store.compare_and_set("k", None, "x", 30)
    assert not await store.compare_and_set("k", "stale", "x", 30)
    assert await store.get("k") == '{"state":"open"}'
    assert 0 < await client.pttl(prefix + "k") <= 30_000
    assert await store.compare_and_set("k", '{"state":"open"}', None, 30)
    assert await client.exists(prefix + "k") == 0


async def test_redis_breaker_keys_expire_by_state(
    redis_async: tuple[Callable[[], Any], str], clock: FakeClock
) -> None:
    """In Redis: a closed breaker's failure count lives ``ttl_seconds``; an open or
    half-open breaker's key at least twice its timeout (open period, then a trial)."""
    connect, prefix = redis_async
    client = connect()
    breaker = CircuitBreaker(RedisBreakerStore(client, prefix=prefix), clock, ttl_seconds=60)
    slow = CircuitBreakerConfig(timeout_seconds=600)
    await breaker.record(await breaker.acquire("k", slow), success=False)
    assert 59_000 < await client.pttl(prefix + "k") <= 60_000
    for _ in range(2):
        await breaker.record(await breaker.acquire("k", slow), success=False)
    assert (await breaker.state("k")).state == "open"
    assert 1_199_000 < await client.pttl(prefix + "k") <= 1_200_000
    clock.advance(600)
    assert (await breaker.acquire("k", slow)).trial
    assert (await breaker.state("k")).state == "half_open"
    assert 1_199_000 < await client.pttl(prefix + "k") <= 1_200_000
    short = CircuitBreaker(RedisBreakerStore(client, prefix=prefix), clock, ttl_seconds=3600)
    await short.record(await short.acquire("j", CONFIG), success=False)
    for _ in range(2):
        await short.record(await short.acquire("j", CONFIG), success=False)
    assert 3_599_000 < await client.pttl(prefix + "j") <= 3_600_000  # ttl_seconds is longer


async def test_redis_breaker_is_shared_between_dispatchers(
    make_dispatcher: Any,
    redis_async: tuple[Callable[[], Any], str],
    service: FakeService,
    channels: dict[str, ChannelConfig],
    clock: FakeClock,
) -> None:
    connect, prefix = redis_async
    first = make_dispatcher(breakers=RedisBreakerStore(connect(), prefix=prefix))
    second = make_dispatcher(breakers=RedisBreakerStore(connect(), prefix=prefix))
    channels["Slack"] = SlackConfig(webhook_url=service.route("/slack", 500))
    rule = slack_rule(action_config=NO_RETRY)
    await fire(first, rule)
    await fire(second, rule)
    assert (await fire(first, rule)).actions[0].breaker == "open"
    seen_by_second = (await fire(second, rule)).actions[0]
    assert seen_by_second.attempts == [] and seen_by_second.breaker == "open"
    assert len(service.hits("/slack")) == 3
    clock.advance(30)
    service.route("/slack", 200)
    assert (await fire(second, rule)).actions[0].breaker == "closed"
    assert (await first.breaker_state("channel:Slack")).state == "closed"
