"""Circuit breaker per channel and per webhook host, its state behind a small store.

::

    closed --(failure_threshold consecutive failed deliveries)--> open
    open   --(timeout_seconds later, the next delivery is the trial)--> half_open
    half_open --(trial delivered)--> closed      half_open --(trial failed)--> open

A *delivery* (all its retries) counts once, success or failure. While open, deliveries
fail at once with :class:`~cepkit.errors.CircuitOpen`. At most
``half_open_max_requests`` trials run at a time; a trial that never reports (its
process died) is replaced after another ``timeout_seconds``.

The state is JSON in a :class:`BreakerStore`, changed only by compare-and-set, so
server instances sharing a :class:`RedisBreakerStore` agree on it. Keys expire after
``ttl_seconds`` without a change (a closed breaker with no failures is deleted); an open
or half-open one lives at least ``2 × timeout_seconds`` (its open period, then a trial's),
so a timeout longer than ``ttl_seconds`` is never cut short.
:class:`MemoryBreakerStore` is the single-process default.

>>> import asyncio
>>> from cepkit.clock import FakeClock
>>> from cepkit.rules.actions import CircuitBreakerConfig
>>> clock = FakeClock()
>>> breaker = CircuitBreaker(MemoryBreakerStore(clock), clock)
>>> config = CircuitBreakerConfig()
>>> async def fail_three_times():
...     for _ in range(3):
...         await breaker.record(await breaker.acquire("channel:Slack", config), success=False)
...     return (await breaker.state("channel:Slack")).state
>>> asyncio.run(fail_three_times())
'open'
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from cepkit.clock import Clock, SystemClock
from cepkit.errors import CircuitOpen
from cepkit.rules.actions import CircuitBreakerConfig

__all__ = [
    "BreakerState",
    "BreakerStore",
    "CircuitBreaker",
    "MemoryBreakerStore",
    "Permit",
    "RedisBreakerStore",
    "on_acquire",
    "on_result",
]

log = logging.getLogger(__name__)

StateName = Literal["closed", "open", "half_open"]


class BreakerState(BaseModel):
    """A breaker's state; times are epoch seconds from the injected clock."""

    model_config = ConfigDict(frozen=True)

    state: StateName = "closed"
    failures: int = 0
    opened_at: float | None = None
    trials: int = 0
    trial_at: float | None = None


CLOSED = BreakerState()


def on_acquire(
    state: BreakerState, now: float, config: CircuitBreakerConfig
) -> tuple[bool, bool, BreakerState]:
    """``(allowed, is_trial, new_state)`` for a delivery about to start.

    >>> opened = BreakerState(state="open", failures=3, opened_at=100.0)
    >>> on_acquire(opened, 120.0, CircuitBreakerConfig())[:2]
    (False, False)
    >>> allowed, trial, state = on_acquire(opened, 130.0, CircuitBreakerConfig())
    >>> allowed, trial, state.state
    (True, True, 'half_open')
    """
    if state.state == "closed":
        return True, False, state
    if state.state == "open":
        if state.opened_at is not None and now - state.opened_at < config.timeout_seconds:
            return False, False, state
        update: dict[str, Any] = {"state": "half_open", "trials": 1, "trial_at": now}
        return True, True, state.model_copy(update=update)
    stale = state.trial_at is None or now - state.trial_at >= config.timeout_seconds
    if stale:
        return True, True, state.model_copy(update={"trials": 1, "trial_at": now})
    if state.trials < config.half_open_max_requests:
        return True, True, state.model_copy(update={"trials": state.trials + 1, "trial_at": now})
    return False, False, state


def on_result(
    state: BreakerState, success: bool, now: float, config: CircuitBreakerConfig
) -> BreakerState:
    """The state after a delivery finished.

    >>> state = BreakerState(failures=2)
    >>> on_result(state, False, 5.0, CircuitBreakerConfig()).state
    'open'
    >>> on_result(state, True, 5.0, CircuitBreakerConfig()) == BreakerState()
    True
    """
    if success:
        return CLOSED
    if state.state == "open":
        return state
    failures = state.failures + 1
    if state.state == "half_open" or failures >= config.failure_threshold:
        return BreakerState(state="open", failures=failures, opened_at=now)
    return BreakerState(failures=failures)


@runtime_checkable
class BreakerStore(Protocol):
    """Key -> JSON text, changed only by compare-and-set (``value=None`` deletes)."""

    async def get(self, key: str) -> str | None: ...

    async def compare_and_set(
        self, key: str, expected: str | None, value: str | None, ttl_seconds: float
    ) -> bool: ...


class MemoryBreakerStore:
    """In-process store; entries expire by the injected clock."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._data: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock.now().timestamp():
            del self._data[key]
            return None
        return entry[0]

    async def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    async def compare_and_set(
        self, key: str, expected: str | None, value: str | None, ttl_seconds: float
    ) -> bool:
        with self._lock:
            if self._live(key) != expected:
                return False
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = (value, self._clock.now().timestamp() + ttl_seconds)
            return True


_CAS = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('DEL', KEYS[1])
end
return 1
"""


class RedisBreakerStore:
    """Breaker state in Redis (shared by every server instance), one key per breaker.

    ``client`` is a ``redis.asyncio.Redis`` the caller creates and closes; keys are
    ``{prefix}{key}`` with a TTL; the compare-and-set is one Lua script.
    """

    def __init__(self, client: Any, prefix: str = "cepkit:breaker:") -> None:
        self._client = client
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        raw = await self._client.get(self._prefix + key)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def compare_and_set(
        self, key: str, expected: str | None, value: str | None, ttl_seconds: float
    ) -> bool:
        args = [
            "1" if expected is not None else "0",
            expected or "",
            "1" if value is not None else "0",
            value or "",
            str(max(1, int(ttl_seconds * 1000))),
        ]
        done = await self._client.eval(_CAS, 1, self._prefix + key, *args)
        return bool(done)


@dataclass(frozen=True)
class Permit:
    """Leave to run one delivery; hand it back to :meth:`CircuitBreaker.record`."""

    key: str
    config: CircuitBreakerConfig
    trial: bool = False


class CircuitBreaker:
    """The state machine over a store; time from the injected clock."""

    def __init__(
        self,
        store: BreakerStore,
        clock: Clock,
        *,
        ttl_seconds: float = 3600.0,
        max_tries: int = 20,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl_seconds
        self._max_tries = max_tries

    @staticmethod
    def _load(raw: str | None) -> BreakerState:
        if raw is None:
            return CLOSED
        try:
            return BreakerState.model_validate(json.loads(raw))
        except ValueError:
            return CLOSED

    async def state(self, key: str) -> BreakerState:
        """The stored state (``open`` stays ``open`` until a delivery tries it)."""
        return self._load(await self._store.get(key))

    def _ttl_of(self, state: BreakerState, config: CircuitBreakerConfig) -> float:
        """How long a stored state lives without a change: ``ttl_seconds``, and for an open
        or half-open breaker at least its open period plus a trial's (``2 × timeout``)."""
        if state.state == "closed":
            return self._ttl
        return max(self._ttl, 2 * config.timeout_seconds)

    async def _swap(
        self, key: str, raw: str | None, new: BreakerState, config: CircuitBreakerConfig
    ) -> bool:
        value = None if new == CLOSED else new.model_dump_json()
        if value == raw:
            return True
        return await self._store.compare_and_set(key, raw, value, self._ttl_of(new, config))

    async def acquire(self, key: str, config: CircuitBreakerConfig) -> Permit:
        """A permit for one delivery, or :class:`CircuitOpen` when the breaker is open."""
        for _ in range(self._max_tries):
            raw = await self._store.get(key)
            state = self._load(raw)
            allowed, trial, new = on_acquire(state, self._clock.now().timestamp(), config)
            if not allowed:
                wait = config.timeout_seconds
                if state.opened_at is not None:
                    wait -= self._clock.now().timestamp() - state.opened_at
                raise CircuitOpen(
                    f"circuit open for {key} after {state.failures} failed deliveries; "
                    f"next trial in {max(wait, 0.0):.0f} s"
                )
            if await self._swap(key, raw, new, config):
                return Permit(key=key, config=config, trial=trial)
        log.warning("breaker %s: state kept changing; letting the delivery through", key)
        return Permit(key=key, config=config)

    async def record(self, permit: Permit, *, success: bool) -> BreakerState:
        """Report how the permitted delivery went; returns the new state."""
        for _ in range(self._max_tries):
            raw = await self._store.get(permit.key)
            state = self._load(raw)
            new = on_result(state, success, self._clock.now().timestamp(), permit.config)
            if await self._swap(permit.key, raw, new, permit.config):
                if new.state != state.state:
                    log.info("breaker %s: %s -> %s", permit.key, state.state, new.state)
                return new
        log.warning("breaker %s: state kept changing; result not recorded", permit.key)
        return await self.state(permit.key)
