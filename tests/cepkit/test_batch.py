"""Batches of live events: the columnar per-event path must equal ``process`` per event."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.batch import EventBatch
from cepkit.clock import FakeClock
from cepkit.engine import RuleRuntime

T0 = 1_770_000_000.0

# values a field may hold: regular numbers and strings most of the time, and now and then
# what sends a batch to the loop (null, bool, nested, NaN, huge) or is absent
regular = st.one_of(
    st.floats(min_value=-100, max_value=200, allow_nan=False),
    st.integers(min_value=-5, max_value=150),
)
irregular = st.one_of(
    st.none(),
    st.booleans(),
    st.just(math.nan),
    st.just(2.0**60),
    st.just({"nested": 1}),
    st.sampled_from(["critical", "high", "91"]),
)
ABSENT = object()


@st.composite
def events(draw: st.DrawFn, *, regular_only: bool) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=120))
    out = []
    value = regular if regular_only else st.one_of(regular, regular, regular, irregular)
    for i in range(n):
        event: dict[str, Any] = {
            "timestamp": T0 + draw(st.integers(min_value=0, max_value=600)),
            "host": draw(st.sampled_from(["a", "b", "c"])),
        }
        for name in ("cpu", "mem"):
            v = draw(st.one_of(value, st.just(ABSENT)) if not regular_only else value)
            if v is not ABSENT:
                event[name] = v
        kind = draw(st.sampled_from(["metric", "error", None]))
        if kind is not None:
            event["event_type"] = kind
        if kind == "error":
            event["severity"] = draw(st.sampled_from(["critical", "warning"]))
        if not regular_only and i % 17 == 5:
            event["timestamp"] = draw(
                st.sampled_from(["2026-02-08T10:30:00Z", "not a time", (T0 + i) * 1000])
            )
        out.append(event)
    return out


def threshold(op: str, value: float) -> dict[str, Any]:
    spec = {"metric_name": "cpu", "operator": op, "threshold": value}
    return {"rule_name": "cpu", "trigger_type": "metric", "trigger_spec": spec}


CONDITIONS = {
    "logic": "OR",
    "conditions": [
        {"field": "severity", "op": "==", "value": "critical"},
        {
            "logic": "NOT",
            "conditions": [{"field": "mem", "op": "between", "value": [10, 90]}],
        },
        {"field": "cpu", "op": "exists", "value": False},
    ],
}

RULES: list[dict[str, Any]] = [
    threshold(">", 90),
    threshold("<=", 3),
    {**threshold(">", 50), "group_by": ["host"], "suppression": {"interval": "2m"}},
    {
        "rule_name": "errors",
        "trigger_type": "event",
        "trigger_spec": {"event_type": "error", "conditions": [CONDITIONS]},
    },
    {
        "rule_name": "conditions_only",
        "trigger_type": "event",
        "trigger_spec": {"conditions": [CONDITIONS]},
        "suppression": {"interval": "1m", "key": ["host"]},
    },
    *(
        {
            "rule_name": f"anomaly_{method}",
            "trigger_type": "anomaly",
            "trigger_spec": {
                "anomaly_method": method,
                "value_path": "cpu",
                "window": 20,
                "threshold": 1.5,
                "min_baseline": 5,
            },
            "group_by": ["host"],
        }
        for method in ("zscore", "ema", "iqr")
    ),
]


def compare(rule: dict[str, Any], stream: list[dict[str, Any]], size: int) -> RuleRuntime:
    one = RuleRuntime(rule, clock=FakeClock())
    expected = [f for e in stream for f in one.process(e)]
    many = RuleRuntime(rule, clock=FakeClock())
    got = []
    for i in range(0, len(stream), size):
        got += many.process_batch(EventBatch(stream[i : i + size]))
    assert [f.model_dump() for f in got] == [f.model_dump() for f in expected]
    assert many.stats.as_dict() == one.stats.as_dict()
    assert many.snapshot() == one.snapshot()
    return many


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(range(len(RULES))),
    events(regular_only=False),
    st.sampled_from([1, 32, 50, 1000]),
)
def test_batches_equal_the_loop(index: int, stream: list[dict[str, Any]], size: int) -> None:
    compare(RULES[index], stream, size)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(range(len(RULES))), events(regular_only=True))
def test_regular_batches_take_the_columnar_path_and_agree(
    index: int, stream: list[dict[str, Any]]
) -> None:
    runtime = RuleRuntime(RULES[index], clock=FakeClock())
    if len(stream) >= 32:  # the path is taken (None would mean: the loop)
        assert runtime._columnar_per_event(EventBatch(stream)) is not None
    compare(RULES[index], stream, 40)


def test_rules_sharing_a_batch_read_it_once_and_answer_alone() -> None:
    stream = [
        {"timestamp": T0 + i, "host": "ab"[i % 2], "cpu": float(i % 100), "mem": 50}
        for i in range(500)
    ]
    shared = EventBatch(stream)
    together = [RuleRuntime(rule, clock=FakeClock()) for rule in RULES]
    alone = [RuleRuntime(rule, clock=FakeClock()) for rule in RULES]
    for a, b in zip(together, alone, strict=True):
        assert [f.firing_id for f in a.process_batch(shared)] == [
            f.firing_id for f in b.process_batch(list(stream))
        ]
    assert shared.numbers("cpu") is shared.numbers("cpu")  # cached
    assert sum(f.firings for f in (r.stats for r in together)) > 0


def test_an_irregular_field_sends_the_batch_to_the_loop() -> None:
    stream = [{"timestamp": T0 + i, "cpu": 95.0} for i in range(40)]
    stream[7] = {"timestamp": T0 + 7, "cpu": None}
    runtime = RuleRuntime(threshold(">", 90), clock=FakeClock())
    assert runtime._columnar_per_event(EventBatch(stream)) is None
    firings = runtime.process_batch(stream)
    assert len(firings) == 39 and runtime.stats.evaluation_errors == 1


def test_columns_are_exact_or_refused() -> None:
    batch = EventBatch([{"x": 1}, {"x": 2.5}, {}, {"x": float(2**53)}, {"y": math.nan}])
    assert batch.numbers("x") is None  # 2**53 is beyond float64's exact integers
    assert batch.numbers("y") is None  # a NaN the event holds is not an absent field
    small = EventBatch([{"x": 1}, {"x": 2.5}, {}])
    column = small.numbers("x")
    assert column is not None
    np.testing.assert_array_equal(column, [1.0, 2.5, math.nan])
    assert small.column("z") == (True, None)
    assert EventBatch([{"s": "a"}, {"s": 1}]).column("s") == (False, None)
    sparse = EventBatch([{"s": "a"}, {}, {"n": 1.0}])
    strings, numbers = sparse.strings("s"), sparse.numbers("n")
    assert strings is not None and strings[0] == "a" and math.isnan(strings[1])
    assert numbers is not None and math.isnan(numbers[0]) and numbers[2] == 1.0
    assert sparse.texts("s") is None  # absent somewhere
    # a NaN an event holds (json reads "NaN") is a value, not an absent field
    assert EventBatch([{"s": "a"}, {}, {"s": math.nan}]).strings("s") is None
    assert EventBatch([{"n": 1.0}, {}, {"n": math.nan}]).numbers("n") is None


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["error", "metric", "warn"]),
            st.sampled_from(["api", "db", None, ABSENT]),
            st.sampled_from(["critical", "warning"]),
        ),
        min_size=32,
        max_size=80,
    )
)
def test_typed_events_filter_by_columns_as_the_loop_does(
    rows: list[tuple[str, Any, str]],
) -> None:
    """Every event names its event_type: the type/source filter reads the columns (a
    null source, which the columns cannot hold, sends the batch to the loop)."""
    stream = []
    for i, (kind, source, severity) in enumerate(rows):
        event: dict[str, Any] = {"timestamp": T0 + i, "event_type": kind, "severity": severity}
        if source is not ABSENT:
            event["source"] = source
        stream.append(event)
    spec = {
        "event_type": "error",
        "source": "api",
        "conditions": [{"field": "severity", "op": "==", "value": "critical"}],
    }
    rule = {"rule_name": "api_errors", "trigger_type": "event", "trigger_spec": spec}
    compare(rule, stream, 1000)
