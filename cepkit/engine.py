"""The engine: one :class:`RuleRuntime` per rule turns a stream of events into firings.

This is the only place rule semantics live; replay, the live server and the Bytewax flow
all feed events to a runtime (or to :class:`Engine`, which holds one per rule).

- **Time.** Each event's time comes from the window's ``timestamp_field`` (default
  ``timestamp``; ISO-8601 or epoch s/ms), or from the injected clock when absent. The
  watermark is the largest event time seen minus ``allowed_lateness``; a window
  ``[start, end)`` closes when the watermark reaches ``end``. An event whose every
  window has already closed is *late*: counted in :attr:`RuleRuntime.stats` with a
  sample, never silently dropped.
- **Windowed rules** (a ``window_config``, or a metric trigger with a ``duration``)
  filter events (see :mod:`cepkit.plan`), keep one set of windows per group-by key,
  aggregate incrementally, and check each window when it closes.
- **Per-event rules** check every event: event rules their pattern, metric rules their
  threshold, anomaly rules the detector's verdict against the group's baseline (scored
  first, then learned; never firing while the baseline is insufficient).
- **Schedule rules** fire at each cron instant the watermark passes.
- **Suppression** keeps at most one firing per ``interval`` (per key); the others are
  returned marked ``suppressed`` and counted, so nothing is lost.

>>> events = [{"timestamp": t, "host": "a", "cpu_usage": v}
...           for t, v in [(0, 80), (60, 95), (120, 96), (300, 10), (600, 0)]]
>>> rule = {"rule_name": "cpu_5m", "trigger_type": "metric",
...         "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 85,
...                          "duration": "5m"}}
>>> [(f.window_start.isoformat(), f.values) for f in run([rule], events)]
[('1970-01-01T00:00:00+00:00', {'cpu_usage': 90.33333333333333})]
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from cepkit.aggregations import Aggregator, create_aggregator
from cepkit.anomaly import DETECTORS, Detector, DetectorStatus, create_from_spec
from cepkit.arrays import Chunk, compile_condition
from cepkit.batch import EventBatch, event_time
from cepkit.clock import Clock, SystemClock
from cepkit.conditions import Condition, EvalProblem, leaves
from cepkit.durations import parse_duration
from cepkit.enrichment import Enricher, Resources
from cepkit.firing import Firing, Silence, digest
from cepkit.operators import ARRAY_OPERATORS, OPERATORS, as_number
from cepkit.paths import MISSING, resolve
from cepkit.plan import RulePlan, compile_plan
from cepkit.rules import EventTrigger, MetricTrigger, Rule, ScheduleTrigger, parse_rule
from cepkit.timefields import MS_ABOVE, EventTimeError, to_datetime
from cepkit.windows import Session, Tumbling

__all__ = [
    "Engine",
    "RuleRuntime",
    "RuntimeStats",
    "event_passes_trigger",
    "metric_subject",
    "run",
]

log = logging.getLogger(__name__)

_SAMPLES = 20
FiringKind = Literal["firing", "recovery"]
_MIN_BATCH = 32
_INF = math.inf


@dataclass
class RuntimeStats:
    """Counters of one runtime; ``*_samples`` keep the last few cases for reports."""

    events: int = 0
    filtered_out: int = 0
    evaluation_errors: int = 0
    invalid_time: int = 0
    late: int = 0
    skipped_values: int = 0
    windows_closed: int = 0
    baseline_insufficient: int = 0
    firings: int = 0
    suppressed: int = 0
    pending: int = 0
    recoveries: int = 0
    enrichment_errors: int = 0
    late_samples: deque[float] = field(default_factory=lambda: deque(maxlen=_SAMPLES))
    error_samples: deque[str] = field(default_factory=lambda: deque(maxlen=_SAMPLES))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters and samples."""
        out: dict[str, Any] = {k: v for k, v in self.__dict__.items() if not isinstance(v, deque)}
        out["late_samples"] = list(self.late_samples)
        out["error_samples"] = list(self.error_samples)
        return out


def event_passes_trigger(spec: Any, event: Mapping[str, Any]) -> str | None:
    """None when ``event`` passes an event trigger's ``event_type``/``source`` filter,
    else why not. The payload's ``event_type`` (or ``type``) and ``source`` are compared
    when it carries them; a payload without the field is not filtered on it."""
    if not isinstance(spec, EventTrigger):
        return None
    kind = event.get("event_type", event.get("type"))
    if spec.event_type is not None and kind is not None and kind != spec.event_type:
        return f"event_type {kind!r} is not {spec.event_type!r}"
    source = event.get("source")
    if spec.source is not None and source is not None and source != spec.source:
        return f"source {source!r} is not {spec.source!r}"
    return None


def metric_subject(spec: Any, event: Mapping[str, Any]) -> Any:
    """What a metric rule reads: the event narrowed to ``value_path`` when it holds that
    path (a raw endpoint response), else the event itself (a metric snapshot). A value
    that is not an object is named by the trigger's ``subject_name`` (``metric_name``, or
    the last part of ``value_path``), so the threshold and conditions can read it.

    >>> spec = MetricTrigger(value_path="data.cpu", operator=">", threshold=90)
    >>> metric_subject(spec, {"data": {"cpu": 95}})
    {'cpu': 95}
    """
    if isinstance(spec, MetricTrigger) and spec.value_path:
        narrowed = resolve(event, spec.value_path)
        if narrowed is not MISSING:
            if isinstance(narrowed, Mapping):
                return narrowed
            return {spec.subject_name: narrowed}
    return event


def _hashable(value: Any) -> Any:
    if value is MISSING:
        return None
    try:
        hash(value)
    except TypeError:
        return digest(value)
    return value


class _Window:
    """One open tumbling/sliding window of one group."""

    __slots__ = ("aggs", "count", "last_event")

    def __init__(self, aggs: list[Aggregator]) -> None:
        self.aggs = aggs
        self.count = 0
        self.last_event: Mapping[str, Any] | None = None


class _Session:
    """One open session of one group; keeps extracted values so sessions can merge."""

    __slots__ = ("items", "last", "start")

    def __init__(self, start: float, last: float) -> None:
        self.start = start
        self.last = last
        self.items: list[tuple[float, list[Any], Mapping[str, Any]]] = []


class RuleRuntime:
    """The state machine of one rule. ``process`` events, ``advance`` time, ``flush``.

    ``snapshot()`` returns the state as plain data and :meth:`restore` rebuilds a
    runtime from it (Bytewax recovery).
    """

    def __init__(
        self,
        rule: Rule | Mapping[str, Any],
        *,
        clock: Clock | None = None,
        resources: Resources | None = None,
    ) -> None:
        self.rule = parse_rule(rule)
        self.plan: RulePlan = compile_plan(self.rule)
        self.resources = resources
        self._enricher = (
            Enricher.build(self.rule.enrichment, resources, rule_name=self.rule.rule_name)
            if self.rule.enrichment
            else None
        )
        self._notes: list[str] = []
        self.clock = clock if clock is not None else SystemClock()
        self.stats = RuntimeStats()
        self._max_ts = -math.inf
        self._forced = -math.inf
        self._windows: dict[tuple[Any, float, float], _Window] = {}
        self._ends: list[float] = []
        self._by_end: dict[float, list[tuple[Any, float, float]]] = {}
        self._sessions: dict[Any, list[_Session]] = {}
        self._session_heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._detectors: dict[Any, Detector] = {}
        self._last_fired: dict[Any, float] = {}
        self._schedule_at: float | None = None
        self._next_due: tuple[float, float] | None = None  # (from, the cron instant after it)
        self._groups: dict[Any, dict[str, Any]] = {}
        self._suppress_for = (
            parse_duration(self.rule.suppression.interval) if self.rule.suppression else 0.0
        )
        self._streak: dict[Any, int] = {}
        self._active: set[Any] = set()
        spec = self.rule.trigger_spec
        self._filters_type = isinstance(spec, EventTrigger) and bool(spec.event_type or spec.source)
        self._narrows = isinstance(spec, MetricTrigger) and bool(spec.value_path)
        self._simple_groups = all("." not in f for f in self.plan.group_by)
        self._extractors = [
            (a.field, a.raw, a.field is not None and "." not in a.field)
            for a in self.plan.aggregates
        ]
        windowing = self.plan.windowing
        self._tumbling = windowing.size if isinstance(windowing, Tumbling) else None
        self._batchable = (
            self._tumbling is not None
            and self._enricher is None
            and not self._filters_type
            and not self._narrows
            and self.plan.event_filter is None
            and self._simple_groups
            and "." not in self.plan.timestamp_field
            and all(simple or name is None for name, raw, simple in self._extractors)
            and not any(raw for _, raw, _ in self._extractors)
        )
        self._per_event_columns = self._columns_of_per_event()

    def _columns_of_per_event(self) -> list[Condition] | None:
        """The condition leaves a per-event rule reads, when its batches may go columnar."""
        plan = self.plan
        if plan.mode != "event" or self._enricher is not None or plan.controlled:
            return None
        if self._narrows or "." in plan.timestamp_field:
            return None
        found = leaves(plan.event_filter.node) if plan.event_filter is not None else []
        for leaf in found:
            if "." in leaf.field or (leaf.op != "exists" and leaf.op not in ARRAY_OPERATORS):
                return None
        return found

    def anomaly_status(self) -> list[tuple[dict[str, Any], DetectorStatus]]:
        """Each group's baseline (anomaly rules; empty otherwise), groups as dicts."""
        return [
            (dict(self._groups.get(key, {})) if key != () else {}, detector.status())
            for key, detector in self._detectors.items()
        ]

    # -- time ---------------------------------------------------------------------------

    @property
    def watermark(self) -> float:
        """Largest event time seen minus the allowed lateness (or what ``advance`` set)."""
        return max(self._max_ts - self.plan.lateness, self._forced)

    @property
    def max_event_time(self) -> float:
        """The largest event time seen (``-inf`` before the first event)."""
        return self._max_ts

    def _event_time(self, event: Mapping[str, Any]) -> float | None:
        field_name = self.plan.timestamp_field
        try:
            return event_time(event.get(field_name, MISSING), field_name, self.clock)
        except EventTimeError as exc:
            self.stats.invalid_time += 1
            self.stats.error_samples.append(str(exc))
            return None

    # -- entry points -------------------------------------------------------------------

    def process(self, event: Mapping[str, Any]) -> list[Firing]:
        """Feed one event; returns the firings it caused (including closed windows)."""
        self.stats.events += 1
        if not isinstance(event, Mapping):
            self.stats.evaluation_errors += 1
            self.stats.error_samples.append(f"event is not an object: {type(event).__name__}")
            return []
        ts = self._event_time(event)
        if ts is None:
            return []
        plan = self.plan
        out: list[Firing] = []
        if plan.mode == "schedule":
            if self._schedule_at is None:
                self._schedule_at = ts
            self._max_ts = max(self._max_ts, ts)
            return self._due_schedules()
        if plan.mode == "event":
            subject, answer = self._judge(event, ts)
            if subject is not None:
                out.extend(self._per_event(event, subject, answer, ts))
            self._max_ts = max(self._max_ts, ts)
            return out
        subject, answer = self._judge(event, ts)
        if answer is True:
            self._into_windows(subject if self._enricher is not None else event, subject, ts)
        if ts > self._max_ts:
            self._max_ts = ts
            watermark = self.watermark
            if (self._ends and self._ends[0] <= watermark) or (
                self._session_heap and self._session_heap[0][0] <= watermark
            ):
                out.extend(self._close(watermark))
        return out

    def process_batch(self, events: Sequence[Mapping[str, Any]] | EventBatch) -> list[Firing]:
        """Feed many events; the same firings, in the same order, as ``process`` on each.

        Two kinds of rule read the batch column by column. Tumbling-window rules over
        plain numeric events find their windows with numpy and add aggregates per window.
        Per-event rules (thresholds, event patterns, anomaly detectors) without
        enrichment, pending/recovery or ``value_path`` evaluate their condition over the
        batch's columns with :func:`cepkit.arrays.compile_condition` and run only the
        events it holds through the per-event path (the detector scores and learns them
        in order). Anything irregular in the batch (a null, a nested value, a string
        among numbers, an unreadable time) sends the whole batch through ``process``,
        which defines the semantics. Pass an :class:`~cepkit.batch.EventBatch` to share
        the column reads between the rules that see the same batch.
        """
        batch = events if isinstance(events, EventBatch) else None
        items = events.events if isinstance(events, EventBatch) else events
        if len(items) >= _MIN_BATCH:
            if self._batchable:
                fast = self._columnar(batch or EventBatch(items))
                if fast is not None:
                    return fast
            elif self._per_event_columns is not None:
                fast = self._columnar_per_event(batch or EventBatch(items))
                if fast is not None:
                    return fast
        out: list[Firing] = []
        for event in items:
            out.extend(self.process(event))
        return out

    def _columnar_per_event(self, batch: EventBatch) -> list[Firing] | None:
        """The per-event columnar path of :meth:`process_batch` (None: take the loop)."""
        plan = self.plan
        leaves_ = self._per_event_columns
        assert leaves_ is not None
        columns: dict[str, Any] = {}
        for leaf in leaves_:
            regular, column = batch.column(leaf.field)
            if not regular:
                return None
            if column is not None and leaf.op != "exists":
                array_op = ARRAY_OPERATORS[leaf.op]
                literal = OPERATORS[leaf.op].prepare(leaf.value)
                text = column.dtype.kind == "O"
                if not (array_op.accepts_text if text else array_op.accepts)(literal):
                    return None
            columns[leaf.field] = column
        times = batch.times(plan.timestamp_field, self.clock)
        if times.invalid:
            return None
        n = len(batch)
        events = batch.events
        stamps = times.stamps
        if self._filters_type:
            spec = self.rule.trigger_spec
            assert isinstance(spec, EventTrigger)
            passes = batch.derived(
                ("event_passes_trigger", spec.event_type, spec.source),
                lambda: _trigger_mask(batch, spec),
            )
        else:
            passes = None
        check = plan.event_filter
        if check is not None:
            true, known = compile_condition(check.node, columns)(Chunk(0, n))
            if passes is not None:
                true = true & passes
                known = passes if known is None else known & passes
        else:
            true, known = (np.ones(n, dtype=bool) if passes is None else passes), None
        held = np.flatnonzero(true)
        unknown = np.flatnonzero(~known) if known is not None else np.empty(0, np.intp)
        if passes is not None:
            unknown = unknown[passes[unknown]]  # filtered out by the type is not unknown
        stats = self.stats
        stats.events += n
        stats.filtered_out += n - len(held) - len(unknown)
        samples = unknown[-_SAMPLES:]
        stats.evaluation_errors += len(unknown) - len(samples)
        out: list[Firing] = []
        per_event = self._per_event
        sampled = set(samples.tolist())
        stamp_list = stamps.tolist()
        anomaly = plan.anomaly
        if anomaly is not None and not sampled:
            values = batch.numbers(anomaly.value_path) if "." not in anomaly.value_path else None
            if values is not None:
                out = self._score_rows(events, held, stamp_list, values)
                self._max_ts = max(self._max_ts, float(stamps.max()))
                return out
        for row in np.union1d(held, samples).tolist() if len(samples) else held.tolist():
            event = events[row]
            if row in sampled:  # the engine's own path for the error sample
                self._judge(event, stamp_list[row])
            else:
                out.extend(per_event(event, event, True, stamp_list[row]))
        if n:
            self._max_ts = max(self._max_ts, float(stamps.max()))
        return out

    def _columnar(self, batch: EventBatch) -> list[Firing] | None:
        plan = self.plan
        size = self._tumbling
        assert size is not None
        events = batch.events
        grouped = batch.codes(plan.group_by)  # shared by the rules grouping alike
        if grouped is None:  # a group field absent or unhashable somewhere: the loop
            return None
        codes, group_ids = grouped
        single = len(plan.group_by) == 1  # keys are the bare values: wrap them in 1-tuples
        # the time and every aggregated field: plain finite numbers in every event (the
        # batch's columns, shared with the other rules; NaN stands for absent)
        ts = batch.numbers(plan.timestamp_field)
        if ts is None or np.isnan(ts).any() or not np.abs(ts).max() < MS_ABOVE:
            return None
        arrays: list[NDArray[np.float64] | None] = []
        for name, _, _ in self._extractors:
            column = None if name is None else batch.numbers(name)
            if name is not None and (column is None or np.isnan(column).any()):
                return None
            arrays.append(column)
        group_of: dict[int, Any] = {}
        for raw_key, code in group_ids.items():
            key = (raw_key,) if single else raw_key
            group_of[code] = key
            if key not in self._groups:
                self._groups[key] = dict(zip(plan.group_by, key, strict=True))
        starts = np.floor_divide(ts, size) * size
        running = np.maximum.accumulate(ts)
        before = np.empty_like(ts)
        before[0] = self._max_ts
        np.maximum(running[:-1], self._max_ts, out=before[1:])
        watermark_before = np.maximum(before - plan.lateness, self._forced)
        late = starts + size <= watermark_before
        self.stats.events += len(events)
        if late.any():
            late_idx = np.flatnonzero(late)
            self.stats.late += len(late_idx)
            self.stats.late_samples.extend(ts[late_idx[-_SAMPLES:]].tolist())
        keep = np.flatnonzero(~late)
        if len(keep):
            order = keep[np.lexsort((starts[keep], codes[keep]))]
            ordered_codes, ordered_starts = codes[order], starts[order]
            change = np.flatnonzero(
                (ordered_codes[1:] != ordered_codes[:-1])
                | (ordered_starts[1:] != ordered_starts[:-1])
            )
            bounds = np.concatenate(([0], change + 1, [len(order)]))
            firsts = order[bounds[:-1]]
            ts_sorted = ts[order].tolist()
            value_lists = [None if a is None else a[order].tolist() for a in arrays]
            for seg in np.argsort(firsts, kind="stable").tolist():
                lo, hi = int(bounds[seg]), int(bounds[seg + 1])
                start = float(ordered_starts[lo])
                end = start + size
                key = (group_of[int(ordered_codes[lo])], start, end)
                window = self._windows.get(key)
                if window is None:
                    window = self._windows[key] = _Window(self._new_aggs())
                    if end not in self._by_end:
                        self._by_end[end] = []
                        heapq.heappush(self._ends, end)
                    self._by_end[end].append(key)
                window.count += hi - lo
                window.last_event = events[int(order[hi - 1])]
                seg_ts = ts_sorted[lo:hi]
                for agg, values in zip(window.aggs, value_lists, strict=True):
                    agg.add_many([None] * (hi - lo) if values is None else values[lo:hi], seg_ts)
        self._max_ts = max(self._max_ts, float(running[-1]))
        return self._close(self.watermark)

    def advance(self, watermark: float | datetime) -> list[Firing]:
        """Move the watermark to at least ``watermark`` (epoch seconds or datetime) and
        return what closes; the live runner calls this as wall-clock time passes."""
        value = watermark.timestamp() if isinstance(watermark, datetime) else float(watermark)
        self._forced = max(self._forced, value)
        if self.plan.mode == "schedule":
            if self._schedule_at is None:
                self._schedule_at = value
            return self._due_schedules()
        return self._close(self.watermark) if self.plan.mode == "window" else []

    def advance_idle(self, idle_seconds: float) -> list[Firing]:
        """A windowed rule that got no event for ``idle_seconds`` of wall-clock time: its
        event time goes on with the clock, so the watermark moves to the largest event
        time seen plus the idle time (minus the allowed lateness) and what that closes
        fires. Nothing for other rules, before the first event or without idle time.
        The live runner's tick and the flow's idle notification both call this.

        >>> rt = RuleRuntime({"rule_name": "n", "trigger_type": "event", "trigger_spec": {},
        ...     "window_config": {"type": "tumbling", "size": "1m"},
        ...     "aggregation": [{"type": "count"}]})
        >>> rt.process({"timestamp": 10}), [f.values for f in rt.advance_idle(50)]
        ([], [{'count': 1}])
        """
        if self.plan.mode != "window" or idle_seconds <= 0 or not math.isfinite(self._max_ts):
            return []
        return self.advance(self._max_ts + idle_seconds - self.plan.lateness)

    def flush(self) -> list[Firing]:
        """Close every open window (end of a replay); schedules are not extrapolated."""
        if self.plan.mode != "window":
            return []
        return self._close(math.inf)

    # -- filtering ------------------------------------------------------------------------

    def _judge(self, event: Mapping[str, Any], ts: float) -> tuple[Any, bool | None]:
        """(subject, answer of the event filter); subject None when the trigger spec's
        ``event_type``/``source`` rule the event out. The subject is the event, or a
        metric rule's snapshot; an unknown answer is counted as an evaluation error."""
        spec = self.plan.rule.trigger_spec
        if self._filters_type and event_passes_trigger(spec, event) is not None:
            self.stats.filtered_out += 1
            return None, False
        subject = metric_subject(spec, event) if self._narrows else event
        if self._enricher is not None:
            subject, self._notes = self._enricher.apply(subject, ts=ts, group=self._group(subject))
            self.stats.enrichment_errors += len(self._notes)
            self.stats.error_samples.extend(self._notes)
        check = self.plan.event_filter
        if check is None:
            return subject, True
        answer = check.fn(subject)
        if answer is None:
            self._evaluation_error(check.evaluate(subject).errors)
        elif not answer:
            self.stats.filtered_out += 1
        return subject, answer

    def _evaluation_error(self, errors: Iterable[Any]) -> None:
        self.stats.evaluation_errors += 1
        for error in errors:
            self.stats.error_samples.append(f"{error.path}: {error.message}")

    def _group(self, subject: Any) -> Any:
        fields = self.plan.group_by
        if not fields:
            return ()
        if self._simple_groups and isinstance(subject, dict):
            key = tuple(subject.get(f) for f in fields)
            if key in self._groups:
                return key
        key = tuple(_hashable(resolve(subject, f)) for f in fields)
        if key not in self._groups:
            self._groups[key] = {
                f: (None if (v := resolve(subject, f)) is MISSING else v)
                for f in self.plan.group_by
            }
        return key

    def partition_key(self, event: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The group ``event`` falls in, for running one runtime per group elsewhere
        (the Bytewax flow); None when this rule's state spans groups, so it must see
        every event in one runtime: no group-by, a schedule, enrichment, suppression
        whose key does not include every group-by field (one suppression state would
        span groups), or windows (a rule has one watermark, moved by
        every group's events: split by group, windows would close at other times and
        other events would be late).

        >>> rule = {"rule_name": "cpu", "trigger_type": "metric", "group_by": ["host"],
        ...         "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 9}}
        >>> RuleRuntime(rule).partition_key({"host": "a", "cpu": 1})
        ('a',)
        """
        keys = self.partition_keys([event])
        return None if keys is None else keys[0]

    def partition_keys(self, events: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]] | None:
        """:meth:`partition_key` of each event (None when the rule is not partitioned)."""
        fields = self.plan.group_by
        policy = self.rule.suppression
        if (
            not fields
            or self.plan.mode != "event"
            or self._enricher is not None
            or (policy is not None and not set(fields) <= set(policy.key))
        ):
            return None
        if self._simple_groups and not self._narrows:
            try:  # plain objects with hashable values: the fields' values as they are
                if len(fields) == 1:
                    name = fields[0]
                    keys: list[tuple[Any, ...]] = [(e.get(name),) for e in events]
                else:
                    keys = [tuple(e.get(f) for f in fields) for e in events]
                hash(tuple(keys))
                return keys
            except (AttributeError, TypeError):
                pass
        spec = self.rule.trigger_spec
        return [
            tuple(
                _hashable(resolve(metric_subject(spec, e) if self._narrows else e, f))
                for f in fields
            )
            for e in events
        ]

    # -- per-event rules ----------------------------------------------------------------

    def _per_event(
        self, event: Mapping[str, Any], subject: Any, answer: bool | None, ts: float
    ) -> list[Firing]:
        plan = self.plan
        if answer is None or (answer is False and not plan.controlled):
            return []
        group = self._group(subject)
        values: dict[str, Any] = {}
        matched = answer
        anomaly = plan.anomaly
        if anomaly is not None and answer:
            raw = resolve(subject, anomaly.value_path)
            number = as_number(raw) if raw is not MISSING else None
            if number is None or not math.isfinite(number):
                problem = EvalProblem(path=anomaly.value_path, message=f"not a number: {raw!r}")
                self._evaluation_error([problem])
                return []
            score = self._score_and_learn(group, float(number))
            matched = score is not None and self._detector(group).is_anomalous(score)
            if not matched and not plan.controlled:
                return []  # nothing fires (the value is learned)
            values = {anomaly.value_path: number, **self._verdict(group, score, matched)}
        elif isinstance(plan.rule.trigger_spec, MetricTrigger):
            spec = plan.rule.trigger_spec
            if spec.threshold_field:
                value = resolve(subject, spec.threshold_field)
                values = {spec.threshold_field: None if value is MISSING else value}
        return self._decide(event, subject, group, values, matched, ts)

    def _decide(
        self,
        event: Mapping[str, Any],
        subject: Any,
        group: Any,
        values: dict[str, Any],
        matched: bool,
        ts: float,
    ) -> list[Firing]:
        """The per-event evaluation's outcome through pending/recovery to a firing."""
        check = self.plan.event_filter
        notes = list(self._notes)
        return self._controlled(
            group,
            matched,
            subject,
            lambda kind: self._fire(
                ts,
                group,
                values,
                explain=check.explain(subject) if check is not None else None,
                payload=subject if self._enricher is not None else event,
                identity=self._identity(event),
                kind=kind,
                notes=notes,
            ),
        )

    def _score_rows(
        self,
        events: Sequence[Mapping[str, Any]],
        rows: NDArray[np.intp],
        stamps: list[float],
        column: NDArray[np.float64],
    ) -> list[Firing]:
        """An anomaly rule's held rows of a batch, in order: score then learn each value
        (``column``, exact floats) with its group's detector, as :meth:`_per_event` does;
        an absent value takes :meth:`_per_event` itself (which reports it)."""
        anomaly = self.plan.anomaly
        assert anomaly is not None
        out: list[Firing] = []
        stats = self.stats
        values = column[rows]
        # each group's rows and values in order (a rule without group-by has one group);
        # an absent value is reported by _per_event, and neither fires nor learns
        series: dict[Any, tuple[list[int], list[float]]] = {}
        if not self.plan.group_by:
            absent = np.isnan(values)
            if absent.any():
                for row in rows[absent].tolist():
                    out.extend(self._per_event(events[row], events[row], True, stamps[row]))
                rows, values = rows[~absent], values[~absent]
            series[()] = (rows.tolist(), values.tolist())
        else:  # in the events' order, which is the order the groups are first seen in
            group_of = self._group
            for row, x in zip(rows.tolist(), values.tolist(), strict=True):
                if x != x:
                    out.extend(self._per_event(events[row], events[row], True, stamps[row]))
                    continue
                group = group_of(events[row])
                taken = series.get(group)
                if taken is None:
                    taken = series[group] = ([], [])
                taken[0].append(row)
                taken[1].append(x)
        anomalies: list[tuple[int, Any, dict[str, Any]]] = []
        for group, (group_rows, xs) in series.items():
            detector = self._detector(group)
            for end, scores in detector.score_learn_stretches(xs):  # read at each anomaly
                stats.baseline_insufficient += scores.count(None)
                score = scores[-1]
                if score is not None and detector.is_anomalous(score):
                    row = group_rows[end - 1]
                    number = as_number(events[row][anomaly.value_path])
                    verdict = self._verdict(group, score, True)
                    anomalies.append((row, group, {anomaly.value_path: number, **verdict}))
        anomalies.sort(key=lambda found: found[0])  # the firings in the events' order
        for row, group, found in anomalies:
            event = events[row]
            out.extend(self._decide(event, event, group, found, True, stamps[row]))
        return out

    def _identity(self, event: Mapping[str, Any]) -> str:
        """What tells two per-event firings at the same instant apart: the event's content
        without its timestamp field (the instant is in the id already, in whatever
        spelling the timestamp came: ISO text, epoch seconds or milliseconds)."""
        field_name = self.plan.timestamp_field
        return digest({k: v for k, v in event.items() if k != field_name})

    def _controlled(
        self,
        group: Any,
        matched: bool,
        context: Any,
        fire: Callable[[FiringKind], list[Firing]],
    ) -> list[Firing]:
        """Pending and recovery: decide whether this evaluation of ``group`` fires."""
        plan = self.plan
        if not plan.controlled:
            return fire("firing") if matched else []
        if matched:
            streak = self._streak[group] = self._streak.get(group, 0) + 1
            if plan.pending is not None and streak < plan.pending:
                self.stats.pending += 1
                return []
            if plan.recovery is not None:
                if group in self._active:
                    return []
                self._active.add(group)
            return fire("firing")
        self._streak.pop(group, None)
        if plan.recovery is not None and group in self._active:
            answer = plan.recovery.fn(context)
            if answer is None:
                self._evaluation_error(plan.recovery.evaluate(context).errors)
            elif answer:
                self._active.discard(group)
                return fire("recovery")
        return []

    def _score_and_learn(self, group: Any, x: float) -> float | None:
        """Score ``x`` against the group's baseline (None while insufficient), then learn it."""
        score = self._detector(group).score_learn_one(x)
        if score is None:
            self.stats.baseline_insufficient += 1
        return score

    def _verdict(self, group: Any, score: float | None, matched: bool) -> dict[str, Any]:
        """Lab 4's fields: is_anomaly, score, method, details (only built when it fires)."""
        detector = self._detector(group)
        out: dict[str, Any] = {"is_anomaly": matched, "score": score, "method": detector.name}
        if matched:
            out["details"] = detector.status().model_dump(exclude={"method"}) | {
                "threshold": detector.threshold
            }
        return out

    def _detector(self, group: Any) -> Detector:
        detector = self._detectors.get(group)
        if detector is None:
            spec = self.plan.anomaly
            assert spec is not None
            detector = create_from_spec(spec.anomaly_method, spec.model_dump())
            self._detectors[group] = detector
        return detector

    # -- windows ------------------------------------------------------------------------

    def _extract(self, subject: Any) -> list[Any]:
        """Each aggregate's input from one event (MISSING when it does not contribute)."""
        out: list[Any] = []
        plain = isinstance(subject, dict)
        for field_name, raw_wanted, simple in self._extractors:
            if field_name is None:
                out.append(None)
                continue
            if simple and plain:
                raw = subject.get(field_name, MISSING)
                if raw.__class__ is float and -_INF < raw < _INF:  # finite (NaN fails too)
                    out.append(raw)
                    continue
            else:
                raw = resolve(subject, field_name)
            if raw is MISSING or raw_wanted:
                out.append(raw)
                continue
            number = as_number(raw)
            if number is None or not math.isfinite(number):
                self.stats.skipped_values += 1
                out.append(MISSING)
            else:
                out.append(float(number))
        return out

    def _new_aggs(self) -> list[Aggregator]:
        return [create_aggregator(a.name) for a in self.plan.aggregates]

    def _into_windows(self, event: Mapping[str, Any], subject: Any, ts: float) -> None:
        windowing = self.plan.windowing
        group = self._group(subject)
        inputs = self._extract(subject)
        watermark = self.watermark
        if isinstance(windowing, Session):
            self._into_session(event, group, inputs, ts, windowing.timeout, watermark)
            return
        assert windowing is not None
        size = self._tumbling
        if size is not None:  # the common case, inlined: Tumbling.spans's formula
            start = (ts // size) * size
            end = start + size
            if end <= watermark:
                self._late(ts)
                return
            window = self._windows.get((group, start, end))
            if window is not None:
                window.count += 1
                window.last_event = event
                for agg, value in zip(window.aggs, inputs, strict=True):
                    if value is not MISSING:
                        agg.add(value, ts)
                return
        placed = False
        for start, end in windowing.spans(ts):
            if end <= watermark:
                continue
            key = (group, start, end)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(self._new_aggs())
                if end not in self._by_end:
                    self._by_end[end] = []
                    heapq.heappush(self._ends, end)
                self._by_end[end].append(key)
            window.count += 1
            window.last_event = event
            for agg, value in zip(window.aggs, inputs, strict=True):
                if value is not MISSING:
                    agg.add(value, ts)
            placed = True
        if not placed:
            self._late(ts)

    def _late(self, ts: float) -> None:
        self.stats.late += 1
        self.stats.late_samples.append(ts)
        log.debug(
            "rule %s: late event at %s (watermark %s)", self.rule.rule_name, ts, self.watermark
        )

    def _into_session(
        self,
        event: Mapping[str, Any],
        group: Any,
        inputs: list[Any],
        ts: float,
        timeout: float,
        watermark: float,
    ) -> None:
        sessions = self._sessions.setdefault(group, [])
        touching = [s for s in sessions if s.start - timeout < ts < s.last + timeout]
        if not touching and ts + timeout <= watermark:
            self._late(ts)
            return
        merged = _Session(ts, ts)
        for session in touching:
            sessions.remove(session)
            merged.start = min(merged.start, session.start)
            merged.last = max(merged.last, session.last)
            merged.items.extend(session.items)
        merged.items.append((ts, inputs, event))
        sessions.append(merged)
        heapq.heappush(self._session_heap, (merged.last + timeout, next(self._seq), group))

    def _close(self, watermark: float) -> list[Firing]:
        out: list[Firing] = []
        if isinstance(self.plan.windowing, Session):
            return self._close_sessions(watermark)
        while self._ends and self._ends[0] <= watermark:
            end = heapq.heappop(self._ends)
            for key in self._by_end.pop(end):
                window = self._windows.pop(key)
                group, start, _ = key
                out.extend(
                    self._window_closed(
                        group, start, end, window.aggs, window.count, window.last_event
                    )
                )
        return out

    def _close_sessions(self, watermark: float) -> list[Firing]:
        out: list[Firing] = []
        timeout = self.plan.windowing.timeout  # type: ignore[union-attr]
        while self._session_heap and self._session_heap[0][0] <= watermark:
            end, _, group = heapq.heappop(self._session_heap)
            sessions = self._sessions.get(group, [])
            for session in list(sessions):
                if session.last + timeout == end:
                    sessions.remove(session)
                    aggs = self._new_aggs()
                    for ts, inputs, _ in session.items:
                        for agg, value in zip(aggs, inputs, strict=True):
                            if value is not MISSING:
                                agg.add(value, ts)
                    last_event = session.items[-1][2] if session.items else None
                    out.extend(
                        self._window_closed(
                            group, session.start, end, aggs, len(session.items), last_event
                        )
                    )
            if not sessions:
                self._sessions.pop(group, None)
        return out

    def _window_closed(
        self,
        group: Any,
        start: float,
        end: float,
        aggs: list[Aggregator],
        count: int,
        last_event: Mapping[str, Any] | None,
    ) -> list[Firing]:
        self.stats.windows_closed += 1
        plan = self.plan
        values: dict[str, Any] = {
            a.alias: agg.result(start, end) for a, agg in zip(plan.aggregates, aggs, strict=True)
        }
        group_dict = self._groups.get(group, {})
        context = {
            **group_dict,
            **values,
            "window_start": start,
            "window_end": end,
            "event_count": count,
        }
        matched = True
        check = plan.window_check
        if check is not None:
            answer = check.fn(context)
            if answer is None:
                self._evaluation_error(check.evaluate(context).errors)
                return []
            matched = bool(answer)
        if plan.anomaly is not None and matched:
            x = values.get(plan.anomaly.value_path)
            if x is None:
                return []
            score = self._score_and_learn(group, float(x))
            matched = score is not None and self._detector(group).is_anomalous(score)
            values = {**values, **self._verdict(group, score, matched)}
        payload = dict(last_event) if last_event is not None else None
        return self._controlled(
            group,
            matched,
            context,
            lambda kind: self._fire(
                end,
                group,
                values,
                explain=check.explain(context) if check is not None else None,
                payload=payload,
                window=(start, end),
                kind=kind,
            ),
        )

    # -- schedules ----------------------------------------------------------------------

    def _due_schedules(self) -> list[Firing]:
        spec = self.plan.rule.trigger_spec
        assert isinstance(spec, ScheduleTrigger) and self._schedule_at is not None
        horizon = self.watermark
        out: list[Firing] = []
        while True:
            if self._next_due is None or self._next_due[0] != self._schedule_at:
                after = datetime.fromtimestamp(self._schedule_at, UTC)  # cron: once per instant
                self._next_due = (self._schedule_at, spec.next_times(after, 1)[0].timestamp())
            nxt = self._next_due[1]
            if nxt > horizon:
                break
            self._schedule_at = nxt
            out.extend(self._fire(nxt, (), {"scheduled_time": nxt}, explain=None, payload=None))
        return out

    # -- firing -------------------------------------------------------------------------

    def _fire(
        self,
        ts: float,
        group: Any,
        values: dict[str, Any],
        *,
        explain: Any,
        payload: Mapping[str, Any] | None,
        window: tuple[float, float] | None = None,
        identity: Any = None,
        kind: FiringKind = "firing",
        notes: list[str] | None = None,
    ) -> list[Firing]:
        rule = self.rule
        group_dict = self._groups.get(group, {}) if group != () else {}
        suppressed, opens = (
            self._suppressed(ts, group_dict, payload) if kind == "firing" else (False, None)
        )
        firing = Firing.build(
            rule_key=self.plan.rule_key,
            rule_id=rule.rule_id,
            rule_name=rule.rule_name,
            severity=rule.severity,
            event_time=ts,
            group=group_dict,
            window_start=window[0] if window else None,
            window_end=window[1] if window else None,
            values=values,
            explain=explain,
            payload=dict(payload) if payload is not None else None,
            suppressed=suppressed,
            silence=None if opens is None else self._silence(opens, ts),
            identity=identity,
            kind=kind,
            notes=notes,
        )
        if kind == "recovery":
            self.stats.recoveries += 1
        elif suppressed:
            self.stats.suppressed += 1
        else:
            self.stats.firings += 1
        if log.isEnabledFor(logging.DEBUG):  # a storm's firings: no time formatted for nothing
            log.debug(
                "rule %s %s group=%s at=%s id=%s",
                rule.rule_name,
                "recovered" if kind == "recovery" else ("suppressed" if suppressed else "fired"),
                group_dict,
                firing.event_time.isoformat(),
                firing.firing_id,
            )
        return [firing]

    def _suppressed(
        self, ts: float, group: Mapping[str, Any], payload: Mapping[str, Any] | None
    ) -> tuple[bool, tuple[Any, ...] | None]:
        """Whether a firing at ``ts`` is suppressed; when it is not (and the rule has a
        suppression), the key whose suppression it opens (:meth:`_silence` of it)."""
        policy = self.rule.suppression
        if policy is None:
            return False, None
        key = tuple(
            _hashable(group[k] if k in group else resolve(payload or {}, k)) for k in policy.key
        )
        interval = self._suppress_for
        last = self._last_fired.get(key)
        if last is not None and ts - last < interval:
            return True, None
        self._last_fired[key] = ts
        return False, key

    def _silence(self, key: tuple[Any, ...], last: float) -> Silence:
        """The suppression of ``key`` opened by its firing at ``last``."""
        policy = self.rule.suppression
        assert policy is not None
        return Silence(
            key=dict(zip(policy.key, key, strict=True)),
            until=to_datetime(last + self._suppress_for),
        )

    def silences(self) -> list[Silence]:
        """The suppressions this runtime holds open at its latest event time: one per key
        whose last firing is less than the rule's interval before it (a late event
        earlier than a key's last firing is suppressed too)."""
        policy = self.rule.suppression
        if policy is None or not self._last_fired:
            return []
        now, interval = self._max_ts, self._suppress_for
        return [
            self._silence(key, last)
            for key, last in sorted(self._last_fired.items(), key=lambda item: item[1])
            if now - last < interval
        ]

    # -- state --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The runtime's state as plain, JSON-serialisable data."""
        return {
            "version": 1,
            "rule_key": self.plan.rule_key,
            "max_ts": _finite(self._max_ts),
            "forced": _finite(self._forced),
            "groups": [[list(k), v] for k, v in self._groups.items()],
            "windows": [
                [list(group), start, end, w.count, w.last_event, [a.snapshot() for a in w.aggs]]
                for (group, start, end), w in self._windows.items()
            ],
            "sessions": [
                [list(group), s.start, s.last, [[ts, _plain(inp), ev] for ts, inp, ev in s.items]]
                for group, sessions in self._sessions.items()
                for s in sessions
            ],
            "detectors": [[list(k), d.snapshot()] for k, d in self._detectors.items()],
            "last_fired": [[list(k), t] for k, t in self._last_fired.items()],
            "streak": [[list(k), n] for k, n in self._streak.items()],
            "active": [list(k) for k in self._active],
            "enrichment": self._enricher.snapshot() if self._enricher is not None else None,
            "schedule_at": self._schedule_at,
            "stats": self.stats.as_dict(),
        }

    @classmethod
    def restore(
        cls,
        rule: Rule | Mapping[str, Any],
        state: Mapping[str, Any],
        *,
        clock: Clock | None = None,
        resources: Resources | None = None,
    ) -> RuleRuntime:
        """A runtime for ``rule`` in the state ``snapshot()`` returned."""
        runtime = cls(rule, clock=clock, resources=resources)
        if state.get("rule_key") != runtime.plan.rule_key:
            raise ValueError(
                f"snapshot is of rule {state.get('rule_key')!r}, not {runtime.plan.rule_key!r}"
            )
        runtime._max_ts = -math.inf if state["max_ts"] is None else state["max_ts"]
        runtime._forced = -math.inf if state["forced"] is None else state["forced"]
        runtime._groups = {tuple(k): v for k, v in state["groups"]}
        classes = [type(a) for a in runtime._new_aggs()]
        for group, start, end, count, last_event, aggs in state["windows"]:
            window = _Window([c.restore(s) for c, s in zip(classes, aggs, strict=True)])
            window.count, window.last_event = count, last_event
            key = (tuple(group), start, end)
            runtime._windows[key] = window
            if end not in runtime._by_end:
                runtime._by_end[end] = []
                heapq.heappush(runtime._ends, end)
            runtime._by_end[end].append(key)
        timeout = getattr(runtime.plan.windowing, "timeout", 0.0)
        for group, start, last, items in state["sessions"]:
            session = _Session(start, last)
            session.items = [(ts, _unplain(inp), ev) for ts, inp, ev in items]
            runtime._sessions.setdefault(tuple(group), []).append(session)
            heapq.heappush(
                runtime._session_heap, (last + timeout, next(runtime._seq), tuple(group))
            )
        spec = runtime.plan.anomaly
        for group, det_state in state["detectors"]:
            assert spec is not None
            runtime._detectors[tuple(group)] = DETECTORS[spec.anomaly_method].restore(det_state)
        runtime._last_fired = {tuple(k): t for k, t in state["last_fired"]}
        runtime._streak = {tuple(k): n for k, n in state["streak"]}
        runtime._active = {tuple(k) for k in state["active"]}
        if runtime._enricher is not None and state.get("enrichment") is not None:
            runtime._enricher.restore(state["enrichment"])
        runtime._schedule_at = state["schedule_at"]
        stats = dict(state["stats"])
        late, errors = stats.pop("late_samples"), stats.pop("error_samples")
        runtime.stats = RuntimeStats(**stats)
        runtime.stats.late_samples.extend(late)
        runtime.stats.error_samples.extend(errors)
        return runtime


def _trigger_mask(batch: EventBatch, spec: EventTrigger) -> NDArray[np.bool_]:
    """:func:`event_passes_trigger` of every event of the batch: by columns when
    :func:`_type_mask` can, else event by event."""
    passes = _type_mask(batch, spec)
    if passes is None:
        test = (event_passes_trigger(spec, event) is None for event in batch.events)
        passes = np.fromiter(test, dtype=bool, count=len(batch))
    return passes


def _type_mask(batch: EventBatch, spec: EventTrigger) -> NDArray[np.bool_] | None:
    """:func:`event_passes_trigger` over a batch's columns, when they make it plain: every
    event names its ``event_type`` in text (so ``type`` is never consulted), and
    ``source`` is text or absent. None otherwise (the caller asks event by event)."""
    passes = np.ones(len(batch), dtype=bool)
    if spec.event_type is not None:
        kinds = batch.texts("event_type")
        if kinds is None:
            return None
        passes &= kinds == spec.event_type
    if spec.source is not None:
        sources = batch.strings("source")
        if sources is None:
            return None
        absent = np.fromiter((s.__class__ is not str for s in sources), bool, len(sources))
        passes &= (sources == spec.source) | absent
    return passes


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


_MISSING_MARK = {"$missing": True}


def _plain(inputs: list[Any]) -> list[Any]:
    return [_MISSING_MARK if v is MISSING else v for v in inputs]


def _unplain(inputs: list[Any]) -> list[Any]:
    return [MISSING if v == _MISSING_MARK else v for v in inputs]


class Engine:
    """Many rules over one stream: each event goes to every rule's runtime, in order."""

    def __init__(
        self,
        rules: Iterable[Rule | Mapping[str, Any]],
        *,
        clock: Clock | None = None,
        resources: Resources | None = None,
    ) -> None:
        self.clock = clock if clock is not None else SystemClock()
        self.runtimes = [RuleRuntime(rule, clock=self.clock, resources=resources) for rule in rules]

    def process(self, event: Mapping[str, Any]) -> list[Firing]:
        """Feed one event to every rule."""
        out: list[Firing] = []
        for runtime in self.runtimes:
            out.extend(runtime.process(event))
        return out

    def advance(self, watermark: float | datetime) -> list[Firing]:
        """Advance every rule's watermark."""
        out: list[Firing] = []
        for runtime in self.runtimes:
            out.extend(runtime.advance(watermark))
        return out

    def flush(self) -> list[Firing]:
        """Close every open window of every rule."""
        out: list[Firing] = []
        for runtime in self.runtimes:
            out.extend(runtime.flush())
        return out

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters per rule name."""
        return {r.rule.rule_name: r.stats.as_dict() for r in self.runtimes}


def run(
    rules: Iterable[Rule | Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    *,
    clock: Clock | None = None,
    resources: Resources | None = None,
) -> list[Firing]:
    """Every firing of ``rules`` over ``events`` (in order), open windows flushed at the end.

    Suppressed firings are included, marked ``suppressed=True``. ``resources`` are the
    lookup tables, models and Redis client that enrichment may use.
    """
    engine = Engine(rules, clock=clock, resources=resources)
    out: list[Firing] = []
    for event in events:
        out.extend(engine.process(event))
    out.extend(engine.flush())
    return out
