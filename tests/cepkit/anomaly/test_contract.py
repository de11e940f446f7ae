"""The contract every registered detector keeps (parametrised over ``DETECTORS``).

Baseline insufficient never fires; scoring is causal and does not learn; the vectorised
``score_series`` equals the streaming loop (random series and a NAB series, infinite
scores included); snapshots round-trip through JSON; ``status()`` reports its fields.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cepkit.anomaly import DETECTORS, Detector, create, create_from_spec, restore
from cepkit.anomaly.base import stream_scores
from cepkit.rules import AnomalyTrigger

NAMES = sorted(DETECTORS)
NAB = Path("/work/shared/data/nab/data/realKnownCause")
RTOL = ATOL = 1e-9


def build(name: str, **spec: Any) -> Detector:
    """A detector from one spec holding every method's parameters (as a rule would)."""
    base = {"window": 20, "min_baseline": 5, "alpha": 0.3, "multiplier": 1.5, "threshold": 3.0}
    return create_from_spec(name, {**base, **spec})


def assert_same_scores(streamed: np.ndarray, vectorised: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(streamed), np.isnan(vectorised))
    np.testing.assert_array_equal(np.isinf(streamed), np.isinf(vectorised))
    np.testing.assert_allclose(vectorised, streamed, rtol=RTOL, atol=ATOL)


# values within the documented domain (zero, or magnitudes in [1e-100, 1e100]), with runs
# of repeated values so that zero-spread windows and ties are common
_number = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False).map(
        lambda v: 0.0 if abs(v) < 1e-100 else v
    ),
    st.integers(-3, 3).map(float),
    st.sampled_from([1e6, 1e6 + 2**-33, 1e6 - 2**-33, 1e-90, 5e5]),
)
_runs = st.lists(st.tuples(_number, st.integers(1, 30)), max_size=25)
series = st.one_of(
    st.lists(_number, max_size=250),
    _runs.map(lambda runs: [v for v, k in runs for _ in range(k)]),
)
specs = st.fixed_dictionaries(
    {
        "window": st.sampled_from([None, 1, 2, 3, 4, 7, 16, 50]),
        "min_baseline": st.integers(1, 20),
        "alpha": st.sampled_from([0.05, 0.3, 0.5, 1.0]),
        "multiplier": st.sampled_from([0.5, 1.5, 3.0]),
    }
)
hypothesis_settings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("name", NAMES)
def test_baseline_insufficient_never_fires(name: str) -> None:
    det = create(name, min_baseline=10)
    for i in range(9):
        verdict = det.check(1e9)
        assert verdict.status == "baseline_insufficient" and not verdict.is_anomaly
        assert verdict.score is None and verdict.details["min_baseline"] == 10
        assert det.score_one(1e9) is None
        det.learn_one(10 + (i % 3))
    det.learn_one(11)
    verdict = det.check(1e9)
    assert verdict.status == "ok" and verdict.is_anomaly and verdict.method == name
    assert det.status().ready


@pytest.mark.parametrize("name", NAMES)
def test_scoring_is_causal_and_does_not_learn(name: str) -> None:
    det = build(name, min_baseline=3)
    for v in [1.0, 2.0, 3.0, 2.0]:
        det.learn_one(v)
    state = det.snapshot()
    first = det.score_one(50.0)
    assert det.score_one(50.0) == first
    det.check(50.0)
    assert det.n == 4
    # scoring may refresh internal sums, never what was learned: a twin restored from
    # before the scoring says exactly the same
    twin = restore(state)
    assert twin.status() == det.status() and twin.score_one(50.0) == first
    det.learn_one(2.5)
    twin.learn_one(2.5)
    assert twin.score_one(-7.0) == det.score_one(-7.0)


@pytest.mark.parametrize("name", NAMES)
@given(values=series, cut=st.integers(0, 250))
@hypothesis_settings
def test_score_series_uses_only_the_past(name: str, values: list[float], cut: int) -> None:
    det = build(name)
    whole = det.score_series(values)
    np.testing.assert_array_equal(det.score_series(values[:cut]), whole[:cut])


@pytest.mark.parametrize("name", NAMES)
@given(values=series, spec=specs)
@hypothesis_settings
def test_streaming_equals_vectorised(name: str, values: list[float], spec: dict[str, Any]) -> None:
    det = build(name, **spec)
    streamed = stream_scores(det.fresh(), np.asarray(values, dtype=float))
    assert_same_scores(streamed, det.score_series(values))


@pytest.mark.parametrize("name", NAMES)
def test_streaming_equals_vectorised_on_flat_lines(name: str) -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [
            rng.normal(10, 1, 150),
            np.full(3000, 12.0),
            [12.5],
            np.full(200, 12.0),
            rng.normal(size=50),
        ]
    )
    det = build(name, window=100, min_baseline=30)
    streamed = stream_scores(det.fresh(), values)
    assert_same_scores(streamed, det.score_series(values))
    assert np.isinf(streamed).any()  # a value off a flat line has an infinite score
    assert (streamed[2200:3150] == 0).all()  # the flat value itself scores 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "csv", ["rogue_agent_key_updown.csv", "machine_temperature_system_failure.csv"]
)
def test_streaming_equals_vectorised_on_nab(name: str, csv: str) -> None:
    path = NAB / csv
    if not path.exists():
        pytest.skip(f"NAB corpus not found at {path}")
    values = pd.read_csv(path)["value"].to_numpy(dtype=float)
    det = create(name)  # the defaults a rule gets: window 100, min_baseline 30
    streamed = stream_scores(det.fresh(), values)
    assert_same_scores(streamed, det.score_series(values))
    assert np.isfinite(streamed[30:]).mean() > 0.5


@pytest.mark.parametrize("name", NAMES)
@given(values=series, spec=specs, cut=st.integers(0, 250))
@settings(max_examples=30, deadline=None)
def test_snapshot_round_trip(
    name: str, values: list[float], spec: dict[str, Any], cut: int
) -> None:
    det = build(name, **spec)
    for v in values[:cut]:
        det.learn_one(v)
    text = json.dumps(det.snapshot(), allow_nan=False)
    twin = restore(json.loads(text))
    assert type(twin) is type(det) and twin.params() == det.params()
    assert twin.status() == det.status() and twin.snapshot() == det.snapshot()
    for v in [*values[cut:], 0.0, 1e5]:
        assert twin.score_one(v) == det.score_one(v)
        det.learn_one(v)
        twin.learn_one(v)
    assert twin.snapshot() == det.snapshot()


@pytest.mark.parametrize("name", NAMES)
def test_restore_through_the_class_and_bad_snapshots(name: str) -> None:
    det = build(name)
    for v in range(30):
        det.learn_one(float(v % 7))
    cls = DETECTORS[name]
    assert cls.restore(det.snapshot()).score_one(3.0) == det.score_one(3.0)
    other = next(n for n in NAMES if n != name)
    with pytest.raises(ValueError, match=f"snapshot is of method '{name}', not '{other}'"):
        DETECTORS[other].restore(det.snapshot())
    with pytest.raises(ValueError, match="not a detector snapshot"):
        restore({"method": name})
    with pytest.raises(ValueError, match="unsupported snapshot version"):
        restore({**det.snapshot(), "version": 99})
    with pytest.raises(ValueError, match=f"bad {name} snapshot state"):
        restore({**det.snapshot(), "state": {}})
    with pytest.raises(ValueError, match="unknown anomaly method 'lof'"):
        restore({**det.snapshot(), "method": "lof"})


@pytest.mark.parametrize("name", NAMES)
def test_status_fields(name: str) -> None:
    det = build(name, min_baseline=5)
    assert det.reports, "a detector declares the status fields it fills"
    status = det.status()
    assert (status.method, status.n, status.ready) == (name, 0, False)
    for i in range(6):
        det.learn_one(10.0 + i % 3)
        status = det.status()
        assert status.n == det.n == i + 1
        assert status.ready == (i + 1 >= 5)
    fields = status.model_dump()
    for field in det.reports:
        assert isinstance(fields[field], float) and math.isfinite(fields[field])
    details = det.check(11.0).details
    assert {"n", "ready", *det.reports} <= set(details) and details["threshold"] == det.threshold


@pytest.mark.parametrize("name", NAMES)
def test_bad_values_are_refused(name: str) -> None:
    det = build(name)
    for bad in [math.nan, math.inf, -math.inf]:
        with pytest.raises(ValueError, match="non-finite"):
            det.learn_one(bad)
    assert det.n == 0
    with pytest.raises(ValueError, match="finite values"):
        det.score_series([1.0, math.nan])
    with pytest.raises(ValueError, match="1-D series"):
        det.score_series([[1.0, 2.0]])
    assert det.score_series([]).shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_every_method_is_accepted_by_anomaly_rules(name: str) -> None:
    spec = AnomalyTrigger.model_validate(
        {"value_path": "cpu", "anomaly_method": name, "window": 50, "min_baseline": 10}
    )
    det = create_from_spec(spec.anomaly_method, spec.model_dump())
    assert det.name == name and det.min_baseline == 10
    for v in [40.0, 42.0, 41.0, 43.0, 39.0, 40.5, 41.5, 42.5, 40.0, 41.0]:
        det.learn_one(v)
    assert det.check(41.0).status == "ok" and det.check(95.0).is_anomaly


@pytest.mark.parametrize("name", sorted(DETECTORS))
@given(values=series)
@settings(max_examples=30, deadline=None)
def test_score_learn_one_is_score_then_learn(name: str, values: list[float]) -> None:
    fused, plain = build(name, window=20, min_baseline=5), build(name, window=20, min_baseline=5)
    for v in values:
        expected = plain.score_one(v)
        plain.learn_one(v)
        got = fused.score_learn_one(v)
        assert (got is None and expected is None) or got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_pickle_and_deepcopy_keep_independent_state(name: str) -> None:
    import copy
    import pickle

    det = build(name, window=20, min_baseline=5)
    for v in [1.0, 2.0, 4.0, 3.0, 2.5, 2.0, 1.5]:
        det.learn_one(v)
    for clone in (pickle.loads(pickle.dumps(det)), copy.deepcopy(det)):
        assert clone.score_one(9.0) == det.score_one(9.0)
        clone.learn_one(100.0)
        assert clone.n == det.n + 1  # learning in the clone leaves the original alone


@pytest.mark.parametrize("name", NAMES)
@given(values=series, spec=specs, threshold=st.sampled_from([0.5, 1.0, 3.0, math.inf]))
@hypothesis_settings
def test_score_learn_many_equals_one_by_one_and_stops_at_each_anomaly(
    name: str, values: list[float], spec: dict[str, Any], threshold: float
) -> None:
    """The engine's batch loop: the same scores, anomalies and state (the status read at
    each anomaly included) as score_learn_one value by value."""
    one, many = build(name, **spec, threshold=threshold), build(name, **spec, threshold=threshold)
    expected: list[tuple[list[float | None], Any]] = []  # scores up to each stop, status there
    taken: list[float | None] = []
    for v in values:
        score = one.score_learn_one(v)
        taken.append(score)
        if score is not None and one.is_anomalous(score):
            expected.append((taken, one.status()))
            taken = []
    if taken:
        expected.append((taken, one.status()))
    got = []
    start = 0
    while start < len(values):
        scores = many.score_learn_many(values, start)
        got.append((scores, many.status()))
        start += len(scores)
    assert got == expected
    assert many.snapshot() == one.snapshot()
