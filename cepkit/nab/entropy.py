"""A relative-entropy detector (Wang et al., as NAB's ``relativeEntropy``), made causal.

The last ``window`` values are quantised into ``bins`` equal-width bins and their
histogram is compared with every *hypothesis* (an earlier window's histogram) by the
relative entropy test of Wang et al.: the window agrees with a hypothesis ``q`` when
``2 * sum(c * log(c / q)) < T`` (``c`` and ``q`` bin counts, ``T`` the ``1 - alpha``
quantile of chi-square with ``bins - 1`` degrees of freedom; a bin the hypothesis
never saw makes it disagree). A window that agrees with no hypothesis scores 1 and
becomes a hypothesis; every other row scores 0 (NAB's ``c_th = 1``: a hypothesis seen
before is never an anomaly again). The first window with a spread is the first
hypothesis and scores 0; so does every row before it.

NAB quantises with the whole file's minimum and maximum, which a causal detector cannot
know. Here the bins span the range seen so far (rows ``<= i``) widened by ``margin`` of
that range on both sides, so the extremes of the history do not sit on the edges, and
when the range grows every hypothesis is re-quantised with it (hypotheses keep their
values, not their histograms). The score of row ``i`` uses rows ``0..i`` only.

The histograms of all windows are computed at once with numpy; the hypothesis test
runs once per distinct histogram between two range changes (a histogram that agreed
once agrees while the range holds, since hypotheses are only added).

>>> import numpy as np
>>> values = np.r_[np.tile([0.0, 1.0, 2.0, 1.0], 50), 9.0, np.tile([0.0, 1.0, 2.0, 1.0], 20)]
>>> scores = relative_entropy(values, window=8)
>>> np.flatnonzero(scores).tolist()
[200]
>>> bool(np.array_equal(relative_entropy(values[:150], window=8), scores[:150]))
True
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from cepkit.nab.errors import NabError

__all__ = ["chi2_isf", "relative_entropy"]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


def _bins(values: Floats, low: Floats | float, width: Floats | float, bins: int) -> Ints:
    """The bin of each value, ``floor((v - low) / width)`` clipped to ``0..bins-1``."""
    index = np.floor((values - low) / width)
    return np.clip(index, 0, bins - 1).astype(np.int64)


def _counts(binned: Ints, bins: int) -> Ints:
    """Bin counts along the last axis."""
    return np.stack([(binned == b).sum(axis=-1) for b in range(bins)], axis=-1)


def _chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for X chi-square with an integer ``dof`` (closed forms, no scipy)."""
    half = x / 2.0
    if dof % 2 == 0:
        term = total = 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return math.exp(-half) * total
    term, total = 1.0, 0.0
    for i in range(1, (dof + 1) // 2):
        total += term
        term *= x / (2 * i + 1)
    return math.erfc(math.sqrt(half)) + math.sqrt(2.0 * x / math.pi) * math.exp(-half) * total


def chi2_isf(alpha: float, dof: int) -> float:
    """The ``1 - alpha`` quantile of chi-square with ``dof`` degrees of freedom (bisection).

    >>> round(chi2_isf(0.01, 4), 6), round(chi2_isf(0.05, 1), 6)
    (13.276704, 3.841459)
    """
    low, high = 0.0, max(1.0, 2.0 * dof)
    while _chi2_sf(high, dof) > alpha:
        low, high = high, 2.0 * high
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if _chi2_sf(middle, dof) > alpha:
            low = middle
        else:
            high = middle
    return high


def _check(window: int, bins: int, alpha: float, margin: float) -> None:
    if window < 2 or bins < 2:
        raise NabError(f"relative_entropy needs window >= 2 and bins >= 2, got {window}, {bins}")
    if not 0.0 < alpha < 1.0 or not margin >= 0.0:
        raise NabError(
            f"relative_entropy needs 0 < alpha < 1 and margin >= 0, got {alpha}, {margin}"
        )


def relative_entropy(
    values: ArrayLike,
    timestamps: ArrayLike | None = None,
    *,
    window: int = 52,
    bins: int = 5,
    alpha: float = 0.01,
    margin: float = 0.15,
) -> Floats:
    """1 where the last ``window`` values form a histogram unlike every earlier one, else 0.

    Defaults are NAB's (``W = 52``, ``N_bins = 5``, ``T`` at ``1 - 0.01``) plus the
    causal range's ``margin``. ``timestamps`` is accepted for the detector signature
    and not used. Values must be finite; bad parameters raise :class:`NabError`.

    >>> relative_entropy([1.0, 1.0, 1.0], window=2).tolist()  # no spread yet: nothing to test
    [0.0, 0.0, 0.0]
    """
    _check(window, bins, alpha, margin)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or not bool(np.all(np.isfinite(x))):
        raise NabError("relative_entropy needs a 1-d series of finite values")
    n = len(x)
    scores = np.zeros(n)
    if n < window:
        return scores
    low = np.minimum.accumulate(x)
    spread = np.maximum.accumulate(x) - low
    low = low - margin * spread
    width = spread * (1.0 + 2.0 * margin) / bins
    ends = np.arange(window - 1, n)  # row t tests the window x[t - window + 1 .. t]
    tested = width[ends] > 0
    counts = _counts(
        _bins(
            sliding_window_view(x, window),
            low[ends][:, None],
            np.where(tested, width[ends], 1.0)[:, None],
            bins,
        ),
        bins,
    )
    keys = (counts * (window + 1) ** np.arange(bins, dtype=np.int64)).sum(axis=1).tolist()
    moved = np.ones(len(ends), dtype=bool)  # the range differs from the previous row's
    moved[1:] = (low[ends[1:]] != low[ends[:-1]]) | (width[ends[1:]] != width[ends[:-1]])
    limit = chi2_isf(alpha, bins - 1)
    offsets = np.arange(1 - window, 1)
    hypotheses: list[int] = []  # the end row of each hypothesis window
    known: Floats = np.zeros((0, bins))  # their counts under the current range
    agreeing: set[int] = set()  # histograms (keys) that agree with a hypothesis
    for k in np.flatnonzero(tested).tolist():
        t = int(ends[k])
        if moved[k] and hypotheses:
            rows = np.asarray(hypotheses)[:, None] + offsets
            known = _counts(_bins(x[rows], low[t], width[t], bins), bins).astype(np.float64)
            agreeing = set()
        key = keys[k]
        if key in agreeing:
            continue
        if hypotheses and _nearest(counts[k], known) >= limit:
            scores[t] = 1.0
        if not hypotheses or scores[t]:
            hypotheses.append(t)
            known = np.vstack([known, counts[k]])
        agreeing.add(key)
    return scores


def _nearest(counts: Ints, known: Floats) -> float:
    """The smallest ``2 * sum(c * log(c / q))`` over the hypotheses ``q`` (rows of ``known``).

    >>> _nearest(np.array([2, 2, 0]), np.array([[1.0, 3.0, 0.0], [0.0, 2.0, 2.0]]))
    1.1507...
    """
    seen = counts > 0
    c = counts[seen].astype(np.float64)
    with np.errstate(divide="ignore"):
        divergence = 2.0 * (np.log(c / known[:, seen]) * c).sum(axis=1)
    return float(divergence.min()) if len(divergence) else math.inf
