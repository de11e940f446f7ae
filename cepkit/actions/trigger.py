"""The ``trigger`` action: run another rule with this firing as its payload.

The dispatcher's ``trigger`` callback (the server's) runs the target rule. The
chain of rules that led here travels two ways: in a context variable (a callback
that awaits ``Dispatcher.execute`` inherits it) and in the payload's
``trigger_chain`` list (for a chained rule that runs elsewhere). A target already
in the chain is a cycle; a chain already ``max_trigger_depth`` hops long stops.
Neither is retried; both leave a dead letter like any failed action.

>>> chain_error(("r1", "r2"), "r1", 5)
'trigger cycle: r1 → r2 → r1'
>>> chain_error(("r1", "r2", "r3"), "r4", 2)
'trigger depth limit 2 reached: r1 → r2 → r3 → r4'
>>> chain_error(("r1",), "r2", 5) is None
True
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

from cepkit.actions.results import ActionResult, Attempt, DeadLetter
from cepkit.actions.runtime import Job, Runtime, firing_record
from cepkit.rules.actions import TriggerAction

__all__ = ["CHAIN", "CHAIN_KEY", "chain_error", "run_trigger"]

#: the rules (ids, else names) whose actions are running in this context, outermost first
CHAIN: ContextVar[tuple[str, ...]] = ContextVar("cepkit_trigger_chain", default=())
#: the payload key that carries the chain to a chained rule
CHAIN_KEY = "trigger_chain"


def chain_error(chain: tuple[str, ...], target: str, max_depth: int) -> str | None:
    """Why ``target`` may not be triggered from ``chain`` (None when it may)."""
    path = " → ".join([*chain, target])
    if target in chain:
        return f"trigger cycle: {path}"
    if len(chain) > max_depth:
        return f"trigger depth limit {max_depth} reached: {path}"
    return None


def _summary(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict | list | str | int | float | bool):
        return value
    return None


async def run_trigger(
    rt: Runtime, job: Job, index: int, action: TriggerAction, redo: DeadLetter | None
) -> list[ActionResult]:
    """Call the trigger callback for ``action.rule_id`` unless that would loop or go too deep.

    The depth limit also bounds a cycle the chain cannot see (a rule named by its id
    in one place and by its name in another).
    """
    target = action.rule_id
    error = chain_error(job.chain, target, rt.max_trigger_depth)
    if error is None and target == job.rule.rule_name:
        error = f"trigger cycle: {' → '.join([*job.chain, target])}"
    if error is None and rt.trigger is None:
        error = "no trigger handler is configured"
    detail: dict[str, Any] = {"chain": [*job.chain, target]}
    attempts: list[Attempt] = []
    if error is None and rt.trigger is not None:
        payload = firing_record(job) if action.pass_payload else {}
        payload[CHAIN_KEY] = list(job.chain)
        started, at = rt.timer(), rt.clock.now()
        try:
            answer = await rt.trigger(target, payload)
        except Exception as exc:  # the chained rule's failure is reported, not raised
            error = f"{type(exc).__name__}: {exc}"
        else:
            if (summary := _summary(answer)) is not None:
                detail["triggered"] = summary
        latency = round((rt.timer() - started) * 1000.0, 3)
        attempts.append(Attempt(attempt=1, error=error, latency_ms=latency, at=at))
    return [
        rt.result(
            job,
            index,
            "trigger",
            error=error,
            attempts=attempts,
            redo=redo,
            target=target,
            detail=detail,
        )
    ]
