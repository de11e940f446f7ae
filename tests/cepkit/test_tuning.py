"""Tuning sweeps: figures equal a brute-force evaluation, budgets, recommendations, labels."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.anomaly import create
from cepkit.tuning import Incident, Incidents, alert_budget, recommend, sweep

ROOT = Path(__file__).parents[2]
NAB = ROOT.parent / "shared" / "data" / "nab"


def brute_force(
    frame: pd.DataFrame, scores_of: dict[str, np.ndarray], incidents: Incidents, cut: float
) -> dict[str, float]:
    alerts = inside = detected = 0
    delays = []
    n = 0
    for host, part in frame.groupby("host", sort=False):
        times = part["timestamp"].to_numpy(dtype=float)
        fired = np.nan_to_num(scores_of[host], nan=-np.inf) > cut
        alerts += int(fired.sum())
        mine = incidents.for_group(host)
        n += len(mine)
        in_any = np.zeros(len(times), dtype=bool)
        for inc in mine:
            m = (times >= inc.start) & (times < inc.end)
            in_any |= m
            hits = np.flatnonzero(fired & m)
            if len(hits):
                detected += 1
                delays.append(times[hits[0]] - inc.start)
        inside += int((fired & in_any).sum())
    return {
        "alerts": alerts,
        "precision": inside / alerts if alerts else math.nan,
        "recall": detected / n,
        "mean_delay_s": float(np.mean(delays)) if delays else math.nan,
    }


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=40, max_size=120),
    st.lists(st.tuples(st.integers(0, 100), st.integers(1, 30)), min_size=1, max_size=4),
)
def test_sweep_equals_brute_force(values: list[float], spans: list[tuple[int, int]]) -> None:
    n = len(values)
    frame = pd.DataFrame(
        {"timestamp": np.arange(2 * n) * 60.0, "host": ["a"] * n + ["b"] * n, "v": values * 2}
    )
    frame.loc[frame["host"] == "b", "timestamp"] = np.arange(n) * 60.0
    incidents = Incidents(
        Incident(s * 60.0, (s + w) * 60.0, h) for (s, w), h in zip(spans, "ab" * 4, strict=False)
    )
    cuts = [0.5, 1.0, 2.0, 3.0]
    result = sweep(
        frame,
        "zscore",
        {"window": [10]},
        thresholds=cuts,
        value="v",
        group="host",
        labels=incidents,
    )
    scores = {
        h: create("zscore", window=10).score_series(p["v"].to_numpy())
        for h, p in frame.groupby("host", sort=False)
    }
    for cut, row in zip(cuts, result.to_dict("records"), strict=True):
        expected = brute_force(frame, scores, incidents, cut)
        for key, value in expected.items():
            got = row[key]
            assert (math.isnan(value) and math.isnan(got)) or got == pytest.approx(value), key


def test_sample_data_threshold_sweep_finds_the_cpu_incident() -> None:
    frame = pd.read_csv(ROOT / "data" / "samples" / "server_metrics.csv")
    incidents = Incidents.from_csv(ROOT / "data" / "samples" / "incidents.csv")
    cpu_only = Incidents(i for i in incidents if i.start == incidents[0].start)
    result = sweep(
        frame,
        "threshold",
        {},
        thresholds=range(60, 100, 5),
        value="cpu_usage",
        group="host",
        labels=cpu_only,
    )
    at_85 = result.set_index("threshold").loc[85.0]
    assert at_85["recall"] == 1.0 and at_85["precision"] == 1.0 and at_85["alerts"] == 30
    assert at_85["mean_delay_s"] == 0.0
    best = alert_budget(result, max_alerts_per_day=31)
    assert best["recall"] == 1.0 and best["alerts_per_day"] <= 31
    with pytest.raises(ValueError, match="no setting stays within 1 alerts/day"):
        alert_budget(result, max_alerts_per_day=1)


def test_recommend_one_row_per_method() -> None:
    frame = pd.read_csv(ROOT / "data" / "samples" / "server_metrics.csv")
    incidents = Incidents.from_csv(ROOT / "data" / "samples" / "incidents.csv")
    spikes = Incidents(i for i in incidents if (i.end - i.start) <= 600)  # the short ones
    best = recommend(frame, spikes, value="latency_ms", group="host")
    assert list(best["method"]) == ["zscore", "iqr", "ema", "mad"]
    assert (best["recall"] > 0).all() and (best["f1"] > 0).all()


def test_nab_labels_and_bad_arguments() -> None:
    windows = NAB / "labels" / "combined_windows.json"
    labels = Incidents.from_nab(windows, "realKnownCause/machine_temperature_system_failure.csv")
    assert len(labels) == 4 and all(i.end > i.start for i in labels)
    frame = pd.DataFrame({"timestamp": [0, 1], "v": [1.0, 2.0]})
    with pytest.raises(ValueError, match="unknown method 'lof'"):
        sweep(frame, "lof", {}, thresholds=[1], value="v")
    with pytest.raises(ValueError, match="no column 'cpu'"):
        sweep(frame, "threshold", {}, thresholds=[1], value="cpu")
    with pytest.raises(ValueError, match="needs a sweep made with labels"):
        alert_budget(sweep(frame, "threshold", {}, thresholds=[1], value="v"), 10)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-5, 15, allow_nan=False), max_size=200),
    st.floats(-3, 3),
    st.floats(0.01, 2),
    st.integers(3, 50),
)
def test_cut_counting_matches_binary_search(
    scores: list[float], first: float, step: float, k: int
) -> None:
    from cepkit.tuning import _cuts_below

    cuts = first + step * np.arange(k)
    values = np.array(scores + [float(c) for c in cuts] + [-np.inf], dtype=float)
    expected = np.searchsorted(cuts, values, side="left")
    assert (_cuts_below(values, cuts) == expected).all()
    uneven = np.sort(cuts + np.linspace(0, 0.001, k) ** 2)
    assert (_cuts_below(values, uneven) == np.searchsorted(uneven, values, side="left")).all()


def test_nab_score_column() -> None:
    frame = pd.read_csv(ROOT / "data" / "samples" / "server_metrics.csv")
    incidents = Incidents.from_csv(ROOT / "data" / "samples" / "incidents.csv")
    spikes = Incidents(i for i in incidents if (i.end - i.start) <= 600)
    result = sweep(
        frame,
        "zscore",
        {"window": [60]},
        thresholds=[1e9, 4.0, 8.0],
        value="latency_ms",
        group="host",
        labels=spikes,
        nab_profile="standard",
    )
    scores = result.set_index("threshold")["nab_standard"]
    assert scores[1e9] == 0.0  # no alert at all: the null detector
    assert 0 < scores[8.0] <= 100 and scores[8.0] > scores[4.0]  # fewer false alarms


def test_a_rule_can_be_swept() -> None:
    frame = pd.read_csv(ROOT / "data" / "samples" / "server_metrics.csv")
    incidents = Incidents.from_csv(ROOT / "data" / "samples" / "incidents.csv")
    rule = json.loads((ROOT / "data" / "rules" / "pack" / "04_latency_anomaly.json").read_text())
    by_rule = sweep(frame, rule, thresholds=[3, 6], group="host", labels=incidents)
    by_name = sweep(
        frame,
        "zscore",
        {"window": [100], "min_baseline": [30]},
        thresholds=[3, 6],
        value="latency_ms",
        group="host",
        labels=incidents,
    )
    assert by_rule["alerts"].tolist() == by_name["alerts"].tolist()
    metric = json.loads((ROOT / "data" / "rules" / "pack" / "01_critical_cpu.json").read_text())
    assert sweep(frame, metric, thresholds=[90], group="host")["alerts"].iloc[0] > 0
    schedule = json.loads((ROOT / "data" / "rules" / "pack" / "03_health_check.json").read_text())
    with pytest.raises(ValueError, match="only anomaly rules and metric rules"):
        sweep(frame, schedule, thresholds=[1])
