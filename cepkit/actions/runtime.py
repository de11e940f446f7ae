"""The machinery every action shares: settings, the retry loop, the breaker, redaction.

:class:`Runtime` holds what the dispatcher was given (clock, sleep, HTTP client,
breaker, policy, sinks, trigger callback). :meth:`Runtime.deliver` wraps one
attempt function in the circuit breaker and the retry policy and returns every
:class:`~cepkit.actions.results.Attempt`; executors (one module per action type)
build on it. A :class:`Job` is one execution's inputs and template context.

>>> settings_for(None, [], "Slack").retry.max_retries
4
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cepkit.actions.breaker import CircuitBreaker
from cepkit.actions.policy import TargetPolicy
from cepkit.actions.results import (
    ActionResult,
    ActionType,
    Attempt,
    BreakerName,
    DeadLetter,
    Role,
)
from cepkit.actions.retry import DEFAULT_RETRY, next_delay
from cepkit.actions.sinks import Sink
from cepkit.channels import ChannelConfig
from cepkit.channels.base import Outcome
from cepkit.channels.http import HttpClient
from cepkit.clock import Clock
from cepkit.errors import CircuitOpen
from cepkit.firing import Firing, digest
from cepkit.rules.actions import ActionConfig, CircuitBreakerConfig, RetryConfig
from cepkit.rules.model import Rule

__all__ = [
    "ChannelProvider",
    "Delivery",
    "Job",
    "Redactor",
    "Runtime",
    "Settings",
    "TriggerCallback",
    "firing_record",
    "settings_for",
    "template_context",
]

log = logging.getLogger("cepkit.actions")

ChannelProvider = Callable[[str], ChannelConfig | None]
TriggerCallback = Callable[[str, dict[str, Any]], Awaitable[Any]]
Sleep = Callable[[float], Awaitable[None]]

_NOT_ATTEMPTED = Outcome(ok=False, error="not attempted")  # frozen: one for every delivery


@dataclass(frozen=True)
class Settings:
    """Retry, breaker and timeout for one delivery."""

    retry: RetryConfig = DEFAULT_RETRY
    breaker: CircuitBreakerConfig = field(default_factory=CircuitBreakerConfig)
    timeout: float = 10.0


def settings_for(
    own: ActionConfig | None, rule_level: Sequence[ActionConfig], *names: str
) -> Settings:
    """Per field: the action's own ``action_config``, else the rule's entry for the
    channel or action type (first of ``names`` first), else one without ``action``,
    else the defaults (1/2/4/8 s, 3 failures / 30 s, 10 s)."""
    ordered: list[ActionConfig] = [own] if own is not None else []
    for name in names:
        ordered += [c for c in rule_level if c.action is not None and c.action == name]
    ordered += [c for c in rule_level if c.action is None]
    retry = next((c.retry for c in ordered if c.retry is not None), DEFAULT_RETRY)
    breaker = next(
        (c.circuit_breaker for c in ordered if c.circuit_breaker is not None),
        CircuitBreakerConfig(),
    )
    timeout = next((c.timeout_seconds for c in ordered if c.timeout_seconds is not None), 10.0)
    return Settings(retry=retry, breaker=breaker, timeout=timeout)


class Redactor:
    """Replaces every secret (and its URL-encoded form) by ``***``.

    >>> Redactor(["s3cret"]).redact("token s3cret failed")
    'token *** failed'
    """

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
        self._secrets = sorted(forms, key=len, reverse=True)

    def redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class Job:
    """One execution: the rule, the firing, the payload (and, once an action renders a
    template, the template context)."""

    rule: Rule
    firing: Firing
    payload: dict[str, Any]
    chain: tuple[str, ...] = ()

    @property
    def rule_key(self) -> str:
        return self.firing.rule_id or self.rule.rule_id or self.rule.rule_name

    @functools.cached_property
    def context(self) -> dict[str, Any]:
        """:func:`template_context` of the job, built the first time a template needs it
        (a ``store`` or ``trigger`` action renders none; the firing's dump is not cheap)."""
        return template_context(self.rule, self.firing, self.payload)


def template_context(rule: Rule, firing: Firing, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What ``{{name}}`` sees: the payload's fields first, then the firing's values and
    group, then ``rule_name``, ``severity``, ``firing_id``, ``event_time``...; and the
    namespaces ``payload``, ``values``, ``group``, ``rule``, ``firing``.

    >>> from cepkit.firing import Firing
    >>> rule = Rule.model_validate({"rule_name": "cpu", "trigger_type": "event",
    ...                             "trigger_spec": {}})
    >>> firing = Firing.build(rule_key="cpu", rule_name="cpu", severity="high",
    ...                       event_time=0, values={"avg_cpu": 91.5})
    >>> ctx = template_context(rule, firing, {"host": "web-01"})
    >>> ctx["host"], ctx["avg_cpu"], ctx["severity"], ctx["rule"]["rule_name"]
    ('web-01', 91.5, 'high', 'cpu')
    """
    base: dict[str, Any] = {
        **_identity(rule, firing),
        "description": rule.description,
        "values": firing.values,
        "group": firing.group,
        "payload": dict(payload),
        "rule": {
            "rule_id": firing.rule_id or rule.rule_id,
            "rule_name": rule.rule_name,
            "severity": rule.severity,
            "description": rule.description,
            "owner": rule.owner,
            "tags": rule.tags,
        },
        "firing": firing.model_dump(mode="json", exclude={"explain"}),
    }
    return {**base, **firing.group, **firing.values, **payload}


def firing_record(job: Job) -> dict[str, Any]:
    """The firing as JSON: what POST bodies, stores and chained rules receive."""
    firing = job.firing
    return {
        **_identity(job.rule, firing),
        "group": firing.group,
        "values": firing.values,
        "payload": job.payload,
    }


def _identity(rule: Rule, firing: Firing) -> dict[str, Any]:
    """What names a firing, as JSON (the first keys of :func:`firing_record`)."""
    return {
        "firing_id": firing.firing_id,
        "rule_id": firing.rule_id or rule.rule_id,
        "rule_name": firing.rule_name,
        "severity": firing.severity,
        "kind": firing.kind,
        "event_time": firing.event_time.isoformat(),
        "window_start": firing.window_start.isoformat() if firing.window_start else None,
        "window_end": firing.window_end.isoformat() if firing.window_end else None,
    }


@dataclass(frozen=True)
class Delivery:
    """What :meth:`Runtime.deliver` returns."""

    ok: bool
    attempts: list[Attempt]
    error: str | None
    breaker: BreakerName | None


@dataclass
class Runtime:
    """Everything an executor may use (built by the dispatcher)."""

    client: HttpClient
    clock: Clock
    sleep: Sleep
    timer: Callable[[], float]
    channels: ChannelProvider
    breaker: CircuitBreaker
    policy: TargetPolicy
    sinks: Mapping[str, Sink]
    trigger: TriggerCallback | None
    max_trigger_depth: int
    rng: random.Random
    smtp_ssl_context: ssl.SSLContext | None = None

    async def attempt_once(
        self, attempt: Callable[[], Awaitable[Outcome]], timeout: float
    ) -> tuple[Outcome, float]:
        """One attempt under ``timeout``; unexpected exceptions become final outcomes."""
        started = self.timer()
        try:
            async with asyncio.timeout(timeout):
                outcome = await attempt()
        except TimeoutError:
            outcome = Outcome(ok=False, error=f"Timed out after {timeout:g} s", retryable=True)
        except Exception as exc:  # one failing delivery never breaks the others
            outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        return outcome, round((self.timer() - started) * 1000.0, 3)

    async def deliver(
        self,
        attempt: Callable[[], Awaitable[Outcome]],
        *,
        settings: Settings,
        redactor: Redactor,
        target: str,
        breaker_key: str | None = None,
    ) -> Delivery:
        """Run ``attempt`` under the breaker with retries; every attempt recorded."""
        permit = None
        if breaker_key is not None:
            try:
                permit = await self.breaker.acquire(breaker_key, settings.breaker)
            except CircuitOpen as exc:
                log.warning("delivery to %s not attempted: %s", target, exc)
                return Delivery(ok=False, attempts=[], error=str(exc), breaker="open")
        tries = 1 if permit is not None and permit.trial else settings.retry.max_retries + 1
        attempts: list[Attempt] = []
        outcome = _NOT_ATTEMPTED
        delay = 0.0
        for number in range(1, tries + 1):
            if delay > 0:
                await self.sleep(delay)
            at = self.clock.now()
            outcome, latency = await self.attempt_once(attempt, settings.timeout)
            error = redactor.redact(outcome.error)
            attempts.append(
                Attempt(
                    attempt=number,
                    status_code=outcome.status_code,
                    error=error,
                    latency_ms=latency,
                    delay_before_s=delay,
                    at=at,
                )
            )
            log.log(  # a storm's successes would flood the log: they are in the execution log
                logging.DEBUG if outcome.ok else logging.WARNING,
                "delivery to %s attempt %d/%d: %s (%.1f ms)",
                target,
                number,
                tries,
                "ok" if outcome.ok else error,
                latency,
                extra={"cepkit_target": target, "cepkit_attempt": number},
            )
            if outcome.ok or not outcome.retryable or number == tries:
                break
            delay = next_delay(settings.retry, number, outcome, self.clock.now(), self.rng)
        state: BreakerName | None = None
        if permit is not None:
            if outcome.contacted or outcome.ok:
                state = (await self.breaker.record(permit, success=outcome.ok)).state
            else:
                state = (await self.breaker.state(breaker_key or "")).state
        error = None if outcome.ok else redactor.redact(outcome.error)
        return Delivery(ok=outcome.ok, attempts=attempts, error=error, breaker=state)

    def result(
        self,
        job: Job,
        index: int,
        action_type: ActionType,
        *,
        error: str | None,
        attempts: list[Attempt],
        redo: DeadLetter | None = None,
        role: Role | None = None,
        channel: str | None = None,
        target: str | None = None,
        breaker: BreakerName | None = None,
        detail: dict[str, Any] | None = None,
        keep: bool = True,
    ) -> ActionResult:
        """One delivery's result; a failure is kept as a dead letter (unless ``keep`` is
        False, as for a fallback) to be delivered again later."""
        letter = None
        if error is not None and keep:
            letter = self.dead_letter(
                job,
                index,
                action_type,
                error=error,
                attempts=len(attempts),
                channel=channel,
                target=target,
                redeliveries=redo.redeliveries + 1 if redo else 0,
            )
        return ActionResult(
            action_index=index,
            action_type=action_type,
            channel=channel,
            target=target,
            role=role if role is not None else ("retry" if redo else "primary"),
            status="failed" if error is not None else "success",
            attempts=attempts,
            error=error,
            breaker=breaker,
            dead_letter=letter,
            detail=detail or {},
        )

    def dead_letter(
        self,
        job: Job,
        index: int,
        action_type: ActionType,
        *,
        error: str,
        attempts: int,
        channel: str | None = None,
        target: str | None = None,
        redeliveries: int = 0,
    ) -> DeadLetter:
        """The dead letter of a finally failed delivery (stable id per firing/action/channel)."""
        return DeadLetter(
            dead_letter_id="dl_" + digest(job.firing.firing_id, job.rule_key, index, channel),
            rule_id=job.firing.rule_id or job.rule.rule_id,
            rule_name=job.rule.rule_name,
            action_index=index,
            action_type=action_type,
            channel=channel,
            target=target,
            firing=job.firing,
            payload=job.payload,
            error=error,
            attempts=attempts,
            redeliveries=redeliveries,
            created_at=self.clock.now(),
        )
