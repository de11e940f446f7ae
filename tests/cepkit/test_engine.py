"""The engine: windows against pandas, lateness, triggers, suppression, snapshots, ids."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.clock import FakeClock
from cepkit.engine import Engine, RuleRuntime, run
from cepkit.errors import RuleValidationError
from cepkit.firing import Firing, Silence
from cepkit.rules import parse_rule
from cepkit.timefields import to_datetime

GUIDE = Path(__file__).parents[2] / "data" / "rules" / "guide"


def lab(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GUIDE / name).read_text(encoding="utf-8"))
    return doc


AGGS = ["avg", "sum", "min", "max", "count", "stddev", "p50", "p95"]


def report_rule(
    window: dict[str, Any],
    aggs: list[str] = AGGS,
    group_by: tuple[str, ...] = ("key",),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "rule_name": "report",
        "trigger_type": "event",
        "trigger_spec": {},
        "window_config": window,
        "aggregation": [
            {"type": a, "field": None if a == "count" else "v", "group_by": list(group_by)}
            for a in aggs
        ],
        **extra,
    }


def pandas_aggs(frame: pd.DataFrame) -> dict[str, Any]:
    v = frame["v"]
    out = {
        "avg_v": v.mean(),
        "sum_v": v.sum(),
        "min_v": v.min(),
        "max_v": v.max(),
        "count": len(v),
        "stddev_v": v.std(ddof=1) if len(v) > 1 else None,
        "p50_v": v.quantile(0.5),
        "p95_v": v.quantile(0.95),
    }
    return {k: (None if isinstance(x, float) and math.isnan(x) else x) for k, x in out.items()}


def assert_values_equal(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert set(got) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def by_window(firings: list[Firing]) -> dict[tuple[Any, float, float], dict[str, Any]]:
    out = {}
    for f in firings:
        assert f.window_start is not None and f.window_end is not None
        out[(f.group["key"], f.window_start.timestamp(), f.window_end.timestamp())] = f.values
    return out


_events = st.lists(
    st.tuples(
        st.integers(0, 600),
        st.sampled_from(["a", "b", "c"]),
        st.floats(-1e3, 1e3, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(_events)
def test_tumbling_group_by_equals_pandas(rows: list[tuple[int, str, float]]) -> None:
    rows = sorted(rows, key=lambda r: r[0])
    events = [{"timestamp": t, "key": k, "v": v} for t, k, v in rows]
    got = by_window(run([report_rule({"type": "tumbling", "size": "1m"})], events))
    frame = pd.DataFrame(rows, columns=["ts", "key", "v"])
    frame["start"] = (frame["ts"] // 60) * 60
    expected = {
        (key, float(start), float(start + 60)): pandas_aggs(part)
        for (key, start), part in frame.groupby(["key", "start"])
    }
    assert set(got) == set(expected)
    for window, values in expected.items():
        assert_values_equal(got[window], values)


@settings(max_examples=40, deadline=None)
@given(_events, st.randoms(use_true_random=False))
def test_out_of_order_within_lateness_gives_the_same_windows(
    rows: list[tuple[int, str, float]], rnd: random.Random
) -> None:
    ordered = [{"timestamp": t, "key": k, "v": v} for t, k, v in sorted(rows, key=lambda r: r[0])]
    shuffled = list(ordered)
    rnd.shuffle(shuffled)
    window = {"type": "tumbling", "size": "1m", "allowed_lateness": "15m"}
    a = by_window(run([report_rule(window, ["sum", "count", "max"])], ordered))
    b = by_window(run([report_rule(window, ["sum", "count", "max"])], shuffled))
    assert a.keys() == b.keys()
    for key in a:
        assert_values_equal(b[key], a[key])


@settings(max_examples=40, deadline=None)
@given(_events)
def test_sliding_windows_equal_brute_force(rows: list[tuple[int, str, float]]) -> None:
    rows = sorted(rows, key=lambda r: r[0])
    events = [{"timestamp": t, "key": k, "v": v} for t, k, v in rows]
    got = by_window(run([report_rule({"type": "sliding", "size": "2m", "slide": "30s"})], events))
    frame = pd.DataFrame(rows, columns=["ts", "key", "v"])
    expected = {}
    for start in range(-120, 630, 30):
        inside = frame[(frame["ts"] >= start) & (frame["ts"] < start + 120)]
        for key, part in inside.groupby("key"):
            expected[(key, float(start), float(start + 120))] = pandas_aggs(part)
    assert set(got) == set(expected)
    for window, values in expected.items():
        assert_values_equal(got[window], values)


@settings(max_examples=40, deadline=None)
@given(_events)
def test_session_windows_split_on_gaps(rows: list[tuple[int, str, float]]) -> None:
    rows = sorted(rows, key=lambda r: r[0])
    events = [{"timestamp": t, "key": k, "v": v} for t, k, v in rows]
    got = by_window(run([report_rule({"type": "session", "timeout": "1m"})], events))
    expected = {}
    frame = pd.DataFrame(rows, columns=["ts", "key", "v"])
    for key, part in frame.groupby("key"):
        part = part.sort_values("ts", kind="stable")
        session_id = (part["ts"].diff() >= 60).cumsum()
        for _, session in part.groupby(session_id):
            start, last = float(session["ts"].min()), float(session["ts"].max())
            expected[(key, start, last + 60)] = pandas_aggs(session)
    assert set(got) == set(expected)
    for window, values in expected.items():
        assert_values_equal(got[window], values)


def test_session_merges_out_of_order_bridging_event() -> None:
    rule = report_rule({"type": "session", "timeout": "1m", "allowed_lateness": "10m"}, ["count"])
    events = [
        {"timestamp": 0, "key": "a", "v": 1},
        {"timestamp": 100, "key": "a", "v": 1},  # a second session ...
        {"timestamp": 50, "key": "a", "v": 1},  # ... until this one bridges both
    ]
    [firing] = run([rule], events)
    assert firing.values == {"count": 3}
    assert firing.window_start == datetime(1970, 1, 1, tzinfo=UTC)
    assert firing.window_end is not None and firing.window_end.timestamp() == 160


def test_late_events_are_counted_not_silently_dropped() -> None:
    runtime = RuleRuntime(report_rule({"type": "tumbling", "size": "1m"}, ["count"]))
    out = []
    for t in (0, 10, 70, 130, 5):  # 5 arrives after the [0, 60) window closed
        out += runtime.process({"timestamp": t, "key": "a", "v": 1})
    out += runtime.flush()
    assert [f.values["count"] for f in out] == [2, 1, 1]
    assert runtime.stats.late == 1 and list(runtime.stats.late_samples) == [5.0]


def test_watermark_and_allowed_lateness() -> None:
    rule = report_rule({"type": "tumbling", "size": "1m", "allowed_lateness": "30s"}, ["count"])
    runtime = RuleRuntime(rule)
    assert runtime.process({"timestamp": 0, "key": "a", "v": 1}) == []
    assert runtime.process({"timestamp": 70, "key": "a", "v": 1}) == []  # watermark 40
    assert runtime.process({"timestamp": 50, "key": "a", "v": 1}) == []  # still in time
    [closed] = runtime.process({"timestamp": 95, "key": "a", "v": 1})  # watermark 65
    assert closed.values == {"count": 2} and runtime.watermark == 65
    assert runtime.advance(datetime(1970, 1, 1, 0, 2, 0, tzinfo=UTC))[0].values == {"count": 2}


def test_metric_trigger_for_5m_compares_the_window_average() -> None:
    rule = lab("lab1_cpu_high_alert.json")
    events = [{"timestamp": t, "cpu_usage": v} for t, v in [(0, 90), (100, 88), (200, 70)]]
    events += [{"timestamp": 300 + t, "cpu_usage": 95} for t in (0, 60, 120)]
    firings = run([rule], events)
    assert len(firings) == 1  # [0, 300): avg 82.7 < 85; [300, 600): avg 95
    assert firings[0].values == {"cpu_usage": 95.0}
    assert firings[0].explain is not None and firings[0].explain.result is True


def test_lab5_filter_then_aggregate() -> None:
    rule = lab("lab5_system_resource_alert.json")
    events = [
        {"timestamp": 0, "cpu": 85, "memory": 75, "disk": 50, "cpu_percent": 85},
        {"timestamp": 10, "cpu": 60, "memory": 50, "disk": 95, "cpu_percent": 60},
        {"timestamp": 20, "cpu": 60, "memory": 50, "disk": 70, "cpu_percent": 10},  # filtered
        {"timestamp": 400, "cpu": 10, "memory": 10, "disk": 10, "cpu_percent": 10},  # filtered
    ]
    engine = Engine([rule])
    firings = [f for e in events for f in engine.process(e)] + engine.flush()
    assert [f.values for f in firings] == [{"avg_cpu": 72.5}]
    assert engine.stats()["system_resource_alert"]["filtered_out"] == 2


def test_count_in_one_minute() -> None:
    # "1분 내 에러 5건 이상": an event rule, a 1m tumbling window, count >= 5
    rule = {
        "rule_name": "error_burst",
        "trigger_type": "event",
        "trigger_spec": {"event_type": "error"},
        "window_config": {"type": "tumbling", "size": "1m"},
        "aggregation": {"type": "count", "outputAlias": "errors", "group_by": "service"},
        "composite_condition": {"conditions": [{"field": "errors", "op": ">=", "value": 5}]},
    }
    events = [{"timestamp": i * 5, "event_type": "error", "service": "api"} for i in range(7)]
    events += [{"timestamp": i * 5, "event_type": "error", "service": "db"} for i in range(3)]
    events += [{"timestamp": 1, "event_type": "deploy", "service": "api"}]
    firings = run([rule], sorted(events, key=lambda e: e["timestamp"]))
    assert [(f.group, f.values) for f in firings] == [({"service": "api"}, {"errors": 7})]


def test_mixed_composite_condition_is_rejected_with_its_path() -> None:
    rule = report_rule({"type": "tumbling", "size": "1m"}, ["avg"])
    rule["composite_condition"] = {
        "conditions": [
            {"field": "avg_v", "op": ">", "value": 1},
            {"field": "cpu", "op": ">", "value": 1},
        ]
    }
    with pytest.raises(RuleValidationError) as info:
        RuleRuntime(rule)
    assert info.value.problems[0].path == "composite_condition"
    assert "mixes window values (avg_v) with event fields (cpu)" in info.value.problems[0].message


def test_event_rule_fires_per_matching_event_with_stable_ids() -> None:
    rule = lab("lab2_critical_error_event.json")
    events = [
        {"severity": "critical", "service": "api-gateway", "timestamp": "2026-02-08T10:30:00Z"},
        {"severity": "warning", "service": "api-gateway", "timestamp": "2026-02-08T10:31:00Z"},
        {
            "severity": "critical",
            "service": "api-gateway",
            "timestamp": "2026-02-08T10:32:00Z",
            "event_type": "deploy",
        },
        {"severity": "critical", "service": "api-gateway", "timestamp": "2026-02-08T10:33:00Z"},
    ]
    first = run([rule], events)
    again = run([rule], events)
    assert [f.event_time.isoformat() for f in first] == [
        "2026-02-08T10:30:00+00:00",
        "2026-02-08T10:33:00+00:00",
    ]
    assert [f.firing_id for f in first] == [f.firing_id for f in again]
    assert len({f.firing_id for f in first}) == 2
    assert first[0].payload == events[0] and first[0].explain is not None


def test_missing_fields_are_counted_as_evaluation_errors() -> None:
    rule = lab("lab2_critical_error_event.json")
    runtime = RuleRuntime(rule)
    assert runtime.process({"sev": "critical"}) == []
    assert runtime.stats.evaluation_errors == 1
    assert "severity: field 'severity' is missing" in runtime.stats.error_samples[0]


def test_anomaly_rule_per_group_baseline() -> None:
    rule = {
        "rule_name": "latency",
        "trigger_type": "anomaly",
        "trigger_spec": {
            "value_path": "latency_ms",
            "threshold": 3,
            "window": 50,
            "min_baseline": 20,
        },
        "aggregation": [],
    }
    rnd = random.Random(1)
    events = [
        {"timestamp": i, "service": "api", "latency_ms": 100 + rnd.gauss(0, 2)} for i in range(40)
    ]
    events.append({"timestamp": 40, "service": "api", "latency_ms": 180})
    runtime = RuleRuntime(rule)
    firings = [f for e in events for f in runtime.process(e)]
    assert len(firings) == 1 and firings[0].values["latency_ms"] == 180
    assert firings[0].values["score"] > 3
    assert runtime.stats.baseline_insufficient == 20


def test_suppression_at_most_once_per_interval_per_key() -> None:
    rule = lab("lab2_critical_error_event.json")
    rule["suppression"] = {"interval": "1h", "key": ["host"]}
    base = {"severity": "critical", "service": "api-gateway"}
    events = [
        {**base, "host": "a", "timestamp": 0},
        {**base, "host": "a", "timestamp": 600},
        {**base, "host": "b", "timestamp": 700},
        {**base, "host": "a", "timestamp": 3600},
    ]
    firings = run([rule], events)
    assert [(f.payload["host"], f.suppressed) for f in firings if f.payload] == [
        ("a", False),
        ("a", True),
        ("b", False),
        ("a", False),
    ]


def test_a_firing_names_the_silence_it_opens_and_the_runtime_lists_those_open() -> None:
    rule = lab("lab2_critical_error_event.json")
    rule["suppression"] = {"interval": "1h", "key": ["host"]}
    base = {"severity": "critical", "service": "api-gateway"}
    runtime = RuleRuntime(parse_rule(rule))
    fired = [
        f
        for t, host in [(0, "a"), (600, "a"), (700, "b"), (3000, "c")]
        for f in runtime.process({**base, "host": host, "timestamp": t})
    ]
    assert [(f.suppressed, f.silence) for f in fired] == [
        (False, Silence(key={"host": "a"}, until=to_datetime(3600))),
        (True, None),
        (False, Silence(key={"host": "b"}, until=to_datetime(4300))),
        (False, Silence(key={"host": "c"}, until=to_datetime(6600))),
    ]
    assert runtime.silences() == [f.silence for f in fired if f.silence]
    runtime.process({**base, "host": "c", "timestamp": 3650})  # a's hour is over
    assert [s.key for s in runtime.silences()] == [{"host": "b"}, {"host": "c"}]
    restored = RuleRuntime.restore(parse_rule(rule), runtime.snapshot())
    assert restored.silences() == runtime.silences()
    whole = {**rule, "suppression": {"interval": "5m"}}
    [first] = RuleRuntime(parse_rule(whole)).process({**base, "host": "a", "timestamp": 0})
    assert first.silence == Silence(key={}, until=to_datetime(300))
    assert RuleRuntime(parse_rule(lab("lab2_critical_error_event.json"))).silences() == []


def test_schedule_rule_fires_at_cron_instants_in_event_time() -> None:
    rule = lab("lab3_health_check_5min.json")
    start = datetime(2026, 2, 8, 10, 1, tzinfo=UTC).timestamp()
    events = [{"timestamp": start + i * 60} for i in range(20)]  # 10:01 .. 10:20
    firings = run([rule], events)
    assert [f.event_time.strftime("%H:%M") for f in firings] == ["10:05", "10:10", "10:15", "10:20"]


def test_arrival_time_from_the_clock_when_no_timestamp() -> None:
    clock = FakeClock(datetime(2026, 2, 8, 10, 0, tzinfo=UTC))
    runtime = RuleRuntime(report_rule({"type": "tumbling", "size": "1m"}, ["count"]), clock=clock)
    runtime.process({"key": "a", "v": 1})
    clock.advance(30)
    runtime.process({"key": "a", "v": 1})
    clock.advance(60)
    [closed] = runtime.process({"key": "a", "v": 1})
    assert closed.values == {"count": 2}
    assert closed.window_start == datetime(2026, 2, 8, 10, 0, tzinfo=UTC)


def test_invalid_timestamps_are_counted() -> None:
    runtime = RuleRuntime(report_rule({"type": "tumbling", "size": "1m"}, ["count"]))
    assert runtime.process({"timestamp": "yesterday", "key": "a", "v": 1}) == []
    assert runtime.stats.invalid_time == 1
    assert "cannot read a time from 'yesterday'" in runtime.stats.error_samples[0]


@pytest.mark.parametrize(
    "window",
    [
        {"type": "tumbling", "size": "1m"},
        {"type": "sliding", "size": "2m", "slide": "30s"},
        {"type": "session", "timeout": "45s"},
    ],
)
def test_snapshot_restore_mid_stream_equals_uninterrupted(window: dict[str, Any]) -> None:
    rnd = random.Random(5)
    events = [
        {"timestamp": t, "key": rnd.choice("ab"), "v": rnd.uniform(0, 10)}
        for t in sorted(rnd.sample(range(0, 900), 120))
    ]
    rule = report_rule(window, ["avg", "count", "p95", "stddev"])
    rule["suppression"] = {"interval": "2m", "key": ["key"]}
    whole = run([rule], events)
    first = RuleRuntime(rule)
    out = [f for e in events[:57] for f in first.process(e)]
    state = json.loads(json.dumps(first.snapshot()))
    second = RuleRuntime.restore(rule, state)
    out += [f for e in events[57:] for f in second.process(e)] + second.flush()
    assert [f.firing_id for f in out] == [f.firing_id for f in whole]
    assert [f.values for f in out] == [f.values for f in whole]
    assert [f.suppressed for f in out] == [f.suppressed for f in whole]


def test_anomaly_state_survives_snapshot() -> None:
    rule = {
        "rule_name": "latency",
        "trigger_type": "anomaly",
        "trigger_spec": {"value_path": "x", "window": 30, "min_baseline": 10},
    }
    rnd = random.Random(2)
    events = [
        {"timestamp": i, "x": rnd.gauss(0, 1) + (8 if i % 37 == 36 else 0)} for i in range(200)
    ]
    whole = run([rule], events)
    first = RuleRuntime(rule)
    out = [f for e in events[:100] for f in first.process(e)]
    second = RuleRuntime.restore(rule, json.loads(json.dumps(first.snapshot())))
    out += [f for e in events[100:] for f in second.process(e)]
    assert [f.firing_id for f in out] == [f.firing_id for f in whole] and whole


def test_restore_refuses_another_rules_state() -> None:
    state = RuleRuntime(report_rule({"type": "tumbling", "size": "1m"})).snapshot()
    other = report_rule({"type": "tumbling", "size": "1m"})
    other["rule_name"] = "other"
    with pytest.raises(ValueError, match="snapshot is of rule 'report'"):
        RuleRuntime.restore(other, state)


# -- the batch path is the per-event path, faster ------------------------------------------

_batch_rows = st.lists(
    st.tuples(
        st.floats(0, 900, allow_nan=False),
        st.sampled_from(["a", "b", "c", "d"]),
        st.floats(-100, 100, allow_nan=False),
    ),
    min_size=0,
    max_size=200,
)


@settings(max_examples=60, deadline=None)
@given(
    _batch_rows,
    st.sampled_from([None, "30s", "5m"]),
    st.integers(1, 80),
    st.booleans(),
    st.sampled_from([(), ("key",), ("key", "k2")]),
)
def test_process_batch_equals_process(
    rows: list[tuple[float, str, float]],
    lateness: str | None,
    batch: int,
    shuffle: bool,
    group_by: tuple[str, ...],
) -> None:
    if not shuffle:
        rows = sorted(rows)
    window: dict[str, Any] = {"type": "tumbling", "size": "1m"}
    if lateness:
        window["allowed_lateness"] = lateness
    rule = report_rule(window, ["avg", "sum", "min", "max", "count", "stddev", "p95"], group_by)
    rule["suppression"] = {"interval": "3m", "key": list(group_by)}
    events = [{"timestamp": t, "key": k, "k2": int(v) % 2, "v": v} for t, k, v in rows]
    one = RuleRuntime(rule)
    expected = [f for e in events for f in one.process(e)] + one.flush()
    many = RuleRuntime(rule)
    got = []
    for i in range(0, len(events), batch):
        got += many.process_batch(events[i : i + batch])
    got += many.flush()
    assert [f.model_dump() for f in got] == [f.model_dump() for f in expected]
    assert many.stats.as_dict() == one.stats.as_dict()


def test_irregular_batches_take_the_general_path() -> None:
    rule = report_rule({"type": "tumbling", "size": "1m"}, ["avg", "count"])
    events = [{"timestamp": float(i), "key": "a", "v": float(i)} for i in range(100)]
    events[40] = {"timestamp": 40.0, "key": "a", "v": "40"}  # a numeric string
    events[41] = {"timestamp": 41.0, "key": "a"}  # no value
    events[42] = {"timestamp": 42.0, "key": "a", "v": math.nan}  # skipped, as pandas does
    one = RuleRuntime(rule)
    expected = [f for e in events for f in one.process(e)] + one.flush()
    many = RuleRuntime(rule)
    got = many.process_batch(events) + many.flush()
    assert [f.values for f in got] == [f.values for f in expected]
    assert got[0].values["count"] == 60 and many.stats.skipped_values == 1


def test_nan_and_infinite_values_are_skipped() -> None:
    rule = report_rule({"type": "tumbling", "size": "1m"}, ["avg", "count"])
    events = [
        {"timestamp": 0, "key": "a", "v": 1.0},
        {"timestamp": 1, "key": "a", "v": math.nan},
        {"timestamp": 2, "key": "a", "v": math.inf},
        {"timestamp": 3, "key": "a", "v": "-inf"},
        {"timestamp": 4, "key": "a", "v": 3.0},
    ]
    [firing] = run([rule], events)
    assert firing.values == {"avg_v": 2.0, "count": 5}


# -- firing control: pending and recovery --------------------------------------------------


def cpu_rule(**extra: Any) -> dict[str, Any]:
    return {
        "rule_name": "cpu",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 85},
        "group_by": ["host"],
        **extra,
    }


def feed(rule: dict[str, Any], values: list[tuple[str, float]]) -> list[Firing]:
    return run([rule], [{"timestamp": i, "host": h, "cpu": v} for i, (h, v) in enumerate(values)])


def test_pending_needs_consecutive_matches_per_group() -> None:
    firings = feed(
        cpu_rule(pending=3),
        [("a", 90), ("a", 91), ("b", 95), ("a", 80), ("a", 90), ("a", 92), ("a", 93), ("a", 94)],
    )
    assert [(f.group["host"], f.values["cpu"]) for f in firings] == [("a", 93), ("a", 94)]


def test_recovery_with_hysteresis() -> None:
    rule = cpu_rule(recovery={"threshold": 80})
    firings = feed(
        rule,
        [("a", 90), ("a", 95), ("a", 84), ("a", 82), ("a", 79), ("a", 88), ("b", 70), ("b", 99)],
    )
    assert [(f.kind, f.group["host"], f.values["cpu"]) for f in firings] == [
        ("firing", "a", 90),  # fires once; 95 does not repeat it
        ("recovery", "a", 79),  # 84 and 82 are between the thresholds: still firing
        ("firing", "a", 88),
        ("firing", "b", 99),  # b never fired before, so 70 recovers nothing
    ]
    assert firings[0].firing_id != firings[1].firing_id


def test_recovery_on_windows_with_conditions() -> None:
    rule = report_rule({"type": "tumbling", "size": "1m"}, ["avg"])
    rule["composite_condition"] = {"conditions": [{"field": "avg_v", "op": ">", "value": 10}]}
    rule["recovery"] = {"conditions": [{"field": "avg_v", "op": "<", "value": 5}]}
    events = [{"timestamp": m * 60, "key": "a", "v": v} for m, v in enumerate([20, 30, 7, 3, 12])]
    firings = run([rule], events)
    assert [(f.kind, f.values["avg_v"]) for f in firings] == [
        ("firing", 20.0),
        ("recovery", 3.0),
        ("firing", 12.0),
    ]


def test_recoveries_are_never_suppressed_and_state_survives_snapshots() -> None:
    rule = cpu_rule(recovery={"threshold": 80}, suppression={"interval": "1h"}, pending=2)
    values = [("a", 90), ("a", 90), ("a", 70), ("a", 90), ("a", 91), ("a", 60)]
    events = [{"timestamp": i, "host": h, "cpu": v} for i, (h, v) in enumerate(values)]
    whole = run([rule], events)
    assert [(f.kind, f.suppressed) for f in whole] == [
        ("firing", False),
        ("recovery", False),
        ("firing", True),  # within the hour of the first firing
        ("recovery", False),
    ]
    first = RuleRuntime(rule)
    out = [f for e in events[:4] for f in first.process(e)]
    second = RuleRuntime.restore(rule, json.loads(json.dumps(first.snapshot())))
    out += [f for e in events[4:] for f in second.process(e)]
    assert [f.firing_id for f in out] == [f.firing_id for f in whole]


def test_rule_level_timestamp_field_and_anomaly_fields() -> None:
    rule = {
        "rule_name": "latency",
        "trigger_type": "anomaly",
        "timestamp_field": "at",
        "trigger_spec": {"value_path": "ms", "window": 20, "min_baseline": 10},
    }
    events = [{"at": f"2026-02-08T10:{i:02d}:00Z", "ms": 100 + i % 3} for i in range(30)]
    events.append({"at": "2026-02-08T10:30:00Z", "ms": 400})
    [firing] = run([rule], events)
    assert firing.event_time.isoformat() == "2026-02-08T10:30:00+00:00"
    assert firing.values["is_anomaly"] is True and firing.values["method"] == "zscore"
    details = firing.values["details"]
    assert details["n"] == 20 and details["ready"] and details["threshold"] == 3.0


def test_per_event_ids_do_not_depend_on_how_the_time_is_spelled() -> None:
    rule = lab("lab2_critical_error_event.json")
    base = {"severity": "critical", "service": "api-gateway"}
    spellings = ["2026-02-08T10:30:00Z", "2026-02-08T19:30:00+09:00", 1770546600, 1770546600000]
    ids = {run([rule], [{**base, "timestamp": t}])[0].firing_id for t in spellings}
    assert len(ids) == 1
    other = run([rule], [{**base, "summary": "x", "timestamp": spellings[0]}])[0].firing_id
    assert other not in ids


def test_lab8_composite_filters_events_and_the_threshold_checks_the_window() -> None:
    rule = lab("lab8_production_server_monitor.json")
    events = [
        {"timestamp": 0, "host": "a", "cpu_usage": 95, "memory_percent": 80},
        {"timestamp": 60, "host": "a", "cpu_usage": 99, "memory_percent": 50},  # filtered
        {"timestamp": 120, "host": "a", "cpu_usage": 88, "memory_percent": 75},
        {"timestamp": 400, "host": "a", "cpu_usage": 86, "memory_percent": 90},  # avg 86
        {"timestamp": 410, "host": "a", "cpu_usage": 20, "memory_percent": 90},  # filtered
    ]
    firings = run([rule], events)
    assert [(f.window_start.timestamp(), f.values) for f in firings] == [  # type: ignore[union-attr]
        (0.0, {"cpu_usage": 91.5}),
        (300.0, {"cpu_usage": 86.0}),
    ]


def test_a_polled_metric_is_named_by_its_value_path() -> None:
    """value_path without metric_name: the threshold applies to the narrowed value."""
    rule = {
        "rule_name": "polled",
        "trigger_type": "metric",
        "trigger_spec": {"value_path": "data.cpu", "operator": ">", "threshold": 90},
    }
    events = [{"timestamp": 1, "data": {"cpu": 50}}, {"timestamp": 2, "data": {"cpu": 95}}]
    assert [f.values for f in run([rule], events)] == [{"cpu": 95}]


def test_value_path_equal_to_metric_name_still_compares_the_value() -> None:
    rule = {
        "rule_name": "same",
        "trigger_type": "metric",
        "trigger_spec": {
            "metric_name": "cpu",
            "value_path": "cpu",
            "operator": ">",
            "threshold": 90,
        },
    }
    events = [{"timestamp": 1, "cpu": 50}, {"timestamp": 2, "cpu": 95}]
    assert [f.values for f in run([rule], events)] == [{"cpu": 95}]
