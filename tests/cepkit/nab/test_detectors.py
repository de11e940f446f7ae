"""windowed_gaussian against a transcription of NAB's ``WindowedGaussianDetector``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.nab import Corpus, NabError, windowed_gaussian


def normal_probability(x: float, mean: float, std: float) -> float:
    """NAB's ``normalProbability``: P(X > x), reflected about the mean below it."""
    if x < mean:
        return normal_probability(2 * mean - x, mean, std)
    z = (x - mean) / std
    return 0.5 * math.erfc(z / math.sqrt(2))


class NabWindowedGaussian:
    """NAB's detector, one record at a time: a list window, ``numpy.mean`` / ``numpy.std``."""

    def __init__(self, window_size: int = 6400, step_size: int = 100) -> None:
        self.window_size = window_size
        self.step_size = step_size
        self.window: list[float] = []
        self.buffer: list[float] = []
        self.mean = 0.0
        self.std = 1.0

    def handle_record(self, value: float) -> float:
        score = 0.0
        if self.window:
            score = 1 - normal_probability(value, self.mean, self.std)
        if len(self.window) < self.window_size:
            self.window.append(value)
            self._update()
        else:
            self.buffer.append(value)
            if len(self.buffer) == self.step_size:
                self.window = self.window[self.step_size :] + self.buffer
                self.buffer = []
                self._update()
        return score

    def _update(self) -> None:
        self.mean = float(np.mean(self.window))
        self.std = float(np.std(self.window))
        if self.std == 0.0:
            self.std = 0.000001


def nab_scores(values: list[float], window_size: int = 6400, step_size: int = 100) -> list[float]:
    detector = NabWindowedGaussian(window_size, step_size)
    return [detector.handle_record(v) for v in values]


def test_identical_to_nab_on_a_long_real_series(corpus: Corpus) -> None:
    # 10,320 rows: the window grows to 6400 values, then slides 39 times.
    values = corpus["realKnownCause/nyc_taxi.csv"].values
    assert windowed_gaussian(values).tolist() == nab_scores(values.tolist())


values_lists = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, 1.0, 5.0]),
    min_size=0,
    max_size=150,
)


@settings(max_examples=200, deadline=None)
@given(values_lists, st.integers(1, 30), st.integers(1, 30))
def test_identical_to_nab_with_small_windows(
    values: list[float], window_size: int, step: int
) -> None:
    step = min(step, window_size)
    ours = windowed_gaussian(np.array(values), window_size=window_size, step_size=step)
    assert ours.tolist() == nab_scores(values, window_size, step)


@settings(max_examples=100, deadline=None)
@given(values_lists, st.integers(0, 150))
def test_causal(values: list[float], cut: int) -> None:
    full = windowed_gaussian(np.array(values), window_size=20, step_size=5)
    prefix = windowed_gaussian(np.array(values[:cut]), window_size=20, step_size=5)
    assert prefix.tolist() == full[:cut].tolist()


def test_score_range_and_first_row(corpus: Corpus) -> None:
    scores = windowed_gaussian(corpus["realTweets/Twitter_volume_GOOG.csv"].values)
    assert scores[0] == 0.0
    assert scores[1:].min() >= 0.5 and scores.max() <= 1.0


def test_constant_series_and_a_jump() -> None:
    scores = windowed_gaussian(np.r_[np.full(50, 3.0), 3.001])
    assert scores[1:50].tolist() == [0.5] * 49  # on the mean exactly
    assert scores[50] == 1.0  # std 0 is taken as 1e-6


def test_timestamps_are_ignored() -> None:
    values = np.array([1.0, 4.0, 2.0, 8.0])
    stamps = np.arange(4).astype("datetime64[s]")
    assert windowed_gaussian(values, stamps).tolist() == windowed_gaussian(values).tolist()
    assert windowed_gaussian(np.array([])).tolist() == []


@pytest.mark.parametrize(
    ("values", "kwargs"),
    [
        ([1.0, math.nan], {}),
        ([1.0, math.inf], {}),
        ([[1.0, 2.0]], {}),
        ([1.0], {"window_size": 0}),
        ([1.0], {"window_size": 10, "step_size": 11}),
    ],
)
def test_bad_input(values: list[float], kwargs: dict[str, int]) -> None:
    with pytest.raises(NabError):
        windowed_gaussian(np.array(values), **kwargs)
