"""Interquartile range over a rolling window, with fences ``q1 - k*iqr`` and ``q3 + k*iqr``.

The score is the distance beyond the nearer fence in IQR units (0 inside the fences);
any score above 0 is an anomaly, so ``multiplier`` (k) is this method's threshold.
Quartiles use linear interpolation, as numpy and pandas do.

>>> det = IQR(window=8, multiplier=1.5, min_baseline=4)
>>> for v in [10, 11, 9, 10, 12, 10, 11, 9]:
...     det.learn_one(v)
>>> det.score_one(11)
0.0
>>> round(det.score_one(16), 3)
2.5
"""

from __future__ import annotations

from collections import deque

from cepkit.anomaly.base import Detector, DetectorStatus, ratio

__all__ = ["IQR", "quantile"]


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values (numpy's default)."""
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


class IQR(Detector):
    name = "iqr"

    def __init__(
        self, *, window: int | None = 100, multiplier: float = 1.5, min_baseline: int = 30
    ) -> None:
        super().__init__(threshold=0.0, min_baseline=max(min_baseline, 2))
        self.window = window
        self.multiplier = multiplier
        self._values: deque[float] = deque(maxlen=window)

    @property
    def n(self) -> int:
        return len(self._values)

    def learn_one(self, x: float) -> None:
        self._values.append(float(x))

    def _quartiles(self) -> tuple[float, float]:
        ordered = sorted(self._values)
        return quantile(ordered, 0.25), quantile(ordered, 0.75)

    def _score(self, x: float) -> float:
        q1, q3 = self._quartiles()
        iqr = q3 - q1
        low, high = q1 - self.multiplier * iqr, q3 + self.multiplier * iqr
        beyond = max(low - x, x - high, 0.0)
        return ratio(beyond, iqr)

    def status(self) -> DetectorStatus:
        if self.n < 2:
            return DetectorStatus(method=self.name, n=self.n, ready=False)
        q1, q3 = self._quartiles()
        return DetectorStatus(
            method=self.name, n=self.n, ready=self.n >= self.min_baseline, q1=q1, q3=q3
        )
