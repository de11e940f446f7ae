"""Median absolute deviation over a rolling window: ``|x - median| / (1.4826 * MAD)``.

``MAD`` is the median of ``|v - median|`` over the window (medians of an even count are
the mean of the two middle values, as numpy's); 1.4826 makes it estimate the standard
deviation of normal data, so ``threshold`` reads like a z-score's. When more than half
the window equals its median, MAD is 0 and any other value scores infinity.

The window is kept sorted, so the median is O(1) and MAD, the k-th smallest of two
sorted runs of deviations (below and above the median), is O(log w).

>>> det = MAD(window=8, min_baseline=4, threshold=3.0)
>>> for v in [10, 11, 9, 10, 12, 10, 11, 9]:
...     det.learn_one(v)
>>> det.status().median, det.status().mad
(10.0, 1.0)
>>> round(det.score_one(16), 3)
4.047
>>> det.check(16).is_anomaly
True
>>> round(det.score_series([10, 11, 9, 10, 12, 10, 11, 9, 16]).tolist()[-1], 3)
4.047
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cepkit.anomaly._window import SortedWindowDetector
from cepkit.anomaly.base import DetectorStatus, Floats, ratio_array

__all__ = ["MAD"]

#: 1 / Phi^-1(3/4): scales MAD to the standard deviation of normal data
SCALE = 1.4826
_GATHER = 1 << 20  # values per batch of sorted windows in score_series


def median_mad(ordered: list[float]) -> tuple[float, float]:
    """Median and median absolute deviation of sorted values.

    >>> median_mad([1.0, 2.0, 4.0, 7.0, 8.0])
    (4.0, 3.0)
    """
    n = len(ordered)
    half = n // 2
    med = ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2
    # deviations below the median, nearest first, and from the median upwards
    split = bisect_left(ordered, med)
    n_below, n_above = split, n - split

    def below(i: int) -> float:
        return med - ordered[split - 1 - i]

    def above(j: int) -> float:
        return ordered[split + j] - med

    k = (n - 1) // 2  # the k-th smallest deviation (0-based); also the (k+1)-th if n is even
    lo, hi = max(0, k + 1 - n_above), min(k + 1, n_below)
    while lo < hi:  # how many of the k+1 smallest lie below the median
        i = (lo + hi) // 2
        if below(i) < above(k - i):
            lo = i + 1
        else:
            hi = i
    i = lo
    kth = max(below(i - 1) if i > 0 else 0.0, above(k - i) if k - i >= 0 else 0.0)
    if n % 2:
        return med, kth
    following = min(
        below(i) if i < n_below else math.inf, above(k + 1 - i) if k + 1 - i < n_above else math.inf
    )
    return med, (kth + following) / 2


class MAD(SortedWindowDetector):
    name = "mad"
    reports = ("median", "mad")

    def __init__(
        self, *, window: int | None = 100, threshold: float = 3.0, min_baseline: int = 30
    ) -> None:
        super().__init__(window=window, threshold=threshold, min_baseline=min_baseline)
        self._cached: tuple[float, float] | None = None  # median and MAD, None when stale

    def params(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "threshold": self.threshold,
            "min_baseline": self.min_baseline,
        }

    def learn_one(self, x: float) -> None:
        super().learn_one(x)
        self._cached = None

    def _median_mad(self) -> tuple[float, float]:
        if self._cached is None:
            self._cached = median_mad(self._sorted)
        return self._cached

    def score_one(self, x: float) -> float | None:
        if len(self._sorted) < self.min_baseline:
            return None
        med, mad = self._median_mad()
        distance = abs(float(x) - med)
        scale = SCALE * mad
        if scale > 0:
            return distance / scale
        return 0.0 if distance == 0 else math.inf

    def _full_window_scores(self, x: Floats, w: int) -> Floats:
        out = np.empty(len(x) - w)
        windows = sliding_window_view(x[:-1], w)  # row t - w: the w values before x[t]
        half, k = w // 2, (w - 1) // 2
        batch = max(1, _GATHER // w)
        for start in range(0, len(windows), batch):
            ordered = np.sort(windows[start : start + batch], axis=1)
            med = ordered[:, half] if w % 2 else (ordered[:, half - 1] + ordered[:, half]) / 2
            dev = np.abs(ordered - med[:, None])
            dev.sort(axis=1)
            mad = dev[:, k] if w % 2 else (dev[:, k] + dev[:, k + 1]) / 2
            rest = x[w + start : w + start + len(ordered)]
            out[start : start + len(ordered)] = ratio_array(np.abs(rest - med), SCALE * mad)
        return out

    def status(self) -> DetectorStatus:
        n = self.n
        if n < 2:
            return DetectorStatus(method=self.name, n=n, ready=False)
        med, mad = self._median_mad()
        return DetectorStatus(
            method=self.name, n=n, ready=n >= self.min_baseline, median=med, mad=mad
        )

    def _set_state(self, state: Mapping[str, Any]) -> None:
        super()._set_state(state)
        self._cached = None
