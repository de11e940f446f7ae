"""Exponentially weighted mean and variance (smoothing ``alpha``): ``|x - ema| / ew_std``.

The recurrences are West/Finch's: for each learned x, ``d = x - m; m += alpha*d;
v = (1 - alpha) * (v + alpha*d*d)``; the first value seeds ``m`` with ``v = 0``. This is
pandas' ``ewm(alpha=alpha, adjust=False)`` mean and ``var(bias=True)``; ``score_series``
runs both recurrences as linear filters (``scipy.signal.lfilter``).

The mean is kept as an offset from the last learned value (``m = last + offset``, so
``offset = -(1 - alpha) * d``): on a flat stretch the offset shrinks geometrically instead
of stalling one rounding step away from the flat value, which keeps scores accurate (and
streaming equal to ``score_series``) on long flat lines. A variance below 2**-968 (a
flat line for thousands of values) counts as zero spread: the mean is then the last value.

>>> det = EMA(alpha=0.5, min_baseline=3)
>>> for v in [10, 12, 10, 12]:
...     det.learn_one(v)
>>> round(det.score_one(20), 3)
9.037
>>> [round(s, 3) for s in det.score_series([10, 12, 10, 12, 20]).tolist()[3:]]
[1.732, 9.037]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from cepkit.anomaly.base import Detector, DetectorStatus, Floats, as_series, finite

__all__ = ["EMA"]

#: variances below this are zero spread (far above the subnormal range, where precision ends)
VAR_FLOOR = 2.0**-968
_INF, _sqrt = math.inf, math.sqrt


def _kernel(
    alpha: float, min_baseline: int
) -> tuple[
    Callable[[float], float | None],
    Callable[[float], None],
    Callable[[float], float | None],
    Callable[[], tuple[int, float, float, float]],
    Callable[[int, float, float, float], None],
]:
    """The recurrences as closures over their state (cells are cheaper than attributes):
    (score_learn_one, learn_one, score_one, get_state, set_state)."""
    decay = 1.0 - alpha
    neg_decay, gain = -decay, decay * alpha
    n = 0
    last = offset = var = 0.0  # last learned value, ema - last, EW variance

    def score_learn_one(x: float) -> float | None:
        nonlocal n, last, offset, var
        if x - x != 0.0:  # NaN or infinity; a non-number raises TypeError here
            finite(float(x))
        score: float | None = None
        if n >= min_baseline:
            if var < VAR_FLOOR:
                score = 0.0 if x == last else _INF
            else:
                score = abs((x - last) - offset) / _sqrt(var)
        if n:
            d = (x - last) - offset
            offset = neg_decay * d
            var = decay * var + gain * d * d
        last = x if x.__class__ is float else float(x)
        n += 1
        return score

    def learn_one(x: float) -> None:
        nonlocal n, last, offset, var
        x = float(x)
        if x - x != 0.0:
            finite(x)
        if n:
            d = (x - last) - offset
            offset = neg_decay * d
            var = decay * var + gain * d * d
        last = x
        n += 1

    def score_one(x: float) -> float | None:
        if n < min_baseline:
            return None
        if var < VAR_FLOOR:
            return 0.0 if float(x) == last else _INF
        return abs((float(x) - last) - offset) / _sqrt(var)

    def get_state() -> tuple[int, float, float, float]:
        return n, last, offset, var

    def set_state(n_: int, last_: float, offset_: float, var_: float) -> None:
        nonlocal n, last, offset, var
        n, last, offset, var = n_, last_, offset_, var_

    return score_learn_one, learn_one, score_one, get_state, set_state


class EMA(Detector):
    name = "ema"
    reports = ("ema", "std")

    def __init__(
        self, *, alpha: float = 0.3, threshold: float = 3.0, min_baseline: int = 30
    ) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        super().__init__(threshold=threshold, min_baseline=max(min_baseline, 2))
        self.alpha = alpha
        self._decay = 1.0 - alpha
        self._neg_decay = -self._decay
        self._gain = self._decay * alpha
        step, learn, score, self._get, self._put = _kernel(alpha, self.min_baseline)
        # the hot paths are the closures themselves: no bound-method hop per value
        self.__dict__.update(score_learn_one=step, learn_one=learn, score_one=score)

    @property
    def n(self) -> int:
        return self._get()[0]

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "threshold": self.threshold, "min_baseline": self.min_baseline}

    # The instance attributes set in __init__ shadow these three; they are the same
    # functions, reached through the class for type checkers and subclass contracts.
    def learn_one(self, x: float) -> None:
        self.__dict__["learn_one"](x)

    def score_one(self, x: float) -> float | None:
        result: float | None = self.__dict__["score_one"](x)
        return result

    def score_learn_one(self, x: float) -> float | None:
        result: float | None = self.__dict__["score_learn_one"](x)
        return result

    def score_series(self, values: ArrayLike) -> Floats:
        x = as_series(values)
        n = len(x)
        out = np.full(n, np.nan)
        if n < 2:
            return out
        from scipy.signal import lfilter  # type: ignore[import-untyped]  # slow to import

        decay = np.array([1.0, -self._decay])
        step = np.diff(x)  # x[t] - x[t-1]
        # offset[t] = decay * (offset[t-1] - step[t]), offset[0] = 0; d[t] = step[t] - offset[t-1]
        offset = lfilter([1.0], decay, self._neg_decay * step)
        d = step
        d[1:] -= offset[:-1]
        # var[t] = decay * var[t-1] + gain * d[t]**2, var[0] = 0; score[t] = |d[t]| / sqrt(var[t-1])
        var = lfilter([1.0], decay, self._gain * np.square(d))
        start = max(self.min_baseline, 2)
        if start < n:
            prev = var[start - 2 : n - 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[start:] = np.abs(d[start - 1 :]) / np.sqrt(prev)
            flat = np.flatnonzero(prev < VAR_FLOOR)
            if len(flat):  # zero spread: the mean is the last value
                gaps = x[start + flat] - x[start + flat - 1]
                out[start + flat] = np.where(gaps == 0, 0.0, math.inf)
        return out

    def status(self) -> DetectorStatus:
        n, last, offset, var = self._get()
        if n == 0:
            return DetectorStatus(method=self.name, n=0, ready=False)
        flat = var < VAR_FLOOR
        return DetectorStatus(
            method=self.name,
            n=n,
            ready=n >= self.min_baseline,
            ema=last + (0.0 if flat else offset),
            std=0.0 if flat else math.sqrt(var),
        )

    def _get_state(self) -> dict[str, Any]:
        n, last, offset, var = self._get()
        return {"n": n, "last": last, "offset": offset, "var": var}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        n = int(state["n"])
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        last, offset = finite(state["last"]), finite(state["offset"])
        var = finite(state["var"])
        if var < 0:
            raise ValueError(f"var must be >= 0, got {var}")
        self._put(n, last, offset, var)
