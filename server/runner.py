"""The live runner: the engine behind ``POST /cep/ingest``, durable through a journal.

One :class:`~cepkit.engine.RuleRuntime` per active rule, kept while the rule's version
is unchanged (an edit or re-activation starts the rule afresh). An ingest batch is

1. checked item by item (an item must be a JSON object with a readable ``timestamp``,
   if it has one); bad items are reported with their index, the rest go on;
2. appended to the ingest journal (durable before the answer);
3. fed to every runtime (each rule's trigger decides what concerns it) with the clock
   pinned to the batch's receive time, so events without a timestamp get the same time
   when the journal is replayed after a crash;
4. turned into events (one per firing id) in the event store.

:meth:`tick` moves time on without events: schedule rules fire on wall-clock time, and
windowed rules that stopped receiving events close their windows as if their event time
went on with the wall clock (the watermark of an idle rule advances by the idle time, so
a replay of old data over HTTP is not declared late). Ticks that can close a window are
journalled too. Every ``checkpoint_seconds`` the runner saves the state of every rule
with the journal position it covers; :meth:`start` restores it and replays the journal
after it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cepkit.batch import EventBatch
from cepkit.clock import Clock, PinnedClock
from cepkit.engine import RuleRuntime
from cepkit.errors import CepkitError
from cepkit.firing import Firing
from cepkit.rules import Rule
from cepkit.rules.parse import format_path, may_hold_surrogates, unencodable_text
from cepkit.store import EventStore, Journal, RuleStore, StoredEvent, StoredRule
from cepkit.store.events import Source
from cepkit.timefields import MS_ABOVE, EventTimeError, parse_event_time

__all__ = [
    "IngestItemError",
    "IngestResult",
    "LiveRunner",
    "Outcome",
    "check_items",
    "item_problem",
]

log = logging.getLogger(__name__)


class IngestItemError(BaseModel):
    """Why one item of an ingest batch was refused."""

    model_config = ConfigDict(frozen=True)

    index: int
    path: str
    message: str


class IngestResult(BaseModel):
    """The answer to one ingest: what was accepted, what was refused and why."""

    model_config = ConfigDict(frozen=True)

    accepted: int
    rejected: int = 0
    errors: list[IngestItemError] = Field(default_factory=list)
    firings: int = 0
    event_ids: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What one batch or tick produced: the new events (with their firings), suppressed
    firings with their rule and tenant, and the rules that produced them (for the action
    dispatcher)."""

    events: list[tuple[StoredEvent, Firing, Rule]] = field(default_factory=list)
    suppressed: list[tuple[Firing, Rule, str]] = field(default_factory=list)


@dataclass
class _Live:
    stored: StoredRule
    runtime: RuleRuntime
    last_arrival: float = -math.inf


OnOutcome = Callable[[Outcome], None]
T = TypeVar("T")


class LiveRunner:
    """Runs the active rules of ``rules`` on ingested events; see the module docstring."""

    def __init__(
        self,
        rules: RuleStore,
        events: EventStore,
        journal: Journal,
        *,
        clock: Clock,
        checkpoint_seconds: float = 10.0,
        on_outcome: OnOutcome | None = None,
    ) -> None:
        self._rules = rules
        self._events = events
        self._journal = journal
        self._clock = PinnedClock(clock)
        self._checkpoint_seconds = checkpoint_seconds
        self._on_outcome = on_outcome
        self._lock = threading.RLock()
        self._live: dict[str, _Live] = {}
        self._seq = 0
        self._last_checkpoint = time.monotonic()
        self.started = False

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> int:
        """Restore the last checkpoint and replay the journal after it; returns the number
        of journal entries replayed."""
        with self._lock:
            recovery = self._journal.recover()
            saved = recovery.state.get("rules", {}) if recovery.state else {}
            self._seq = recovery.seq
            self._sync(saved)
            outcomes = []
            for entry in recovery.entries:
                if entry.kind == "batch":
                    outcomes.append(
                        self._apply([dict(e) for e in entry.events], entry.at, entry.tenant)
                    )
                else:
                    outcomes.append(self._advance(entry.at))
                self._seq = entry.seq
            self.started = True
            if recovery.entries:
                log.info("live runner: replayed %d journal entries", len(recovery.entries))
                self.checkpoint()
        for outcome in outcomes:
            self._emit(outcome)
        return len(recovery.entries)

    def reload(self) -> None:
        """Pick up rule changes: new and edited active rules start, removed ones stop."""
        with self._lock:
            self._sync({})

    def _sync(self, saved: Mapping[str, Any]) -> None:
        wanted = {r.rule_id: r for r in self._rules.list(active=True)}
        for rule_id in list(self._live):
            current = wanted.get(rule_id)
            if current is None or current.version != self._live[rule_id].stored.version:
                del self._live[rule_id]
        for rule_id, stored in wanted.items():
            if rule_id in self._live:
                continue
            document = {**stored.document, "rule_id": rule_id}
            state = saved.get(rule_id)
            try:
                if state is not None and state.get("version") == stored.version:
                    runtime = RuleRuntime.restore(document, state["state"], clock=self._clock)
                else:
                    runtime = RuleRuntime(document, clock=self._clock)
            except (CepkitError, ValueError, KeyError) as exc:
                log.error("live runner: rule %s cannot run: %s", rule_id, exc)
                continue
            arrival = state.get("last_arrival", -math.inf) if state else -math.inf
            self._live[rule_id] = _Live(
                stored, runtime, arrival if arrival is not None else -math.inf
            )

    def checkpoint(self, *, if_due: bool = False) -> None:
        """Save every rule's state, then trim the journal up to it (with ``if_due``, only
        when ``checkpoint_seconds`` have passed since the last one: :attr:`checkpoint_due`).

        The state is taken under the runner's lock; the trim (deleting the journalled
        batches it covers, possibly many megabytes) runs after the lock is released and in
        small transactions, so ingests go on meanwhile.
        """
        with self._lock:
            if if_due and not self.checkpoint_due:  # another caller took it meanwhile
                return
            state = {
                "rules": {
                    rule_id: {
                        "version": live.stored.version,
                        "state": live.runtime.snapshot(),
                        "last_arrival": (
                            live.last_arrival if math.isfinite(live.last_arrival) else None
                        ),
                    }
                    for rule_id, live in self._live.items()
                }
            }
            seq = self._seq
            self._journal.checkpoint(seq, state, trim=False)
            self._last_checkpoint = time.monotonic()
        self._journal.trim(seq)

    # --- input ---------------------------------------------------------------------------

    def ingest(
        self, items: Sequence[Any], *, tenant: str = "default", text: str | None = None
    ) -> IngestResult:
        """Check, journal and run one batch; see the module docstring.

        ``text`` is the batch as the JSON text of a list, when the caller has it (the
        request body): the journal keeps it as it came when every item is accepted,
        instead of writing the events out again.
        """
        answer = self._ingest(items, tenant, text, wait=True)
        assert answer is not None  # a waiting ingest always answers
        return answer

    def try_ingest(
        self, items: Sequence[Any], *, tenant: str = "default", text: str | None = None
    ) -> IngestResult | None:
        """:meth:`ingest`, or None at once when another batch or tick holds the runner
        (an event loop calls this for batches it may run itself; a worker thread calls
        :meth:`ingest` otherwise)."""
        return self._ingest(items, tenant, text, wait=False)

    def _ingest(
        self, items: Sequence[Any], tenant: str, text: str | None, *, wait: bool
    ) -> IngestResult | None:
        good, errors = check_items(items, text)
        if not good:
            return IngestResult(accepted=0, rejected=len(errors), errors=errors)
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            received = self._clock.base.now().timestamp()
            self._seq = self._journal.append_batch(
                good, received_at=received, tenant=tenant, text=None if errors else text
            )
            outcome = self._apply(good, received, tenant)
        finally:
            self._lock.release()
        if wait:  # a caller that may block (a worker thread) also takes a due checkpoint
            self._maybe_checkpoint()
        self._emit(outcome)
        return IngestResult(
            accepted=len(good),
            rejected=len(errors),
            errors=errors,
            firings=len(outcome.events) + len(outcome.suppressed),
            event_ids=[event.event_id for event, _, _ in outcome.events],
        )

    def tick(self) -> Outcome:
        """Move time on to the clock's now (schedules, idle windows); see the docstring."""
        with self._lock:
            now = self._clock.base.now().timestamp()
            if any(self._tick_matters(live, now) for live in self._live.values()):
                self._seq = self._journal.append_tick(now)
                outcome = self._advance(now)
            else:
                outcome = Outcome()
        self._maybe_checkpoint()
        self._emit(outcome)
        return outcome

    def run_rule(self, rule_id: str, payload: dict[str, Any]) -> Outcome:
        """One payload through one running rule (a chained ``trigger`` action).

        Not journalled: a chain follows from a firing that is. A rule that is not running
        (inactive or unknown) does nothing.
        """
        with self._lock:
            live = self._live.get(rule_id)
            if live is None:
                log.warning("chained rule %s is not running; payload dropped", rule_id)
                return Outcome()
            rule = live.runtime.rule
            outcome = self._store([(f, rule) for f in live.runtime.process(payload)], "ingest")
        self._emit(outcome)
        return outcome

    # --- queries -------------------------------------------------------------------------

    def runtime(self, rule_id: str) -> RuleRuntime | None:
        """The running runtime of an active rule (None when it is not running)."""
        with self._lock:
            live = self._live.get(rule_id)
            return live.runtime if live is not None else None

    def inspect(self, rule_id: str, read: Callable[[RuleRuntime], T]) -> T | None:
        """``read(runtime)`` of an active rule's runtime, under the runner's lock (so no
        batch changes the state while it is read); None when the rule is not running."""
        with self._lock:
            live = self._live.get(rule_id)
            return None if live is None else read(live.runtime)

    @property
    def rule_count(self) -> int:
        """How many rules are running now (read without the lock: a hint for callers)."""
        return len(self._live)

    def running(self) -> list[str]:
        """The ids of the rules running now."""
        with self._lock:
            return list(self._live)

    # --- internals -----------------------------------------------------------------------

    def _tick_matters(self, live: _Live, now: float) -> bool:
        mode = live.runtime.plan.mode
        if mode == "schedule":
            return True
        return mode == "window" and math.isfinite(live.last_arrival) and now > live.last_arrival

    def _apply(self, events: list[dict[str, Any]], received: float, tenant: str) -> Outcome:
        self._clock.pinned = datetime.fromtimestamp(received, UTC)
        firings: list[tuple[Firing, Rule]] = []
        batch = EventBatch(events)  # the rules share its column reads
        try:
            for live in self._live.values():
                if live.stored.tenant != tenant:  # a tenant's events reach its rules only
                    continue
                live.last_arrival = received
                rule = live.runtime.rule
                firings.extend((f, rule) for f in live.runtime.process_batch(batch))
        finally:
            self._clock.pinned = None
        return self._store(firings, "ingest")

    def _advance(self, now: float) -> Outcome:
        self._clock.pinned = datetime.fromtimestamp(now, UTC)
        firings: list[tuple[Firing, Rule]] = []
        try:
            for live in self._live.values():
                runtime = live.runtime
                rule = runtime.rule
                if runtime.plan.mode == "schedule":
                    firings.extend((f, rule) for f in runtime.advance(now))
                elif math.isfinite(live.last_arrival):
                    idle = runtime.advance_idle(now - live.last_arrival)
                    firings.extend((f, rule) for f in idle)
        finally:
            self._clock.pinned = None
        return self._store(firings, "ingest")

    def _store(self, firings: list[tuple[Firing, Rule]], source: Source) -> Outcome:
        """Firings become events of their rule's tenant (schedule rules': ``schedule``)."""
        if not firings:
            return Outcome()
        rule_of = {f.firing_id: r for f, r in firings}
        firing_of = {f.firing_id: f for f, _ in firings}
        groups: dict[tuple[str, Source], list[Firing]] = {}
        suppressed: list[tuple[Firing, Rule, str]] = []
        for firing, rule in firings:
            live = self._live.get(rule.rule_id or "")
            tenant = live.stored.tenant if live is not None else "default"
            if firing.suppressed:
                suppressed.append((firing, rule, tenant))
                continue
            kind: Source = "schedule" if rule.trigger_type == "schedule" else source
            groups.setdefault((tenant, kind), []).append(firing)
        stored: list[StoredEvent] = []
        for (tenant, kind), chunk in groups.items():
            stored += self._events.add(chunk, source=kind, tenant=tenant)
        return Outcome(
            events=[(e, firing_of[e.event_id], rule_of[e.event_id]) for e in stored],
            suppressed=suppressed,
        )

    @property
    def checkpoint_due(self) -> bool:
        """Whether a checkpoint is due (``checkpoint_seconds`` since the last one)."""
        return time.monotonic() - self._last_checkpoint >= self._checkpoint_seconds

    def _maybe_checkpoint(self) -> None:
        if self.checkpoint_due:
            self.checkpoint(if_due=True)

    def _emit(self, outcome: Outcome) -> None:
        if self._on_outcome is not None and (outcome.events or outcome.suppressed):
            try:
                self._on_outcome(outcome)
            except Exception:  # a listener must never break ingest
                log.exception("live runner: outcome listener failed")


def check_items(
    items: Sequence[Any], text: str | None = None
) -> tuple[list[dict[str, Any]], list[IngestItemError]]:
    """The acceptable items of an ingest batch, and an error per refused one (its index,
    JSON path and why). ``text``, the batch's JSON text when known, spares the search
    for invalid Unicode unless it escapes a surrogate."""
    errors: list[IngestItemError] = []
    good: list[dict[str, Any]] = []
    deep = text is None or may_hold_surrogates(text)
    if not deep and _plain_objects(items):
        return list(items), errors
    for index, item in enumerate(items):
        problem = item_problem(item, deep=deep)
        if problem is not None:
            errors.append(IngestItemError(index=index, path=problem[0], message=problem[1]))
        else:
            good.append(item)
    return good, errors


def _plain_objects(items: Sequence[Any]) -> bool:
    """Whether every item is a JSON object whose ``timestamp`` is epoch seconds (an int or
    float below the millisecond range): what :func:`item_problem` accepts without looking
    further, tested on the whole batch at once (the common case of a large batch)."""
    if not all(item.__class__ is dict for item in items):
        return False
    try:
        stamps = list(map(itemgetter("timestamp"), items))
    except KeyError:  # some have none: they take the item by item check
        return False
    if not set(map(type, stamps)) <= {float, int}:
        return False
    try:
        return not stamps or bool(np.abs(np.asarray(stamps, dtype=np.float64)).max() < MS_ABOVE)
    except OverflowError:  # an int beyond float range
        return False


def item_problem(item: Any, *, deep: bool = True) -> tuple[str, str] | None:
    """(JSON path, message) when an ingest item cannot be accepted; ``deep`` also looks
    for text that is not valid Unicode (a lone surrogate, which nothing can store).

    >>> item_problem({"timestamp": "2026-02-08T10:30:00Z", "cpu": 1}) is None
    True
    >>> item_problem([1])
    ('', 'an event must be a JSON object, not list')
    >>> item_problem({"timestamp": "soon"})[0]
    'timestamp'
    """
    if not isinstance(item, dict):
        return "", f"an event must be a JSON object, not {type(item).__name__}"
    if deep:
        for loc in unencodable_text(item):
            return format_path(loc), "text must be valid Unicode (a lone surrogate)"
    raw = item.get("timestamp")
    if raw is None or (raw.__class__ is float and -MS_ABOVE < raw < MS_ABOVE):
        return None  # absent, or plain epoch seconds: readable
    if isinstance(raw, bool):
        return "timestamp", "timestamp must be ISO-8601 text or epoch seconds/ms"
    try:
        parse_event_time(raw, "timestamp")
    except EventTimeError as exc:
        return "timestamp", str(exc)
    return None
