"""Aggregations by name, and the incremental aggregators the engine feeds.

Names: avg sum min max count stddev distinct_count rate first last, plus percentiles
``pNN`` / ``pNN.N`` (p1 .. p99.99...). Rules are validated against
:func:`check_aggregation_name`; the engine builds one aggregator per (rule, group key,
window) with :func:`create_aggregator`, calls ``add(value, ts)`` per event and
``result(start, end)`` when it evaluates the window. Adding an aggregation is one class
plus one line in :data:`AGGREGATORS` (:data:`AGGREGATIONS` follows from it).

The contract with the engine (``add`` is its hot loop, so ``add`` checks nothing):

- ``ts`` is the event time in epoch seconds (used by ``first`` and ``last``).
- avg sum min max stddev and the percentiles take **finite floats**: the engine coerces
  the field to float and skips events whose field is missing, non-numeric, NaN or ±inf
  (pandas skips NaN too). distinct_count, first and last take any JSON scalar;
  distinct_count ignores None (like ``nunique`` and SQL ``COUNT(DISTINCT)``) and counts
  a list or an object by its JSON text.
  count and rate ignore the value (pass None).
- Empty: count 0, sum 0.0, distinct_count 0, rate 0.0 (given bounds); avg, min, max,
  stddev, the percentiles, first and last None. stddev is None below two values.
- ``result(start, end)``: the window bounds in epoch seconds; only rate reads them
  (count / (end - start) per second, None without bounds).
- ``snapshot()`` is a JSON-serialisable dict naming its ``type``;
  :func:`restore_aggregator` (or ``cls.restore``) rebuilds it exactly: continuing after a
  restore gives bit-identical results. ``merge(other)`` folds in another aggregator of
  the same kind (``other`` counts as arrived later).
- avg and sum add left to right in plain floats (as fast as a bare ``s += v``): the
  error is at most ``(n - 1) * 2**-53 * sum(|x|)``, far below 1e-9 of the result unless
  the values cancel each other out. stddev uses Welford's update, shifted by the first
  value. Percentiles keep every value and interpolate as ``pandas.Series.quantile``.

>>> import json
>>> agg = create_aggregator("p95")
>>> for i, x in enumerate([3.0, 1.0, 4.0, 1.0, 5.0]):
...     agg.add(x, 1000.0 + i)
>>> agg.result()
4.8
>>> restore_aggregator(json.loads(json.dumps(agg.snapshot()))).result()
4.8
>>> check_aggregation_name("AVG"), check_aggregation_name("p99.9")
('avg', 'p99.9')
>>> needs_field("count"), needs_field("avg")
(False, True)
>>> check_aggregation_name("median")
Traceback (most recent call last):
...
ValueError: unknown aggregation 'median'; expected one of: avg, sum, min, max, count, ...
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

__all__ = [
    "AGGREGATIONS",
    "AGGREGATORS",
    "Aggregator",
    "Avg",
    "Count",
    "DistinctCount",
    "First",
    "Last",
    "Max",
    "Min",
    "Percentile",
    "Rate",
    "Result",
    "Scalar",
    "Stddev",
    "Sum",
    "check_aggregation_name",
    "create_aggregator",
    "default_alias",
    "needs_field",
    "restore_aggregator",
]

#: A JSON scalar, as distinct_count, first and last take it.
Scalar = str | int | float | bool | None
#: What ``result()`` returns.
Result = float | int | str | None

_PERCENTILE = re.compile(r"^p([1-9]\d?(?:\.\d+)?)$")


class Aggregator(ABC):
    """One incremental aggregate: ``add`` per event, ``result`` at evaluation.

    Subclasses set ``name`` (the registry key and the snapshot's ``type``) and
    ``needs_field``, declare ``__slots__``, and keep ``add`` free of checks and calls.
    """

    __slots__ = ()

    name: ClassVar[str]
    needs_field: ClassVar[bool] = True

    @abstractmethod
    def add(self, value: Any, ts: float) -> None:
        """Add one value seen at event time ``ts`` (epoch seconds); see the module contract."""

    def add_many(self, values: list[Any], ts: list[float]) -> None:
        """``add`` each value in order (the engine's batch path); the result is identical."""
        for value, t in zip(values, ts, strict=True):
            self.add(value, t)

    @abstractmethod
    def result(self, start: float | None = None, end: float | None = None) -> Result:
        """The aggregate of what was added; ``start``/``end`` are the window bounds."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The state as a JSON-serialisable dict, with ``type`` naming the aggregation."""

    @classmethod
    @abstractmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        """An aggregator in the state ``snapshot()`` returned (ValueError if another type)."""

    def merge(self, other: Self) -> None:
        """Fold ``other`` (same kind; its values count as arrived later) into this one."""
        raise NotImplementedError(f"{self.label} aggregators cannot be merged")

    @property
    def label(self) -> str:
        """The aggregation this computes, e.g. ``'avg'`` or ``'p95'``."""
        return self.name

    @classmethod
    def _check_type(cls, state: Mapping[str, Any]) -> None:
        if state.get("type") != cls.name:
            raise ValueError(f"cannot restore a {cls.name!r} aggregator from {state!r:.80}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}: {self.result()!r}>"


class Avg(Aggregator):
    """The mean; None when empty.

    >>> agg = Avg()
    >>> for x in (1.0, 2.0, 6.0):
    ...     agg.add(x, 0.0)
    >>> agg.result(), Avg().result()
    (3.0, None)
    """

    __slots__ = ("_n", "_sum")
    name = "avg"

    def __init__(self) -> None:
        self._sum = 0.0
        self._n = 0

    def add(self, value: float, ts: float) -> None:
        self._sum += value
        self._n += 1

    def add_many(self, values: list[Any], ts: list[float]) -> None:
        total = self._sum
        for value in values:  # in order, so the sum is bit-identical to add()
            total += value
        self._sum = total
        self._n += len(values)

    def result(self, start: float | None = None, end: float | None = None) -> float | None:
        return self._sum / self._n if self._n else None

    def snapshot(self) -> dict[str, Any]:
        return {"type": self.name, "sum": self._sum, "n": self._n}

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        cls._check_type(state)
        agg = cls()
        agg._sum, agg._n = float(state["sum"]), int(state["n"])
        return agg

    def merge(self, other: Self) -> None:
        self._sum += other._sum
        self._n += other._n


class Sum(Aggregator):
    """The sum; 0.0 when empty (as ``pandas.Series.sum``).

    >>> agg = Sum()
    >>> agg.add(2.5, 0.0); agg.add(-1.0, 0.0)
    >>> agg.result(), Sum().result()
    (1.5, 0.0)
    """

    __slots__ = ("_sum",)
    name = "sum"

    def __init__(self) -> None:
        self._sum = 0.0

    def add(self, value: float, ts: float) -> None:
        self._sum += value

    def add_many(self, values: list[Any], ts: list[float]) -> None:
        total = self._sum
        for value in values:
            total += value
        self._sum = total

    def result(self, start: float | None = None, end: float | None = None) -> float:
        return self._sum

    def snapshot(self) -> dict[str, Any]:
        return {"type": self.name, "sum": self._sum}

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        cls._check_type(state)
        agg = cls()
        agg._sum = float(state["sum"])
        return agg

    def merge(self, other: Self) -> None:
        self._sum += other._sum


class _Extreme(Aggregator):
    """Shared by min and max: one value, an infinite sentinel while empty."""

    __slots__ = ("_best",)
    _EMPTY: ClassVar[float]

    def __init__(self) -> None:
        self._best = self._EMPTY

    def result(self, start: float | None = None, end: float | None = None) -> float | None:
        return None if self._best == self._EMPTY else self._best

    def snapshot(self) -> dict[str, Any]:
        return {"type": self.name, "value": self.result()}

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        cls._check_type(state)
        agg = cls()
        if state["value"] is not None:
            agg._best = float(state["value"])
        return agg

    def merge(self, other: Self) -> None:
        if other._best != other._EMPTY:
            self.add(other._best, 0.0)


class Min(_Extreme):
    """The smallest value; None when empty.

    >>> agg = Min()
    >>> for x in (3.0, -1.5, 2.0):
    ...     agg.add(x, 0.0)
    >>> agg.result(), Min().result()
    (-1.5, None)
    """

    __slots__ = ()
    name = "min"
    _EMPTY = math.inf

    def add(self, value: float, ts: float) -> None:
        if value < self._best:
            self._best = value

    def add_many(self, values: list[Any], ts: list[float]) -> None:
        if values:
            self.add(min(values), 0.0)


class Max(_Extreme):
    """The largest value; None when empty.

    >>> agg = Max()
    >>> for x in (3.0, -1.5, 2.0):
    ...     agg.add(x, 0.0)
    >>> agg.result(), Max().result()
    (3.0, None)
    """

    __slots__ = ()
    name = "max"
    _EMPTY = -math.inf

    def add(self, value: float, ts: float) -> None:
        if value > self._best:
            self._best = value

    def add_many(self, values: list[Any], ts: list[float]) -> None:
        if values:
            self.add(max(values), 0.0)


class _Tally(Aggregator):
    """Shared by count and rate: how many events, whatever their value."""

    __slots__ = ("_n",)
    needs_field = False

    def __init__(self) -> None:
        self._n = 0

    def add(self, value: object, ts: float) -> None:
        self._n += 1

    def add_many(self, values: list[Any], ts: list[float]) -> None:
        self._n += len(values)

    def snapshot(self) -> dict[str, Any]:
        return {"type": self.name, "n": self._n}

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        cls._check_type(state)
        agg = cls()
        agg._n = int(state["n"])
        return agg

    def merge(self, other: Self) -> None:
        self._n += other._n


class Count(_Tally):
    """How many events; the value is ignored (the engine passes None).

    >>> agg = Count()
    >>> agg.add(None, 0.0); agg.add(None, 1.0)
    >>> agg.result(), Count().result()
    (2, 0)
    """

    __slots__ = ()
    name = "count"

    def result(self, start: float | None = None, end: float | None = None) -> int:
        return self._n


class Rate(_Tally):
    """Events per second in the window: count / (end - start); None without bounds.

    >>> agg = Rate()
    >>> for ts in (0.0, 1.0, 2.0):
    ...     agg.add(None, ts)
    >>> agg.result(0.0, 60.0), agg.result(), Rate().result(0.0, 60.0)
    (0.05, None, 0.0)
    """

    __slots__ = ()
    name = "rate"

    def result(self, start: float | None = None, end: float | None = None) -> float | None:
        if start is None or end is None or end <= start:
            return None
        return self._n / (end - start)


class Stddev(Aggregator):
    """The sample standard deviation (ddof=1, as pandas); None below two values.

    Welford's update on the values less the first one: stable where a sum of squares
    cancels, and where a large offset (epoch times, byte counters) would swamp the spread.

    >>> agg = Stddev()
    >>> for x in (2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0):
    ...     agg.add(1e9 + x, 0.0)
    >>> round(agg.result(), 12)
    2.138089935299
    >>> one = Stddev(); one.add(5.0, 0.0); one.result() is None
    True
    """

    __slots__ = ("_m2", "_mean", "_n", "_shift")
    name = "stddev"

    def __init__(self) -> None:
        self._n = 0
        self._shift = 0.0  # the first value; the others are kept relative to it
        self._mean = 0.0  # mean of (value - shift)
        self._m2 = 0.0  # sum of squared deviations from the mean

    def add(self, value: float, ts: float) -> None:
        n = self._n + 1
        if n == 1:
            self._shift = value
        value -= self._shift
        mean = self._mean
        delta = value - mean
        mean += delta / n
        self._m2 += delta * (value - mean)
        self._mean = mean
        self._n = n

    def result(self, start: float | None = None, end: float | None = None) -> float | None:
        return math.sqrt(self._m2 / (self._n - 1)) if self._n > 1 else None

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": self.name,
            "n": self._n,
            "shift": self._shift,
            "mean": self._mean,
            "m2": self._m2,
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        cls._check_type(state)
        agg = cls()
        agg._n, agg._shift = int(state["n"]), float(state["shift"])
        agg._mean, agg._m2 = float(state["mean"]), float(state["m2"])
        return agg

    def merge(self, other: Self) -> None:  # Chan, Golub & LeVeque's pairwise update
        if not self._n:
            self._n, self._shift = other._n, other._shift
            self._mean, self._m2 = other._mean, other._m2
        elif other._n:
            n = self._n + other._n
            delta = other._mean + (other._shift - self._shift) - self._mean
            self._mean += delta * other._n / n
            self._m2 += other._m2 + delta * delta * self._n * other._n / n
            self._n = n


class DistinctCount(Aggregator):
    """How many different values; None is not a value, and ``1 == 1.0`` as in Python.

    Meant for JSON scalars; a list or an object counts by its canonical JSON text.

    >>> agg = DistinctCount()
    >>> for x in ("eu", "us", "eu", None, ["eu"]):
    ...     agg.add(x, 0.0)
    >>> agg.result()
    3
    """

    __slots__ = ("_seen",)
    name = "distinct_count"

    def __init__(self) -> None:
        self._seen: set[Scalar] = set()

    def add(self, value: Scalar, ts: float) -> None:
        try:  # free unless it raises
            self._seen.add(value)
        except TypeError:  # unhashable: a list or an object
            self._seen.add(json.dumps(value, sort_keys=True, default=str))

    def result(self, start: float | None = None, end: float | None = None) -> int:
        return len(self._seen) - (None in self._seen)

    def snapshot(self) -> dict[str, Any]:
        return {"type": self.name, "values": list(self._seen)}

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        cls._check_type(state)
        agg = cls()
        agg._seen = set(state["values"])
        return agg

    def merge(self, other: Self) -> None:
        self._seen |= other._seen


class _ByTime(Aggregator):
    """Shared by first and last: the value at the extreme event time so far."""

    __slots__ = ("_ts", "_value")
    _EMPTY: ClassVar[float]

    def __init__(self) -> None:
        self._ts = self._EMPTY  # an infinite sentinel: event times are finite
        self._value: Scalar = None

    def result(self, start: float | None = None, end: float | None = None) -> Scalar:
        return self._value

    def snapshot(self) -> dict[str, Any]:
        ts = None if self._ts == self._EMPTY else self._ts
        return {"type": self.name, "ts": ts, "value": self._value}

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        cls._check_type(state)
        agg = cls()
        if state["ts"] is not None:
            agg._ts, agg._value = float(state["ts"]), state["value"]
        return agg

    def merge(self, other: Self) -> None:
        if other._ts != other._EMPTY:
            self.add(other._value, other._ts)


class First(_ByTime):
    """The value with the earliest event time; of equal times, the first to arrive.

    >>> agg = First()
    >>> for value, ts in (("b", 20.0), ("a", 10.0), ("a-later", 10.0)):
    ...     agg.add(value, ts)
    >>> agg.result(), First().result()
    ('a', None)
    """

    __slots__ = ()
    name = "first"
    _EMPTY = math.inf

    def add(self, value: Scalar, ts: float) -> None:
        if ts < self._ts:
            self._ts = ts
            self._value = value


class Last(_ByTime):
    """The value with the latest event time; of equal times, the last to arrive.

    >>> agg = Last()
    >>> for value, ts in (("a", 10.0), ("b", 20.0), ("c", 20.0), ("old", 5.0)):
    ...     agg.add(value, ts)
    >>> agg.result(), Last().result()
    ('c', None)
    """

    __slots__ = ()
    name = "last"
    _EMPTY = -math.inf

    def add(self, value: Scalar, ts: float) -> None:
        if ts >= self._ts:
            self._ts = ts
            self._value = value


class Percentile(Aggregator):
    """An exact percentile ``pNN`` / ``pNN.N``; None when empty.

    Keeps every value, sorts when asked and interpolates linearly between the two
    nearest ranks, as ``pandas.Series.quantile`` does by default.

    >>> agg = Percentile("p50")
    >>> for x in (4.0, 1.0, 3.0, 2.0):
    ...     agg.add(x, 0.0)
    >>> agg.q, agg.result()
    (0.5, 2.5)
    >>> Percentile("p100")
    Traceback (most recent call last):
    ...
    ValueError: unknown aggregation 'p100'; expected one of: avg, sum, ..., p<1-99> (...)
    """

    __slots__ = ("_label", "_values", "q")
    name = "percentile"  # the family; instances are labelled p50, p99.9, ...

    def __init__(self, label: str = "p50") -> None:
        canonical = check_aggregation_name(label)
        match = _PERCENTILE.match(canonical)
        if match is None:
            raise ValueError(f"{label!r} is not a percentile (p1 .. p99, e.g. p95, p99.9)")
        self._label = canonical
        #: the quantile: the float nearest to NN / 100
        self.q = float(match.group(1) + "e-2")
        self._values: list[float] = []

    @property
    def label(self) -> str:
        return self._label

    def add(self, value: float, ts: float) -> None:
        self._values.append(value)

    def result(self, start: float | None = None, end: float | None = None) -> float | None:
        values = self._values
        if not values:
            return None
        values.sort()  # in place: cheap again next time, the prefix is already sorted
        pos = (len(values) - 1) * self.q
        lo = int(pos)
        if lo >= len(values) - 1:
            return values[-1]
        a, b, t = values[lo], values[lo + 1], pos - lo
        # numpy's lerp: exact at both ends and monotone in t
        return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t

    def snapshot(self) -> dict[str, Any]:
        return {"type": self._label, "values": list(self._values)}

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> Self:
        label = state.get("type")
        if not isinstance(label, str) or not _PERCENTILE.match(label):
            raise ValueError(f"cannot restore a percentile aggregator from {state!r:.80}")
        agg = cls(label)
        agg._values = [float(v) for v in state["values"]]
        return agg

    def merge(self, other: Self) -> None:
        if other.q != self.q:
            raise ValueError(f"cannot merge {other.label} into {self.label}")
        self._values += other._values


#: name -> aggregator class; the percentiles (pNN) are the one parametrised family
AGGREGATORS: dict[str, type[Aggregator]] = {
    "avg": Avg,
    "sum": Sum,
    "min": Min,
    "max": Max,
    "count": Count,
    "stddev": Stddev,
    "distinct_count": DistinctCount,
    "rate": Rate,
    "first": First,
    "last": Last,
}

#: name -> whether it needs a field
AGGREGATIONS: dict[str, bool] = {name: cls.needs_field for name, cls in AGGREGATORS.items()}


def check_aggregation_name(name: Any) -> str:
    """The canonical (lower-case) name, or ValueError listing the valid ones.

    >>> check_aggregation_name(" Stddev "), check_aggregation_name("P99")
    ('stddev', 'p99')
    """
    if isinstance(name, str):
        lowered = name.strip().lower()
        if lowered in AGGREGATIONS or _PERCENTILE.match(lowered):
            return lowered
    valid = ", ".join(AGGREGATIONS)
    raise ValueError(
        f"unknown aggregation {name!r}; expected one of: {valid}, p<1-99> (e.g. p50, p95, p99)"
    )


def needs_field(name: str) -> bool:
    """Whether aggregation ``name`` reads a field (``count`` and ``rate`` do not).

    >>> needs_field("rate"), needs_field("p95")
    (False, True)
    """
    return AGGREGATIONS.get(name, True)


def default_alias(name: str, field: str | None) -> str:
    """``<type>_<field>``, or the bare type for field-less aggregations.

    >>> default_alias("avg", "cpu_percent"), default_alias("count", None)
    ('avg_cpu_percent', 'count')
    """
    return f"{name}_{field}" if field else name


def create_aggregator(name: str) -> Aggregator:
    """A new, empty aggregator for ``name`` (any case); ValueError naming the valid ones.

    >>> agg = create_aggregator("AVG")
    >>> agg.add(1.0, 0.0); agg.add(2.0, 0.0)
    >>> agg.label, agg.result()
    ('avg', 1.5)
    >>> create_aggregator("p99.9").q
    0.999
    """
    canonical = check_aggregation_name(name)
    cls = AGGREGATORS.get(canonical)
    return cls() if cls is not None else Percentile(canonical)


def restore_aggregator(state: Mapping[str, Any]) -> Aggregator:
    """The aggregator a ``snapshot()`` describes, whatever its type.

    >>> agg = create_aggregator("last")
    >>> agg.add("up", 5.0)
    >>> agg.snapshot()
    {'type': 'last', 'ts': 5.0, 'value': 'up'}
    >>> restore_aggregator(agg.snapshot()).result()
    'up'
    """
    canonical = check_aggregation_name(state.get("type"))
    return AGGREGATORS.get(canonical, Percentile).restore(state)
