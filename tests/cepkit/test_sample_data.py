"""The engine on the sample data set: windows equal pandas, pack rules find the incidents."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cepkit.engine import RuleRuntime, run

DATA = Path(__file__).parents[2] / "data"
SAMPLES = DATA / "samples"


@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "server_metrics.csv")


@pytest.fixture(scope="module")
def events(metrics: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = metrics.to_dict("records")
    return records


def _none(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def test_tumbling_5m_by_host_equals_pandas(metrics: pd.DataFrame, events: list[Any]) -> None:
    rule = {
        "rule_name": "cpu_5m_report",
        "trigger_type": "event",
        "trigger_spec": {},
        "window_config": {"type": "tumbling", "size": "5m"},
        "aggregation": [
            {"type": t, "field": "cpu_usage", "group_by": ["host"]}
            for t in ("avg", "min", "max", "stddev", "p95")
        ]
        + [{"type": "count", "group_by": ["host"]}],
    }
    runtime = RuleRuntime(rule)
    firings = runtime.process_batch(events) + runtime.flush()
    got = {(f.group["host"], f.window_start): f.values for f in firings}
    frame = metrics.assign(ts=pd.to_datetime(metrics["timestamp"]))
    grouped = frame.groupby(["host", pd.Grouper(key="ts", freq="5min")])["cpu_usage"]
    expected = pd.DataFrame(
        {
            "avg_cpu_usage": grouped.mean(),
            "min_cpu_usage": grouped.min(),
            "max_cpu_usage": grouped.max(),
            "stddev_cpu_usage": grouped.std(ddof=1),
            "p95_cpu_usage": grouped.quantile(0.95),
            "count": grouped.count(),
        }
    )
    assert len(got) == len(expected) == 3 * 288
    for (host, start), row in expected.iterrows():
        values = got[(host, start.to_pydatetime())]
        for name, value in row.items():
            assert values[name] == pytest.approx(_none(value), rel=1e-9), (host, start, name)


def test_sliding_15m_every_5m_equals_brute_force(metrics: pd.DataFrame, events: list[Any]) -> None:
    rule = {
        "rule_name": "latency_15m",
        "trigger_type": "event",
        "trigger_spec": {},
        "window_config": {"type": "sliding", "size": "15m", "slide": "5m"},
        "aggregation": {"type": "avg", "field": "latency_ms", "group_by": "host"},
    }
    got = {
        (f.group["host"], f.window_start): f.values["avg_latency_ms"] for f in run([rule], events)
    }
    frame = metrics.assign(ts=pd.to_datetime(metrics["timestamp"]))
    checked = 0
    for (host, start), value in list(got.items())[::37]:
        inside = frame[
            (frame["host"] == host)
            & (frame["ts"] >= start)
            & (frame["ts"] < start + pd.Timedelta("15min"))
        ]
        assert value == pytest.approx(inside["latency_ms"].mean(), rel=1e-9)
        checked += 1
    assert checked > 20 and len(got) == 3 * (288 + 2)


def test_pack_critical_cpu_finds_the_cpu_incident(events: list[Any]) -> None:
    rule = json.loads((DATA / "rules" / "pack" / "01_critical_cpu.json").read_text())
    firings = run([rule], events)
    hosts = {f.group["host"] for f in firings}
    times = [f.window_start for f in firings if f.window_start is not None]
    assert hosts == {"gt-01"}
    assert min(times).isoformat() == "2026-02-08T03:10:00+00:00"
    assert max(times).isoformat() == "2026-02-08T03:39:00+00:00"
    # one firing per host per 10 minutes; the rest are suppressed, not lost
    assert [f.window_start.strftime("%H:%M") for f in firings if not f.suppressed] == [  # type: ignore[union-attr]
        "03:10",
        "03:20",
        "03:30",
    ]
    assert sum(f.suppressed for f in firings) == len(firings) - 3 > 15


def test_pack_latency_anomaly_flags_the_spikes(events: list[Any]) -> None:
    rule = json.loads((DATA / "rules" / "pack" / "04_latency_anomaly.json").read_text())
    rule["group_by"] = ["host"]
    firings = run([rule], events)
    flagged = {(f.group["host"], f.event_time.strftime("%H:%M")) for f in firings}
    assert ("gt-02", "09:05") in flagged and ("gt-01", "21:15") in flagged
    assert len(firings) < 0.03 * len(events)  # the spikes, not noise everywhere
