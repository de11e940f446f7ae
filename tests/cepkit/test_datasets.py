"""The seeded sample-data generator."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cepkit.datasets import DEFAULT_INCIDENTS, server_metrics

SAMPLES = Path(__file__).parents[2] / "data" / "samples"


def test_the_committed_sample_is_the_generators_default() -> None:
    data, incidents = server_metrics()
    pd.testing.assert_frame_equal(data, pd.read_csv(SAMPLES / "server_metrics.csv"), rtol=1e-12)
    pd.testing.assert_frame_equal(incidents, pd.read_csv(SAMPLES / "incidents.csv"))
    assert len(incidents) == len(DEFAULT_INCIDENTS)


def test_each_incident_kind_shows_in_the_data() -> None:
    data, _ = server_metrics()
    data["t"] = pd.to_datetime(data["timestamp"])

    def rows(host: str, start: str, end: str) -> pd.DataFrame:
        t = data["t"]
        return data[(data["host"] == host) & (t >= start) & (t < end)]

    flat = rows("gt-03", "2026-02-08T06:00Z", "2026-02-08T06:20Z")["latency_ms"]
    assert flat.nunique() == 1 and len(flat) == 20
    before = rows("gt-01", "2026-02-08T11:00Z", "2026-02-08T12:00Z")["disk_percent"].mean()
    after = rows("gt-01", "2026-02-08T13:00Z", "2026-02-08T14:00Z")["disk_percent"].mean()
    assert after - before == pytest.approx(25, abs=1)  # a level shift that stays
    leak = rows("gt-02", "2026-02-08T18:00Z", "2026-02-08T20:00Z")["memory_percent"]
    assert leak.iloc[-10:].mean() - leak.iloc[:10].mean() > 30  # a drift
    assert rows("gt-01", "2026-02-08T03:10Z", "2026-02-08T03:40Z")["cpu_usage"].min() > 85


def test_seeds_and_bad_kinds() -> None:
    a, _ = server_metrics(seed=1, minutes=60, incidents=[])
    b, _ = server_metrics(seed=1, minutes=60, incidents=[])
    c, _ = server_metrics(seed=2, minutes=60, incidents=[])
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    with pytest.raises(ValueError, match="unknown incident kind 'meteor'"):
        server_metrics(incidents=[("gt-01", "2026-02-08T00:00Z", "2026-02-08T01:00Z", "meteor")])
