"""Real delivery for the live server: the cepkit dispatcher behind the action queue.

:class:`Delivery` owns the HTTP client (an aiohttp session made on the loop that
delivers, closed by ``stop()``) and the :class:`~cepkit.actions.Dispatcher` (channel
configurations from the channel store, breakers in memory or, with
``CEPKIT_REDIS_URL``, in Redis shared by every instance, the default target policy,
the ``events`` store sink, chained rules through the runner) and adapts its results to
execution logs; dead letters go to the dead-letter store.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cepkit.actions.breaker import BreakerStore, RedisBreakerStore
from cepkit.actions.dispatch import Dispatcher
from cepkit.actions.policy import TargetPolicy
from cepkit.actions.results import ActionResult, ChannelTestResult, ExecutionResult
from cepkit.actions.sinks import Sink
from cepkit.channels import ChannelConfig
from cepkit.channels.http import HttpClient
from cepkit.clock import Clock
from cepkit.rules import parse_rule
from cepkit.store import EventStore, RuleStore
from cepkit.store.channels import ChannelStore
from cepkit.store.deliveries import DeadLetterStore, StoredDeadLetter
from server.dispatch import ActionsOutcome, Job
from server.sinks import SinkSpec, build_sinks

__all__ = ["Delivery"]

log = logging.getLogger(__name__)

#: the tenant whose channel configurations a delivery uses
_TENANT: contextvars.ContextVar[str] = contextvars.ContextVar("cepkit_tenant", default="default")


class Delivery:
    """The dispatcher and what it needs; ``await start()`` before use, ``stop()`` after."""

    def __init__(
        self,
        rules: RuleStore,
        channels: ChannelStore,
        letters: DeadLetterStore,
        *,
        clock: Clock,
        chain: Any = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        sinks: Mapping[str, SinkSpec] | None = None,
        events: EventStore | None = None,
        on_stored: Callable[[], None] | None = None,
        redis_url: str | None = None,
        redis_prefix: str = "cepkit:",
        policy: TargetPolicy | None = None,
    ) -> None:
        self.rules = rules
        self._policy = policy
        self.channels = channels
        self.letters = letters
        self.clock = clock
        self._chain = chain
        self._sleep = sleep
        self._sink_specs = dict(sinks or {})
        self._events = events
        self._on_stored = on_stored
        self._sink_clients: list[Any] = []
        self._redis_url = redis_url
        self._redis_prefix = redis_prefix
        self._client: HttpClient | None = None
        self._dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        """Open the HTTP client and build the dispatcher."""
        self._client = HttpClient()
        sinks: dict[str, Sink] = {}
        if self._events is not None:
            sinks, self._sink_clients = build_sinks(
                self._sink_specs, self._events, _TENANT, self._on_stored
            )
        breakers: BreakerStore | None = None
        if self._redis_url:  # breaker state shared by every server instance on this Redis
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(self._redis_url)
            self._sink_clients.append(client)
            breakers = RedisBreakerStore(client, prefix=f"{self._redis_prefix}breaker:")
        self._dispatcher = Dispatcher(
            breakers=breakers,
            sinks=sinks,
            client=self._client,
            channels=self._channel,
            clock=self.clock,
            trigger=self._chain,
            sleep=self._sleep,
            policy=self._policy,
        )

    async def stop(self) -> None:
        """Close the HTTP client (every loop's session) and the sink clients."""
        for client in self._sink_clients:
            await client.aclose()
        self._sink_clients = []
        if self._client is not None:
            await self._client.aclose()
        self._client = None
        self._dispatcher = None

    @property
    def dispatcher(self) -> Dispatcher:
        """The running dispatcher."""
        if self._dispatcher is None:
            raise RuntimeError("delivery is not started")
        return self._dispatcher

    def _channel(self, name: str) -> ChannelConfig | None:
        return self.channels.config(name, tenant=_TENANT.get())

    async def execute(self, job: Job) -> ActionsOutcome:
        """The action queue's executor: run the rule's actions, keep the dead letters."""
        token = _TENANT.set(job.tenant)
        try:
            result: ExecutionResult = await self.dispatcher.execute(
                job.rule, job.firing, job.firing.payload, exec_id=job.exec_id
            )
        finally:
            _TENANT.reset(token)
        for letter in result.dead_letters:
            await asyncio.to_thread(
                self.letters.put, letter, exec_id=result.exec_id, tenant=job.tenant
            )
        first_error = result.error or next((a.error for a in result.actions if a.error), None)
        return ActionsOutcome(
            status=result.status,
            error_message=first_error,
            actions=[a.model_dump(mode="json") for a in result.actions],
            exec_id=result.exec_id,
        )

    async def abandon(self, job: Job, error: str) -> list[dict[str, Any]]:
        """The action queue's time limit cut ``job`` off: every delivery becomes a dead
        letter (to be retried once the target answers); returns them for the log."""
        letters = self.dispatcher.abandoned(job.rule, job.firing, job.firing.payload, error)
        for letter in letters:
            await asyncio.to_thread(
                self.letters.put, letter, exec_id=job.exec_id, tenant=job.tenant
            )
        return [
            {
                "action_index": letter.action_index,
                "action_type": letter.action_type,
                "channel": letter.channel,
                "target": letter.target,
                "status": "failed",
                "error": error,
                "attempts": [],
                "dead_letter": {"dead_letter_id": letter.dead_letter_id},
            }
            for letter in letters
        ]

    async def retry(self, stored: StoredDeadLetter) -> ActionResult:
        """Deliver a dead letter again with its rule as it is now."""
        letter = stored.letter
        if letter.rule_id is None:
            raise ValueError("the dead letter names no rule")
        document = self.rules.get(letter.rule_id).document
        rule = parse_rule({**document, "rule_id": letter.rule_id})
        token = _TENANT.set(stored.tenant)
        try:
            result = await self.dispatcher.retry(letter, rule)
        finally:
            _TENANT.reset(token)
        if result.delivered:
            self.letters.mark_redelivered(letter.dead_letter_id)
        elif result.dead_letter is not None:
            self.letters.put(result.dead_letter, exec_id=stored.exec_id, tenant=stored.tenant)
        return result

    async def test(
        self,
        channel: str,
        config: ChannelConfig | dict[str, Any] | None,
        message: str | None,
        *,
        tenant: str = "default",
    ) -> ChannelTestResult:
        """One test delivery; the outcome is remembered as the channel's last test."""
        token = _TENANT.set(tenant)
        try:
            result = await self.dispatcher.test_channel(channel, config, message)
        finally:
            _TENANT.reset(token)
        if result.channel in {c.name for c in self.channels.all(tenant=tenant)}:
            self.channels.record_test(
                result.channel,
                tenant=tenant,
                status=result.status,
                message=result.message,
                latency_ms=result.latency_ms,
            )
        return result
