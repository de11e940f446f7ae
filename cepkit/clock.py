"""Time, injected: every component that needs "now" takes a clock.

The library never calls ``datetime.now()`` deep inside; tests and replay drive a
:class:`FakeClock`, the server uses :class:`SystemClock`. Every datetime is UTC-aware.

>>> from datetime import datetime, timedelta, timezone
>>> clock = FakeClock(datetime(2026, 2, 8, 10, 30, tzinfo=timezone.utc))
>>> clock.now().isoformat()
'2026-02-08T10:30:00+00:00'
>>> clock.advance(timedelta(minutes=5)).isoformat()
'2026-02-08T10:35:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "PinnedClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning a timezone-aware datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC.

    >>> SystemClock().now().tzinfo is not None
    True
    """

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to; for tests and deterministic replay."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (a timedelta or seconds) and return the new now."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (timezone-aware)."""
        if when.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware datetime")
        self._now = when


class PinnedClock:
    """Another clock's time, except while ``pinned`` is set: then that instant. The live
    runner and the flow pin a batch's receive time while the batch runs, so an event
    without a timestamp gets the same time when the batch is replayed after a crash.

    >>> clock = PinnedClock(FakeClock())
    >>> clock.pinned = datetime(2026, 2, 8, tzinfo=UTC)
    >>> clock.now().isoformat()
    '2026-02-08T00:00:00+00:00'
    """

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.pinned: datetime | None = None

    def now(self) -> datetime:
        return self.pinned if self.pinned is not None else self.base.now()
