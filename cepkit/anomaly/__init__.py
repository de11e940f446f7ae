"""Anomaly detectors, one file each, found through :data:`DETECTORS`.

Every detector scores a value against the history learned so far (``score_one``), learns
it afterwards (``learn_one``), reports ``baseline_insufficient`` below ``min_baseline``
values and never fires then, and shows its baseline through ``status()``. Each also
scores a whole series at once with ``score_series`` (the same scores as the streaming
loop, NaN where the baseline is insufficient) and saves and restores its state with
``snapshot()`` / :func:`restore`. Adding a method is one new file plus one line in
:data:`DETECTORS`.

>>> det = create("zscore", window=50, min_baseline=5)
>>> det.check(99).status
'baseline_insufficient'
>>> sorted(DETECTORS)
['ema', 'iqr', 'mad', 'zscore']
>>> for v in [10, 11, 9, 10, 12, 10]:
...     det.learn_one(v)
>>> twin = restore(det.snapshot())
>>> twin.score_one(14) == det.score_one(14)
True
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from cepkit.anomaly.base import Detector, DetectorStatus, Verdict
from cepkit.anomaly.ema import EMA
from cepkit.anomaly.iqr import IQR
from cepkit.anomaly.mad import MAD
from cepkit.anomaly.zscore import ZScore

__all__ = [
    "DETECTORS",
    "EMA",
    "IQR",
    "MAD",
    "Detector",
    "DetectorStatus",
    "Verdict",
    "ZScore",
    "create",
    "create_from_spec",
    "restore",
]

#: method name -> detector class
DETECTORS: dict[str, type[Detector]] = {
    "zscore": ZScore,
    "iqr": IQR,
    "ema": EMA,
    "mad": MAD,
}


def create(name: str, **params: Any) -> Detector:
    """A new detector by method name; unknown names and parameters raise ValueError."""
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise ValueError(
            f"unknown anomaly method {name!r}; expected one of: {', '.join(DETECTORS)}"
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for {name!r}: {exc}") from exc


def create_from_spec(name: str, spec: Mapping[str, Any]) -> Detector:
    """A detector from a trigger spec: takes the keys its constructor accepts, ignores the rest.

    >>> create_from_spec("ema", {"alpha": 0.5, "window": 100, "min_baseline": 5}).alpha
    0.5
    """
    if name not in DETECTORS:
        return create(name)  # raises the ValueError naming the valid methods
    accepted = inspect.signature(DETECTORS[name]).parameters
    return create(name, **{k: v for k, v in spec.items() if k in accepted})


def restore(snapshot: Mapping[str, Any]) -> Detector:
    """The detector a ``Detector.snapshot()`` describes, whatever its method.

    Raises ValueError for an unknown method or a malformed snapshot.
    """
    try:
        name = snapshot["method"]
    except (KeyError, TypeError):
        raise ValueError(
            "not a detector snapshot: expected keys method, version, params, state"
        ) from None
    if name not in DETECTORS:
        raise ValueError(
            f"unknown anomaly method {name!r}; expected one of: {', '.join(DETECTORS)}"
        )
    return DETECTORS[name].restore(snapshot)
