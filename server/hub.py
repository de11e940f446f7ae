"""Wake-ups for SSE subscribers: the runner (any thread) says "something changed".

The change feed itself is in the event store (durable, ordered by ``seq``); the hub only
tells waiting streams to look. A subscriber registers *before* reading the feed, so a
change committed between its read and its wait still wakes it.

>>> import asyncio
>>> async def demo() -> bool:
...     hub = Hub()
...     hub.bind(asyncio.get_running_loop())
...     waiter = hub.waiter()
...     hub.notify()
...     return await hub.wait(waiter, timeout=1.0)
>>> asyncio.run(demo())
True
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["Hub"]


class Hub:
    """Thread-safe wake-up of every waiting stream."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        self._lock = threading.Lock()
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the streams run on (set by the app's lifespan)."""
        self._loop = loop

    def waiter(self) -> asyncio.Event:
        """A fresh wake-up flag for one stream (call on the loop)."""
        event = asyncio.Event()
        with self._lock:
            self._waiters.add(event)
        return event

    def drop(self, waiter: asyncio.Event) -> None:
        """Forget a stream's flag."""
        with self._lock:
            self._waiters.discard(waiter)

    async def wait(self, waiter: asyncio.Event, *, timeout: float) -> bool:
        """True when woken, False on timeout; the flag is spent either way."""
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.drop(waiter)

    def notify(self) -> None:
        """Wake every waiting stream (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._lock:
            waiters = list(self._waiters)
            self._waiters.clear()
        for waiter in waiters:
            loop.call_soon_threadsafe(waiter.set)

    def close(self) -> None:
        """Shutting down: every stream ends at its next wake-up, which is now."""
        self.closed = True
        self.notify()
