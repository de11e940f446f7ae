"""A rolling (or expanding) window kept sorted, for the order-statistics detectors.

:class:`SortedWindowDetector` holds the values in arrival order and in sorted order:
learning is a ``bisect.insort`` and evicting the oldest a bisect plus ``del`` (O(log w)
comparisons and one memmove of at most w pointers). ``rolling_order_stats`` gives the
same order statistics for a whole series at once.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from cepkit.anomaly.base import (
    Detector,
    Floats,
    as_series,
    check_window,
    finite,
    stream_scores,
)

__all__ = ["SortedWindowDetector", "quantile", "rolling_order_stats"]


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values (numpy's default).

    >>> quantile([1.0, 2.0, 4.0, 8.0], 0.25)
    1.75
    """
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


class SortedWindowDetector(Detector):
    """A detector over the last ``window`` values (all of them if None), kept sorted.

    >>> from cepkit.anomaly import IQR
    >>> det = IQR(window=3)
    >>> for v in [5.0, 1.0, 3.0, 2.0]:
    ...     det.learn_one(v)
    >>> det._sorted, list(det._values)
    ([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    """

    def __init__(self, *, window: int | None, threshold: float, min_baseline: int) -> None:
        super().__init__(threshold=threshold, min_baseline=max(min_baseline, 2))
        check_window(window)
        self.window = window
        self._cap = -1 if window is None else window
        self._values: deque[float] = deque()
        self._sorted: list[float] = []

    @property
    def n(self) -> int:
        return len(self._sorted)

    def learn_one(self, x: float) -> None:
        x = float(x)
        if x - x != 0.0:  # NaN or infinity (inlined: this is the hot path)
            finite(x)
        ordered = self._sorted
        if len(ordered) == self._cap:
            del ordered[bisect_left(ordered, self._values.popleft())]
        self._values.append(x)
        insort(ordered, x)

    def score_series(self, values: ArrayLike) -> Floats:
        """The streaming loop over the first window, then :meth:`_full_window_scores`."""
        x = as_series(values)
        w = self.window
        if w is None or w >= len(x):  # no full window: the streaming loop
            return stream_scores(self.fresh(), x)
        out = np.empty(len(x))
        out[:w] = stream_scores(self.fresh(), x[:w])
        out[w:] = self._full_window_scores(x, w)
        if self.min_baseline > w:
            out[:] = np.nan
        return out

    def _full_window_scores(self, x: Floats, w: int) -> Floats:
        """Scores of ``x[w:]``, each against the ``w`` values before it (vectorised)."""
        raise NotImplementedError

    def _get_state(self) -> dict[str, Any]:
        return {"values": list(self._values)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        values = [finite(v) for v in state["values"]]
        if self.window is not None and len(values) > self.window:
            raise ValueError(f"{len(values)} values do not fit a window of {self.window}")
        self._values = deque(values)
        self._sorted = sorted(values)


def rolling_order_stats(x: Floats, window: int, ranks: list[int]) -> list[Floats]:
    """For each rank r, element t - window of the result is the r-th smallest (0-based) of
    ``x[t - window:t]``, for t from ``window`` to ``len(x) - 1``.

    >>> [a.tolist() for a in rolling_order_stats(np.array([3.0, 1.0, 2.0, 5.0, 4.0]), 3, [0, 2])]
    [[1.0, 1.0], [3.0, 5.0]]
    """
    from scipy.ndimage import rank_filter  # type: ignore[import-untyped]  # slow to import

    count = len(x) - window
    if count <= 0:
        return [np.empty(0) for _ in ranks]
    # rank_filter centres its window on i: it covers x[i - window//2 : i - window//2 + window]
    first = window // 2
    head = x[: len(x) - 1]
    return [
        np.asarray(rank_filter(head, rank=r, size=window, mode="nearest"), dtype=np.float64)[
            first : first + count
        ]
        for r in ranks
    ]
