"""A batch of events read column by column, shared by every rule that sees the batch.

The live server hands each ingest batch to every active rule. :class:`EventBatch` lets
those rules share the work of reading it: the event times of a timestamp field, a
field's values as a numpy column, the answers of an ``event_type``/``source`` filter.
Each is computed on first request and cached. The engine decides what it may do with
them (:meth:`cepkit.engine.RuleRuntime.process_batch`); this module only reads, with the
engine's own reading of an event time (:func:`event_time`).

A column is offered only when it is exact: numbers are ints and floats (not bools), all
finite and below 2**53 in magnitude, so float64 holds them exactly; strings are strings.
A missing field is a NaN cell. Anything else (a null, a nested object, a mix of numbers
and strings) gives None, and the rule takes the engine loop for this batch.

>>> batch = EventBatch([{"timestamp": 60, "cpu": 91}, {"timestamp": 120, "host": "a"}])
>>> batch.numbers("cpu").tolist()
[91.0, nan]
>>> batch.strings("host").tolist()
[nan, 'a']
>>> batch.numbers("host") is None, batch.column("host")[0], batch.column("disk")
(True, True, (True, None))
>>> batch.times("timestamp", clock=None).stamps.tolist()
[60.0, 120.0]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from cepkit.clock import Clock, SystemClock
from cepkit.paths import MISSING
from cepkit.timefields import MS_ABOVE, EventTimeError, parse_event_time

T = TypeVar("T")

__all__ = ["EventBatch", "EventTimes", "event_time"]

_EXACT = float(2**53)
#: this very object (no event holds it) marks an absent field in a column's values
_ABSENT = float("nan")


def event_time(raw: Any, field_name: str, clock: Clock) -> float:
    """The engine's reading of one event's time: ``raw`` is the timestamp field's value
    (:data:`~cepkit.paths.MISSING` when absent). Absent or null: the clock's now. Epoch
    seconds, milliseconds or microseconds, or ISO-8601 text; raises
    :class:`~cepkit.timefields.EventTimeError` when unreadable.

    >>> from cepkit.clock import FakeClock
    >>> event_time(1_770_000_000_000, "timestamp", FakeClock())
    1770000000.0
    >>> event_time(MISSING, "timestamp", FakeClock())  # 2026-01-01T00:00:00Z
    1767225600.0
    """
    if raw is MISSING or raw is None:
        return clock.now().timestamp()
    if raw.__class__ is float or raw.__class__ is int:
        return float(raw) if abs(raw) < MS_ABOVE else parse_event_time(raw)
    return parse_event_time(raw, field_name)


@dataclass(frozen=True)
class EventTimes:
    """The times of a batch's events: ``stamps`` (NaN where unreadable) and, for each
    unreadable one, its index and the error the engine reports."""

    stamps: NDArray[np.float64]
    invalid: Sequence[tuple[int, str]] = field(default_factory=tuple)


class EventBatch:
    """``events`` (JSON objects) with cached column reads; see the module docstring."""

    __slots__ = ("_cache", "events")

    def __init__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events = events
        self._cache: dict[tuple[Any, ...], Any] = {}

    def __len__(self) -> int:
        return len(self.events)

    def times(self, field_name: str, clock: Clock | None) -> EventTimes:
        """The event times of ``field_name`` as the engine reads them (the clock, taken
        per event, supplies absent ones; None: the system clock)."""
        key = ("times", field_name, id(clock))
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._times(field_name, clock or SystemClock())
        result: EventTimes = cached
        return result

    def _times(self, field_name: str, clock: Clock) -> EventTimes:
        stamps = self.numbers(field_name)  # the common case: epoch seconds throughout
        if (
            stamps is not None
            and self._cache[("complete", field_name)]
            and (len(stamps) == 0 or float(np.abs(stamps).max()) < MS_ABOVE)
        ):
            return EventTimes(stamps)
        raws = [e.get(field_name, MISSING) for e in self.events]
        out = np.empty(len(raws), dtype=np.float64)
        invalid: list[tuple[int, str]] = []
        for i, raw in enumerate(raws):
            try:
                out[i] = event_time(raw, field_name, clock)
            except EventTimeError as exc:
                out[i] = math.nan
                invalid.append((i, str(exc)))
        return EventTimes(out, tuple(invalid))

    def numbers(self, field_name: str) -> NDArray[np.float64] | None:
        """The field as exact float64 (NaN where absent), or None when some event holds
        anything but a finite int or float below 2**53 in magnitude."""
        key = ("numbers", field_name)
        if key not in self._cache:
            self._cache[key] = self._numbers(field_name)
        column: NDArray[np.float64] | None = self._cache[key]
        return column

    def _numbers(self, field_name: str) -> NDArray[np.float64] | None:
        values = self._values(field_name)
        if not set(map(type, values)) <= {float, int}:
            return None
        column = np.asarray(values, dtype=np.float64)
        if self._cache[("complete", field_name)]:  # every event holds it: no NaN is absent
            return column if len(column) == 0 or np.abs(column).max() < _EXACT else None
        nan = np.isnan(column)
        present = column[~nan]
        if len(present) and not (np.abs(present).max() < _EXACT):  # inf, or too large
            return None
        if len(present) < len(column) and int(nan.sum()) != values.count(_ABSENT):
            return None  # a NaN value the event really holds is not an absent field
        return column

    def strings(self, field_name: str) -> NDArray[Any] | None:
        """The field as an object array of strings (NaN where absent), or None when some
        event holds anything but a string."""
        key = ("strings", field_name)
        if key not in self._cache:
            values = self._values(field_name)
            kinds = list(map(type, values))
            types = set(kinds)
            ok = types <= {str} or (  # the only floats: the NaN standing for "absent"
                types <= {str, float} and kinds.count(str) + values.count(_ABSENT) == len(values)
            )
            self._cache[key] = np.asarray(values, dtype=object) if ok else None
            self._cache[("texts", field_name)] = types <= {str}
        column: NDArray[Any] | None = self._cache[key]
        return column

    def texts(self, field_name: str) -> NDArray[Any] | None:
        """:meth:`strings` when every event holds the field as a string (none absent)."""
        column = self.strings(field_name)
        return column if self._cache[("texts", field_name)] else None

    def codes(self, fields: Sequence[str]) -> tuple[NDArray[np.intp], dict[Any, int]] | None:
        """The events' group keys as codes: ``(codes, code_of)``, where ``code_of`` maps
        each distinct key (the bare value for one field, a tuple for several) to its code,
        in order of first appearance. None when an event lacks a field or holds an
        unhashable value in it.

        >>> codes, code_of = EventBatch([{"h": "a"}, {"h": "b"}, {"h": "a"}]).codes(["h"])
        >>> codes.tolist(), code_of
        ([0, 1, 0], {'a': 0, 'b': 1})
        """
        key = ("codes", tuple(fields))
        if key not in self._cache:
            self._cache[key] = self._codes(fields)
        found: tuple[NDArray[np.intp], dict[Any, int]] | None = self._cache[key]
        return found

    def _codes(self, fields: Sequence[str]) -> tuple[NDArray[np.intp], dict[Any, int]] | None:
        events = self.events
        try:
            if not fields:
                keys: Any = [()] * len(events)
            elif len(fields) == 1:
                keys = map(itemgetter(fields[0]), events)
            else:
                keys = zip(*(map(itemgetter(f), events) for f in fields), strict=True)
            code_of: dict[Any, int] = {}
            # the code of each key's first appearance (not dense), computed in C
            codes = np.fromiter(
                map(code_of.setdefault, keys, itertools.count()), np.intp, len(events)
            )
        except (KeyError, TypeError):  # absent, or unhashable: the general path digests it
            return None
        return codes, code_of

    def _values(self, field_name: str) -> list[Any]:
        """The field of every event, :data:`_ABSENT` where an event lacks it (cached; and
        under ``("complete", field_name)`` whether every event holds it)."""
        key = ("values", field_name)
        values: list[Any] | None = self._cache.get(key)
        if values is None:
            try:
                values = list(map(itemgetter(field_name), self.events))
                complete = True
            except (KeyError, TypeError):  # absent somewhere (or not an object: .get raises)
                values = [e.get(field_name, _ABSENT) for e in self.events]
                complete = False
            self._cache[key] = values
            self._cache[("complete", field_name)] = complete
        return values

    def column(self, field_name: str) -> tuple[bool, NDArray[Any] | None]:
        """``(regular, column)``: :meth:`numbers`, or failing that :meth:`strings`. A field
        no event holds is regular with no column (every comparison with it is unknown);
        a field that is neither is irregular."""
        key = ("column", field_name)
        if key not in self._cache:
            found: tuple[bool, NDArray[Any] | None] = (False, None)
            numbers = self.numbers(field_name)
            if numbers is not None:
                found = (True, None if bool(np.isnan(numbers).all()) else numbers)
            else:
                strings = self.strings(field_name)
                found = (strings is not None, strings)
            self._cache[key] = found
        column: tuple[bool, NDArray[Any] | None] = self._cache[key]
        return column

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, cached under ``key``: what several rules derive alike from the
        batch (say the same ``event_type`` filter) is derived once."""
        cache_key = ("derived", key)
        if cache_key not in self._cache:
            self._cache[cache_key] = compute()
        result: T = self._cache[cache_key]
        return result
