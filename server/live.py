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

from cepkit.clock import Clock
from cepkit.store import EventStore, ExecutionLogStore, Journal, SqlRuleStore
from cepkit.store.logs import ExecTrigger
from cepkit.store.polling import PollStore
from server.dispatch import ActionQueue, Executor, Job, plan_actions
from server.hub import Hub
from server.runner import LiveRunner, Outcome
from server.scheduler import MetricPoller, Scheduler

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
        action_timeout: float = 5.0,
        action_workers: int = 4,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = EventStore(store.engine, clock=clock)
        self.logs = ExecutionLogStore(store.engine)
        self.journal = Journal(store.engine)
        self.hub = Hub()
        self.actions = ActionQueue(
            executor if executor is not None else plan_actions,
            self.logs,
            clock=clock,
            workers=action_workers,
            timeout=action_timeout,
            on_logged=lambda _entry: self.hub.notify(),
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
            self.runner, PollStore(store.engine), clock=clock, check_seconds=tick_seconds
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

    def _on_outcome(self, outcome: Outcome) -> None:
        self.hub.notify()
        for event, firing, rule in outcome.events:
            trigger: ExecTrigger = "schedule" if event.source == "schedule" else "ingest"
            self.actions.submit(Job(rule, firing, event.event_id, trigger, tenant=event.tenant))
        for firing, rule in outcome.suppressed:
            self.actions.submit(Job(rule, firing, None, "ingest"))

    async def start(self) -> None:
        """Start the workers, recover the runner, start the ticker."""
        loop = asyncio.get_running_loop()
        self.hub.bind(loop)
        await self.actions.start()
        replayed = await asyncio.to_thread(self.runner.start)
        if replayed:
            log.info("recovered: %d journal entries replayed", replayed)
        self.scheduler.start()
        await self.poller.start()
        if self.tick_seconds > 0:
            self._ticker = asyncio.create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
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
        await self.actions.stop()
