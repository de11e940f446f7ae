"""The dispatcher: runs a rule's actions for one firing, and tests channels.

``Dispatcher.execute(rule, firing, payload)`` runs every action at once (one failing
action never blocks the others) and returns an
:class:`~cepkit.actions.results.ExecutionResult`: ``success`` when every delivery got
through (directly or by fallback), ``failed`` when none did, ``partial`` otherwise.
``Dispatcher.retry(dead_letter, rule)`` delivers a dead letter again with the rule as
it is now; ``Dispatcher.test_channel`` makes one attempt, no retry, no breaker.

Everything it touches is passed in: the HTTP client, the clock, the sleep function
(tests pass one that only records), channel configurations (a lookup by canonical
name), the breaker store, the target policy, the store sinks, the trigger callback.

>>> import asyncio
>>> from cepkit.channels.http import HttpClient
>>> from cepkit.clock import FakeClock
>>> from cepkit.firing import Firing
>>> from cepkit.rules import Rule
>>> rule = Rule.model_validate({"rule_name": "cpu", "trigger_type": "event",
...     "trigger_spec": {}, "actions": [{"type": "notify", "channels": ["Slack"],
...     "message": "cpu={{cpu}}"}]})
>>> firing = Firing.build(rule_key="cpu", rule_name="cpu", severity="high", event_time=0)
>>> async def main():
...     async with HttpClient() as client:
...         dispatcher = Dispatcher(client=client, channels=lambda name: None,
...                                 clock=FakeClock())
...         return await dispatcher.execute(rule, firing, {"cpu": 92})
>>> result = asyncio.run(main())
>>> result.status, result.actions[0].error
('failed', 'channel Slack is not configured')
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cepkit.actions.breaker import BreakerState, BreakerStore, CircuitBreaker, MemoryBreakerStore
from cepkit.actions.notify import run_notify
from cepkit.actions.policy import TargetPolicy
from cepkit.actions.results import (
    ActionResult,
    ChannelTestResult,
    DeadLetter,
    ExecutionResult,
    ExecutionStatus,
)
from cepkit.actions.runtime import ChannelProvider, Job, Redactor, Runtime, TriggerCallback
from cepkit.actions.sinks import Sink
from cepkit.actions.store import run_store
from cepkit.actions.trigger import CHAIN, CHAIN_KEY, run_trigger
from cepkit.actions.webhook import run_webhook
from cepkit.channels import ChannelConfig, canonical_channel
from cepkit.channels.base import Message, Outcome, SendContext
from cepkit.channels.http import HttpClient
from cepkit.channels.senders import build_sender
from cepkit.clock import Clock
from cepkit.errors import ChannelError, RuleError
from cepkit.firing import Firing
from cepkit.rules.model import Rule
from cepkit.store.logs import new_exec_id

__all__ = ["EXECUTORS", "TEST_OK", "Dispatcher", "Executor"]

log = logging.getLogger("cepkit.actions")

Executor = Callable[[Runtime, Job, int, Any, DeadLetter | None], Awaitable[list[ActionResult]]]

#: action type -> executor
EXECUTORS: dict[str, Executor] = {
    "webhook": run_webhook,
    "notify": run_notify,
    "trigger": run_trigger,
    "store": run_store,
}

TEST_OK = "Test message delivered successfully"


def _status(results: list[ActionResult]) -> ExecutionStatus:
    delivered = [result.delivered for result in results]
    if all(delivered):
        return "success"
    return "partial" if any(delivered) else "failed"


class Dispatcher:
    """Runs actions with retries, breakers, fallbacks and dead letters.

    ``channels(name)`` returns the configuration of a channel by canonical name
    (``"Slack"``) or None when it is not configured. ``breakers`` defaults to an
    in-memory store; pass a :class:`~cepkit.actions.breaker.RedisBreakerStore` to
    share breakers between server instances. ``trigger(rule_id, payload)`` runs a
    chained rule (the server's; chained rules may await :meth:`execute` in it).
    ``sleep`` waits between retries; ``timer`` measures latencies; ``rng`` draws jitter.
    """

    def __init__(
        self,
        *,
        client: HttpClient,
        channels: ChannelProvider,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        breakers: BreakerStore | None = None,
        policy: TargetPolicy | None = None,
        sinks: Mapping[str, Sink] | None = None,
        trigger: TriggerCallback | None = None,
        max_trigger_depth: int = 5,
        rng: random.Random | None = None,
        timer: Callable[[], float] = time.perf_counter,
        smtp_ssl_context: ssl.SSLContext | None = None,
        breaker_ttl_seconds: float = 3600.0,
    ) -> None:
        self.runtime = Runtime(
            client=client,
            clock=clock,
            sleep=sleep,
            timer=timer,
            channels=channels,
            breaker=CircuitBreaker(
                breakers if breakers is not None else MemoryBreakerStore(clock),
                clock,
                ttl_seconds=breaker_ttl_seconds,
            ),
            policy=policy or TargetPolicy(),
            sinks=sinks if sinks is not None else {},
            trigger=trigger,
            max_trigger_depth=max_trigger_depth,
            rng=rng or random.Random(),
            smtp_ssl_context=smtp_ssl_context,
        )

    def _job(self, rule: Rule, firing: Firing, payload: Mapping[str, Any] | None) -> Job:
        data = dict(payload if payload is not None else firing.payload or {})
        parent = CHAIN.get()
        if not parent and isinstance(data.get(CHAIN_KEY), list):
            parent = tuple(str(item) for item in data[CHAIN_KEY])
        rule_key = firing.rule_id or rule.rule_id or rule.rule_name
        return Job(
            rule=rule,
            firing=firing,
            payload=data,
            chain=(*parent, rule_key),
        )

    async def _run(
        self, job: Job, index: int, action: Any, redo: DeadLetter | None
    ) -> list[ActionResult]:
        try:
            return await EXECUTORS[action.type](self.runtime, job, index, action, redo)
        except Exception as exc:  # a bug in one action never loses the others' results
            log.exception("action %d (%s) of rule %s crashed", index, action.type, job.rule_key)
            error = f"internal error: {type(exc).__name__}"
            letter = self.runtime.dead_letter(job, index, action.type, error=error, attempts=0)
            return [
                ActionResult(
                    action_index=index,
                    action_type=action.type,
                    status="failed",
                    error=error,
                    dead_letter=letter,
                )
            ]

    async def execute(
        self,
        rule: Rule,
        firing: Firing,
        payload: Mapping[str, Any] | None = None,
        *,
        exec_id: str | None = None,
    ) -> ExecutionResult:
        """Run every action of ``rule`` for ``firing`` (payload: the firing's by default);
        ``exec_id`` names the execution (a fresh ``exec_<12 hex>`` by default)."""
        started_at, started = self.runtime.clock.now(), self.runtime.timer()
        job = self._job(rule, firing, payload)
        token = CHAIN.set(job.chain)
        try:
            if len(rule.actions) == 1:  # one action: run here, as a retry is (no task)
                batches = [await self._run(job, 0, rule.actions[0], None)]
            else:
                batches = await asyncio.gather(
                    *(self._run(job, i, action, None) for i, action in enumerate(rule.actions))
                )
        finally:
            CHAIN.reset(token)
        results = [result for batch in batches for result in batch]
        failures = [result for result in results if not result.delivered]
        error = None
        if failures:
            first = failures[0]
            error = f"{first.action_type} {first.channel or first.target}: {first.error}"
        status = _status(results)
        duration = round((self.runtime.timer() - started) * 1000.0, 3)
        log.log(
            logging.DEBUG if status == "success" else logging.INFO,
            "rule %s firing %s: %s, %d deliveries, %.1f ms",
            job.rule_key,
            firing.firing_id,
            status,
            len(results),
            duration,
        )
        return ExecutionResult(
            exec_id=exec_id or new_exec_id(),
            rule_id=job.firing.rule_id or rule.rule_id,
            rule_name=rule.rule_name,
            firing_id=firing.firing_id,
            status=status,
            started_at=started_at,
            duration_ms=duration,
            actions=results,
            error=error,
        )

    async def retry(self, dead_letter: DeadLetter, rule: Rule) -> ActionResult:
        """Deliver ``dead_letter`` again using ``rule`` as it is now (fixed URL, template...).

        A ``notify`` dead letter goes to its own channel only (no fallback). A failure
        returns a new dead letter with the same id and ``redeliveries`` + 1.
        """
        index = dead_letter.action_index
        if (
            not 0 <= index < len(rule.actions)
            or rule.actions[index].type != dead_letter.action_type
        ):
            raise RuleError(
                f"rule {rule.rule_name!r} has no {dead_letter.action_type} action at "
                f"actions[{index}]; the dead letter {dead_letter.dead_letter_id} cannot be retried"
            )
        job = self._job(rule, dead_letter.firing, dead_letter.payload)
        token = CHAIN.set(job.chain)
        try:
            results = await self._run(job, index, rule.actions[index], dead_letter)
        finally:
            CHAIN.reset(token)
        return results[0]

    async def test_channel(
        self,
        channel: str,
        config: ChannelConfig | Mapping[str, Any] | None = None,
        message: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> ChannelTestResult:
        """One test delivery (guide Lab 6): ``ok`` with "Test message delivered
        successfully", or ``error`` with the reason ("HTTP 404: Webhook URL not found").

        ``config`` defaults to the configured one. No retry, no breaker; the target
        policy applies.
        """
        rt = self.runtime
        try:
            name = canonical_channel(channel)
        except ValueError as exc:
            return ChannelTestResult(
                channel=channel, status="error", message=str(exc), latency_ms=0
            )
        config = config if config is not None else rt.channels(name)
        if config is None:
            return ChannelTestResult(
                channel=name, status="error", message=f"{name} is not configured", latency_ms=0
            )
        context = SendContext(
            client=rt.client, clock=rt.clock, timeout=timeout, ssl_context=rt.smtp_ssl_context
        )
        try:
            sender = build_sender(name, config, context)
        except ChannelError as exc:
            return ChannelTestResult(channel=name, status="error", message=str(exc), latency_ms=0)
        redactor = Redactor(sender.secrets())
        try:
            for url in sender.targets():
                await rt.policy.check(url)
        except ChannelError as exc:
            text = redactor.redact(str(exc)) or "denied"
            return ChannelTestResult(channel=name, status="error", message=text, latency_ms=0)
        note = Message(
            text=message or f"CEP channel test: {name}",
            rule_name="CEP channel test",
            event_time=rt.clock.now(),
        )

        async def attempt() -> Outcome:
            return await sender.send(note)

        outcome, latency = await rt.attempt_once(attempt, timeout)
        text = TEST_OK if outcome.ok else redactor.redact(outcome.error) or "failed"
        log.info("channel test %s: %s (%.1f ms)", name, text, latency)
        return ChannelTestResult(
            channel=name,
            status="ok" if outcome.ok else "error",
            message=text,
            latency_ms=latency,
            status_code=outcome.status_code,
        )

    def abandoned(
        self, rule: Rule, firing: Firing, payload: Mapping[str, Any] | None, error: str
    ) -> list[DeadLetter]:
        """Dead letters for every delivery of an execution that was cut off before it
        finished (the server's time limit), one per action and notify channel, with the
        ids :meth:`execute` would give them, so each can be retried later."""
        job = self._job(rule, firing, payload)
        out: list[DeadLetter] = []
        for index, action in enumerate(rule.actions):
            channels: list[str | None] = list(getattr(action, "channels", None) or [None])
            for channel in channels:
                out.append(
                    self.runtime.dead_letter(
                        job,
                        index,
                        action.type,
                        error=error,
                        attempts=0,
                        channel=channel,
                        target=getattr(action, "endpoint", None) or getattr(action, "target", None),
                    )
                )
        return out

    async def breaker_state(self, key: str) -> BreakerState:
        """A breaker's stored state: ``channel:Slack``, ``webhook:host:port``, ``store:name``."""
        return await self.runtime.breaker.state(key)
