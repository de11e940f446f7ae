"""Flow test helpers: rules covering each engine mode, metrics events, flow runs on Redis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pytest

from cepkit.columnar import epoch_seconds
from cepkit.datasets import server_metrics
from cepkit.firing import Firing
from cepkit.flow import FlowStreams, StreamWriter, read_firings

#: a tumbling group-by window with suppression per host, a per-event threshold per host,
#: a z-score anomaly per host, one over every host (keyed by rule), and a schedule
RULES: list[dict[str, Any]] = [
    {
        "rule_name": "cpu_window",
        "trigger_type": "metric",
        "trigger_spec": {
            "metric_name": "cpu_usage",
            "operator": ">",
            "threshold": 80,
            "duration": "5m",
        },
        "window_config": {"type": "tumbling", "size": "5m"},
        "aggregation": {
            "type": "avg",
            "field": "cpu_usage",
            "outputAlias": "avg_cpu",
            "group_by": ["host"],
        },
        "suppression": {"interval": "15m", "key": ["host"]},
    },
    {
        "rule_name": "cpu_point",
        "trigger_type": "metric",
        "group_by": ["host"],
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 95},
    },
    {
        "rule_name": "latency_host",
        "trigger_type": "anomaly",
        "group_by": ["host"],
        "trigger_spec": {
            "value_path": "latency_ms",
            "anomaly_method": "zscore",
            "threshold": 3.0,
            "window": 60,
            "min_baseline": 20,
        },
    },
    {
        "rule_name": "latency_all",
        "trigger_type": "anomaly",
        "trigger_spec": {
            "value_path": "latency_ms",
            "anomaly_method": "ema",
            "alpha": 0.1,
            "threshold": 4.0,
            "min_baseline": 30,
        },
    },
    {
        "rule_name": "hourly",
        "trigger_type": "schedule",
        "trigger_spec": {"scheduleExpression": "0 * * * *"},
    },
]


def metrics(minutes: int, hosts: int) -> pd.DataFrame:
    """Server metrics, ``hosts`` hosts by ``minutes`` minutes, timestamps in epoch seconds."""
    names = [f"h{i:02d}" for i in range(hosts)]
    frame, _ = server_metrics(minutes=minutes, hosts=names)
    frame["timestamp"] = epoch_seconds(pd.to_datetime(frame["timestamp"], utc=True))
    return frame


def events_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as events (the numbers as JSON would carry them)."""
    return frame.to_dict("records")  # type: ignore[return-value]


def load(streams: FlowStreams, events: Sequence[Mapping[str, Any]], batch: int) -> None:
    """Put ``events`` on input stream 0 in batches, then the end marks."""
    writer = StreamWriter(streams)
    chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
    for i in range(0, len(chunks), 200):
        writer.send_many(chunks[i : i + 200], at=0.0)
    writer.end()
    writer.close()


def flow_firings(streams: FlowStreams) -> dict[str, list[dict[str, Any]]]:
    """Every firing on the output stream by id, each copy as JSON-ready data."""
    out: dict[str, list[dict[str, Any]]] = {}
    for message in read_firings(streams):
        out.setdefault(message.firing.firing_id, []).append(comparable(message.firing))
    return out


def comparable(firing: Firing) -> dict[str, Any]:
    """A firing as JSON-ready data."""
    return firing.model_dump(mode="json")


@pytest.fixture
def streams(redis_server: str, redis_prefix: str) -> FlowStreams:
    """Flow streams under the test's own Redis prefix."""
    return FlowStreams(url=redis_server, prefix=redis_prefix)
