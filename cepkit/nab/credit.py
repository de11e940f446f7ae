"""NAB's per-row credit: the scaled sigmoid of a row's position relative to the windows.

``S(x) = 2 / (1 + exp(5x)) - 1`` and ``S(x) = -1`` for ``x > 3``. Inside a window
``[a, b]`` of width ``W`` a row ``i`` sits at ``x = -(b - i + 1) / W`` (``-1`` at the left
edge); after a window it sits at ``x = (i - b) / (W - 1)``; before the first window of a
file it is infinitely far (``S = -1``). :func:`row_positions` gives ``S`` and the window
of every row; a profile then weighs them: ``A_TP * S / S(-1)`` inside windows,
``A_FP * S`` outside.

>>> round(float(scaled_sigmoid(-1.0)), 6), round(float(scaled_sigmoid(-0.5)), 6)
(0.986614, 0.848284)
>>> float(scaled_sigmoid(0.0)), float(scaled_sigmoid(3.5))
(0.0, -1.0)
>>> import numpy as np
>>> from cepkit.nab.corpus import DataFile, Window
>>> f = DataFile("d/f.csv", np.arange(8).astype("datetime64[s]"), np.zeros(8), (Window(3, 4),))
>>> sigmoid, window = row_positions(f)
>>> window.tolist()
[-1, -1, -1, 0, 0, -1, -1, -1]
>>> [round(v, 3) for v in sigmoid.tolist()]
[-1.0, -1.0, -1.0, 0.987, 0.848, -0.987, -1.0, -1.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cepkit.nab.corpus import DataFile

__all__ = ["MAX_TP", "row_positions", "scaled_sigmoid"]


def scaled_sigmoid(x: ArrayLike) -> NDArray[np.float64]:
    """``2 / (1 + exp(5x)) - 1``, exactly ``-1`` where ``x > 3`` (NAB's ``scaledSigmoid``)."""
    position = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > 3.0, -1.0, value)


MAX_TP = float(scaled_sigmoid(-1.0))
"""``S(-1)``: the credit at a window's left edge, which a profile scales to ``A_TP``."""


def row_positions(file: DataFile) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """``S`` of every row of ``file`` and the index of its window (``-1`` outside).

    Rows after a window of width 1 are treated as infinitely far from it (``S = -1``);
    NAB divides by ``W - 1 = 0`` there.
    """
    n = file.n_rows
    rows = np.arange(n)
    sigmoid = np.full(n, -1.0)
    window_of = np.full(n, -1, dtype=np.intp)
    for k, window in enumerate(file.windows):
        next_start = file.windows[k + 1].start if k + 1 < len(file.windows) else n
        inside = slice(window.start, window.end + 1)
        sigmoid[inside] = scaled_sigmoid(-(window.end - rows[inside] + 1) / window.width)
        window_of[inside] = k
        if window.width > 1:
            after = slice(window.end + 1, next_start)
            sigmoid[after] = scaled_sigmoid((rows[after] - window.end) / (window.width - 1))
    return sigmoid, window_of
