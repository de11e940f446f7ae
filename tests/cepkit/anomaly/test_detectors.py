"""Each method against numpy/pandas (or exact arithmetic), plus the kernels behind them."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.anomaly import EMA, IQR, MAD, ZScore, create, create_from_spec
from cepkit.anomaly._moments import expanding_scores, rolling_scores
from cepkit.anomaly._window import rolling_order_stats
from cepkit.anomaly.base import stream_scores
from cepkit.anomaly.mad import median_mad


def exact_zscores(values: list[float], window: int | None, start: int) -> list[float]:
    """The z-score of each value from ``start`` on, from exact rational running sums."""
    exact = [Fraction(v) for v in values]
    out = []
    first = 0 if window is None else start - window
    s1 = sum(exact[first:start], Fraction(0))
    s2 = sum((v * v for v in exact[first:start]), Fraction(0))
    for t in range(start, len(values)):
        if window is not None and t > start:  # the value that left the window
            old = exact[t - 1 - window]
            s1, s2 = s1 - old, s2 - old * old
        n = t if window is None else min(t, window)
        mean = s1 / n
        var = (s2 - s1 * mean) / (n - 1)
        out.append(abs(float(exact[t] - mean)) / math.sqrt(var))
        s1, s2 = s1 + exact[t], s2 + exact[t] * exact[t]
    return out


def test_unknown_method_and_bad_params() -> None:
    with pytest.raises(ValueError, match="unknown anomaly method 'lof'; expected one of"):
        create("lof")
    with pytest.raises(ValueError, match="bad parameters for 'zscore'"):
        create("zscore", alpha=0.3)
    with pytest.raises(ValueError, match="window must be None"):
        create("mad", window=0)
    assert isinstance(create_from_spec("iqr", {"multiplier": 3.0, "alpha": 0.1}), IQR)
    assert isinstance(create_from_spec("mad", {"window": 50, "alpha": 0.1}), MAD)


def test_zscore_matches_pandas_rolling() -> None:
    rnd = random.Random(7)
    values = [rnd.gauss(50, 5) for _ in range(300)]
    det = ZScore(window=20, min_baseline=20)
    s = pd.Series(values)
    mean = s.rolling(20).mean().shift(1)
    std = s.rolling(20).std().shift(1)
    expected = ((s - mean).abs() / std).to_numpy(copy=True)
    for i, v in enumerate(values):
        score = det.score_one(v)
        if i < 20:
            assert score is None
        else:
            assert score == pytest.approx(expected[i], rel=1e-9)
        det.learn_one(v)
    np.testing.assert_allclose(det.score_series(values), expected, rtol=1e-9)


def test_zscore_expanding_matches_pandas() -> None:
    values = np.random.default_rng(2).normal(3, 2, 3000)
    s = pd.Series(values)
    expected = ((s - s.expanding().mean().shift(1)).abs() / s.expanding().std().shift(1)).to_numpy(
        copy=True
    )
    expected[:5] = np.nan
    det = ZScore(window=None, min_baseline=5)
    np.testing.assert_allclose(det.score_series(values), expected, rtol=1e-9)
    np.testing.assert_allclose(stream_scores(det.fresh(), values), expected, rtol=1e-9)


@pytest.mark.parametrize("window", [30, None])
def test_zscore_is_exact_far_from_zero_and_across_level_shifts(window: int | None) -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate(
        [1e9 + rng.normal(0, 1e-3, 400), rng.normal(0, 1, 300), 5e5 + rng.normal(0, 1e-4, 300)]
    )
    det = ZScore(window=window, min_baseline=30)
    expected = exact_zscores(values.tolist(), window, 30)
    for scores in (det.score_series(values), stream_scores(det.fresh(), values)):
        np.testing.assert_allclose(scores[30:], expected, rtol=1e-9, atol=1e-9)


def test_zscore_long_stream_recomputes_and_agrees() -> None:
    values = np.random.default_rng(4).normal(100, 10, 70_000)  # past the 65536-update cap
    det = ZScore(window=100)
    np.testing.assert_allclose(
        stream_scores(det.fresh(), values), det.score_series(values), rtol=1e-9, atol=1e-9
    )


def test_constant_baseline() -> None:
    det = ZScore(window=10, min_baseline=3)
    for _ in range(5):
        det.learn_one(0.1)
    assert det.score_one(0.1) == 0.0
    assert det.score_one(0.2) == math.inf
    assert det.status().std == 0.0 and det.status().mean == 0.1


def test_iqr_matches_numpy_quantiles() -> None:
    rnd = random.Random(3)
    values = [rnd.uniform(0, 10) for _ in range(50)]
    det = IQR(window=None, multiplier=1.5, min_baseline=5)
    for v in values:
        det.learn_one(v)
    q1, q3 = np.quantile(values, [0.25, 0.75])
    status = det.status()
    assert status.q1 == pytest.approx(q1) and status.q3 == pytest.approx(q3)
    x = q3 + 4 * (q3 - q1)
    assert det.score_one(x) == pytest.approx((x - (q3 + 1.5 * (q3 - q1))) / (q3 - q1))
    assert det.score_one(float(np.median(values))) == 0.0


@pytest.mark.parametrize("window", [8, 25])
def test_iqr_score_series_matches_pandas_rolling_quantiles(window: int) -> None:
    values = np.random.default_rng(8).standard_t(3, 2000)
    s = pd.Series(values)
    q1 = s.rolling(window).quantile(0.25).shift(1).to_numpy()
    q3 = s.rolling(window).quantile(0.75).shift(1).to_numpy()
    iqr = q3 - q1
    expected = np.maximum(np.maximum(q1 - 2 * iqr - values, values - (q3 + 2 * iqr)), 0) / iqr
    scores = IQR(window=window, multiplier=2.0, min_baseline=window).score_series(values)
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-12)
    assert (scores[window:] > 0).any()


def test_ema_mean_matches_pandas_ewm() -> None:
    values = [float(v) for v in range(1, 40)]
    det = EMA(alpha=0.2, min_baseline=2)
    for v in values:
        det.learn_one(v)
    expected = pd.Series(values).ewm(alpha=0.2, adjust=False).mean().iloc[-1]
    assert det.status().ema == pytest.approx(expected, rel=1e-12)


def test_ema_scores_match_pandas_ewm() -> None:
    values = np.random.default_rng(6).normal(20, 3, 5000)
    s = pd.Series(values)
    ewm = s.ewm(alpha=0.1, adjust=False)
    mean, std = ewm.mean().shift(1), ewm.std(bias=True).shift(1)
    expected = ((s - mean).abs() / std).to_numpy(copy=True)
    expected[:10] = np.nan
    det = EMA(alpha=0.1, min_baseline=10)
    np.testing.assert_allclose(det.score_series(values), expected, rtol=1e-9)
    np.testing.assert_allclose(stream_scores(det.fresh(), values), expected, rtol=1e-9)


def test_ema_flat_line_keeps_converging() -> None:
    det = EMA(alpha=0.3, min_baseline=2)
    for v in [1e6 + 0.5, 1e6 - 0.25, *[1e6] * 60]:
        det.learn_one(v)
    # the mean converges to the flat value instead of stalling one rounding step away
    assert det.score_one(1e6) == pytest.approx(0.0, abs=1e-3)
    for _ in range(3000):
        det.learn_one(1e6)
    assert det.score_one(1e6) == 0.0 and det.score_one(1e6 + 1e-6) == math.inf


@pytest.mark.parametrize("window", [7, 10, 101])
def test_mad_matches_numpy(window: int) -> None:
    values = np.random.default_rng(9).laplace(5, 2, 1000)
    expected = np.full(len(values), np.nan)
    for t in range(window, len(values)):
        history = values[t - window : t]
        median = np.median(history)
        mad = np.median(np.abs(history - median))
        expected[t] = abs(values[t] - median) / (1.4826 * mad)
    det = MAD(window=window, min_baseline=window)
    np.testing.assert_allclose(det.score_series(values), expected, rtol=1e-12)
    np.testing.assert_allclose(stream_scores(det.fresh(), values), expected, rtol=1e-12)


@given(st.lists(st.integers(-5, 5).map(float) | st.floats(-100, 100), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_median_mad_selection_matches_sorting(values: list[float]) -> None:
    median, mad = median_mad(sorted(values))
    assert median == np.median(values)
    assert mad == np.median(np.abs(np.asarray(values) - median))


@pytest.mark.parametrize("window", [1, 2, 3, 4, 9])
def test_rolling_order_stats_match_sorting(window: int) -> None:
    x = np.random.default_rng(1).integers(0, 5, 40).astype(float)
    ranks = list(range(window))
    got = rolling_order_stats(x, window, ranks)
    for t in range(window, len(x)):
        ordered = np.sort(x[t - window : t])
        assert [a[t - window] for a in got] == ordered.tolist()


# within the detectors' documented accuracy range: 0 or 1e-100 <= |x| <= 1e100 (a value
# like 1.9e-161 squares to 0 and the two kernels may then disagree in the last bits)
_in_range = st.floats(-1e3, 1e3).map(lambda v: 0.0 if abs(v) < 1e-100 else v)
values_st = st.lists(st.one_of(_in_range, st.integers(-2, 2).map(float)), min_size=3, max_size=300)


@given(values=values_st, w=st.integers(2, 12), chunk=st.integers(1, 40), block=st.integers(1, 50))
@settings(max_examples=100, deadline=None)
def test_zscore_kernels_with_small_rows_and_blocks(
    values: list[float], w: int, chunk: int, block: int
) -> None:
    """Row and block boundaries (1024 values by default) are crossed with short series."""
    x = np.asarray(values)
    expanding = stream_scores(ZScore(window=None, min_baseline=2), x)
    np.testing.assert_allclose(expanding_scores(x, block), expanding, rtol=1e-9, atol=1e-9)
    if len(x) > w:
        rolling = stream_scores(ZScore(window=w, min_baseline=2), x)[w:]
        np.testing.assert_allclose(rolling_scores(x, w, chunk), rolling, rtol=1e-9, atol=1e-9)
