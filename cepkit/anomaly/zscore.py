"""Z-score over a rolling window (or the whole history): ``|x - mean| / std``.

``std`` is the sample standard deviation (ddof=1) of the history before x.

>>> det = ZScore(window=5, min_baseline=3, threshold=3.0)
>>> det.score_one(10) is None
True
>>> for v in [10, 11, 9, 10, 10]:
...     det.learn_one(v)
>>> round(det.score_one(13), 3)
4.243
>>> det.check(13).is_anomaly
True
"""

from __future__ import annotations

import math
from collections import deque

from cepkit.anomaly.base import Detector, DetectorStatus, ratio

__all__ = ["ZScore"]


class ZScore(Detector):
    name = "zscore"

    def __init__(
        self, *, window: int | None = 100, threshold: float = 3.0, min_baseline: int = 30
    ) -> None:
        super().__init__(threshold=threshold, min_baseline=max(min_baseline, 2))
        self.window = window
        self._values: deque[float] = deque(maxlen=window)

    @property
    def n(self) -> int:
        return len(self._values)

    def learn_one(self, x: float) -> None:
        self._values.append(float(x))

    def _moments(self) -> tuple[float, float]:
        n = len(self._values)
        mean = math.fsum(self._values) / n
        var = math.fsum((v - mean) ** 2 for v in self._values) / (n - 1) if n > 1 else 0.0
        return mean, math.sqrt(var)

    def _score(self, x: float) -> float:
        mean, std = self._moments()
        return ratio(abs(x - mean), std)

    def status(self) -> DetectorStatus:
        if self.n < 2:
            return DetectorStatus(method=self.name, n=self.n, ready=False)
        mean, std = self._moments()
        return DetectorStatus(
            method=self.name, n=self.n, ready=self.n >= self.min_baseline, mean=mean, std=std
        )
