"""Exponentially weighted mean and variance (smoothing ``alpha``): ``|x - ema| / ew_std``.

Update for each learned x (West/Finch): ``d = x - m; m += alpha*d;
v = (1 - alpha) * (v + alpha*d*d)``; the first value seeds ``m`` with ``v = 0``.

>>> det = EMA(alpha=0.5, min_baseline=3)
>>> for v in [10, 12, 10, 12]:
...     det.learn_one(v)
>>> round(det.score_one(20), 3)
9.037
"""

from __future__ import annotations

import math

from cepkit.anomaly.base import Detector, DetectorStatus, ratio

__all__ = ["EMA"]


class EMA(Detector):
    name = "ema"

    def __init__(
        self, *, alpha: float = 0.3, threshold: float = 3.0, min_baseline: int = 30
    ) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        super().__init__(threshold=threshold, min_baseline=max(min_baseline, 2))
        self.alpha = alpha
        self._n = 0
        self._mean = 0.0
        self._var = 0.0

    @property
    def n(self) -> int:
        return self._n

    def learn_one(self, x: float) -> None:
        x = float(x)
        if self._n == 0:
            self._mean, self._var = x, 0.0
        else:
            d = x - self._mean
            self._mean += self.alpha * d
            self._var = (1 - self.alpha) * (self._var + self.alpha * d * d)
        self._n += 1

    def _score(self, x: float) -> float:
        return ratio(abs(x - self._mean), math.sqrt(self._var))

    def status(self) -> DetectorStatus:
        if self._n == 0:
            return DetectorStatus(method=self.name, n=0, ready=False)
        return DetectorStatus(
            method=self.name,
            n=self._n,
            ready=self._n >= self.min_baseline,
            ema=self._mean,
            std=math.sqrt(self._var),
        )
