"""The metric vocabulary: the words that name a metric, and the field each one means.

The default maps to the field names of the guide's Lab 8 and ``data/samples``
(``cpu_usage``, ``memory_percent``, ``disk_percent``, ``latency_ms``, ``error_count``).
A deployment whose events say ``cpu`` gives its own :class:`Metric` list to
:class:`~cepkit.copilot.RuleDrafter`. A field written as a name with ``_`` or ``.``
(``queue_depth``, ``data.metrics.cpu``) is always used as written.

>>> words = MetricWords()
>>> words.field_of("CPU 사용률"), words.field_of("queue_depth"), words.unit_of("latency_ms")
('cpu_usage', 'queue_depth', 'ms')
>>> MetricWords([Metric("cpu", "percent", ("cpu", "씨피유"))]).field_of("씨피유")
'cpu'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cepkit.copilot.lexicon import alternation

__all__ = ["DEFAULT_METRICS", "DEFAULT_WORDS", "UNITS", "Metric", "MetricWords"]

#: the units a metric may have: thresholds in percent, in milliseconds, or plain numbers
UNITS = ("percent", "ms", None)
_IDENTIFIER = r"[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+"


@dataclass(frozen=True)
class Metric:
    """A metric: its field name in events, its unit and the words naming it."""

    field: str
    unit: str | None
    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.field.strip():
            raise ValueError("metric field: must not be empty")
        if self.unit not in UNITS:
            raise ValueError(f"metric {self.field!r} unit: expected percent, ms or None")
        if not self.words or not all(word.strip() for word in self.words):
            raise ValueError(f"metric {self.field!r} words: at least one, none empty")


DEFAULT_METRICS: tuple[Metric, ...] = (
    Metric(
        "cpu_usage",
        "percent",
        ("cpu 사용률", "cpu 사용량", "cpu usage", "cpu utilization", "cpu utilisation", "cpu"),
    ),
    Metric(
        "memory_percent",
        "percent",
        ("메모리 사용률", "메모리 사용량", "메모리", "memory usage", "memory", "mem"),
    ),
    Metric(
        "disk_percent",
        "percent",
        ("디스크 사용률", "디스크 사용량", "디스크", "disk usage", "disk"),
    ),
    Metric(
        "latency_ms",
        "ms",
        ("응답 시간", "응답시간", "지연 시간", "지연시간", "레이턴시", "latency", "response time"),
    ),
    Metric("error_count", None, ("에러 수", "에러 건수", "오류 수", "error count")),
)


def _key(word: str) -> str:
    return re.sub(r"\s+", "", word.strip().lower())


class MetricWords:
    """A metric vocabulary, compiled: :attr:`pattern` finds a metric word or a field name
    (group ``metric``); :meth:`field_of` and :meth:`unit_of` interpret it."""

    def __init__(self, metrics: Iterable[Metric] = DEFAULT_METRICS) -> None:
        self.metrics = {metric.field: metric for metric in metrics}
        if not self.metrics:
            raise ValueError("metrics: at least one metric")
        self._fields = {_key(word): m.field for m in self.metrics.values() for word in m.words}
        words = [word for m in self.metrics.values() for word in m.words]
        self.pattern = (
            r"(?<![A-Za-z0-9_])(?P<metric>"
            + alternation(words).replace(r"\ ", r"\s*")
            + r"(?![A-Za-z0-9_])|"
            + _IDENTIFIER
            + ")"
        )

    def known(self, word: str) -> bool:
        """Whether ``word`` is one of the vocabulary's words (not a written field name)."""
        return _key(word) in self._fields

    def field_of(self, word: str) -> str:
        """The field ``word`` names (a written field name is kept as written)."""
        return self._fields.get(_key(word), word.strip())

    def unit_of(self, field: str) -> str | None:
        """The unit of a known field (None: a plain number, or an unknown field)."""
        metric = self.metrics.get(field)
        return metric.unit if metric is not None else None

    def __repr__(self) -> str:
        return f"MetricWords({', '.join(self.metrics)})"


#: the default vocabulary, compiled once
DEFAULT_WORDS = MetricWords()
