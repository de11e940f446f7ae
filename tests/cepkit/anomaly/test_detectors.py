"""Contract suite over every registered detector, plus each method against numpy/pandas."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest

from cepkit.anomaly import DETECTORS, EMA, IQR, ZScore, create, create_from_spec


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_baseline_insufficient_never_fires(name: str) -> None:
    det = create(name, min_baseline=10)
    for i in range(9):
        verdict = det.check(1e9)
        assert verdict.status == "baseline_insufficient" and not verdict.is_anomaly
        assert det.score_one(1e9) is None
        det.learn_one(10 + (i % 3))
    det.learn_one(11)
    verdict = det.check(1e9)
    assert verdict.status == "ok" and verdict.is_anomaly and verdict.method == name
    assert det.status().ready


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_scoring_is_causal_and_does_not_learn(name: str) -> None:
    det = create(name, min_baseline=3)
    for v in [1.0, 2.0, 3.0, 2.0]:
        det.learn_one(v)
    before = det.status()
    first = det.score_one(50.0)
    assert det.score_one(50.0) == first
    assert det.status() == before


def test_unknown_method_and_bad_params() -> None:
    with pytest.raises(ValueError, match="unknown anomaly method 'lof'; expected one of"):
        create("lof")
    with pytest.raises(ValueError, match="bad parameters for 'zscore'"):
        create("zscore", alpha=0.3)
    assert isinstance(create_from_spec("iqr", {"multiplier": 3.0, "alpha": 0.1}), IQR)


def test_zscore_matches_pandas_rolling() -> None:
    rnd = random.Random(7)
    values = [rnd.gauss(50, 5) for _ in range(300)]
    det = ZScore(window=20, min_baseline=20)
    s = pd.Series(values)
    mean = s.rolling(20).mean().shift(1)
    std = s.rolling(20).std().shift(1)
    for i, v in enumerate(values):
        score = det.score_one(v)
        if i < 20:
            assert score is None
        else:
            assert score == pytest.approx(abs(v - mean[i]) / std[i], rel=1e-9)
        det.learn_one(v)


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


def test_ema_mean_matches_pandas_ewm() -> None:
    values = [float(v) for v in range(1, 40)]
    det = EMA(alpha=0.2, min_baseline=2)
    for v in values:
        det.learn_one(v)
    expected = pd.Series(values).ewm(alpha=0.2, adjust=False).mean().iloc[-1]
    assert det.status().ema == pytest.approx(expected, rel=1e-12)


def test_constant_baseline() -> None:
    det = ZScore(window=10, min_baseline=3)
    for _ in range(5):
        det.learn_one(5.0)
    assert det.score_one(5.0) == 0.0
    assert det.score_one(6.0) == math.inf
