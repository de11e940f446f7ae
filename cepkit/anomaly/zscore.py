"""Z-score over a rolling window (or the whole history): ``|x - mean| / std``.

``std`` is the sample standard deviation (ddof=1) of the history before x.

Streaming keeps the window and two running sums of ``v - ref`` and ``(v - ref)**2``
(O(1) per value). A rigorous bound on their rounding error is checked before each use;
when it exceeds 1e-10 of the window's sum of squared deviations (after a level shift,
on a near-constant window, or after 65536 updates) the sums are recomputed exactly from
the window and ``ref`` moves to its mean. The distance is taken as ``(x - ref) - (mean -
ref)``, so precision does not depend on the magnitude of the values. A constant window
has std 0 exactly.

>>> det = ZScore(window=5, min_baseline=3, threshold=3.0)
>>> det.score_one(10) is None
True
>>> for v in [10, 11, 9, 10, 10]:
...     det.learn_one(v)
>>> round(det.score_one(13), 3)
4.243
>>> det.check(13).is_anomaly
True
>>> [round(s, 3) for s in det.score_series([10, 11, 9, 10, 10, 13]).tolist()[3:]]
[0.0, 0.0, 4.243]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from numpy.typing import ArrayLike

from cepkit.anomaly._moments import ERROR_TOL, UNIT_ROUNDOFF, exact_moments, zscore_series
from cepkit.anomaly.base import (
    Detector,
    DetectorStatus,
    Floats,
    as_series,
    check_window,
    finite,
)

__all__ = ["ZScore"]

_MAX_UPDATES = 1 << 16  # recompute the running sums at least this often
_UNIT_ROUNDOFF, _ERROR_TOL, _INF, _sqrt = UNIT_ROUNDOFF, ERROR_TOL, math.inf, math.sqrt


class ZScore(Detector):
    name = "zscore"
    reports = ("mean", "std")

    def __init__(
        self, *, window: int | None = 100, threshold: float = 3.0, min_baseline: int = 30
    ) -> None:
        super().__init__(threshold=threshold, min_baseline=max(min_baseline, 2))
        check_window(window)
        self.window = window
        self._values: deque[float] = deque()
        self._cap = -1 if window is None else window
        self._ref = 0.0  # running sums are of v - ref
        self._s1 = 0.0
        self._s2 = 0.0
        self._mass = 0.0  # bounds every partial sum of squares since the last recompute
        self._updates = 0  # learn_one calls since the last recompute
        self._center: float | None = None  # cached mean - ref and std; None when stale
        self._std = 0.0

    @property
    def n(self) -> int:
        return len(self._values)

    def params(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "threshold": self.threshold,
            "min_baseline": self.min_baseline,
        }

    def learn_one(self, x: float) -> None:
        x = float(x)
        if x - x != 0.0:  # NaN or infinity (inlined: this is the hot path)
            finite(x)
        values = self._values
        ref = self._ref
        d = x - ref
        dd = d * d
        if len(values) == self._cap:
            e = values.popleft() - ref
            self._s1 += d - e
            self._s2 += dd - e * e
        elif values:
            self._s1 += d
            self._s2 += dd
        else:  # the first value becomes the reference
            self._ref, self._s1, self._s2, self._mass, self._updates = x, 0.0, 0.0, 0.0, 0
            dd = 0.0
        values.append(x)
        self._mass += dd
        self._updates += 1
        self._center = None

    def _recompute(self) -> None:
        """Exact sums over the window, with ``ref`` moved to its mean."""
        self._ref, self._s1, self._s2 = exact_moments(list(self._values))
        self._mass, self._updates = self._s2, 0

    def _refresh(self, n: int) -> float:
        """Bring the cached centre (mean - ref) and std up to date; returns the centre."""
        s1 = self._s1
        center = s1 / n
        m2 = self._s2 - s1 * center
        # rigorous bound on the rounding error of m2 accumulated since the last recompute
        if not _UNIT_ROUNDOFF * (8 * self._updates + 16) * self._mass <= _ERROR_TOL * m2 or (
            self._updates >= _MAX_UPDATES
        ):
            self._recompute()
            s1 = self._s1
            center = s1 / n
            m2 = self._s2 - s1 * center
        self._std = _sqrt(m2 / (n - 1)) if m2 > 0 else 0.0
        self._center = center
        return center

    def score_one(self, x: float) -> float | None:
        n = len(self._values)
        if n < self.min_baseline:
            return None
        center = self._center
        if center is None:  # _refresh, inlined for its common case (no recompute)
            s1 = self._s1
            center = s1 / n
            m2 = self._s2 - s1 * center
            if _UNIT_ROUNDOFF * (8 * self._updates + 16) * self._mass <= _ERROR_TOL * m2 and (
                self._updates < _MAX_UPDATES
            ):
                self._std = _sqrt(m2 / (n - 1)) if m2 > 0 else 0.0
                self._center = center
            else:
                center = self._refresh(n)
        distance = abs((float(x) - self._ref) - center)
        std = self._std
        if std > 0:
            return distance / std
        return 0.0 if distance == 0 else _INF

    def score_learn_one(self, x: float) -> float | None:
        x = float(x)
        if x - x != 0.0:
            finite(x)
        values = self._values
        n = len(values)
        score: float | None = None
        if n >= self.min_baseline:
            center = self._center
            if center is None:
                s1 = self._s1
                center = s1 / n
                m2 = self._s2 - s1 * center
                if _UNIT_ROUNDOFF * (8 * self._updates + 16) * self._mass <= _ERROR_TOL * m2 and (
                    self._updates < _MAX_UPDATES
                ):
                    self._std = _sqrt(m2 / (n - 1)) if m2 > 0 else 0.0
                else:
                    center = self._refresh(n)
            distance = abs((x - self._ref) - center)
            std = self._std
            score = distance / std if std > 0 else (0.0 if distance == 0 else _INF)
        # learn_one, inlined
        ref = self._ref
        d = x - ref
        dd = d * d
        if n == self._cap:
            e = values.popleft() - ref
            self._s1 += d - e
            self._s2 += dd - e * e
        elif n:
            self._s1 += d
            self._s2 += dd
        else:
            self._ref, self._s1, self._s2, self._mass, self._updates = x, 0.0, 0.0, 0.0, 0
            dd = 0.0
        values.append(x)
        self._mass += dd
        self._updates += 1
        self._center = None
        return score

    def score_learn_many(self, xs: Sequence[float], start: int = 0) -> list[float | None]:
        # score_learn_one's arithmetic over locals, stopping after the first score above
        # the threshold (is_anomalous); test_zscore holds it equal to the one-by-one calls
        values, cap, min_baseline, threshold = (
            self._values,
            self._cap,
            self.min_baseline,
            self.threshold,
        )
        ref, s1, s2, mass, updates = self._ref, self._s1, self._s2, self._mass, self._updates
        center, std = self._center, self._std
        popleft, push = values.popleft, values.append
        out: list[float | None] = []
        n = len(values)
        for i in range(start, len(xs)):
            x = float(xs[i])
            if x - x != 0.0:  # NaN or infinity: refused with the state as it stands
                self._ref, self._s1, self._s2, self._mass, self._updates = (
                    ref,
                    s1,
                    s2,
                    mass,
                    updates,
                )
                self._center, self._std = center, std
                finite(x)
            score: float | None = None
            if n >= min_baseline:
                if center is None:
                    center = s1 / n
                    m2 = s2 - s1 * center
                    if _UNIT_ROUNDOFF * (8 * updates + 16) * mass <= _ERROR_TOL * m2 and (
                        updates < _MAX_UPDATES
                    ):
                        std = _sqrt(m2 / (n - 1)) if m2 > 0 else 0.0
                    else:
                        self._ref, self._s1, self._s2 = ref, s1, s2
                        self._mass, self._updates = mass, updates
                        center = self._refresh(n)
                        ref, s1, s2, mass, updates = (
                            self._ref,
                            self._s1,
                            self._s2,
                            self._mass,
                            self._updates,
                        )
                        std = self._std
                distance = abs((x - ref) - center)
                score = distance / std if std > 0 else (0.0 if distance == 0 else _INF)
            out.append(score)
            d = x - ref
            dd = d * d
            if n == cap:
                e = popleft() - ref
                s1 += d - e
                s2 += dd - e * e
            elif n:
                s1 += d
                s2 += dd
                n += 1
            else:
                ref, s1, s2, mass, updates = x, 0.0, 0.0, 0.0, 0
                dd = 0.0
                n = 1
            push(x)
            mass += dd
            updates += 1
            center = None
            if score is not None and score > threshold:
                break
        self._ref, self._s1, self._s2, self._mass, self._updates = ref, s1, s2, mass, updates
        self._center, self._std = center, std
        return out

    def score_series(self, values: ArrayLike) -> Floats:
        return zscore_series(as_series(values), self.window, self.min_baseline)

    def status(self) -> DetectorStatus:
        n = len(self._values)
        if n < 2:
            return DetectorStatus(method=self.name, n=n, ready=False)
        center = self._center if self._center is not None else self._refresh(n)
        return DetectorStatus(
            method=self.name,
            n=n,
            ready=n >= self.min_baseline,
            mean=self._ref + center,
            std=self._std,
        )

    def _get_state(self) -> dict[str, Any]:
        return {
            "values": list(self._values),
            "ref": self._ref,
            "s1": self._s1,
            "s2": self._s2,
            "mass": self._mass,
            "updates": self._updates,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        values = [finite(v) for v in state["values"]]
        if self.window is not None and len(values) > self.window:
            raise ValueError(f"{len(values)} values do not fit a window of {self.window}")
        self._values = deque(values)
        self._ref, self._s1, self._s2 = (
            finite(state["ref"]),
            finite(state["s1"]),
            finite(state["s2"]),
        )
        self._mass, self._updates = finite(state["mass"]), int(state["updates"])
        self._center = None
