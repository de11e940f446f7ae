"""Columnar evaluation of a compiled rule plan: replay's fast path for per-event rules.

:func:`evaluate` runs one :class:`~cepkit.engine.RuleRuntime`'s *compiled plan* over the
columns of a DataFrame instead of row by row, and must give what the engine loop gives
(the same firings, ids included, and the same counters); a parity test checks it on
random frames. It evaluates, never defines: the condition tree is the plan's, each leaf
the numpy twin of the registry's operator
(:data:`~cepkit.operators.ARRAY_OPERATORS`, same name, same literal prepared by the
operator), anomaly scores the detector's own ``score_series``
per group, and every firing is built with :meth:`Firing.build` from the same parts
(identity, group, explain trace, suppression) the engine's ``_fire`` uses, by calling
the runtime's own ``_group``, ``_identity``, ``_suppressed`` and ``_verdict``.

Eligible (decided by :func:`why_not` before anything runs): per-event rules (metric
thresholds, event conditions, anomaly detectors) without enrichment, pending/recovery,
``value_path`` narrowing or an ``event_type``/``source`` filter the frame could fail,
whose condition leaves compare a numeric column (float64 or integer) with a number, or
a column of strings for (in)equality with strings, and whose timestamp column holds
numbers, strings or datetimes. An empty cell is a missing field, as replay passes it
on. Anomaly rules also need a numeric value column, group-by columns of integers,
booleans or strings, and a detector with a measured score tolerance
(:data:`SCORE_TOLERANCE`). Anything else raises :class:`NotColumnar` and takes the
engine loop, as does a frame found irregular on the way (an infinite or unreadable
timestamp, an anomaly score within rounding of the threshold).

Only the counters, the firing rows, their times and groups are computed eagerly; the
:class:`~cepkit.firing.Firing` objects are built when first asked for
(:meth:`Evaluation.firings`). Anomaly values (score, details) then come from the
group's detector replayed, score then learn as the engine does, up to the group's last
firing; on the way it checks that the streaming verdicts agree with the vectorised ones.

>>> import pandas as pd
>>> from cepkit.engine import RuleRuntime
>>> frame = pd.DataFrame({"timestamp": [0.0, 60.0, 120.0], "cpu": [95.0, float("nan"), 99.0]})
>>> runtime = RuleRuntime({"rule_name": "cpu", "trigger_type": "metric",
...     "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 97}})
>>> records = lambda rows: [{k: v for k, v in r.items() if v == v}
...                         for r in frame.iloc[rows].to_dict("records")]
>>> result = evaluate(runtime, frame, records)
>>> [(f.event_time.isoformat(), f.values) for f in result.firings()]
[('1970-01-01T00:02:00+00:00', {'cpu': 99.0})]
>>> runtime.stats.filtered_out, runtime.stats.evaluation_errors
(1, 1)
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from cepkit.anomaly import Detector, create_from_spec
from cepkit.arrays import Chunk, compile_condition
from cepkit.conditions import Condition, leaves
from cepkit.engine import RuleRuntime
from cepkit.errors import CepkitError
from cepkit.firing import Firing
from cepkit.operators import ARRAY_OPERATORS, OPERATORS, as_number
from cepkit.paths import MISSING, resolve
from cepkit.rules import AnomalyTrigger, EventTrigger, MetricTrigger
from cepkit.timefields import MS_ABOVE, EventTimeError, parse_event_time, to_datetime

__all__ = [
    "SCORE_TOLERANCE",
    "Evaluation",
    "NotColumnar",
    "epoch_seconds",
    "evaluate",
    "why_not",
]

log = logging.getLogger(__name__)

Rows = NDArray[np.intp]
#: the event dicts of the given rows, exactly as the engine loop would receive them
EventsAt = Callable[[Rows], list[dict[str, Any]]]

_CHUNK = 1 << 17  # rows per chunk: each column's chunk stays in cache between passes
_SAMPLES = 20  # RuntimeStats keeps this many error samples
_SMALLEST, _LARGEST = 1e-100, 1e100  # the detectors' documented accuracy range
_DAY = 86_400.0
_EPOCH = date(1970, 1, 1)
_TYPE_FIELDS = ("event_type", "type", "source")

#: How far a detector's ``score_series`` may stray from its streaming scores (absolute,
#: times ``max(1, |threshold|)``) for values of magnitude 0 or 1e-100 to 1e100 (outside
#: that range the rule takes the engine loop): a score that close to the threshold sends
#: the rule to the engine loop. The order-statistics detectors compute the same floats
#: both ways; a detector missing here (a new one, until measured) is never columnar.
SCORE_TOLERANCE: dict[str, float] = {"zscore": 1e-8, "ema": 1e-8, "iqr": 0.0, "mad": 0.0}


def epoch_seconds(series: pd.Series) -> pd.Series:
    """A datetime column as float epoch seconds (naive times are UTC; NaT becomes NaN),
    as replay turns datetime cells into event times.

    >>> epoch_seconds(pd.Series(pd.to_datetime(["1970-01-01T00:01:00.5", None]))).tolist()
    [60.5, nan]
    """
    series = series.dt.tz_localize("UTC") if series.dt.tz is None else series
    epoch = pd.Timestamp(0, tz="UTC")
    seconds: pd.Series = (series.dt.tz_convert("UTC") - epoch) / pd.Timedelta(seconds=1)
    return seconds


class NotColumnar(CepkitError):
    """The rule (or this frame) needs the engine loop; the message says why."""


# -- eligibility --------------------------------------------------------------------------


def _numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return isinstance(dtype, np.dtype) and (dtype.kind in "iu" or dtype == np.float64)


def _strings(series: pd.Series) -> bool:
    """Strings or empty cells only (a str or object column)."""
    return pd.api.types.is_string_dtype(series.dtype) and pd.api.types.infer_dtype(
        series, skipna=True
    ) in ("string", "empty")


def _groupable(series: pd.Series) -> bool:
    dtype = series.dtype
    return (isinstance(dtype, np.dtype) and dtype.kind in "iub") or _strings(series)


def why_not(runtime: RuleRuntime, frame: pd.DataFrame) -> str | None:
    """None when ``runtime``'s rule can be evaluated columnar over ``frame``, else why not.

    ``frame`` has string column names; empty cells are missing fields.
    """
    plan, rule = runtime.plan, runtime.rule
    spec = rule.trigger_spec
    if plan.mode != "event":
        return f"{plan.mode} rules run in the engine"
    if rule.enrichment:
        return "enrichment runs per event"
    if plan.controlled:
        return "pending/recovery depend on earlier evaluations"
    if isinstance(spec, MetricTrigger) and spec.value_path:
        return "value_path narrows each event"
    if isinstance(spec, EventTrigger) and (spec.event_type or spec.source):
        present = [f for f in _TYPE_FIELDS if f in frame.columns]
        if present:
            return f"the event_type/source filter reads {present[0]!r}"
    columns = frame.columns
    if not columns.is_unique:
        return "duplicate column names"
    time_field = plan.timestamp_field
    if time_field not in columns:
        return f"no {time_field!r} column: event times would come from the clock"
    stamps = frame[time_field]
    if not (
        _numeric(stamps) or _strings(stamps) or pd.api.types.is_datetime64_any_dtype(stamps.dtype)
    ):
        return f"timestamp column {time_field!r} holds neither times, numbers nor strings"
    if plan.event_filter is not None:
        for leaf in leaves(plan.event_filter.node):
            problem = _leaf_problem(leaf, frame)
            if problem:
                return problem
    if isinstance(spec, AnomalyTrigger):
        return _anomaly_problem(runtime, spec, frame)
    return None


def _leaf_problem(leaf: Condition, frame: pd.DataFrame) -> str | None:
    if "." in leaf.field:
        return f"dotted field {leaf.field!r}"
    if leaf.field not in frame.columns:  # missing everywhere: exists is false, others unknown
        return None
    text = not _numeric(frame[leaf.field])
    if text and not _strings(frame[leaf.field]):
        return f"field {leaf.field!r} holds neither numbers nor strings"
    if leaf.op == "exists":
        return None
    array_op = ARRAY_OPERATORS.get(leaf.op)
    literal = OPERATORS[leaf.op].prepare(leaf.value)
    if array_op is None or not (array_op.accepts_text if text else array_op.accepts)(literal):
        return f"{leaf.field} {leaf.op} {leaf.value!r} has no exact array form"
    return None


def _anomaly_problem(runtime: RuleRuntime, spec: AnomalyTrigger, frame: pd.DataFrame) -> str | None:
    path = spec.value_path
    if "." in path or path not in frame.columns or not _numeric(frame[path]):
        return f"value_path {path!r} is not a numeric column"
    if spec.anomaly_method not in SCORE_TOLERANCE:
        return f"no measured score tolerance for {spec.anomaly_method!r}"
    try:
        detector = create_from_spec(spec.anomaly_method, spec.model_dump())
    except ValueError as exc:  # the engine raises it when (if) the first value arrives
        return f"the detector cannot be built: {exc}"
    if type(detector).is_anomalous is not Detector.is_anomalous:
        return f"{spec.anomaly_method!r} overrides is_anomalous"
    for name in runtime.plan.group_by:
        if "." in name or (name in frame.columns and not _groupable(frame[name])):
            return f"group_by field {name!r} is not a column of integers or strings"
    return None


# -- the pass over the rows ---------------------------------------------------------------


@dataclass
class _Scan:
    """Where the event filter held (``rows``; None: every row), was unknown, or false."""

    rows: Rows | None
    unknown: int = 0
    false: int = 0
    unknown_tail: list[Rows] = field(default_factory=list)


def _column(frame: pd.DataFrame, name: str) -> NDArray[Any] | None:
    """The column as numpy (strings as an object array, NaN where empty), None if absent."""
    if name not in frame.columns:
        return None
    series = frame[name]
    return series.to_numpy() if _numeric(series) else series.to_numpy(dtype=object)


class _Times:
    """The timestamp column as the engine reads it: numbers are epoch seconds (above
    10^11 milliseconds or microseconds), strings go through ``parse_event_time`` (each
    distinct one once), and an empty cell is a missing time, which the clock supplies."""

    def __init__(self, runtime: RuleRuntime, series: pd.Series) -> None:
        self.clock = runtime.clock
        self.parsed: NDArray[np.float64] | None = None
        self.datetimes: pd.Series | None = None
        self.floats = False
        if pd.api.types.is_datetime64_any_dtype(series.dtype):  # converted per row asked
            self.datetimes = series
            return
        if _numeric(series):
            self.raw: NDArray[Any] = series.to_numpy()
            self.floats = self.raw.dtype.kind == "f"
            return
        codes, distinct = pd.factorize(series)  # an empty cell is -1
        try:
            parsed = [parse_event_time(v, runtime.plan.timestamp_field) for v in distinct]
        except EventTimeError as exc:
            raise NotColumnar(f"a timestamp the engine counts as invalid: {exc}") from None
        self.raw = np.asarray(codes, dtype=np.intp)
        self.parsed = np.asarray([*parsed, math.nan], dtype=np.float64)  # -1: NaN

    def check(self, start: int, stop: int) -> None:
        """NotColumnar for an infinite time in ``[start, stop)`` (not a time)."""
        if self.floats:
            chunk = self.raw[start:stop]
            low, high = np.minimum.reduce(chunk), np.maximum.reduce(chunk)  # NaN propagates
            if not (math.isfinite(low) and math.isfinite(high)) and bool(np.isinf(chunk).any()):
                raise NotColumnar("an infinite timestamp (the engine loop decides what it means)")

    def at(self, rows: Rows) -> NDArray[np.float64]:
        """The event times of ``rows``."""
        if self.datetimes is not None:
            raw: NDArray[Any] = epoch_seconds(self.datetimes.iloc[rows]).to_numpy()
        else:
            raw = self.raw[rows]
        if self.parsed is not None:
            out: NDArray[np.float64] = self.parsed[raw]
            for i in np.flatnonzero(raw < 0):
                out[i] = self.clock.now().timestamp()
            return out
        out = raw.astype(np.float64)
        for i in np.flatnonzero(~(np.abs(out) < MS_ABOVE)):  # ms, us, or missing (NaN)
            value = raw[i].item()
            out[i] = self.clock.now().timestamp() if value != value else parse_event_time(value)
        return out


def _scan(runtime: RuleRuntime, frame: pd.DataFrame, times: _Times) -> _Scan:
    """One pass over the rows in chunks: timestamps checked, the event filter evaluated."""
    plan = runtime.plan
    n = len(frame)
    check = plan.event_filter
    evaluator = (
        compile_condition(
            check.node, {leaf.field: _column(frame, leaf.field) for leaf in leaves(check.node)}
        )
        if check is not None
        else None
    )
    scan = _Scan(rows=None)
    found: list[Rows] = []
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        times.check(start, stop)
        if evaluator is None:
            continue
        true, known = evaluator(Chunk(start, stop))
        rows = true.nonzero()[0]
        if len(rows):
            found.append(rows + start)
        if known is None:
            scan.false += stop - start - len(rows)
            continue
        unknown = (~known).nonzero()[0]
        scan.unknown += len(unknown)
        scan.false += stop - start - len(rows) - len(unknown)
        if len(unknown):
            scan.unknown_tail = [*scan.unknown_tail, unknown[-_SAMPLES:] + start][-_SAMPLES:]
    if evaluator is not None:
        scan.rows = np.concatenate(found) if found else np.empty(0, dtype=np.intp)
    return scan


def _per_day(times: NDArray[np.float64]) -> Counter[str]:
    """Firings per UTC date, as ``to_datetime(t).date()`` counts them."""
    counts: Counter[str] = Counter()
    if not len(times):
        return counts
    days = np.floor_divide(times, _DAY)
    rest = times - days * _DAY
    edge = (rest < 1e-3) | (rest > _DAY - 1e-3)  # microsecond rounding may cross midnight
    plain, number = np.unique(days[~edge], return_counts=True)
    for day, count in zip(plain.tolist(), number.tolist(), strict=True):
        counts[(_EPOCH + timedelta(days=int(day))).isoformat()] += count
    for t in times[edge].tolist():
        counts[to_datetime(t).date().isoformat()] += 1
    return counts


# -- the evaluation -----------------------------------------------------------------------


@dataclass
class _Anomaly:
    """One group's scored values and the positions that fired, for the lazy replay."""

    key: Any
    values: NDArray[np.float64]
    fired: Rows  # positions in ``values``
    rows: Rows | None  # the frame row of each value; None: the position is the row

    def row(self, positions: Rows) -> Rows:
        return positions if self.rows is None else self.rows[positions]

    def row_at(self, position: int) -> int:
        return position if self.rows is None else int(self.rows[position])


@dataclass
class Evaluation:
    """What one rule did over the frame: counters are already in ``runtime.stats``.

    ``per_day`` and ``top_groups`` count the delivered (not suppressed) firings;
    :meth:`firings` builds the :class:`Firing` objects on first call.
    """

    runtime: RuleRuntime
    rows: Rows
    times: NDArray[np.float64]
    suppressed: list[bool]
    opens: list[tuple[Any, ...] | None]  # the suppression key each firing opens
    per_day: Counter[str]
    top_groups: Counter[str]
    events_at: EventsAt = field(repr=False)
    anomalies: list[_Anomaly] = field(default_factory=list, repr=False)
    _built: list[Firing] | None = field(default=None, init=False, repr=False)

    def firings(self) -> list[Firing]:
        """The firings, in the order the engine emits them (row order)."""
        if self._built is None:
            self._built = self._build()
        return self._built

    def _build(self) -> list[Firing]:
        runtime = self.runtime
        plan, rule = runtime.plan, runtime.rule
        spec = rule.trigger_spec
        verdicts = self._verdicts()
        check = plan.event_filter
        out: list[Firing] = []
        records = self.events_at(self.rows)
        for i, record in enumerate(records):
            row = int(self.rows[i])
            group = runtime._group(record)
            values: dict[str, Any] = {}
            if isinstance(spec, AnomalyTrigger):
                values = {spec.value_path: as_number(record[spec.value_path]), **verdicts[row]}
            elif isinstance(spec, MetricTrigger) and spec.threshold_field:
                value = resolve(record, spec.threshold_field)
                values = {spec.threshold_field: None if value is MISSING else value}
            group_dict = runtime._groups.get(group, {}) if group != () else {}
            ts, opens = float(self.times[i]), self.opens[i]
            firing = Firing.build(
                rule_key=plan.rule_key,
                rule_id=rule.rule_id,
                rule_name=rule.rule_name,
                severity=rule.severity,
                event_time=ts,
                group=group_dict,
                values=values,
                explain=check.explain(record) if check is not None else None,
                payload=dict(record),
                suppressed=self.suppressed[i],
                silence=None if opens is None else runtime._silence(opens, ts),
                identity=runtime._identity(record),
                notes=[],
            )
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "rule %s %s group=%s at=%s id=%s (columnar)",
                    rule.rule_name,
                    "suppressed" if firing.suppressed else "fired",
                    group_dict,
                    firing.event_time.isoformat(),
                    firing.firing_id,
                )
            out.append(firing)
        return out

    def _verdicts(self) -> dict[int, dict[str, Any]]:
        """Per firing row, the engine's anomaly values: the group's detector replayed
        (score then learn, status at each firing) up to the group's last firing."""
        runtime = self.runtime
        out: dict[int, dict[str, Any]] = {}
        for group in self.anomalies:
            detector = runtime._detector(group.key)
            fired = group.fired.tolist()  # positions, ascending
            values = group.values[: fired[-1] + 1].tolist()
            start = 0
            for end, scores in detector.score_learn_stretches(values):  # as the engine
                score = scores[-1]
                hits = {end - 1} if score is not None and detector.is_anomalous(score) else set()
                expected = set(fired[bisect_left(fired, start) : bisect_left(fired, end)])
                if hits != expected:
                    position = min(hits ^ expected)
                    raise CepkitError(
                        f"rule {runtime.rule.rule_name!r}: the vectorised verdict at row "
                        f"{group.row_at(position)} disagrees with the streaming detector; "
                        "replay with fast=False"
                    )
                if hits:
                    assert score is not None
                    out[group.row_at(end - 1)] = runtime._verdict(group.key, score, True)
                start = end
        return out


def evaluate(runtime: RuleRuntime, frame: pd.DataFrame, events_at: EventsAt) -> Evaluation:
    """Evaluate ``runtime``'s rule over every row of ``frame`` at once.

    Raises :class:`NotColumnar` (leaving ``runtime`` untouched) when the rule or the
    frame needs the engine loop. ``events_at(rows)`` returns those rows as the event
    dicts the engine loop would receive; it is called only for rows that fire (and the
    few whose errors are sampled). On success ``runtime.stats`` holds what the engine
    loop would have counted.
    """
    reason = why_not(runtime, frame)
    if reason is not None:
        raise NotColumnar(reason)
    times = _Times(runtime, frame[runtime.plan.timestamp_field])
    scan = _scan(runtime, frame, times)
    spec = runtime.rule.trigger_spec
    n = len(frame)
    if isinstance(spec, AnomalyTrigger):
        return _evaluate_anomaly(runtime, frame, events_at, scan, spec, times)
    rows = scan.rows if scan.rows is not None else np.arange(n, dtype=np.intp)
    _count(runtime, events_at, times, n, scan, [])
    return _finish(runtime, events_at, rows, times.at(rows), [])


def _count(
    runtime: RuleRuntime,
    events_at: EventsAt,
    times: _Times,
    n: int,
    scan: _Scan,
    bad_values: list[Rows],
) -> None:
    """Events, filtered-out rows and evaluation errors into ``runtime.stats``; the last
    error rows go through the engine's own error path, so the samples match too."""
    stats = runtime.stats
    stats.events += n
    stats.filtered_out += scan.false
    unknown = np.concatenate(scan.unknown_tail) if scan.unknown_tail else np.empty(0, np.intp)
    bad = bad_values[-1][-_SAMPLES:] if bad_values else np.empty(0, np.intp)
    tail = np.union1d(unknown[-_SAMPLES:], bad)[-_SAMPLES:]
    stats.evaluation_errors += scan.unknown + sum(len(b) for b in bad_values) - len(tail)
    if not len(tail):
        return
    is_bad = np.isin(tail, bad).tolist()
    for value_error, record, ts in zip(
        is_bad, events_at(tail), times.at(tail).tolist(), strict=True
    ):
        if value_error:  # the filter held, the value is not a finite number
            runtime._per_event(record, record, True, ts)
        else:
            runtime._judge(record, ts)


def _finish(
    runtime: RuleRuntime,
    events_at: EventsAt,
    rows: Rows,
    times: NDArray[np.float64],
    anomalies: list[_Anomaly],
) -> Evaluation:
    """Groups, suppression and the delivered counts of the firing rows (in row order)."""
    rule = runtime.rule
    needs_records = bool(runtime.plan.group_by) or rule.suppression is not None
    records = events_at(rows) if needs_records else None
    suppressed = [False] * len(rows)
    opens: list[tuple[Any, ...] | None] = [None] * len(rows)
    labels: Counter[str] = Counter()
    if records is not None:
        for i, record in enumerate(records):
            group = runtime._group(record)
            group_dict = runtime._groups.get(group, {}) if group != () else {}
            suppressed[i], opens[i] = runtime._suppressed(float(times[i]), group_dict, record)
            if not suppressed[i]:
                labels[_label(group_dict)] += 1
    delivered = len(rows) - sum(suppressed)
    if records is None and delivered:
        labels["(all)"] = delivered
    runtime.stats.firings += delivered
    runtime.stats.suppressed += len(rows) - delivered
    keep = ~np.asarray(suppressed, dtype=bool) if len(rows) else np.empty(0, dtype=bool)
    return Evaluation(
        runtime=runtime,
        rows=rows,
        times=times,
        suppressed=suppressed,
        opens=opens,
        per_day=_per_day(times[keep]),
        top_groups=labels,
        events_at=events_at,
        anomalies=anomalies,
    )


def _label(group: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items()) or "(all)"


def _group_codes(frame: pd.DataFrame, fields: Sequence[str], rows: Rows) -> NDArray[np.intp]:
    """A code per row, equal exactly when the engine's group keys are equal."""
    codes = np.zeros(len(rows), dtype=np.intp)
    for name in fields:
        if name not in frame.columns:
            continue
        column, _ = pd.factorize(frame[name].iloc[rows])  # a missing cell is -1 (None)
        column = np.asarray(column, dtype=np.intp) + 1
        codes = codes * (int(column.max(initial=0)) + 1) + column
    return np.asarray(pd.factorize(codes)[0], dtype=np.intp)


def _evaluate_anomaly(
    runtime: RuleRuntime,
    frame: pd.DataFrame,
    events_at: EventsAt,
    scan: _Scan,
    spec: AnomalyTrigger,
    times: _Times,
) -> Evaluation:
    """Score the rows the filter let through, per group, with the detector's
    ``score_series`` (from an empty history, as each group's detector starts)."""
    n = len(frame)
    held = scan.rows  # None: every row
    raw = frame[spec.value_path].to_numpy()
    numbers = (raw if held is None else raw[held]).astype(np.float64, copy=False)
    finite = np.isfinite(numbers)
    all_finite = bool(finite.all())
    values = numbers if all_finite else numbers[finite]
    value_rows = held  # the row of each value; None: its position is its row
    bad: list[Rows] = []
    if not all_finite:  # the engine reports these as evaluation errors, unlearned
        value_rows = np.flatnonzero(finite) if held is None else held[finite]
        bad = [np.flatnonzero(~finite) if held is None else held[~finite]]
    template = create_from_spec(spec.anomaly_method, spec.model_dump())
    threshold = template.threshold
    band = SCORE_TOLERANCE[spec.anomaly_method] * max(1.0, abs(threshold))
    if band and len(values):  # the tolerance holds for magnitudes in [1e-100, 1e100] (or 0)
        size = np.abs(values)
        if size.max() > _LARGEST or bool(((size > 0) & (size < _SMALLEST)).any()):
            raise NotColumnar("values outside the range where the detector's scores agree")
    groups: list[tuple[int, Rows | None]] = [(0, None)] if len(values) else []
    key_of: dict[int, Any] = {0: ()}
    if runtime.plan.group_by:
        held_rows = held if held is not None else np.arange(n, dtype=np.intp)
        codes = _group_codes(frame, runtime.plan.group_by, held_rows)
        value_codes = codes if all_finite else codes[finite]
        order = np.argsort(value_codes, kind="stable")
        bounds = np.flatnonzero(np.diff(value_codes[order])) + 1
        groups = (
            [(int(value_codes[p[0]]), p) for p in np.split(order, bounds)] if len(order) else []
        )
    insufficient = 0
    found: list[tuple[int, NDArray[np.float64], Rows, Rows | None]] = []
    for code, positions in groups:
        group_values = values if positions is None else values[positions]
        scores = template.score_series(group_values)
        insufficient += int(np.count_nonzero(np.isnan(scores)))
        fired = np.flatnonzero(scores > threshold - band)
        if band and len(fired) and bool((scores[fired] <= threshold + band).any()):
            raise NotColumnar("an anomaly score lies within rounding of the threshold")
        if len(fired):
            rows = value_rows
            if positions is not None:
                rows = positions if value_rows is None else value_rows[positions]
            found.append((code, group_values, fired, rows))
    # decided: from here on the runtime's state is written
    if runtime.plan.group_by:  # the engine's groups, in the order the engine first sees them
        firsts = np.sort(np.unique(codes, return_index=True)[1])
        for at, record in zip(firsts.tolist(), events_at(held_rows[firsts]), strict=True):
            key_of[int(codes[at])] = runtime._group(record)
    _count(runtime, events_at, times, n, scan, bad)
    runtime.stats.baseline_insufficient += insufficient
    anomalies = [
        _Anomaly(key=key_of[code], values=group_values, fired=fired, rows=rows)
        for code, group_values, fired, rows in found
    ]
    fired_rows = (
        np.sort(np.concatenate([a.row(a.fired) for a in anomalies]))
        if anomalies
        else np.empty(0, dtype=np.intp)
    )
    return _finish(runtime, events_at, fired_rows, times.at(fired_rows), anomalies)
