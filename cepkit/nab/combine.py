"""Combining NAB detectors: an *alarm* detector says where, a *strength* detector says how much.

- :func:`hold_off` keeps an alarm (a non-zero score) only when no alarm was kept in the
  ``rows`` rows before it, so one incident is reported once and not row after row
  (NAB charges every false-positive row).
- :func:`gate` turns alarms into graded scores: ``0.5 + 0.5 * strength`` at an alarm,
  0 elsewhere, so NAB's corpus-wide threshold can still choose among alarms by strength
  (a threshold of 0.5 takes every alarm).
- :func:`gated` composes both over two detector functions, giving a detector function.

All three are causal when their inputs are: the output at row ``i`` uses inputs at rows
``<= i`` only.

>>> import numpy as np
>>> alarm = lambda v, t: (np.abs(v) > 2).astype(float)
>>> strength = lambda v, t: np.abs(v) / (1 + np.abs(v))
>>> fn = gated(alarm, strength, holdoff=2)
>>> fn(np.array([0.0, 3.0, 4.0, 0.0, 0.0, 9.0]), None).round(3).tolist()
[0.0, 0.875, 0.0, 0.0, 0.0, 0.95]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cepkit.nab.errors import NabError
from cepkit.nab.runner import DetectorFn

__all__ = ["gate", "gated", "hold_off"]


def hold_off(scores: ArrayLike, rows: int) -> NDArray[np.float64]:
    """``scores`` with each non-zero score dropped if one was kept in the ``rows`` rows before.

    >>> hold_off([1.0, 1.0, 0.0, 1.0, 1.0, 0.5], 2).tolist()
    [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    >>> hold_off([1.0, 1.0], 0).tolist()
    [1.0, 1.0]
    """
    if rows < 0:
        raise NabError(f"hold_off needs rows >= 0, got {rows}")
    s = np.array(scores, dtype=np.float64)
    if rows == 0:
        return s
    kept = np.zeros_like(s)
    last = -rows - 1
    for i in np.flatnonzero(s).tolist():
        if i - last > rows:
            kept[i] = s[i]
            last = i
    return kept


def gate(alarms: ArrayLike, strength: ArrayLike) -> NDArray[np.float64]:
    """``0.5 + 0.5 * strength`` where ``alarms`` is non-zero, else 0 (strength in [0, 1]).

    >>> gate([0.0, 1.0, 1.0], [0.9, 0.0, 0.5]).tolist()
    [0.0, 0.5, 0.75]
    """
    a = np.asarray(alarms, dtype=np.float64)
    s = np.clip(np.asarray(strength, dtype=np.float64), 0.0, 1.0)
    if a.shape != s.shape:
        raise NabError(f"gate: {a.shape} alarms for {s.shape} strengths")
    return np.where(a != 0.0, 0.5 + 0.5 * s, 0.0)


def gated(alarm: DetectorFn, strength: DetectorFn, *, holdoff: int = 0) -> DetectorFn:
    """A detector: ``alarm``'s alarms, held off for ``holdoff`` rows, graded by ``strength``."""
    if holdoff < 0:
        raise NabError(f"hold_off needs rows >= 0, got {holdoff}")

    def detector(values: Any, timestamps: Any) -> NDArray[np.float64]:
        alarms = hold_off(alarm(values, timestamps), holdoff)
        return gate(alarms, strength(values, timestamps))

    return detector
