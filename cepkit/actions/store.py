"""The ``store`` action: append the firing to a named sink (see :mod:`cepkit.actions.sinks`).

``target`` names a sink the dispatcher was given (``events``, ``csv``, a stream...).
An unknown name fails at once; a sink that raises is retried like a channel and has
its own breaker (``store:<name>``).

>>> import asyncio
>>> from cepkit.channels.http import HttpClient
>>> from cepkit.actions import Dispatcher, ListSink
>>> from cepkit.clock import FakeClock
>>> from cepkit.firing import Firing
>>> from cepkit.rules import Rule
>>> rule = Rule.model_validate({"rule_name": "cpu", "trigger_type": "event",
...     "trigger_spec": {}, "actions": [{"type": "store", "target": "events"}]})
>>> firing = Firing.build(rule_key="cpu", rule_name="cpu", severity="high", event_time=0)
>>> events = ListSink()
>>> async def main():
...     async with HttpClient() as client:
...         dispatcher = Dispatcher(client=client, channels=lambda name: None,
...                                 clock=FakeClock(), sinks={"events": events})
...         return await dispatcher.execute(rule, firing, {"host": "web-01"})
>>> asyncio.run(main()).status, events.records[0]["payload"]
('success', {'host': 'web-01'})
"""

from __future__ import annotations

from cepkit.actions.results import ActionResult, Attempt, BreakerName, DeadLetter
from cepkit.actions.runtime import Job, Redactor, Runtime, firing_record, settings_for
from cepkit.channels.base import Outcome
from cepkit.rules.actions import StoreAction

__all__ = ["run_store"]


async def run_store(
    rt: Runtime, job: Job, index: int, action: StoreAction, redo: DeadLetter | None
) -> list[ActionResult]:
    """Append the firing (as :func:`~cepkit.actions.runtime.firing_record`) to the sink."""
    target = action.target
    sink = rt.sinks.get(target)
    record = {**firing_record(job), "stored_at": rt.clock.now().isoformat()}
    if sink is None:
        known = ", ".join(sorted(rt.sinks)) or "none"
        attempts: list[Attempt] = []
        error: str | None = f"no store named {target!r} (known: {known})"
        breaker: BreakerName | None = None
    else:
        store = sink

        async def attempt() -> Outcome:
            try:
                await store.append(record)
            except Exception as exc:  # a store's own errors, retried
                return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=True)
            return Outcome(ok=True)

        settings = settings_for(action.action_config, job.rule.action_config, "store")
        delivery = await rt.deliver(
            attempt,
            settings=settings,
            redactor=Redactor(),
            target=f"store {target}",
            breaker_key=f"store:{target}",
        )
        attempts = delivery.attempts
        error = None if delivery.ok else delivery.error or "failed"
        breaker = delivery.breaker
    return [
        rt.result(
            job,
            index,
            "store",
            error=error,
            attempts=attempts,
            redo=redo,
            target=target,
            breaker=breaker,
        )
    ]
