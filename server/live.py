"""The live side of the server in one object: stores, runner, action queue, SSE hub, ticker.

:class:`LiveServices` is built by the app's lifespan on the rule store's database and
started there: the runner restores its checkpoint and replays the journal, the action
workers start, and a ticker moves time on (``tick_seconds``) and checkpoints. Stopping
saves a final checkpoint and lets queued actions finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from cepkit.actions.policy import TargetPolicy
from cepkit.clock import Clock
from cepkit.store import EventStore, ExecutionLogStore, Journal, SqlRuleStore
from cepkit.store.channels import ChannelStore
from cepkit.store.deliveries import DeadLetterStore
from cepkit.store.logs import ExecTrigger
from cepkit.store.polling import PollStore
from server.delivery import Delivery
from server.dispatch import ActionQueue, Executor, Job
from server.hub import Hub
from server.polling import MetricPoller
from server.runner import LiveRunner, Outcome
from server.scaled import EmbeddedRedis, ScaledMode
from server.scheduler import Scheduler
from server.sinks import SinkSpec

__all__ = ["LiveServices"]

log = logging.getLogger(__name__)


class LiveServices:
    """Everything ``/cep/ingest``, ``/cep/events`` and the logs need, wired together."""

    def __init__(
        self,
        store: SqlRuleStore,
        *,
        clock: Clock,
        executor: Executor | None = None,
        tick_seconds: float = 1.0,
        checkpoint_seconds: float = 10.0,
        rule_timeout: float = 5.0,
        action_timeout: float = 120.0,
        action_workers: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        sinks: Mapping[str, SinkSpec] | None = None,
        redis_url: str | None = None,
        redis_prefix: str = "cepkit:",
        policy: TargetPolicy | None = None,
        mode: Literal["embedded", "scaled"] = "embedded",
        inline_work: int = 20_000,
    ) -> None:
        self.store = store
        self.clock = clock
        #: an ingest batch whose items times running rules is at most this runs on the
        #: event loop when the runner is free (about 10 ms of engine work at 20,000); a
        #: larger one in a worker thread, so the loop keeps serving. Handed to a thread,
        #: a 1,000-event batch with 10 rules cost the server about a fifth more CPU per
        #: event (the loop, reading the next bodies, and the worker take the GIL from each
        #: other); on the loop, other requests wait about as long as a worker holding
        #: the GIL for its switch interval would make them wait anyway.
        self.inline_work = inline_work
        self.embedded_redis = EmbeddedRedis() if redis_url == "embedded" else None
        if self.embedded_redis is not None:
            redis_url = self.embedded_redis.url
        if mode == "scaled" and not redis_url:
            raise ValueError("scaled mode needs redis_url (CEPKIT_REDIS_URL, or 'embedded')")
        self.events = EventStore(store.engine, clock=clock)
        self.logs = ExecutionLogStore(store.engine)
        self.journal = Journal(store.engine)
        self.channels = ChannelStore(store.engine, clock=clock)
        self.dead_letters = DeadLetterStore(store.engine, clock=clock)
        self.hub = Hub()
        self.delivery = Delivery(
            store,
            self.channels,
            self.dead_letters,
            clock=clock,
            chain=self._chain,
            sleep=sleep,
            sinks=sinks,
            events=self.events,
            on_stored=self.hub.notify,  # a store action made an event: the streams look
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            policy=policy,
        )
        self.actions = ActionQueue(
            executor if executor is not None else self.delivery.execute,
            self.logs,
            clock=clock,
            workers=action_workers,
            timeout=rule_timeout,
            hard_timeout=action_timeout,
            on_timeout=self.delivery.abandon if executor is None else None,
        )
        self.runner = LiveRunner(
            store,
            self.events,
            self.journal,
            clock=clock,
            checkpoint_seconds=checkpoint_seconds,
            on_outcome=self._on_outcome,
        )
        self.poller = MetricPoller(
            self.runner,
            PollStore(store.engine),
            clock=clock,
            check_seconds=tick_seconds,
            gate=self._leading,
        )
        self.scheduler = Scheduler(
            self.runner,
            store,
            self.events,
            clock=clock,
            tick_seconds=tick_seconds,
            poller=self.poller,
        )
        self.tick_seconds = tick_seconds
        self._ticker: asyncio.Task[None] | None = None
        self.scaled = (
            ScaledMode(
                redis_url,
                redis_prefix,
                events=self.events,
                rules=store,
                hub=self.hub,
                clock=clock,
                on_outcome=self._on_outcome,
            )
            if mode == "scaled" and redis_url
            else None
        )

    def _on_outcome(self, outcome: Outcome) -> None:
        self.hub.notify()
        for event, firing, rule in outcome.events:
            trigger: ExecTrigger = "schedule" if event.source == "schedule" else "ingest"
            self.actions.submit(Job(rule, firing, event.event_id, trigger, tenant=event.tenant))
        if outcome.suppressed:  # nothing to run: logged together, off the workers
            self.actions.log_suppressed(outcome.suppressed)

    async def _chain(self, rule_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A ``trigger`` action: the chained rule evaluates the payload as an event; what
        it fires is stored and its actions are queued like any other."""
        outcome = await asyncio.to_thread(self.runner.run_rule, rule_id, payload)
        return {"rule_id": rule_id, "events": [e.event_id for e, _, _ in outcome.events]}

    async def start(self) -> None:
        """Start the workers, recover the runner, start the ticker."""
        loop = asyncio.get_running_loop()
        self.hub.bind(loop)
        await self.delivery.start()
        await self.actions.start()
        if self.scaled is not None:
            await self.scaled.start()
        replayed = await asyncio.to_thread(self.runner.start)
        if replayed:
            log.info("recovered: %d journal entries replayed", replayed)
        self.scheduler.start()
        await self.poller.start()
        if self.tick_seconds > 0:
            self._ticker = asyncio.create_task(self._tick_forever())

    async def _leading(self) -> bool:
        """In scaled mode only the replica holding the lease schedules and polls."""
        if self.scaled is None:
            return True
        try:
            return await self.scaled.lead(max(3.0, 3 * self.tick_seconds))
        except Exception:  # Redis away: nobody leads until it is back
            log.exception("scheduler lease")
            return False

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                if self.scaled is not None:  # rules may have been changed on another replica
                    await asyncio.to_thread(self.runner.reload)
                if not await self._leading():
                    self.scheduler.standby()
                    continue
                await asyncio.to_thread(self.scheduler.tick)
            except Exception:  # the ticker must survive a bad tick
                log.exception("live runner tick failed")

    async def stop(self) -> None:
        """End the streams, stop ticking, checkpoint, drain the action queue."""
        self.hub.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.poller.stop()
        self.scheduler.stop()
        try:
            await asyncio.to_thread(self.runner.checkpoint)
        except Exception:
            log.exception("final checkpoint failed")
        if self.scaled is not None:
            await self.scaled.stop()
        await self.actions.stop()
        await self.delivery.stop()
        if self.embedded_redis is not None:
            self.embedded_redis.close()
