"""Tuning sweeps: figures equal a brute-force evaluation, budgets, recommendations, labels."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.anomaly import create
from cepkit.replay import replay
from cepkit.rules import parse_rule
from cepkit.tuning import (
    Incident,
    Incidents,
    alert_budget,
    from_rule,
    recommend,
    setting_label,
    sweep,
    tuned_rule,
)

ROOT = Path(__file__).parents[2]
NAB = Path(os.environ.get("CEPKIT_NAB_DIR") or ROOT.parent / "shared" / "data" / "nab")  # as nab/


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


def test_a_sweep_row_becomes_the_tuned_rule() -> None:
    frame = pd.read_csv(ROOT / "data" / "samples" / "server_metrics.csv")
    rule = json.loads((ROOT / "data" / "rules" / "pack" / "04_latency_anomaly.json").read_text())
    assert from_rule(rule) == ("zscore", "latency_ms", {"window": [100], "min_baseline": [30]})
    grids = {"zscore": {"window": [60]}, "iqr": {"window": [240], "multiplier": [1.5]}}
    grids["ema"] = {"alpha": [0.2]}
    rows = pd.concat(
        [
            sweep(
                frame,
                {**rule, "trigger_spec": {**rule["trigger_spec"], "anomaly_method": m}},
                grid,
                thresholds=[8.0],
                group="host",
            )
            for m, grid in grids.items()
        ],
        ignore_index=True,
    )
    labels = [setting_label(row) for row in rows.to_dict("records")]
    assert labels == ["zscore window=60", "iqr window=240 multiplier=1.5", "ema alpha=0.2"]
    for row in rows.to_dict("records"):
        tuned = tuned_rule(rule, row, "host")
        spec = tuned["trigger_spec"]
        assert spec["anomaly_method"] == row["method"] and tuned["group_by"] == ["host"]
        if row["method"] == "iqr":  # t IQRs beyond the fences at k: the fences at k + t
            assert spec["multiplier"] == 9.5 and "threshold" not in spec
        else:
            assert spec["threshold"] == 8.0
        fired = replay([parse_rule(tuned)], frame).summary.rules[rule["rule_name"]].firings
        assert abs(fired - row["alerts"]) <= (1 if row["method"] == "iqr" else 0), row
    assert rule["trigger_spec"]["anomaly_method"] == "zscore"  # the document is not changed
    metric = json.loads((ROOT / "data" / "rules" / "pack" / "01_critical_cpu.json").read_text())
    tuned = tuned_rule(metric, {"method": "threshold", "threshold": 95.0})
    assert tuned["trigger_spec"]["threshold"] == 95.0 and "group_by" not in tuned


def per_threshold(
    frame: pd.DataFrame,
    method: str,
    params: dict[str, object],
    cut: float,
    incidents: Incidents,
    nab_profile: str | None = None,
) -> dict[str, float]:
    """The figures of one threshold the plain way: rescore, compare, loop over incidents."""
    from cepkit.nab import Corpus, DataFile, Window, score_corpus

    alerts = inside = detected = n = 0
    delays: list[float] = []
    span = frame["timestamp"].max() - frame["timestamp"].min()
    files, detections = [], {}
    for host, part in frame.groupby("host", sort=False):
        part = part.sort_values("timestamp", kind="stable")
        times = part["timestamp"].to_numpy(dtype=float)
        values = part["v"].to_numpy(dtype=float)
        scores = values if method == "threshold" else create(method, **params).score_series(values)
        fired = np.array([s > cut for s in scores], dtype=bool)  # NaN never fires
        alerts += int(fired.sum())
        in_any = np.zeros(len(times), dtype=bool)
        windows: list[Window] = []  # overlapping incidents (sharing a row) are one window
        for inc in incidents.for_group(host):
            n += 1
            mask = (times >= inc.start) & (times < inc.end)
            in_any |= mask
            hits = np.flatnonzero(fired & mask)
            if len(hits):
                detected += 1
                delays.append(times[hits[0]] - inc.start)
        for inc in sorted(incidents.for_group(host), key=lambda i: i.start):
            rows = np.flatnonzero((times >= inc.start) & (times < inc.end))
            if not len(rows):
                continue
            if windows and rows[0] <= windows[-1].end:
                windows[-1] = Window(windows[-1].start, max(windows[-1].end, int(rows[-1])))
            else:
                windows.append(Window(int(rows[0]), int(rows[-1])))
        inside += int((fired & in_any).sum())
        stamps = (times * 1e6).astype("int64").astype("datetime64[us]")
        files.append(DataFile(f"group/{host}", stamps, np.zeros(len(times)), tuple(windows)))
        detections[f"group/{host}"] = fired.astype(float)
    precision = inside / alerts if alerts else math.nan
    recall = detected / n if n else math.nan
    both = precision + recall
    out = {
        "alerts": alerts,
        "alerts_per_day": alerts / max(span / 86400.0, 1 / 86400.0),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / both if both and not math.isnan(both) else 0.0,
        "mean_delay_s": sum(delays) / len(delays) if delays else math.nan,
    }
    if nab_profile is not None:
        result = score_corpus(Corpus(tuple(files)), detections, profiles=nab_profile, threshold=1)
        out[f"nab_{nab_profile}"] = result[nab_profile].score
    return out


@pytest.mark.parametrize("seed", range(6))
def test_fast_figures_equal_a_per_threshold_computation(seed: int) -> None:
    """Every figure of every threshold, on random data, against :func:`per_threshold`:
    unsorted timestamps, three hosts, overlapping, empty and out-of-range incidents, NaN
    values (threshold method), an evenly spaced grid and an uneven one with duplicates."""
    rng = np.random.default_rng(seed)
    n = 600
    frame = pd.DataFrame(
        {
            "timestamp": rng.permutation(n) * 60.0 + rng.integers(0, 3, n) * 7.5,
            "host": rng.choice(["a", "b", "c"], n),
            "v": np.round(rng.normal(50, 5, n), 1) + np.where(rng.random(n) < 0.02, 30, 0),
        }
    )
    starts = rng.integers(-20, n + 20, 12) * 60.0
    incidents = Incidents(
        Incident(float(s), float(s + w * 60.0), g)
        for s, w, g in zip(
            starts, rng.integers(-1, 40, 12), rng.choice(["a", "b", "c", None], 12), strict=True
        )
    )
    cases: list[tuple[str, dict[str, object], np.ndarray]] = [
        ("zscore", {"window": 30, "min_baseline": 5}, np.linspace(0, 6, 61)),
        ("zscore", {"window": 30, "min_baseline": 5}, np.round(rng.uniform(0, 6, 40), 1)),
        ("iqr", {"window": 40, "min_baseline": 5}, np.linspace(0, 4, 33)),
        ("ema", {"alpha": 0.2, "min_baseline": 5}, np.linspace(-1, 5, 25)),
        ("threshold", {}, rng.choice(frame["v"].to_numpy(), 40)),  # cuts on values, repeated
    ]
    nan_frame = frame.assign(v=frame["v"].where(rng.random(n) > 0.05))
    for method, params, cuts in cases:
        data = nan_frame if method == "threshold" else frame
        grid = {k: [v] for k, v in params.items()}
        profile = "standard" if method in ("zscore", "threshold") else None
        result = sweep(
            data,
            method,
            grid,
            thresholds=cuts,
            value="v",
            group="host",
            labels=incidents,
            nab_profile=profile,
        )
        assert result["threshold"].tolist() == sorted(float(c) for c in cuts)
        for row in result.to_dict("records"):
            expected = per_threshold(data, method, params, row["threshold"], incidents, profile)
            for key, value in expected.items():
                got = row[key]
                same = (math.isnan(value) and math.isnan(got)) or got == pytest.approx(value)
                assert same, (method, row["threshold"], key, got, value)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-1e6, 1e6),
    st.floats(1e-6, 1e3),
    st.integers(2, 300),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50),
)
def test_counts_above_every_cut_are_exact(
    origin: float, step: float, k: int, extra: list[float]
) -> None:
    """Scores on a cut, one ulp either side of it, and anything else: the counts per
    cut equal a direct comparison, on a linspace grid (arithmetic) and a jittered one."""
    from cepkit.tuning import _above, _cuts_below

    cuts = np.linspace(origin, origin + step * (k - 1), k)
    jittered = np.sort(cuts + np.linspace(0.0, step / 3, k) ** 2 / step)
    for grid in (cuts, jittered):
        scores = np.concatenate(
            [grid, np.nextafter(grid, np.inf), np.nextafter(grid, -np.inf), extra, [np.nan]]
        )
        direct = np.array([(np.nan_to_num(scores, nan=-np.inf) > c).sum() for c in grid])
        assert (_above(scores, grid) == direct).all()
        placed = np.searchsorted(grid, np.nan_to_num(scores, nan=-np.inf), side="left")
        assert (_cuts_below(scores, grid) == placed).all()
