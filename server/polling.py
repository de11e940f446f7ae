"""Metric polling: rules whose trigger_spec has an ``endpoint`` fetch their value.

:class:`MetricPoller` polls every running metric rule whose ``trigger_spec`` has an http(s)
``endpoint`` and a ``value_path``: every ``interval`` (default 60 s, at least 1 s) it sends
the spec's ``method`` with its ``headers``, takes the value at ``value_path`` in the JSON
answer, feeds the event ``{<metric_name>: value, "timestamp": polled_at, "source": "poll",
"poll_rule_id": ...}`` to the live runner (so every rule evaluates it on the same engine;
a value that is an object is spread into the event instead, the guide's ``data.metrics``
case; without ``metric_name`` the key is the last part of ``value_path``) and stores a
:class:`~cepkit.store.polling.PollSnapshot`. A failed poll (no connection, timeout, a non-2xx
status, no JSON, no value at the path) is stored as an ``error`` snapshot and feeds no
event. :meth:`MetricPoller.poll_due` polls what is due at the clock's now and returns the
snapshots; the background task only calls it every ``check_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from cepkit.clock import Clock
from cepkit.durations import format_duration, parse_duration
from cepkit.engine import RuleRuntime
from cepkit.errors import CepkitError
from cepkit.paths import MISSING, resolve
from cepkit.rules import MetricTrigger
from cepkit.store.polling import PollSnapshot, PollStore
from server.runner import LiveRunner

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "MetricPoller",
    "MetricPollingStatus",
    "PolledRule",
    "SnapshotList",
    "poll_event",
]

log = logging.getLogger(__name__)

#: Seconds between polls of a metric rule whose spec has no ``interval``.
DEFAULT_POLL_INTERVAL = 60.0


class PolledRule(BaseModel):
    """One metric rule the poller fetches (or cannot: ``pollable`` false, ``problem``)."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    rule_name: str
    endpoint: str = Field(description="The endpoint as configured, any password masked.")
    method: str
    value_path: str
    metric_name: str | None
    interval: str
    interval_seconds: float
    pollable: bool
    problem: str | None = None
    last_poll: datetime | None = None
    next_poll: datetime | None = None
    last_status: Literal["ok", "error"] | None = None
    last_value: Any = None
    last_error: str | None = None
    last_http_status: int | None = None
    last_latency_ms: float | None = None
    polls: int = Field(default=0, description="Polls by this instance.")
    errors: int = Field(default=0, description="Failed polls by this instance.")


class MetricPollingStatus(BaseModel):
    """``GET /cep/scheduler/metric-polling``."""

    model_config = ConfigDict(frozen=True)

    running: bool
    rules: list[PolledRule]
    total: int


class SnapshotList(BaseModel):
    """Poll snapshots (the latest per rule, or one rule's history newest first)."""

    model_config = ConfigDict(frozen=True)

    snapshots: list[PollSnapshot]
    total: int


def poll_event(
    spec: MetricTrigger, value: Any, polled_at: datetime, rule_id: str
) -> dict[str, Any]:
    """The event a polled value becomes (see the module docstring).

    >>> spec = MetricTrigger(endpoint="http://m/x", value_path="data.cpu", metric_name="cpu")
    >>> from datetime import UTC
    >>> when = datetime(2026, 2, 8, 10, 30, tzinfo=UTC)
    >>> event = poll_event(spec, 93, when, "rule_1")
    >>> event["cpu"], event["timestamp"], event["source"], event["poll_rule_id"]
    (93, '2026-02-08T10:30:00+00:00', 'poll', 'rule_1')
    >>> spec = MetricTrigger(endpoint="http://m/x", value_path="data.metrics")
    >>> sorted(poll_event(spec, {"cpu": 93, "disk": 40}, when, "rule_2"))
    ['cpu', 'disk', 'poll_rule_id', 'source', 'timestamp']
    """
    event: dict[str, Any] = {}
    if isinstance(value, dict):
        event.update(value)
    else:
        assert spec.subject_name is not None  # a polled rule has a value_path
        event[spec.subject_name] = value  # the engine's name for a narrowed scalar
    event.update(timestamp=polled_at.isoformat(), source="poll", poll_rule_id=rule_id)
    return event


def _masked(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


# --- metric polling --------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    rule_id: str
    rule_name: str
    spec: MetricTrigger
    value_path: str
    url: str | None
    problem: str | None
    interval: float


@dataclass
class _PollState:
    last: PollSnapshot | None = None
    polls: int = 0
    errors: int = 0
    in_flight: bool = False


class MetricPoller:
    """Polls the running metric rules that have ``endpoint`` + ``value_path``.

    ``base_url`` resolves relative endpoints (``/api/metrics/system``; without it they are
    listed as not pollable); ``timeout`` limits each request; ``keep`` snapshots are kept
    per rule; ``transport`` is handed to httpx (tests may pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        runner: LiveRunner,
        snapshots: PollStore,
        *,
        clock: Clock,
        check_seconds: float = 1.0,
        timeout: float = 10.0,
        base_url: str | None = None,
        keep: int = 1000,
        min_interval: float = 1.0,
        max_raw_chars: int = 2000,
        transport: httpx.AsyncBaseTransport | None = None,
        gate: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.snapshots = snapshots
        self._gate = gate  # the background loop polls only while it answers True
        self._runner = runner
        self._clock = clock
        self._check_seconds = check_seconds
        self._timeout = timeout
        self._base_url = base_url
        self._keep = keep
        self._min_interval = min_interval
        self._max_raw = max_raw_chars
        self._transport = transport
        self._lock = threading.Lock()
        self._targets: dict[str, tuple[RuleRuntime, _Target]] = {}
        self._state: dict[str, _PollState] = {}
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._polls: set[asyncio.Task[PollSnapshot]] = set()

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the background task polls (false when ``check_seconds`` is 0)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Open the HTTP client and start the background task (unless ``check_seconds`` 0)."""
        await asyncio.to_thread(self.snapshots.create_table)
        self._client = self._new_client()
        if self._check_seconds > 0:
            self._task = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        """Stop polling, cancel polls in flight, close the HTTP client."""
        tasks = [t for t in (self._task, *self._polls) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout, transport=self._transport)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                if self._gate is not None and not await self._gate():
                    continue
                await self._launch(self._clock.now())
            except Exception:  # the poller must survive a bad round
                log.exception("metric poller: round failed")

    # --- polling ---------------------------------------------------------------------------

    async def poll_due(self, now: datetime | None = None) -> list[PollSnapshot]:
        """Poll every rule due at ``now`` (default: the clock's now); the new snapshots."""
        tasks = await self._launch(now if now is not None else self._clock.now())
        return list(await asyncio.gather(*tasks))

    async def _launch(self, now: datetime) -> list[asyncio.Task[PollSnapshot]]:
        targets = await asyncio.to_thread(self._refresh)
        tasks = []
        with self._lock:
            for target in targets:
                state = self._state.setdefault(target.rule_id, _PollState())
                due = self._next_poll(target, state, now)
                if target.url is None or state.in_flight or due is None or due > now:
                    continue
                state.in_flight = True
                task = asyncio.create_task(self._poll(target, now))
                self._polls.add(task)
                task.add_done_callback(self._polls.discard)
                tasks.append(task)
        return tasks

    def _refresh(self) -> list[_Target]:
        """The pollable rules among the running ones (state loaded from the store)."""
        found: dict[str, tuple[RuleRuntime, _Target]] = {}
        for rule_id in self._runner.running():
            runtime = self._runner.runtime(rule_id)
            if runtime is None:
                continue
            known = self._targets.get(rule_id)
            if known is not None and known[0] is runtime:
                found[rule_id] = known
                continue
            target = self._target(rule_id, runtime)
            if target is not None:
                found[rule_id] = (runtime, target)
        fresh = [rid for rid in found if rid not in self._state]
        stored = {s.rule_id: s for s in self.snapshots.latest(fresh)} if fresh else {}
        with self._lock:
            self._targets = found
            for rule_id in list(self._state):
                if rule_id not in found and not self._state[rule_id].in_flight:
                    del self._state[rule_id]
            for rule_id in fresh:
                self._state.setdefault(rule_id, _PollState(last=stored.get(rule_id)))
            return [target for _, target in found.values()]

    def _target(self, rule_id: str, runtime: RuleRuntime) -> _Target | None:
        rule = runtime.rule
        spec = rule.trigger_spec
        if not isinstance(spec, MetricTrigger) or not spec.endpoint or not spec.value_path:
            return None
        interval = max(
            self._min_interval,
            parse_duration(spec.interval) if spec.interval else DEFAULT_POLL_INTERVAL,
        )
        parts = urlsplit(spec.endpoint)
        url: str | None = None
        problem: str | None = None
        if parts.scheme in ("http", "https") and parts.netloc:
            url = spec.endpoint
        elif not parts.scheme and not parts.netloc and self._base_url:
            url = urljoin(self._base_url, spec.endpoint)
        elif not parts.scheme and not parts.netloc:
            problem = f"relative endpoint {spec.endpoint!r}: the poller has no base URL"
        else:
            problem = f"endpoint {_masked(spec.endpoint)!r} is not an http(s) URL"
        return _Target(rule_id, rule.rule_name, spec, spec.value_path, url, problem, interval)

    @staticmethod
    def _next_poll(target: _Target, state: _PollState, now: datetime) -> datetime | None:
        if target.url is None:
            return None
        if state.last is None:
            return now
        return state.last.polled_at + timedelta(seconds=target.interval)

    async def _poll(self, target: _Target, polled_at: datetime) -> PollSnapshot:
        try:
            try:
                snapshot = await self._fetch(target, polled_at)
                if snapshot.status == "ok":
                    snapshot = await self._ingest(target, snapshot)
            except Exception as exc:  # one bad poll must not take the poller down
                log.exception("metric poller: rule %s: poll failed", target.rule_id)
                snapshot = PollSnapshot(
                    rule_id=target.rule_id,
                    rule_name=target.rule_name,
                    endpoint=_masked(target.spec.endpoint or ""),
                    polled_at=polled_at,
                    status="error",
                    error=f"{type(exc).__name__}: {exc}",
                )
            try:
                snapshot = await asyncio.to_thread(self._store, snapshot)
            except CepkitError as exc:
                log.error("metric poller: rule %s: %s", target.rule_id, exc)
            with self._lock:
                state = self._state.setdefault(target.rule_id, _PollState())
                state.last = snapshot
                state.polls += 1
                state.errors += snapshot.status == "error"
        finally:
            with self._lock:
                self._state.setdefault(target.rule_id, _PollState()).in_flight = False
        log.info(
            "poll rule_id=%s status=%s value=%r http_status=%s error=%s",
            target.rule_id,
            snapshot.status,
            snapshot.value,
            snapshot.http_status,
            snapshot.error,
        )
        return snapshot

    async def _fetch(self, target: _Target, polled_at: datetime) -> PollSnapshot:
        assert target.url is not None
        spec = target.spec
        base = {
            "rule_id": target.rule_id,
            "rule_name": target.rule_name,
            "endpoint": _masked(spec.endpoint or target.url),
            "polled_at": polled_at,
        }
        client = self._client
        own = client is None
        if client is None:
            client = self._new_client()
        started = time.perf_counter()
        try:
            response = await client.request(spec.method, target.url, headers=spec.headers)
        except httpx.TimeoutException:
            return PollSnapshot(
                **base, status="error", error=f"no answer within {self._timeout:g} s"
            )
        except httpx.HTTPError as exc:
            return PollSnapshot(**base, status="error", error=f"{type(exc).__name__}: {exc}")
        finally:
            if own:
                await client.aclose()
        latency = round((time.perf_counter() - started) * 1000, 3)
        text = response.text
        answer = {
            **base,
            "http_status": response.status_code,
            "latency_ms": latency,
            "raw": text[: self._max_raw],
        }
        if not response.is_success:
            return PollSnapshot(**answer, status="error", error=f"HTTP {response.status_code}")
        try:
            body = json.loads(text)
        except ValueError:
            return PollSnapshot(**answer, status="error", error="the answer is not JSON")
        value = resolve(body, target.value_path)
        if value is MISSING:
            return PollSnapshot(
                **answer,
                status="error",
                error=f"value_path {target.value_path!r} is not in the answer",
            )
        if isinstance(value, float) and not math.isfinite(value):
            return PollSnapshot(**answer, status="error", error=f"not a finite number: {value}")
        return PollSnapshot(**answer, status="ok", value=value)

    async def _ingest(self, target: _Target, snapshot: PollSnapshot) -> PollSnapshot:
        event = poll_event(target.spec, snapshot.value, snapshot.polled_at, target.rule_id)
        try:
            result = await asyncio.to_thread(self._runner.ingest, [event])
        except (CepkitError, ValueError) as exc:
            return snapshot.model_copy(
                update={"status": "error", "error": f"the polled value was not ingested: {exc}"}
            )
        if result.errors:
            problem = result.errors[0]
            return snapshot.model_copy(
                update={"status": "error", "error": f"{problem.path}: {problem.message}"}
            )
        return snapshot.model_copy(update={"event_ids": result.event_ids})

    def _store(self, snapshot: PollSnapshot) -> PollSnapshot:
        stored = self.snapshots.add(snapshot)
        self.snapshots.prune(snapshot.rule_id, keep=self._keep)
        return stored

    # --- reports ---------------------------------------------------------------------------

    def status(self, now: datetime | None = None) -> list[PolledRule]:
        """Each polled rule with its last and next poll (by rule id)."""
        now = now if now is not None else self._clock.now()
        targets = self._refresh()
        with self._lock:
            out = []
            for target in sorted(targets, key=lambda t: t.rule_id):
                state = self._state.get(target.rule_id, _PollState())
                last = state.last
                spec = target.spec
                assert spec.endpoint is not None
                out.append(
                    PolledRule(
                        rule_id=target.rule_id,
                        rule_name=target.rule_name,
                        endpoint=_masked(spec.endpoint),
                        method=spec.method,
                        value_path=target.value_path,
                        metric_name=spec.metric_name,
                        interval=format_duration(target.interval),
                        interval_seconds=target.interval,
                        pollable=target.url is not None,
                        problem=target.problem,
                        last_poll=last.polled_at if last else None,
                        next_poll=self._next_poll(target, state, now),
                        last_status=last.status if last else None,
                        last_value=last.value if last else None,
                        last_error=last.error if last else None,
                        last_http_status=last.http_status if last else None,
                        last_latency_ms=last.latency_ms if last else None,
                        polls=state.polls,
                        errors=state.errors,
                    )
                )
            return out
