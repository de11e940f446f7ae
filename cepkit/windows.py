"""Window assigners, one registry: tumbling, sliding, session.

Windows are event-time and half-open ``[start, end)``. Tumbling windows start at
multiples of ``size`` since the epoch, sliding windows at multiples of ``slide``; a
session window runs from its first event to its last event + ``timeout`` and merges
with any session its events come within ``timeout`` of.

>>> Tumbling(300).spans(1000.0)
[(900.0, 1200.0)]
>>> Sliding(300, 60).spans(1000.0)
[(720.0, 1020.0), (780.0, 1080.0), (840.0, 1140.0), (900.0, 1200.0), (960.0, 1260.0)]
>>> build_windowing({"type": "session", "timeout": "10m"}).timeout
600.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cepkit.rules.windowing import SessionWindow, SlidingWindow, TumblingWindow, WindowConfig

__all__ = ["WINDOWINGS", "Session", "Sliding", "Tumbling", "Windowing", "build_windowing"]


@dataclass(frozen=True)
class Tumbling:
    """Fixed-size windows aligned to the epoch."""

    size: float

    def spans(self, ts: float) -> list[tuple[float, float]]:
        """The one window that holds ``ts`` (the engine inlines this same formula)."""
        start = float((ts // self.size) * self.size)
        return [(start, start + self.size)]


@dataclass(frozen=True)
class Sliding:
    """Windows of ``size`` starting every ``slide`` (aligned to the epoch)."""

    size: float
    slide: float

    def spans(self, ts: float) -> list[tuple[float, float]]:
        """Every window that holds ``ts``, oldest first."""
        first = math.floor((ts - self.size) / self.slide) + 1
        last = math.floor(ts / self.slide)
        out = []
        for k in range(first, last + 1):
            start = float(k * self.slide)
            if start <= ts < start + self.size:
                out.append((start, start + self.size))
        return out


@dataclass(frozen=True)
class Session:
    """Activity windows that close ``timeout`` after their last event."""

    timeout: float


Windowing = Tumbling | Sliding | Session


def _tumbling(cfg: Any) -> Windowing:
    return Tumbling(cfg.size_seconds)


def _sliding(cfg: Any) -> Windowing:
    return Sliding(cfg.size_seconds, cfg.slide_seconds)


def _session(cfg: Any) -> Windowing:
    return Session(cfg.timeout_seconds)


#: window type -> (config model, builder)
WINDOWINGS: dict[str, tuple[type[Any], Callable[[Any], Windowing]]] = {
    "tumbling": (TumblingWindow, _tumbling),
    "sliding": (SlidingWindow, _sliding),
    "session": (SessionWindow, _session),
}


def build_windowing(config: WindowConfig | Mapping[str, Any]) -> Windowing:
    """The assigner for a window config (model or JSON)."""
    kind = config.get("type") if isinstance(config, Mapping) else config.type
    try:
        model, builder = WINDOWINGS[str(kind)]
    except KeyError:
        raise ValueError(
            f"unknown window type {kind!r}; expected one of: {', '.join(WINDOWINGS)}"
        ) from None
    cfg = model.model_validate(config) if isinstance(config, Mapping) else config
    return builder(cfg)
