"""The scheduler: schedule rules fire on their cron, polled metric rules fetch their endpoint.

One :class:`Scheduler` per server process is one scheduler *instance* (an id, when it
started, a heartbeat). :meth:`Scheduler.tick` moves the live runner's time on (schedule
rules fire on their cron in their time zone, idle windows close) and beats the heart;
the server's ticker calls it every ``tick_seconds``, tests call it by hand on a fake
clock. What it reports per owned rule:

- ``last_run``: the newest firing of the rule (what this instance saw fire, or the newest
  ``schedule`` event in the event store, so a restarted instance still knows);
- ``next_run``: the next cron instant the engine will fire, in UTC, and
  ``next_run_local``, the same instant as ISO-8601 in the rule's time zone;
- ``lag_seconds``: how late a due run is (the ticker stalled);
- ``missed_runs``: cron instants the engine skipped when this instance started the rule
  (the server was down without a checkpoint covering them): those after the rule's last
  run, or its last change, up to the instant its schedule started from.

Metric polling is :mod:`server.polling` (its :class:`~server.polling.MetricPoller` is
reported here too).

>>> from cepkit.clock import FakeClock
>>> from cepkit.store import EventStore, Journal, create_store
>>> from server.runner import LiveRunner
>>> rules = create_store("sqlite:///:memory:", clock=FakeClock())
>>> rule = rules.create({"rule_name": "every_5m", "is_active": True,
...     "trigger_type": "schedule", "trigger_spec": {"scheduleExpression": "*/5 * * * *"},
...     "actions": [{"type": "webhook", "endpoint": "https://x.example/h"}]})
>>> clock = FakeClock()
>>> events = EventStore(rules.engine, clock=clock)
>>> runner = LiveRunner(rules, events, Journal(rules.engine), clock=clock)
>>> runner.start()
0
>>> scheduler = Scheduler(runner, rules, events, clock=clock)
>>> scheduler.start()
>>> _ = scheduler.tick(); _ = clock.advance(300); fired = scheduler.tick()
>>> [(r.last_run.isoformat(), r.next_run.isoformat()) for r in scheduler.owned()]
[('2026-01-01T00:05:00+00:00', '2026-01-01T00:10:00+00:00')]
>>> scheduler.status().healthy
True
>>> rules.close()
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from cepkit.clock import Clock
from cepkit.engine import RuleRuntime
from cepkit.errors import CepkitError
from cepkit.rules import ScheduleTrigger
from cepkit.store import EventStore, RuleStore
from cepkit.store.events import EventFilter
from server.polling import MetricPoller
from server.runner import LiveRunner, Outcome

__all__ = [
    "OwnedRule",
    "Scheduler",
    "SchedulerInstance",
    "SchedulerStatus",
]

log = logging.getLogger(__name__)

_MISSED_CAP = 1000  # counting skipped cron instants stops here


# --- answers ---------------------------------------------------------------------------


class OwnedRule(BaseModel):
    """A rule an instance runs on time: a schedule rule (``kind="schedule"``) or a
    polled metric rule (``kind="poll"``). Times are UTC."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    rule_name: str
    kind: Literal["schedule", "poll"]
    schedule: str = Field(description="The cron expression, or 'every <interval>'.")
    timezone: str | None = None
    last_run: datetime | None = None
    next_run: datetime | None = None
    next_run_local: str | None = Field(
        default=None, description="next_run as ISO-8601 in the rule's time zone."
    )
    lag_seconds: float = Field(default=0.0, description="How late the due run is (0: on time).")
    missed_runs: int = 0


class SchedulerInstance(BaseModel):
    """One scheduler instance (one server process) and the rules it runs."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    host: str
    pid: int
    running: bool
    started_at: datetime
    heartbeat: datetime | None
    heartbeat_age_seconds: float | None
    ticks: int
    rules_owned: list[OwnedRule]
    last_run: datetime | None
    next_run: datetime | None


class SchedulerStatus(BaseModel):
    """``GET /cep/scheduler/status``: is the scheduler running, on time and healthy."""

    model_config = ConfigDict(frozen=True)

    running: bool
    healthy: bool
    problems: list[str] = Field(description="Why the scheduler is not healthy (empty if it is).")
    instance_id: str
    instance_count: int
    started_at: datetime
    last_tick: datetime | None
    heartbeat_age_seconds: float | None
    tick_seconds: float
    ticks: int
    lag_seconds: float = Field(description="The largest lag of a due run or poll.")
    rules_scheduled: int
    rules_polled: int
    missed_runs: int
    next_run: datetime | None
    last_error: str | None
    leading: bool = Field(
        default=True,
        description="False on a standby replica (scaled mode): another one schedules and polls.",
    )


# --- helpers ---------------------------------------------------------------------------


def _instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


def _schedule_at(runtime: RuleRuntime) -> datetime | None:
    """Where the engine's schedule stands: the last instant it fired, or where it started."""
    try:
        value = runtime.snapshot().get("schedule_at")
    except RuntimeError:  # the ticker thread changed the state meanwhile; try next time
        return None
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _count_between(spec: ScheduleTrigger, after: datetime, until: datetime) -> int:
    """Cron instants in ``(after, until]`` (at most ``_MISSED_CAP``)."""
    count = 0
    cursor = after
    while count < _MISSED_CAP and cursor < until:
        chunk = spec.next_times(cursor, 50)
        inside = [t for t in chunk if t <= until]
        count += len(inside)
        if len(inside) < len(chunk):
            break
        cursor = chunk[-1]
    return min(count, _MISSED_CAP)


class Scheduler:
    """This process's scheduler instance; see the module docstring.

    ``stale_after`` (default ``max(5, 3 * tick_seconds)`` seconds): a heartbeat older than
    that, or a due run or poll later than that, makes the scheduler unhealthy.
    """

    def __init__(
        self,
        runner: LiveRunner,
        rules: RuleStore,
        events: EventStore,
        *,
        clock: Clock,
        tick_seconds: float = 1.0,
        poller: MetricPoller | None = None,
        stale_after: float | None = None,
        instance_id: str | None = None,
    ) -> None:
        self.instance_id = instance_id or _instance_id()
        self.poller = poller
        self._runner = runner
        self._rules = rules
        self._events = events
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._stale_after = stale_after if stale_after is not None else max(5.0, 3 * tick_seconds)
        self._lock = threading.Lock()
        self.started_at = clock.now()
        self.heartbeat: datetime | None = None
        self.leading = True
        self.ticks = 0
        self.last_error: str | None = None
        self._running = False
        self._fired: dict[str, datetime] = {}
        self._seen: dict[str, RuleRuntime] = {}
        self._missed: dict[str, int] = {}

    def start(self) -> None:
        """Mark the instance started (now); the server's ticker calls :meth:`tick`."""
        with self._lock:
            self.started_at = self._clock.now()
            self._running = True

    def stop(self) -> None:
        """Mark the instance stopped."""
        with self._lock:
            self._running = False

    def tick(self) -> Outcome:
        """Move the runner's time on to now, beat the heart, note what fired."""
        now = self._clock.now()
        try:
            outcome = self._runner.tick()
        except Exception as exc:
            with self._lock:
                self.last_error = f"{type(exc).__name__}: {exc}"
            raise
        fired = [(f, r) for _, f, r in outcome.events] + [(f, r) for f, r, _ in outcome.suppressed]
        with self._lock:
            self.leading = True
            self.heartbeat = now
            self.ticks += 1
            self.last_error = None
            for firing, rule in fired:
                if rule.trigger_type == "schedule" and firing.rule_id is not None:
                    previous = self._fired.get(firing.rule_id)
                    if previous is None or firing.event_time > previous:
                        self._fired[firing.rule_id] = firing.event_time
        self._note_started_schedules()
        return outcome

    def standby(self) -> None:
        """A tick on a standby replica (scaled mode, another replica holds the lease): the
        heart beats, nothing is scheduled or polled here."""
        with self._lock:
            self.leading = False
            self.heartbeat = self._clock.now()

    def _note_started_schedules(self) -> None:
        """Count the runs skipped when a schedule rule's runtime started (once per runtime)."""
        running = set(self._runner.running())
        for rule_id in list(self._seen):
            if rule_id not in running:
                del self._seen[rule_id]
        for rule_id in running:
            runtime = self._runner.runtime(rule_id)
            if runtime is None or runtime.plan.mode != "schedule":
                continue
            if self._seen.get(rule_id) is runtime:
                continue
            start = _schedule_at(runtime)
            if start is None:
                continue
            self._seen[rule_id] = runtime
            spec = runtime.rule.trigger_spec
            assert isinstance(spec, ScheduleTrigger)
            try:
                changed = self._rules.get(rule_id).updated_at
                last = self._last_run(rule_id)
            except CepkitError as exc:
                log.warning("scheduler: rule %s: %s", rule_id, exc)
                continue
            after = max(changed, last) if last is not None else changed
            missed = _count_between(spec, after, start) if after < start else 0
            with self._lock:
                self._missed[rule_id] = missed
            if missed:
                log.warning(
                    "scheduler: rule %s skipped %d run(s) between %s and %s",
                    rule_id,
                    missed,
                    after.isoformat(),
                    start.isoformat(),
                )

    def _last_run(self, rule_id: str) -> datetime | None:
        """The newest firing: seen by this instance, or a stored ``schedule`` event."""
        with self._lock:
            seen = self._fired.get(rule_id)
        page = self._events.list(EventFilter(rule_id=rule_id), limit=10)
        stored = next((e.event_time for e in page.events if e.source == "schedule"), None)
        candidates = [t for t in (seen, stored) if t is not None]
        return max(candidates) if candidates else None

    # --- reports ---------------------------------------------------------------------------

    def owned(self, now: datetime | None = None) -> list[OwnedRule]:
        """The schedule rules this instance runs, then the polled metric rules."""
        now = now if now is not None else self._clock.now()
        out: list[OwnedRule] = []
        for rule_id in sorted(self._runner.running()):
            runtime = self._runner.runtime(rule_id)
            if runtime is None or runtime.plan.mode != "schedule":
                continue
            spec = runtime.rule.trigger_spec
            assert isinstance(spec, ScheduleTrigger)
            start = _schedule_at(runtime)
            next_run = spec.next_times(start if start is not None else now)[0]
            with self._lock:
                missed = self._missed.get(rule_id, 0)
            out.append(
                OwnedRule(
                    rule_id=rule_id,
                    rule_name=runtime.rule.rule_name,
                    kind="schedule",
                    schedule=spec.schedule_expression,
                    timezone=spec.timezone,
                    last_run=self._last_run(rule_id),
                    next_run=next_run,
                    next_run_local=next_run.astimezone(ZoneInfo(spec.timezone)).isoformat(),
                    lag_seconds=max(0.0, _seconds(now - next_run)),
                    missed_runs=missed,
                )
            )
        polled = self.poller.status(now) if self.poller is not None else []
        for rule in polled:
            if not rule.pollable:
                continue
            out.append(
                OwnedRule(
                    rule_id=rule.rule_id,
                    rule_name=rule.rule_name,
                    kind="poll",
                    schedule=f"every {rule.interval}",
                    last_run=rule.last_poll,
                    next_run=rule.next_poll,
                    next_run_local=rule.next_poll.isoformat() if rule.next_poll else None,
                    lag_seconds=(
                        max(0.0, _seconds(now - rule.next_poll)) if rule.next_poll else 0.0
                    ),
                )
            )
        return out

    def instances(self) -> list[SchedulerInstance]:
        """The scheduler instances: this process (instances do not share state yet)."""
        now = self._clock.now()
        owned = self.owned(now)
        with self._lock:
            heartbeat, ticks, running, started = (
                self.heartbeat,
                self.ticks,
                self._running,
                self.started_at,
            )
        last_runs = [r.last_run for r in owned if r.last_run is not None]
        next_runs = [r.next_run for r in owned if r.next_run is not None]
        return [
            SchedulerInstance(
                instance_id=self.instance_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                running=running,
                started_at=started,
                heartbeat=heartbeat,
                heartbeat_age_seconds=_seconds(now - heartbeat) if heartbeat else None,
                ticks=ticks,
                rules_owned=owned,
                last_run=max(last_runs) if last_runs else None,
                next_run=min(next_runs) if next_runs else None,
            )
        ]

    def status(self) -> SchedulerStatus:
        """Running, on time and healthy? With the reasons when not."""
        now = self._clock.now()
        owned = self.owned(now)
        with self._lock:
            heartbeat, ticks, running, started, error, leading = (
                self.heartbeat,
                self.ticks,
                self._running,
                self.started_at,
                self.last_error,
                self.leading,
            )
        age = _seconds(now - heartbeat) if heartbeat is not None else None
        lag = max((r.lag_seconds for r in owned), default=0.0)
        missed = sum(r.missed_runs for r in owned)
        problems = []
        if not running:
            problems.append("the scheduler is not running")
        if age is None:
            problems.append("no tick yet")
        elif age > self._stale_after:
            problems.append(f"the last tick was {age:g} s ago")
        if lag > self._stale_after and leading:  # a standby runs nothing: it cannot lag
            problems.append(f"a due run is {lag:g} s late")
        if error is not None:
            problems.append(f"the last tick failed: {error}")
        next_runs = [r.next_run for r in owned if r.next_run is not None]
        return SchedulerStatus(
            running=running,
            healthy=not problems,
            problems=problems,
            instance_id=self.instance_id,
            instance_count=1,
            started_at=started,
            last_tick=heartbeat,
            heartbeat_age_seconds=age,
            tick_seconds=self._tick_seconds,
            ticks=ticks,
            lag_seconds=lag,
            rules_scheduled=sum(r.kind == "schedule" for r in owned),
            rules_polled=sum(r.kind == "poll" for r in owned),
            missed_runs=missed,
            next_run=min(next_runs) if next_runs else None,
            last_error=error,
            leading=leading,
        )
