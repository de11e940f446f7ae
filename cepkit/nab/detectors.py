"""NAB's ``windowedGaussian`` baseline detector, as a causal function of a whole series.

The score of a value ``x`` is ``1 - Q(|x - mean| / std)`` with ``Q(z) = erfc(z/√2)/2``,
the Gaussian tail probability, where ``mean`` and ``std`` (population, ``1e-6`` when 0)
are those of a window of earlier values, taken before ``x`` joins it. The first value
scores 0. The window grows one value at a time up to ``window_size`` values (6400),
refreshing its statistics at every value; after that new values are buffered and, once
``step_size`` (100) of them are buffered, the window jumps forward by that many values
and its statistics are refreshed. Scores lie in ``[0.5, 1]`` after the first.

This follows ``nab/detectors/gaussian/windowedGaussian_detector.py`` step by step: the
same window bookkeeping, ``numpy.mean`` / ``numpy.std`` over the window (pairwise sums),
the tail probability of ``x`` reflected about the mean when below it, and ``math.erfc``.

>>> import numpy as np
>>> scores = windowed_gaussian(np.array([1.0, 2.0, 3.0, 2.0, 40.0]))
>>> [round(s, 4) for s in scores.tolist()]
[0.0, 1.0, 0.9987, 0.5, 1.0]
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cepkit.nab.errors import NabError

__all__ = ["windowed_gaussian"]

WINDOW_SIZE = 6400
STEP_SIZE = 100
_MIN_STD = 0.000001


def _mean_std(window: NDArray[np.float64]) -> tuple[float, float]:
    """``numpy.mean`` and ``numpy.std`` of ``window``, the same operations without the
    call overhead (pairwise sum / n; pairwise sum of squared deviations / n; sqrt)."""
    n = len(window)
    mean = float(np.add.reduce(window) / n)
    deviation = window - mean
    return mean, math.sqrt(float(np.add.reduce(np.multiply(deviation, deviation)) / n))


def _window_stats(
    values: NDArray[np.float64], window_size: int, step_size: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The mean and std each value is scored against (0 and 1 before any value)."""
    n = len(values)
    means = np.empty(n)
    stds = np.empty(n)
    mean, std = 0.0, 1.0
    start = end = buffered = 0  # the window is values[start:end]
    for i in range(n):
        means[i] = mean
        stds[i] = std
        if end - start < window_size:
            end += 1
        else:
            buffered += 1
            if buffered < step_size:
                continue
            start += step_size
            end += step_size
            buffered = 0
        mean, std = _mean_std(values[start:end])
        if std == 0.0:
            std = _MIN_STD
    return means, stds


def windowed_gaussian(
    values: ArrayLike,
    timestamps: ArrayLike | None = None,
    *,
    window_size: int = WINDOW_SIZE,
    step_size: int = STEP_SIZE,
) -> NDArray[np.float64]:
    """Anomaly scores of ``values`` by NAB's windowed Gaussian detector (causal).

    ``timestamps`` is accepted for the detector signature of
    :func:`~cepkit.nab.runner.run_detector` and not used. Values must be finite.
    """
    if window_size < 1 or not 1 <= step_size <= window_size:
        raise NabError("need window_size >= 1 and 1 <= step_size <= window_size")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or not bool(np.all(np.isfinite(x))):
        raise NabError("windowed_gaussian needs a 1-d series of finite values")
    if len(x) == 0:
        return np.empty(0)
    mean, std = _window_stats(x, window_size, step_size)
    reflected = np.where(x < mean, 2 * mean - x, x)  # the tail is symmetric about the mean
    z = (reflected - mean) / std
    arguments = (z / math.sqrt(2)).tolist()
    tail = 0.5 * np.fromiter((math.erfc(a) for a in arguments), np.float64, len(arguments))
    scores = 1 - tail
    scores[0] = 0.0
    return scores
