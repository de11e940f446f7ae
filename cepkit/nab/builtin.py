"""cepkit's own detectors as NAB detectors: causal scores mapped into ``[0, 1]``.

:data:`NAB_DETECTORS` names them all: NAB's ``windowed_gaussian``; ``relative_entropy``
(:mod:`cepkit.nab.entropy`, causal); ``entropy_zscore``, relative-entropy alarms held
off for ``holdoff`` rows and graded by the z-score of first differences
(:mod:`cepkit.nab.combine`); ``best`` (:data:`BEST`); and every anomaly detector.

A registered anomaly detector (``zscore``, ``iqr``, ``ema``, ``mad``) scores each file
with ``score_series`` (causal: a row's score uses only earlier rows), optionally on the
first differences of the values (``diff``) and keeping only a *rising edge* (``edge``:
a score counts only when it beats every score of the previous ``edge`` rows, so one
incident is not reported again and again). Scores are mapped with ``s / (1 + s)``
(monotone, so NAB's threshold sweep is unaffected), NaN (baseline insufficient) to 0.

:data:`BEST` is the best built-in configuration found so far (one configuration, one
corpus-wide threshold, no per-file tuning, as every NAB entry): ``entropy_zscore`` with
``alpha=0.001`` and a hold-off of one histogram window, 69.70 / 64.51 / 73.76
(standard / low FP / low FN) on NAB v1.1.

>>> import numpy as np
>>> fn = nab_detector("zscore", window=20, min_baseline=10)
>>> scores = fn(np.r_[np.zeros(30), 5.0, np.zeros(5)], None)
>>> float(scores[30]) > 0.99, float(scores[:10].max())
(True, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from cepkit.anomaly import DETECTORS, create
from cepkit.nab.combine import gated, hold_off
from cepkit.nab.detectors import windowed_gaussian
from cepkit.nab.entropy import relative_entropy
from cepkit.nab.runner import DetectorFn

__all__ = ["BEST", "NAB_DETECTORS", "nab_detector", "rising_edge"]

#: the best built-in configuration so far (69.70 / 64.51 / 73.76 on NAB v1.1)
BEST: dict[str, Any] = {
    "method": "entropy_zscore",
    "window": 52,
    "bins": 5,
    "alpha": 0.001,
    "margin": 0.15,
    "holdoff": 52,
    "z_window": 1000,
    "z_min_baseline": 100,
}


def _relative_entropy(
    *,
    window: int = 52,
    bins: int = 5,
    alpha: float = 0.01,
    margin: float = 0.15,
    holdoff: int = 0,
) -> DetectorFn:
    """Relative-entropy alarms (0 or 1), each held off for ``holdoff`` rows."""
    w, b, a, m, rows = int(window), int(bins), float(alpha), float(margin), int(holdoff)
    relative_entropy(np.zeros(0), window=w, bins=b, alpha=a, margin=m)  # fail now, not per file
    hold_off(np.zeros(0), rows)

    def detector(values: ArrayLike, timestamps: Any) -> NDArray[np.float64]:
        scores = relative_entropy(values, window=w, bins=b, alpha=a, margin=m)
        return hold_off(scores, rows)

    return detector


def _entropy_zscore(
    *,
    window: int = 52,
    bins: int = 5,
    alpha: float = 0.01,
    margin: float = 0.15,
    holdoff: int = 52,
    z_window: int = 1000,
    z_min_baseline: int = 100,
) -> DetectorFn:
    """Relative-entropy alarms held off for ``holdoff`` rows, graded by the mapped z-score
    of first differences (``zscore window=z_window min_baseline=z_min_baseline diff``)."""
    alarm = _relative_entropy(window=window, bins=bins, alpha=alpha, margin=margin)
    strength = nab_detector("zscore", window=z_window, min_baseline=z_min_baseline, diff=True)
    return gated(alarm, strength, holdoff=int(holdoff))


#: NAB-only detectors: name -> factory taking the detector's parameters
_FACTORIES: dict[str, Callable[..., DetectorFn]] = {
    "relative_entropy": _relative_entropy,
    "entropy_zscore": _entropy_zscore,
}

#: names ``nab_detector`` understands besides the anomaly registry
NAB_DETECTORS = ("windowed_gaussian", "best", *_FACTORIES, *DETECTORS)

_CAP = 1e6


def rising_edge(scores: NDArray[np.float64], rows: int) -> NDArray[np.float64]:
    """``scores[t]`` where it beats every score of the ``rows`` rows before, else 0.

    >>> rising_edge(np.array([1.0, 3.0, 2.0, 2.5, 4.0]), 2).tolist()
    [1.0, 3.0, 0.0, 0.0, 4.0]
    """
    if rows < 1 or len(scores) == 0:
        return scores
    padded = np.concatenate([np.full(rows, -np.inf), scores[:-1]])
    previous = sliding_window_view(padded, rows).max(axis=1)
    return np.where(scores > previous, scores, 0.0)


def nab_detector(name: str, **params: Any) -> DetectorFn:
    """A NAB detector function for ``name`` (see :data:`NAB_DETECTORS`) and ``params``.

    For an anomaly detector, besides its own parameters: ``diff`` (score first
    differences) and ``edge`` (rising-edge rows). Unknown names or parameters raise
    ValueError.

    >>> fn = nab_detector("relative_entropy", window=8)
    >>> np.flatnonzero(fn(np.r_[np.tile([0.0, 1.0], 30), 5.0, 0.0], None)).tolist()
    [60]
    >>> nab_detector("entropy_zscore", bins=1)
    Traceback (most recent call last):
    ...
    ValueError: bad parameters for 'entropy_zscore': relative_entropy needs ...
    """
    if name == "windowed_gaussian":
        if params:
            raise ValueError(f"windowed_gaussian takes no parameters, got {sorted(params)}")
        return windowed_gaussian
    if name == "best":
        merged = {**BEST, **params}
        return nab_detector(str(merged.pop("method")), **merged)
    if name in _FACTORIES:
        try:
            return _FACTORIES[name](**params)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad parameters for {name!r}: {exc}") from exc
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; expected one of: {', '.join(NAB_DETECTORS)}")
    diff = _flag(params.pop("diff", False))
    edge = int(params.pop("edge", 0))
    create(name, **params)  # fail now on bad parameters, not per file

    def detector(values: ArrayLike, timestamps: Any) -> NDArray[np.float64]:
        series = np.asarray(values, dtype=float)
        if diff:
            series = np.concatenate([[0.0], np.diff(series)])
        raw = np.asarray(create(name, **params).score_series(series), dtype=float)
        raw = np.minimum(np.nan_to_num(raw, nan=0.0, posinf=_CAP), _CAP)
        raw = rising_edge(raw, edge)
        mapped: NDArray[np.float64] = raw / (1.0 + raw)
        return mapped

    return detector


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def parse_params(pairs: list[str]) -> Mapping[str, Any]:
    """``["window=100", "diff=true"]`` -> ``{"window": 100, "diff": "true"}`` (numbers parsed).

    >>> parse_params(["window=100", "alpha=0.1", "diff=true"])
    {'window': 100, 'alpha': 0.1, 'diff': 'true'}
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param takes key=value, got {pair!r}")
        value: Any = text
        for cast in (int, float):
            try:
                value = cast(text)
                break
            except ValueError:
                continue
        out[key.strip()] = value
    return out
