"""The causal relative-entropy detector (cepkit.nab.entropy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.stats import chi2  # type: ignore[import-untyped]

from cepkit.nab import NabError
from cepkit.nab.entropy import chi2_isf, relative_entropy


def reference(
    values: NDArray[np.float64], window: int, bins: int, alpha: float, margin: float
) -> NDArray[np.float64]:
    """The method row by row: no caching, every hypothesis re-binned at every row."""
    limit = chi2.isf(alpha, bins - 1)
    out = np.zeros(len(values))
    hypotheses: list[int] = []
    offsets = np.arange(1 - window, 1)
    for t in range(window - 1, len(values)):
        seen = values[: t + 1]
        low, high = seen.min(), seen.max()
        if high == low:
            continue
        low, high = low - margin * (high - low), high + margin * (high - low)
        ends = np.array([*hypotheses, t])
        binned = np.clip(
            np.floor((values[ends[:, None] + offsets] - low) / ((high - low) / bins)), 0, bins - 1
        )
        p = (binned[..., None] == np.arange(bins)).sum(axis=1) / window  # hypotheses, then now
        if not hypotheses:
            hypotheses.append(t)
            continue
        current, earlier = p[-1], p[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            nearest = (
                (2 * window * np.where(current > 0, current * np.log(current / earlier), 0))
                .sum(axis=1)
                .min()
            )
        if not nearest < limit:
            out[t] = 1.0
            hypotheses.append(t)
    return out


def series(seed: int, n: int = 660) -> NDArray[np.float64]:
    """Noise with a daily-like cycle, a spike, a level shift and a burst of variance."""
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) * 2 * math.pi / 48) + 0.3 * rng.normal(size=n)
    x[300] += 6.0
    x[450:] += 2.5
    x[600:640] += rng.normal(scale=3.0, size=40)
    return x


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    ("window", "bins", "alpha", "margin"), [(52, 5, 0.01, 0.15), (20, 4, 0.001, 0.0)]
)
def test_matches_the_row_by_row_method(
    seed: int, window: int, bins: int, alpha: float, margin: float
) -> None:
    x = series(seed)
    got = relative_entropy(x, window=window, bins=bins, alpha=alpha, margin=margin)
    assert np.array_equal(got, reference(x, window, bins, alpha, margin))
    assert got.any()


def test_causal_a_prefix_scores_the_prefix_of_the_scores() -> None:
    x = series(7, 900)
    whole = relative_entropy(x)
    for cut in (51, 52, 299, 300, 301, 451, 620, 899):
        assert np.array_equal(relative_entropy(x[:cut]), whole[:cut])


def test_a_spike_in_a_repeating_pattern_is_one_alarm_at_the_spike() -> None:
    x = np.tile([0.0, 1.0, 2.0, 3.0, 2.0, 1.0], 100)
    x[400] = 10.0
    scores = relative_entropy(x, window=24)
    assert np.flatnonzero(scores).tolist() == [400]
    assert set(np.unique(scores).tolist()) == {0.0, 1.0}


def test_a_level_shift_is_reported_where_it_starts() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=1500)
    x[1000:] += 8.0
    alarms = np.flatnonzero(relative_entropy(x))
    assert alarms.size
    assert 1000 <= alarms[alarms >= 900][0] < 1010


def test_flat_and_short_series_score_zero() -> None:
    assert not relative_entropy(np.full(200, 3.0)).any()
    assert relative_entropy(np.arange(10.0)).tolist() == [0.0] * 10
    assert relative_entropy([]).shape == (0,)


def test_bad_input_and_parameters() -> None:
    with pytest.raises(NabError, match="finite"):
        relative_entropy([1.0, math.nan, 2.0])
    with pytest.raises(NabError, match="bins >= 2"):
        relative_entropy([1.0, 2.0], bins=1)
    with pytest.raises(NabError, match="0 < alpha < 1"):
        relative_entropy([1.0, 2.0], alpha=1.5)
    with pytest.raises(NabError, match="margin >= 0"):
        relative_entropy([1.0, 2.0], margin=-0.1)


@pytest.mark.parametrize("alpha", [0.5, 0.05, 0.01, 0.001, 1e-9])
def test_chi2_quantile_is_scipys(alpha: float) -> None:
    for dof in range(1, 12):
        assert chi2_isf(alpha, dof) == pytest.approx(chi2.isf(alpha, dof), rel=1e-12)
