"""Incremental aggregators: a contract suite over every registered name, pandas as the
oracle (per series and per group), exact rational arithmetic where pandas is not exact,
snapshot/restore and merge, and the edge cases.

Tolerance against pandas: ``rel=1e-9`` plus an absolute term of ``1e-12 x`` the data's
magnitude (``max |x|``; ``sum |x|`` for sums). The absolute term matters only when the
values cancel out: then neither pandas nor any float algorithm is exact (pandas' std of
``1e9 + k / 1000`` is off by ~1e-7 relative), so "1e-9 of the result" is not a property
either side can have. The exact oracle below holds stddev to ``rel=1e-9`` without it.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.aggregations import (
    AGGREGATIONS,
    AGGREGATORS,
    Aggregator,
    Avg,
    Percentile,
    Sum,
    check_aggregation_name,
    create_aggregator,
    restore_aggregator,
)

PERCENTILES = ["p1", "p5", "p25", "p50", "p75", "p90", "p95", "p99", "p99.9", "p12.5"]
NAMES = [*AGGREGATORS, *PERCENTILES]
NUMERIC = ["avg", "sum", "min", "max", "stddev", *PERCENTILES]
START, END = 1000.0, 1060.0  # the window bounds rate is evaluated with

EMPTY: dict[str, Any] = {
    "avg": None,
    "sum": 0.0,
    "min": None,
    "max": None,
    "count": 0,
    "stddev": None,
    "distinct_count": 0,
    "rate": 0.0,
    "first": None,
    "last": None,
    **dict.fromkeys(PERCENTILES),
}

# values "within reason": any magnitude from 1e-9 to 1e9 of either sign, plus small
# integers and a few decimals, so that repeats, ties and exact zeros are common
floats = st.one_of(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_subnormal=False).filter(
        lambda x: x == 0.0 or abs(x) >= 1e-9
    ),
    st.integers(-20, 20).map(float),
    st.sampled_from([0.1, 0.2, 0.3, -2.5, 1e-6, 1e6 + 0.5, 1e9 + 0.001]),
)
times = st.integers(0, 8).map(lambda i: START + i)  # few distinct times: many ties
rows = st.lists(st.tuples(floats, times), max_size=60)
keyed_rows = st.lists(st.tuples(st.sampled_from("abc"), floats, times), max_size=80)


def feed(name: str, rows: list[tuple[float, float]]) -> Aggregator:
    agg = create_aggregator(name)
    for value, ts in rows:
        agg.add(None if not AGGREGATIONS.get(name, True) else value, ts)
    return agg


def na_to_none(value: Any) -> Any:
    return None if pd.isna(value) else value


def pandas_value(name: str, df: pd.DataFrame) -> Any:
    """What pandas says ``name`` of ``df.v`` is (None where pandas says NaN)."""
    s = df["v"]
    by_time = df.sort_values("ts", kind="stable")["v"]
    oracles: dict[str, Callable[[], Any]] = {
        "avg": s.mean,
        "sum": s.sum,
        "min": s.min,
        "max": s.max,
        "count": s.count,
        "stddev": lambda: s.std(ddof=1),
        "distinct_count": s.nunique,
        "rate": lambda: s.count() / (END - START),
        "first": lambda: by_time.iloc[0] if len(s) else None,
        "last": lambda: by_time.iloc[-1] if len(s) else None,
    }
    if name in oracles:
        return na_to_none(oracles[name]())
    return na_to_none(s.quantile(Percentile(name).q))


def assert_close(name: str, got: Any, expected: Any, values: list[float]) -> None:
    if expected is None or name not in NUMERIC:
        assert got == expected, (name, got, expected)
        return
    scale = math.fsum(map(abs, values)) if name == "sum" else max(map(abs, values))
    assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-12 * max(scale, 1.0)), name


def frame(rows: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame({"v": [v for v, _ in rows], "ts": [t for _, t in rows]}, dtype=float)


# -- the contract, over every registered aggregation --------------------------------------


def test_registry_is_consistent() -> None:
    assert list(AGGREGATIONS) == list(AGGREGATORS)
    assert list(AGGREGATORS)[:5] == ["avg", "sum", "min", "max", "count"]
    for name, cls in AGGREGATORS.items():
        assert cls.name == name
        assert AGGREGATIONS[name] == cls.needs_field == (name not in {"count", "rate"})
        assert issubclass(cls, Aggregator)


@pytest.mark.parametrize("name", NAMES)
def test_contract(name: str) -> None:
    agg = create_aggregator(name.upper())
    assert agg.label == name
    assert not hasattr(agg, "__dict__"), "aggregators use __slots__"
    assert agg.result(START, END) == EMPTY[name]
    state = agg.snapshot()
    assert state["type"] == name
    assert json.loads(json.dumps(state, allow_nan=False)) == state  # strict JSON
    again = restore_aggregator(state)
    assert type(again) is type(agg) and again.result(START, END) == EMPTY[name]
    assert name in repr(agg)


@pytest.mark.parametrize("name", NAMES)
def test_restore_refuses_another_type(name: str) -> None:
    other = "count" if name != "count" else "avg"
    state = create_aggregator(other).snapshot()
    with pytest.raises(ValueError, match="cannot restore"):
        type(create_aggregator(name)).restore(state)


# -- pandas as the oracle ------------------------------------------------------------------


@settings(deadline=None)
@given(rows=rows)
def test_matches_pandas(rows: list[tuple[float, float]]) -> None:
    df = frame(rows)
    values = [v for v, _ in rows]
    for name in NAMES:
        got = feed(name, rows).result(START, END)
        assert_close(name, got, pandas_value(name, df), values)


@settings(deadline=None)
@given(rows=keyed_rows)
def test_matches_pandas_groupby(rows: list[tuple[str, float, float]]) -> None:
    df = pd.DataFrame(rows, columns=["key", "v", "ts"]).astype({"v": float, "ts": float})
    aggs: dict[str, dict[str, Aggregator]] = {}
    for key, value, ts in rows:  # what the engine does: one aggregator per group key
        per_key = aggs.setdefault(key, {name: create_aggregator(name) for name in NAMES})
        for name, agg in per_key.items():
            agg.add(value if AGGREGATIONS.get(name, True) else None, ts)
    grouped = df.groupby("key")["v"]
    table = grouped.agg(["mean", "sum", "min", "max", "count", "std", "nunique"])
    table.columns = ["avg", "sum", "min", "max", "count", "stddev", "distinct_count"]
    by_time = df.sort_values("ts", kind="stable").groupby("key")["v"]
    table["first"], table["last"] = by_time.first(), by_time.last()
    for name in PERCENTILES:
        table[name] = grouped.quantile(Percentile(name).q)
    assert sorted(aggs) == sorted(table.index)
    for key, per_key in aggs.items():
        values = df.loc[df["key"] == key, "v"].tolist()
        for name in table.columns:
            expected = na_to_none(table.at[key, name])
            assert_close(name, per_key[name].result(), expected, values)


@settings(deadline=None)
@given(values=st.lists(floats, min_size=2, max_size=60))
def test_stddev_is_exact_to_1e9(values: list[float]) -> None:
    exact = [Fraction(v) for v in values]
    mean = sum(exact) / len(exact)
    variance = sum((x - mean) ** 2 for x in exact) / (len(exact) - 1)
    got = feed("stddev", [(v, 0.0) for v in values]).result()
    assert got == pytest.approx(math.sqrt(variance), rel=1e-9, abs=1e-300)


@settings(deadline=None)
@given(values=st.lists(floats, max_size=60))
def test_sum_and_avg_within_the_documented_bound(values: list[float]) -> None:
    bound = max(len(values) - 1, 0) * 2.0**-53 * math.fsum(map(abs, values))
    exact = math.fsum(values)
    total, mean = Sum(), Avg()
    for v in values:
        total.add(v, 0.0)
        mean.add(v, 0.0)
    assert abs(total.result() - exact) <= bound
    avg = mean.result()
    if values:
        assert avg is not None
        assert abs(avg - exact / len(values)) <= bound / len(values) + 2.0**-52 * abs(avg)


# -- snapshot, restore, merge --------------------------------------------------------------


@settings(deadline=None)
@given(rows=rows, cut=st.integers(0, 60))
def test_snapshot_json_restore_continue(rows: list[tuple[float, float]], cut: int) -> None:
    cut = min(cut, len(rows))
    for name in NAMES:
        head = feed(name, rows[:cut])
        if cut % 2:
            head.result(START, END)  # reading (percentiles sort) must not disturb the state
        state = json.loads(json.dumps(head.snapshot(), allow_nan=False))
        resumed = restore_aggregator(state)
        for value, ts in rows[cut:]:
            resumed.add(value if AGGREGATIONS.get(name, True) else None, ts)
        assert resumed.result(START, END) == feed(name, rows).result(START, END), name


@settings(deadline=None)
@given(rows=rows, cut=st.integers(0, 60))
def test_merge_equals_one_pass(rows: list[tuple[float, float]], cut: int) -> None:
    cut = min(cut, len(rows))
    values = [v for v, _ in rows]
    for name in NAMES:
        left, right = feed(name, rows[:cut]), feed(name, rows[cut:])
        left.merge(right)
        one_pass = feed(name, rows).result(START, END)
        assert_close(name, left.result(START, END), one_pass, values)


def test_pickle_round_trip() -> None:
    for name in NAMES:
        agg = feed(name, [(3.0, START), (1.0, START + 1), (2.0, START)])
        again = pickle.loads(pickle.dumps(agg))
        assert again.result(START, END) == agg.result(START, END)


def test_merge_needs_the_same_percentile() -> None:
    with pytest.raises(ValueError, match="cannot merge p99 into p95"):
        create_aggregator("p95").merge(create_aggregator("p99"))


# -- edge cases ----------------------------------------------------------------------------


def test_one_value() -> None:
    results = {name: feed(name, [(7.25, START)]).result(START, END) for name in NAMES}
    assert results["stddev"] is None
    assert results["count"] == results["distinct_count"] == 1
    assert results["rate"] == 1 / 60
    for name in ["avg", "sum", "min", "max", "first", "last", *PERCENTILES]:
        assert results[name] == 7.25, name


@pytest.mark.parametrize("value", [0.1, -3.0, 1e9 + 0.1, 1e-7])
def test_all_equal_values(value: float) -> None:
    rows = [(value, START + i) for i in range(25)]
    assert feed("stddev", rows).result() == 0.0  # exactly; pandas may say 1e-17
    assert feed("min", rows).result() == feed("max", rows).result() == value
    assert feed("p99.9", rows).result() == feed("p1", rows).result() == value
    assert feed("distinct_count", rows).result() == 1


@pytest.mark.parametrize("name", ["median", "p0", "p100", "p150", "p05", "p", "p99.", "", "avg2"])
def test_unknown_names(name: str) -> None:
    message = (
        f"unknown aggregation {name!r}; expected one of: avg, sum, min, max, count, stddev, "
        "distinct_count, rate, first, last, p<1-99> (e.g. p50, p95, p99)"
    )
    with pytest.raises(ValueError) as info:
        create_aggregator(name)
    assert str(info.value) == message
    with pytest.raises(ValueError) as again:
        check_aggregation_name(name)
    assert str(again.value) == message


@pytest.mark.parametrize(
    ("name", "q"), [("p1", 0.01), ("P99", 0.99), ("p99.9", 0.999), ("p50.5", 0.505)]
)
def test_percentile_names(name: str, q: float) -> None:
    agg = create_aggregator(name)
    assert isinstance(agg, Percentile) and agg.q == q and agg.label == name.lower()


def test_percentile_interpolates_like_pandas() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    agg = create_aggregator("p95")
    for v in values:
        agg.add(v, START)
    assert agg.result() == pytest.approx(48.0) == pd.Series(values).quantile(0.95)
    agg.add(0.0, START)  # after a read, adding more still counts
    assert agg.result() == pytest.approx(pd.Series([*values, 0.0]).quantile(0.95))


def test_percentile_refuses_other_names() -> None:
    with pytest.raises(ValueError, match="'avg' is not a percentile"):
        Percentile("avg")
    with pytest.raises(ValueError, match="cannot restore a percentile"):
        Percentile.restore({"type": "avg", "values": []})


def test_rate_needs_bounds() -> None:
    agg = feed("rate", [(0.0, START)] * 30)
    assert agg.result(START, START + 60) == 0.5
    assert agg.result() is None
    assert agg.result(START, None) is None
    assert agg.result(START, START) is None


def test_first_and_last_break_ties_by_arrival() -> None:
    rows = [("b", 5.0), ("a1", 1.0), ("a2", 1.0), ("c1", 9.0), ("c2", 9.0), ("z", 3.0)]
    first, last = create_aggregator("first"), create_aggregator("last")
    for value, ts in rows:
        first.add(value, ts)
        last.add(value, ts)
    assert (first.result(), last.result()) == ("a1", "c2")
    # merging: the other side counts as arrived later
    early, late = create_aggregator("last"), create_aggregator("last")
    early.add("x", 9.0)
    late.add("y", 9.0)
    early.merge(late)
    assert early.result() == "y"


def test_distinct_count_takes_json_scalars() -> None:
    agg = create_aggregator("distinct_count")
    for value in ["eu", "us", "eu", 1, 1.0, 2, None, None, False, True, "1"]:
        agg.add(value, START)
    # eu us 1 2 False "1": 1 == 1.0 == True as Python and pandas see it; None is no value
    assert agg.result() == 6
    assert pd.Series(["eu", "us", "eu", 1, 1.0, 2, None, False, True, "1"]).nunique() == 6
    for value in [{"a": 1, "b": 2}, {"b": 2, "a": 1}, [1, 2]]:  # not scalars: by JSON text
        agg.add(value, START)  # type: ignore[arg-type]
    assert agg.result() == 8
    state = json.loads(json.dumps(agg.snapshot()))
    assert restore_aggregator(state).result() == 8


def test_restore_aggregator_refuses_unknown_types() -> None:
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        restore_aggregator({"type": "median"})
    with pytest.raises(ValueError, match="unknown aggregation None"):
        restore_aggregator({})


def test_stddev_with_a_large_offset() -> None:
    values = [1e9 + k / 1000 for k in (0, 1, 2, 3) * 50]  # epoch-like: offset >> spread
    exact = [Fraction(v) for v in values]
    mean = sum(exact) / len(exact)
    std = math.sqrt(sum((x - mean) ** 2 for x in exact) / (len(exact) - 1))
    assert feed("stddev", [(v, START) for v in values]).result() == pytest.approx(std, rel=1e-12)
