"""Interquartile range over a rolling window, with fences ``q1 - k*iqr`` and ``q3 + k*iqr``.

The score is the distance beyond the nearer fence in IQR units (0 inside the fences);
any score above 0 is an anomaly, so ``multiplier`` (k) is this method's threshold.
Quartiles use linear interpolation, as numpy and pandas do. The window is kept sorted
(O(log w) per value); ``score_series`` takes the order statistics from a rank filter.

>>> det = IQR(window=8, multiplier=1.5, min_baseline=4)
>>> for v in [10, 11, 9, 10, 12, 10, 11, 9]:
...     det.learn_one(v)
>>> det.score_one(11)
0.0
>>> round(det.score_one(16), 3)
2.5
>>> det.score_series([10, 11, 9, 10, 12, 10, 11, 9, 16]).tolist()[-1]
2.5
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cepkit.anomaly._window import SortedWindowDetector, quantile, rolling_order_stats
from cepkit.anomaly.base import DetectorStatus, Floats, ratio_array

__all__ = ["IQR", "quantile"]

_INF = math.inf


class IQR(SortedWindowDetector):
    name = "iqr"
    reports = ("q1", "q3")

    def __init__(
        self, *, window: int | None = 100, multiplier: float = 1.5, min_baseline: int = 30
    ) -> None:
        super().__init__(window=window, threshold=0.0, min_baseline=min_baseline)
        if not multiplier >= 0:
            raise ValueError(f"multiplier must be >= 0, got {multiplier}")
        self.multiplier = multiplier

    def params(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "multiplier": self.multiplier,
            "min_baseline": self.min_baseline,
        }

    def _quartiles(self) -> tuple[float, float]:
        ordered = self._sorted
        return quantile(ordered, 0.25), quantile(ordered, 0.75)

    def score_one(self, x: float) -> float | None:
        ordered = self._sorted
        n = len(ordered)
        if n < self.min_baseline:
            return None
        # quantile(ordered, 0.25) and (ordered, 0.75), inlined: this is the hot path
        pos1, pos3 = (n - 1) * 0.25, (n - 1) * 0.75
        i1, i3 = int(pos1), int(pos3)
        q1 = ordered[i1] + (ordered[min(i1 + 1, n - 1)] - ordered[i1]) * (pos1 - i1)
        q3 = ordered[i3] + (ordered[min(i3 + 1, n - 1)] - ordered[i3]) * (pos3 - i3)
        iqr = q3 - q1
        x = float(x)
        k = self.multiplier
        beyond = max(q1 - k * iqr - x, x - (q3 + k * iqr), 0.0)
        if iqr > 0:
            return beyond / iqr
        return 0.0 if beyond == 0 else _INF

    def _full_window_scores(self, x: Floats, w: int) -> Floats:
        pos1, pos3 = (w - 1) * 0.25, (w - 1) * 0.75
        lo1, lo3 = int(pos1), int(pos3)
        hi1, hi3 = min(lo1 + 1, w - 1), min(lo3 + 1, w - 1)
        a1, b1, a3, b3 = rolling_order_stats(x, w, [lo1, hi1, lo3, hi3])
        rest = x[w:]
        # q1 = a1 + (b1 - a1) * frac (as quantile()); then the fences and the distance
        # beyond them, computed in place to spare allocations on long series
        b1 -= a1
        b1 *= pos1 - lo1
        q1 = np.add(a1, b1, out=a1)
        b3 -= a3
        b3 *= pos3 - lo3
        q3 = np.add(a3, b3, out=a3)
        iqr = np.subtract(q3, q1, out=b1)
        spread = np.multiply(iqr, self.multiplier, out=b3)
        below = np.subtract(np.subtract(q1, spread, out=q1), rest, out=q1)
        above = np.subtract(rest, np.add(q3, spread, out=q3), out=q3)
        beyond = np.maximum(np.maximum(below, above, out=below), 0.0, out=below)
        return ratio_array(beyond, iqr)

    def status(self) -> DetectorStatus:
        n = self.n
        if n < 2:
            return DetectorStatus(method=self.name, n=n, ready=False)
        q1, q3 = self._quartiles()
        return DetectorStatus(method=self.name, n=n, ready=n >= self.min_baseline, q1=q1, q3=q3)
