"""Seeded sample data: per-minute server metrics with labelled incidents.

:func:`server_metrics` makes what ``data/samples/`` holds (one day, three hosts):
``cpu_usage``, ``memory_percent``, ``disk_percent``, ``latency_ms``, ``error_count`` with
daily seasonality and noise, and incidents of the kinds in :data:`INCIDENT_KINDS` (level
shifts, spikes, drifts, bursts, flatlines), each returned as a labelled window. The same
seed gives the same data, so tests, notebooks and benchmarks can rely on it.

>>> data, incidents = server_metrics(minutes=120, incidents=[])
>>> data.shape, list(incidents.columns)
((360, 7), ['host', 'start', 'end', 'kind'])
>>> sorted(INCIDENT_KINDS)[:3]
['cpu_saturation', 'disk_level_shift', 'error_burst']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_INCIDENTS", "INCIDENT_KINDS", "server_metrics"]

Incident = tuple[str, str, str, str]  # host, start, end (ISO-8601), kind

#: the incidents of the committed sample (``data/samples/incidents.csv``)
DEFAULT_INCIDENTS: tuple[Incident, ...] = (
    ("gt-01", "2026-02-08T03:10:00Z", "2026-02-08T03:40:00Z", "cpu_saturation"),
    ("gt-02", "2026-02-08T09:05:00Z", "2026-02-08T09:12:00Z", "latency_spike"),
    ("gt-03", "2026-02-08T14:30:00Z", "2026-02-08T14:34:00Z", "error_burst"),
    ("gt-02", "2026-02-08T18:00:00Z", "2026-02-08T20:00:00Z", "memory_leak"),
    ("gt-01", "2026-02-08T21:15:00Z", "2026-02-08T21:20:00Z", "latency_spike"),
    ("gt-01", "2026-02-08T12:00:00Z", "2026-02-08T12:30:00Z", "disk_level_shift"),
    ("gt-03", "2026-02-08T06:00:00Z", "2026-02-08T06:20:00Z", "latency_flatline"),
)

Injector = Callable[[pd.DataFrame, pd.Series, np.random.Generator], None]


def _cpu_saturation(data: pd.DataFrame, rows: pd.Series, rng: np.random.Generator) -> None:
    data.loc[rows, "cpu_usage"] = 93 + rng.normal(0, 2, int(rows.sum()))


def _latency_spike(data: pd.DataFrame, rows: pd.Series, rng: np.random.Generator) -> None:
    data.loc[rows, "latency_ms"] = 650 + rng.normal(0, 60, int(rows.sum()))


def _error_burst(data: pd.DataFrame, rows: pd.Series, rng: np.random.Generator) -> None:
    data.loc[rows, "error_count"] = rng.poisson(12, int(rows.sum()))


def _memory_leak(data: pd.DataFrame, rows: pd.Series, rng: np.random.Generator) -> None:
    n = int(rows.sum())
    data.loc[rows, "memory_percent"] = np.linspace(60, 96, n) + rng.normal(0, 0.5, n)


def _disk_level_shift(data: pd.DataFrame, rows: pd.Series, rng: np.random.Generator) -> None:
    """The disk fills by 25 points at the start and stays there (a level shift)."""
    host = data.loc[rows, "host"].iloc[0]
    after = (data["host"] == host) & (data["timestamp"] >= data.loc[rows, "timestamp"].min())
    data.loc[after, "disk_percent"] += 25 + rng.normal(0, 0.2)


def _latency_flatline(data: pd.DataFrame, rows: pd.Series, rng: np.random.Generator) -> None:
    """A stuck sensor: the same value for the whole window."""
    data.loc[rows, "latency_ms"] = float(data.loc[rows, "latency_ms"].iloc[0])


#: incident kind -> what it does to the rows of its window
INCIDENT_KINDS: dict[str, Injector] = {
    "cpu_saturation": _cpu_saturation,
    "latency_spike": _latency_spike,
    "error_burst": _error_burst,
    "memory_leak": _memory_leak,
    "disk_level_shift": _disk_level_shift,
    "latency_flatline": _latency_flatline,
}

#: the kinds drawn from the first random stream (the original sample); others use a second
_FIRST_STREAM = ("cpu_saturation", "latency_spike", "error_burst", "memory_leak")


def server_metrics(
    *,
    seed: int = 20260208,
    start: str = "2026-02-08T00:00:00Z",
    minutes: int = 24 * 60,
    hosts: Sequence[str] = ("gt-01", "gt-02", "gt-03"),
    incidents: Sequence[Incident] = DEFAULT_INCIDENTS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics, incidents): one row per host per minute, sorted by time then host."""
    for incident in incidents:
        if incident[3] not in INCIDENT_KINDS:
            raise ValueError(
                f"unknown incident kind {incident[3]!r}; expected one of: "
                + ", ".join(INCIDENT_KINDS)
            )
    rng = np.random.default_rng(seed)
    second = np.random.default_rng(seed + 1)
    stamps = pd.date_range(pd.Timestamp(start), periods=minutes, freq="1min")
    t = np.arange(minutes)
    daily = 10 * np.sin(2 * np.pi * (t / 1440 - 0.25))  # busier in the afternoon
    frames = []
    for i, host in enumerate(hosts):
        frame = pd.DataFrame(
            {
                "timestamp": stamps,
                "host": host,
                "cpu_usage": 45 + 5 * i + daily + rng.normal(0, 4, minutes),
                "memory_percent": 55 + 3 * i + rng.normal(0, 2, minutes),
                "latency_ms": 120 + 10 * i + rng.gamma(2.0, 8.0, minutes),
                "error_count": rng.poisson(0.3, minutes),
            }
        )
        frame.insert(4, "disk_percent", 40 + 8 * i + np.cumsum(second.normal(0, 0.01, minutes)))
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    ordered = [i for i in incidents if i[3] in _FIRST_STREAM]
    ordered += [i for i in incidents if i[3] not in _FIRST_STREAM]
    for host, begin, end, kind in ordered:
        rows = (
            (data["host"] == host)
            & (data["timestamp"] >= pd.Timestamp(begin))
            & (data["timestamp"] < pd.Timestamp(end))
        )
        if rows.any():
            INCIDENT_KINDS[kind](data, rows, rng if kind in _FIRST_STREAM else second)
    data = data.sort_values(["timestamp", "host"], kind="stable").reset_index(drop=True)
    for column in ("cpu_usage", "memory_percent", "disk_percent"):
        data[column] = data[column].clip(0, 100).round(3)
    data["latency_ms"] = data["latency_ms"].clip(0, None).round(3)
    data["timestamp"] = data["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = pd.DataFrame(list(incidents), columns=["host", "start", "end", "kind"])
    return data, labels
