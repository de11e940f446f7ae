"""The columnar fast path: parity with the engine loop on random frames, and fallbacks.

Parity means the same :class:`Firing` objects (ids, values, explain traces, payloads,
suppression) in the same order, the same replay summary, and the same runtime counters
(error samples included) as feeding the rows one by one to a :class:`RuleRuntime`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cepkit.anomaly import DETECTORS, create_from_spec
from cepkit.anomaly.base import stream_scores
from cepkit.clock import FakeClock
from cepkit.columnar import (
    SCORE_TOLERANCE,
    NotColumnar,
    epoch_seconds,
    evaluate,
    why_not,
)
from cepkit.engine import RuleRuntime, run
from cepkit.errors import CepkitError
from cepkit.firing import Firing
from cepkit.operators import ARRAY_OPERATORS, OPERATORS
from cepkit.replay import _named, _prepared, _records, replay

T0 = 1_770_000_000.0
HOSTS = ["a", "b", "c"]


def random_frame(seed: int, n: int, span: int = 3 * 86_400) -> pd.DataFrame:
    """Several hosts, NaN cells, repeated values (ties with thresholds), inf, a string
    column with empty cells, an integer column, timestamps out of order and repeated."""
    rng = np.random.default_rng(seed)
    cpu = np.round(rng.normal(60, 20, n), 0)
    cpu[rng.random(n) < 0.08] = np.nan
    cpu[rng.random(n) < 0.01] = np.inf
    latency = rng.gamma(3.0, 20.0, n)
    latency[rng.random(n) < 0.03] *= 8
    latency[rng.random(n) < 0.05] = np.nan
    latency[rng.random(n) < 0.1] = 50.0  # flat stretches of equal values
    severity = rng.choice(np.array(["critical", "warning", "info"], dtype=object), n)
    severity[rng.random(n) < 0.05] = None
    tag = pd.Series(rng.choice(["x", "y"], n), dtype=object)
    tag[rng.random(n) < 0.1] = None  # a value (None), not a missing field
    tag[rng.random(n) < 0.1] = math.nan  # a missing field
    stamps = T0 + np.sort(rng.integers(0, span, n)).astype(float)
    stamps[rng.random(n) < 0.05] -= 600  # late rows
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "host": rng.choice(HOSTS, n),
            "cpu": cpu,
            "mem": rng.integers(0, 100, n),
            "latency": latency,
            "severity": severity,
            "tag": tag,
        }
    )


def engine_run(rule: dict[str, Any], events: list[dict[str, Any]]) -> RuleRuntime:
    runtime = RuleRuntime(rule, clock=FakeClock())
    runtime.firings = [f for e in events for f in runtime.process(e)]  # type: ignore[attr-defined]
    return runtime


def assert_parity(rules: list[dict[str, Any]], frame: pd.DataFrame, *, frames: bool = True) -> int:
    """Fast path == engine loop == ``run``; returns how many rules went columnar."""
    named = _named(frame)
    events = _records(_prepared(named))
    columnar = 0
    for rule in rules:
        fast = RuleRuntime(rule, clock=FakeClock())
        try:
            evaluation = evaluate(fast, named, lambda rows: _records(_prepared(named.iloc[rows])))
        except NotColumnar:
            continue
        columnar += 1
        loop = engine_run(rule, events)
        assert evaluation.firings() == loop.firings  # type: ignore[attr-defined]
        assert fast.stats.as_dict() == loop.stats.as_dict()
    quick = replay(rules, frame, clock=FakeClock())
    slow = replay(rules, frame, clock=FakeClock(), fast=False)
    expected = sorted(
        run(rules, events, clock=FakeClock()), key=lambda f: (f.event_time, f.rule_name)
    )
    assert quick.summary == slow.summary
    assert list(quick.firing_models) == list(slow.firing_models) == expected
    if frames:
        pd.testing.assert_frame_equal(quick.firings, slow.firings)
    return columnar


# -- random rules ---------------------------------------------------------------------------

numeric_leaf = st.builds(
    lambda field, op, value: {"field": field, "op": op, "value": value},
    st.sampled_from(["cpu", "mem", "absent"]),
    st.sampled_from([">", "<", ">=", "<=", "==", "!="]),
    st.sampled_from([0, 40, 60, 61.5, 85, 99, "70"]),
)
range_leaf = st.one_of(
    st.builds(
        lambda field, low, width: {"field": field, "op": "between", "value": [low, low + width]},
        st.sampled_from(["cpu", "mem"]),
        st.integers(0, 90),
        st.integers(0, 30),
    ),
    st.builds(
        lambda field, op, items: {"field": field, "op": op, "value": items},
        st.sampled_from(["cpu", "mem"]),
        st.sampled_from(["in", "not_in"]),
        st.lists(st.integers(0, 100), max_size=4),
    ),
    st.builds(
        lambda op, items: {"field": "severity", "op": op, "value": items},
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from(["critical", "info", "nope"]), max_size=2),
    ),
    st.builds(
        lambda field, op, value: {"field": field, "op": op, "value": value},
        st.sampled_from(["severity", "tag"]),
        st.sampled_from(["==", "!="]),
        st.sampled_from(["critical", "warning", "x"]),
    ),
    st.builds(
        lambda field, value: {"field": field, "op": "exists", "value": value},
        st.sampled_from(["cpu", "severity", "tag", "absent"]),
        st.sampled_from([True, False]),
    ),
)
leaf = st.one_of(numeric_leaf, range_leaf)
condition = st.recursive(
    leaf,
    lambda inner: st.builds(
        lambda logic, items: {"logic": logic, "conditions": items},
        st.sampled_from(["AND", "OR", "NOT"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=5,
)
suppression = st.one_of(
    st.none(),
    st.builds(
        lambda interval, key: {"interval": interval, "key": key},
        st.sampled_from(["1m", "10m", "2h"]),
        st.sampled_from([[], ["host"], ["severity"], ["tag"]]),
    ),
)


def with_control(rule: dict[str, Any], group: str | None, policy: dict[str, Any] | None) -> Any:
    rule = dict(rule)
    if group:
        rule["group_by"] = [group]
    if policy is not None:
        rule["suppression"] = policy
    return rule


threshold_rules = st.builds(
    lambda op, value, group, policy: with_control(
        {
            "rule_name": "threshold",
            "trigger_type": "metric",
            "trigger_spec": {"metric_name": "cpu", "operator": op, "threshold": value},
        },
        group,
        policy,
    ),
    st.sampled_from([">", ">=", "<", "=="]),
    st.sampled_from([50, 80, 95.5]),
    st.sampled_from([None, "host", "tag"]),
    suppression,
)
condition_rules = st.builds(
    lambda cond, composite, group, policy: with_control(
        {
            "rule_name": "conditions",
            "trigger_type": "event",
            "trigger_spec": {"conditions": [cond]},
            **({"composite_condition": composite} if composite else {}),
        },
        group,
        policy,
    ),
    condition,
    st.one_of(st.none(), condition),
    st.sampled_from([None, "host", "tag"]),
    suppression,
)
anomaly_rules = st.builds(
    lambda method, path, window, baseline, threshold, group, policy, filtered: with_control(
        {
            "rule_name": f"anomaly_{method}",
            "trigger_type": "anomaly",
            "trigger_spec": {
                "value_path": path,
                "anomaly_method": method,
                "window": window,
                "min_baseline": baseline,
                "threshold": threshold,
                "alpha": 0.3,
                "multiplier": 1.5,
            },
            **(
                {"composite_condition": {"field": "mem", "op": ">", "value": 20}}
                if filtered
                else {}
            ),
        },
        group,
        policy,
    ),
    st.sampled_from(sorted(SCORE_TOLERANCE)),
    st.sampled_from(["latency", "cpu", "mem"]),
    st.sampled_from([None, 5, 20, 60]),
    st.sampled_from([2, 5, 30]),
    st.sampled_from([1.5, 2.5, 4.0]),
    st.sampled_from([None, "host", "tag", "mem"]),
    suppression,
    st.booleans(),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 100),
    rules=st.tuples(threshold_rules, condition_rules, anomaly_rules),
)
def test_fast_path_equals_engine_loop_on_random_frames(
    seed: int, n: int, rules: tuple[dict[str, Any], ...]
) -> None:
    assert_parity(list(rules), random_frame(seed, n), frames=False)


def test_every_eligible_shape_goes_columnar() -> None:
    frame = random_frame(7, 1500)
    rules: list[dict[str, Any]] = [
        {
            "rule_name": "cpu_high",
            "trigger_type": "metric",
            "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90},
            "group_by": ["host"],
            "suppression": {"interval": "30m", "key": ["host"]},
        },
        {
            "rule_name": "either",
            "trigger_type": "event",
            "trigger_spec": {
                "logic": "OR",
                "conditions": [
                    {"field": "cpu", "op": "between", "value": [95, 100]},
                    {"field": "severity", "op": "==", "value": "critical"},
                ],
            },
        },
    ]
    for method in sorted(SCORE_TOLERANCE):
        rules.append(
            {
                "rule_name": method,
                "trigger_type": "anomaly",
                "trigger_spec": {"value_path": "latency", "anomaly_method": method, "window": 50},
                "group_by": ["host"],
                "composite_condition": {"field": "severity", "op": "!=", "value": "info"},
            }
        )
    for rule in rules:
        assert why_not(RuleRuntime(rule), _named(frame)) is None, rule["rule_name"]
    assert assert_parity(rules, frame) == len(rules)
    summary = replay(rules, frame).summary.rules
    assert all(summary[r["rule_name"]].firings > 0 for r in rules)


def test_timestamps_in_every_spelling() -> None:
    rng = np.random.default_rng(3)
    n = 600
    seconds = T0 + np.sort(rng.integers(0, 2 * 86_400, n)).astype(float)
    base = pd.DataFrame({"cpu": rng.normal(60, 20, n), "host": rng.choice(HOSTS, n)})
    iso = pd.Series(pd.to_datetime(seconds, unit="s", utc=True)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    iso[rng.random(n) < 0.05] = None
    datetimes = pd.Series(pd.to_datetime(seconds * 1e9 + 123456789, utc=True))
    datetimes[rng.random(n) < 0.05] = pd.NaT
    spellings = {
        "iso": iso,
        "iso_object": iso.astype(object),
        "datetime": datetimes,
        "naive_datetime": datetimes.dt.tz_localize(None),
        "epoch_ms": (seconds * 1000).astype(np.int64),
        "epoch_us": (seconds * 1e6).astype(np.int64),
        "epoch_float_nan": np.where(rng.random(n) < 0.05, np.nan, seconds + 0.25),
        "epoch_int32": (seconds - T0).astype(np.int32),
        "all_missing": pd.Series([None] * n, dtype=object),
    }
    rule = {
        "rule_name": "cpu_high",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 85},
        "group_by": ["host"],
        "suppression": {"interval": "1h", "key": ["host"]},
    }
    for name, stamps in spellings.items():
        frame = base.assign(timestamp=stamps)
        assert why_not(RuleRuntime(rule), _named(frame)) is None, name
        assert assert_parity([rule], frame) == 1, name


def test_epoch_seconds_is_what_replay_feeds_the_engine() -> None:
    stamps = pd.Series(pd.to_datetime(["2026-02-08T10:30:00.25+09:00", None], utc=True))
    seconds = epoch_seconds(stamps).tolist()
    assert seconds[0] == pytest.approx(1770514200.25, abs=1e-6) and math.isnan(seconds[1])
    frame = pd.DataFrame({"timestamp": stamps, "v": [1.0, 2.0]})
    assert _records(_prepared(frame)) == [{"timestamp": seconds[0], "v": 1.0}, {"v": 2.0}]


def test_array_operators_are_the_registry_operators() -> None:
    assert set(OPERATORS) - set(ARRAY_OPERATORS) == {"exists", "contains", "startswith", "regex"}
    x = np.array([-1.0, 0.0, 1.0, 2.0, 2.5, 3.0])
    literals = {"between": (0, 2), "in": (1, 3, 7), "not_in": (1, 3)}
    for name, op in ARRAY_OPERATORS.items():
        literal = literals.get(name, 2)
        assert op.accepts(literal)
        expected = [OPERATORS[name].test(v, literal) for v in x.tolist()]
        assert op.bind(literal)(x).tolist() == expected, name
    assert not ARRAY_OPERATORS[">"].accepts(True)
    assert not ARRAY_OPERATORS[">"].accepts(2.0**60)
    assert not ARRAY_OPERATORS[">"].accepts(math.inf)
    assert not ARRAY_OPERATORS["=="].accepts_text(5)


@pytest.mark.parametrize("name", ["iqr", "mad"])
def test_exact_detectors_score_series_equals_streaming_bit_for_bit(name: str) -> None:
    assert SCORE_TOLERANCE[name] == 0.0
    rng = np.random.default_rng(11)
    x = np.round(rng.gamma(3.0, 20.0, 3000), 1)
    x[500:700] = 42.0
    for window in (4, 7, 50, None):
        detector = create_from_spec(name, {"window": window, "min_baseline": 3})
        np.testing.assert_array_equal(detector.score_series(x), stream_scores(detector.fresh(), x))


def test_tolerances_cover_only_registered_detectors() -> None:
    assert set(SCORE_TOLERANCE) <= set(DETECTORS)


# -- fallbacks ----------------------------------------------------------------------------

FRAME = random_frame(1, 200, span=3600)


def metric(**extra: Any) -> dict[str, Any]:
    return {
        "rule_name": "cpu",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 85},
        **extra,
    }


def anomaly(group_by: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "rule_name": "lat",
        "trigger_type": "anomaly",
        "trigger_spec": {"value_path": "latency", "anomaly_method": "zscore", **spec},
        "group_by": group_by or [],
    }


@pytest.mark.parametrize(
    ("rule", "frame", "reason"),
    [
        (metric(window_config={"type": "tumbling", "size": "1m"}), FRAME, "window rules"),
        (
            {
                "rule_name": "s",
                "trigger_type": "schedule",
                "trigger_spec": {"scheduleExpression": "*/5 * * * *"},
            },
            FRAME,
            "schedule rules",
        ),
        (metric(pending=2), FRAME, "pending/recovery"),
        (metric(recovery={"threshold": 80}), FRAME, "pending/recovery"),
        (
            metric(
                enrichment=[
                    {
                        "type": "aggregate",
                        "field": "cpu",
                        "aggregation": "avg",
                        "window": "1h",
                        "output_field": "cpu_1h",
                    }
                ]
            ),
            FRAME,
            "enrichment",
        ),
        (
            {
                "rule_name": "m",
                "trigger_type": "metric",
                "trigger_spec": {
                    "metric_name": "cpu",
                    "operator": ">",
                    "threshold": 1,
                    "value_path": "data",
                },
            },
            FRAME,
            "value_path",
        ),
        (
            {"rule_name": "e", "trigger_type": "event", "trigger_spec": {"event_type": "error"}},
            FRAME.assign(type="error"),
            "event_type/source",
        ),
        (metric(), FRAME.drop(columns="timestamp"), "clock"),
        (metric(), FRAME.assign(timestamp=[{"t": 1}] * len(FRAME)), "timestamp column"),
        (metric(), FRAME.assign(cpu=FRAME["cpu"].astype(np.float32)), "'cpu'"),
        (metric(), FRAME.assign(cpu=FRAME["cpu"].astype(object)), "'cpu'"),
        (metric(), FRAME.assign(cpu=FRAME["severity"]), "has no exact array form"),
        (metric(composite_condition={"field": "data.cpu", "op": ">", "value": 1}), FRAME, "dotted"),
        (
            metric(composite_condition={"field": "severity", "op": "contains", "value": "c"}),
            FRAME,
            "has no exact array form",
        ),
        (
            metric(composite_condition={"field": "severity", "op": "==", "value": "5"}),
            FRAME,
            "has no exact array form",
        ),
        (anomaly(), FRAME.drop(columns="latency"), "value_path"),
        (anomaly(), FRAME.assign(latency=FRAME["severity"]), "value_path"),
        (anomaly(group_by=["cpu"]), FRAME, "group_by field 'cpu'"),
        (anomaly(group_by=["data.host"]), FRAME, "group_by field"),
        (metric(), FRAME.set_axis(["cpu", *FRAME.columns[1:]], axis=1), "duplicate"),
    ],
)
def test_ineligible_rules_name_why_and_take_the_engine_loop(
    rule: dict[str, Any], frame: pd.DataFrame, reason: str
) -> None:
    why = why_not(RuleRuntime(rule), _named(frame))
    assert why is not None and reason in why
    with pytest.raises(NotColumnar, match=re.escape(why)):
        evaluate(RuleRuntime(rule), _named(frame), lambda rows: [])
    if frame.columns.is_unique and "value_path" not in why:
        quick = replay([rule], frame, clock=FakeClock())
        slow = replay([rule], frame, clock=FakeClock(), fast=False)
        assert quick.summary == slow.summary


def test_irregular_frames_fall_back_during_the_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = random_frame(2, 300, span=7200)
    frame.loc[17, "timestamp"] = math.inf
    with pytest.raises(NotColumnar, match="infinite timestamp"):
        evaluate(RuleRuntime(metric()), _named(frame), lambda rows: [])
    assert_parity([metric()], frame)  # the engine loop decides: an invalid time, counted
    loop = RuleRuntime(metric())
    assert loop.process({"timestamp": math.inf, "cpu": 1.0}) == [] and loop.stats.invalid_time == 1
    bad_iso = frame.assign(timestamp="2026-02-08T10:00:00Z")
    bad_iso.loc[3, "timestamp"] = "not a time"
    with pytest.raises(NotColumnar, match="invalid"):
        evaluate(RuleRuntime(metric()), _named(bad_iso), lambda rows: [])
    assert_parity([metric()], bad_iso)
    # values outside the range where zscore's vectorised scores are promised to agree
    tiny = random_frame(2, 300, span=7200).assign(latency=lambda f: f["latency"] * 1e-200)
    with pytest.raises(NotColumnar, match="outside the range"):
        evaluate(RuleRuntime(anomaly(window=20, min_baseline=5)), _named(tiny), lambda rows: [])
    assert_parity([anomaly(window=20, min_baseline=5)], tiny)
    # a score within the detector's rounding of the threshold: the engine decides
    monkeypatch.setitem(SCORE_TOLERANCE, "zscore", 1e6)
    rule = anomaly(window=20, min_baseline=5)
    clean = random_frame(2, 300, span=7200)
    with pytest.raises(NotColumnar, match="rounding"):
        evaluate(RuleRuntime(rule), _named(clean), lambda rows: [])
    assert_parity([rule], clean)


def test_duplicate_rule_names_run_in_the_engine_loop() -> None:
    rules = [
        metric(),
        metric(trigger_spec={"metric_name": "cpu", "operator": "<", "threshold": 20}),
    ]
    quick, slow = replay(rules, FRAME), replay(rules, FRAME, fast=False)
    assert quick.summary == slow.summary
    assert quick.firing_models == slow.firing_models


def test_a_disagreeing_detector_is_caught_when_the_firings_are_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rule = anomaly(anomaly_method="iqr", window=20, min_baseline=5)

    def wrong(self: Any, values: Any) -> np.ndarray:
        return np.full(len(values), 9.0)

    monkeypatch.setattr(DETECTORS["iqr"], "score_series", wrong)
    result = replay([rule], FRAME)
    assert result.summary.rules["lat"].firings > 0
    with pytest.raises(CepkitError, match="disagrees with the streaming detector"):
        _ = result.firing_models


def test_firings_are_built_once_and_on_demand() -> None:
    calls: list[int] = []
    frame = random_frame(4, 300).fillna({"cpu": 0.0})
    named = _named(frame)

    def events_at(rows: np.ndarray) -> list[dict[str, Any]]:
        calls.append(len(rows))
        return _records(_prepared(named.iloc[rows]))

    evaluation = evaluate(RuleRuntime(metric()), named, events_at)
    assert calls == []  # no group, no suppression, no error sample needs a row
    firings = evaluation.firings()
    assert evaluation.firings() is firings and calls == [len(firings)]
    assert all(isinstance(f, Firing) and f.values["cpu"] > 85 for f in firings)
