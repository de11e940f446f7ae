"""The flow's two steps around the engine: route batches to keys, run the engine per key.

:class:`Router` turns one input batch into keyed work items: for each rule of the
batch's tenant, the engine's :meth:`~cepkit.engine.RuleRuntime.partition_key` splits the
batch by group (key ``<rule>|<group JSON>``), or, for a rule whose state spans groups,
keeps it whole (key ``<rule>``). Order within a group is kept.

:class:`EngineLogic` is the Bytewax ``stateful_batch`` logic of one key: a
:class:`~cepkit.engine.RuleRuntime` fed with ``process_batch`` (the clock pinned to the
batch's receive time, as the live runner does), closing what is left open at the end of
a finite input (``on_eof``, as replay's flush) and, with ``idle_seconds``, advancing an
idle window rule's watermark by the idle wall-clock time (as the live runner's tick).
Its snapshot is plain data (the runtime's ``snapshot()``), so Bytewax recovery keeps
windows and baselines across restarts.

>>> catalog = RuleCatalog.of_documents([{"rule_name": "cpu", "trigger_type": "metric",
...     "group_by": ["host"],
...     "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90}}])
>>> router = Router(catalog)
>>> [(k, [e["cpu"] for e in w.events]) for k, w in router.route(
...     (0.0, "default", [{"host": "a", "cpu": 95}, {"host": "b", "cpu": 1}]))]
[('cpu|["a"]', [95]), ('cpu|["b"]', [1])]
>>> logic = EngineLogic(catalog, None)
>>> out, _ = logic.on_batch([Work("cpu", 0.0, [{"timestamp": 60, "host": "a", "cpu": 95}])])
>>> [json.loads(o[3])["values"] for o in out]
[{'cpu': 95}]
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.operators import StatefulBatchLogic

from cepkit.clock import Clock, PinnedClock, SystemClock
from cepkit.engine import RuleRuntime
from cepkit.errors import CepkitError
from cepkit.firing import Firing
from cepkit.flow.rules import FlowRule, RuleCatalog
from cepkit.flow.silences import SilenceOut, silence_out

__all__ = ["EngineLogic", "FiringOut", "Router", "Work"]

log = logging.getLogger(__name__)

#: what the engine step emits: (firing id, tenant, source, firing JSON, the suppression
#: it opens or None)
FiringOut = tuple[str, str, str, str, SilenceOut | None]
Batch = tuple[float, str, list[Any]]


@dataclass(frozen=True, slots=True)
class Work:
    """Events of one input batch for one key (rule, or rule and group)."""

    rule: str
    at: float
    events: list[Any]


class Router:
    """Splits input batches into keyed :class:`Work` (one prototype runtime per rule)."""

    def __init__(self, catalog: RuleCatalog) -> None:
        self.catalog = catalog
        self._prototypes: dict[tuple[str, int], RuleRuntime | None] = {}

    def _prototype(self, rule: FlowRule) -> RuleRuntime | None:
        slot = (rule.key, rule.version)
        if slot not in self._prototypes:
            try:
                self._prototypes[slot] = RuleRuntime(rule.document)
            except (CepkitError, ValueError) as exc:
                log.error("flow: rule %s cannot run: %s", rule.key, exc)
                self._prototypes[slot] = None
        return self._prototypes[slot]

    def route(self, batch: Batch) -> list[tuple[str, Work]]:
        """The keyed work items of one batch ``(at, tenant, events)``."""
        at, tenant, events = batch
        out: list[tuple[str, Work]] = []
        for rule in self.catalog.rules():
            if rule.tenant != tenant:  # a tenant's events reach its rules only
                continue
            runtime = self._prototype(rule)
            if runtime is None or not events:
                continue
            keys = runtime.partition_keys(events)
            if keys is None:
                out.append((rule.key, Work(rule.key, at, events)))
                continue
            groups: dict[Any, list[Any]] = {}
            for key, event in zip(keys, events, strict=True):
                group = groups.get(key)
                if group is None:
                    groups[key] = [event]
                else:
                    group.append(event)
            out.extend(
                (f"{rule.key}|{_text(g)}", Work(rule.key, at, evs)) for g, evs in groups.items()
            )
        return out


def _runs(values: list[Work]) -> list[tuple[str, float, list[Any]]]:
    """Consecutive work items of one receive time as one batch (one ``process_batch``:
    the same firings, in the same order, as one call per item)."""
    runs: list[tuple[str, float, list[Any]]] = []
    for work in values:
        if runs and runs[-1][0] == work.rule and runs[-1][1] == work.at:
            runs[-1][2].extend(work.events)
        else:
            runs.append((work.rule, work.at, list(work.events)))
    return runs


def _text(group: Any) -> str:
    return json.dumps(group, separators=(",", ":"), default=str)


class EngineLogic(StatefulBatchLogic[Work, FiringOut, dict[str, Any]]):
    """One key's runtime; see the module docstring."""

    def __init__(
        self,
        catalog: RuleCatalog,
        resume: dict[str, Any] | None,
        *,
        clock: Clock | None = None,
        idle_seconds: float = 0.0,
    ) -> None:
        self.catalog = catalog
        self.clock = PinnedClock(clock if clock is not None else SystemClock())
        self.idle_seconds = idle_seconds
        self.rule: FlowRule | None = None
        self.runtime: RuleRuntime | None = None
        self.last_arrival = -math.inf  # wall clock of the last batch
        self._advanced_at = -math.inf  # wall clock of the last idle advance
        self._resume = resume or None

    def _runtime_for(self, key: str) -> RuleRuntime | None:
        rule = self.catalog.get(key)
        if rule is None:
            return None
        if self.runtime is not None and self.rule is not None and self.rule.version == rule.version:
            return self.runtime
        resume, self._resume = self._resume, None
        try:
            if resume is not None and resume["rule"] == key and resume["version"] == rule.version:
                self.runtime = RuleRuntime.restore(rule.document, resume["state"], clock=self.clock)
                arrival = resume.get("last_arrival")
                self.last_arrival = -math.inf if arrival is None else arrival
            else:
                self.runtime = RuleRuntime(rule.document, clock=self.clock)
        except (CepkitError, ValueError, KeyError) as exc:
            log.error("flow: rule %s cannot run: %s", key, exc)
            self.runtime = None
            return None
        self.rule = rule
        return self.runtime

    def _out(self, firings: Iterable[Firing]) -> list[FiringOut]:
        assert self.rule is not None and self.runtime is not None
        source = "schedule" if self.runtime.plan.mode == "schedule" else "ingest"
        rule_id, tenant = self.rule.key, self.rule.tenant
        return [
            (
                f.firing_id,
                tenant,
                source,
                f.model_dump_json(),
                silence_out(f, rule_id=rule_id, tenant=tenant),
            )
            for f in firings
        ]

    def on_batch(self, values: list[Work]) -> tuple[Iterable[FiringOut], bool]:
        """Feed the batches to the runtime, in order."""
        out: list[FiringOut] = []
        for rule, at, events in _runs(values):
            runtime = self._runtime_for(rule)
            if runtime is None:
                return out, StatefulBatchLogic.DISCARD
            self.clock.pinned = datetime.fromtimestamp(at, UTC)
            try:
                out.extend(self._out(runtime.process_batch(events)))
            finally:
                self.clock.pinned = None
        self.last_arrival = self.clock.now().timestamp()
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[FiringOut], bool]:
        """The input ended: close every open window (as replay does at its end)."""
        if self.runtime is None:
            return [], StatefulBatchLogic.RETAIN
        return self._out(self.runtime.flush()), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        """When an idle window rule should move its watermark on (``idle_seconds``)."""
        runtime = self.runtime
        if self.idle_seconds <= 0 or runtime is None or runtime.plan.mode != "window":
            return None
        if not math.isfinite(self.last_arrival):
            return None
        since = max(self.last_arrival, self._advanced_at)
        return datetime.fromtimestamp(since, UTC) + timedelta(seconds=self.idle_seconds)

    def on_notify(self) -> tuple[Iterable[FiringOut], bool]:
        """Idle: advance the watermark by the idle time (the live runner's tick)."""
        runtime = self.runtime
        if runtime is None or not math.isfinite(runtime.max_event_time):
            return [], StatefulBatchLogic.RETAIN
        now = self.clock.now().timestamp()
        self._advanced_at = now
        return self._out(runtime.advance_idle(now - self.last_arrival)), StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict[str, Any]:
        """The key's state as plain data (pickled by Bytewax recovery)."""
        if self.runtime is None or self.rule is None:
            return self._resume or {}
        return {
            "rule": self.rule.key,
            "version": self.rule.version,
            "state": self.runtime.snapshot(),
            "last_arrival": self.last_arrival if math.isfinite(self.last_arrival) else None,
        }
