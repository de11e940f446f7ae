"""Accurate mean/std kernels for :mod:`cepkit.anomaly.zscore`: exact, rolling and expanding.

The fast paths use prefix sums of ``v - ref`` and ``(v - ref)**2`` (``ref`` a local
mean) and a rigorous bound on their rounding error; where the bound exceeds
:data:`ERROR_TOL` of the window's sum of squared deviations, that window is recomputed
with a two-pass sum. A window whose values are all equal gets a std of exactly 0, and
distances are taken from ``ref`` (never from the rounded mean itself), so scores are
accurate to about 1e-10 relative whatever the magnitude of the values.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cepkit.anomaly.base import Floats, ratio_array

__all__ = ["ERROR_TOL", "UNIT_ROUNDOFF", "exact_moments", "zscore_series"]

#: unit roundoff of float64
UNIT_ROUNDOFF = 2.0**-53
#: accepted bound on the relative rounding error of a sum of squared deviations
ERROR_TOL = 1e-10

_GATHER = 1 << 20  # values per gathered batch of windows (bounds memory)
_BATCH = 1 << 16  # values per batch of rows in rolling_scores (stays in cache)


def exact_moments(values: list[float]) -> tuple[float, float, float]:
    """``(ref, s1, s2)``: ``ref`` the mean, ``s1``/``s2`` correctly rounded sums of
    ``v - ref`` and its square; a constant window gives ``(value, 0, 0)``.

    >>> exact_moments([1.0, 2.0, 3.0])
    (2.0, 0.0, 2.0)
    >>> exact_moments([0.1, 0.1, 0.1])
    (0.1, 0.0, 0.0)
    """
    low, high = min(values), max(values)
    if low == high:
        return low, 0.0, 0.0
    ref = math.fsum(values) / len(values)
    deviations = [v - ref for v in values]
    return ref, math.fsum(deviations), math.fsum([d * d for d in deviations])


def zscore_series(x: Floats, window: int | None, min_baseline: int) -> Floats:
    """Element t: the z-score of ``x[t]`` against ``x[max(0, t - window):t]`` (NaN before
    ``min_baseline`` values). ``window=None`` is expanding.

    >>> zscore_series(np.array([1.0, 2.0, 3.0, 9.0]), None, 2).tolist()
    [nan, nan, 2.121..., 7.0]
    """
    n = len(x)
    out = np.full(n, np.nan)
    if window is not None and window < min_baseline:  # never enough values
        return out
    if window is None or window >= n:
        out[:] = expanding_scores(x)
    else:
        out[:window] = expanding_scores(x[:window])
        out[window:] = rolling_scores(x, window)
    out[: min(min_baseline, n)] = np.nan
    return out


def _two_pass(windows: Floats, ref_out: Floats | None = None) -> tuple[Floats, Floats, Floats]:
    """Per row: ``(ref, s1, s2)`` with ``ref`` the row mean (or its value if constant)."""
    constant = windows.min(axis=1) == windows.max(axis=1)
    ref = np.where(constant, windows[:, 0], windows.mean(axis=1))
    d = windows - ref[:, None]
    return ref, d.sum(axis=1), np.einsum("ij,ij->i", d, d)


def _scores(x: Floats, ref: Floats, s1: Floats, s2: Floats, n: int | Floats) -> Floats:
    center = s1 / n
    std = np.sqrt(np.maximum(s2 - s1 * center, 0.0) / (np.asarray(n) - 1))
    return ratio_array(np.abs((x - ref) - center), std)


def rolling_scores(x: Floats, w: int, chunk: int | None = None) -> Floats:
    """Scores of ``x[w:]``, each against the ``w`` values before it (needs ``len(x) > w``).

    Output t is in row ``(t - w) // chunk``; a row holds ``chunk + w`` values and its
    own reference (the mean of its first ``w`` values), so prefix sums never run longer
    than a row and only values before t enter the computation of element t. Rows are
    processed a batch at a time in reused buffers that stay in cache.
    """
    count = len(x) - w
    if w < 2:
        return np.full(count, np.nan)
    step = chunk or max(2 * w, 128)
    width = step + w
    rows_n = -(-count // step)
    padded = np.concatenate([x, np.full(rows_n * step + w - len(x), x[-1])])
    rows = sliding_window_view(padded, width)[::step]
    # rounding error of a difference of prefix sums: only the w steps between them count;
    # a window is suspect when that bound exceeds ERROR_TOL of its m2 (or m2 <= 0)
    bound = 1.1 * UNIT_ROUNDOFF * (w + 2 * math.sqrt(w * (width + 1)) + 8)
    limit = bound / ERROR_TOL
    per = max(1, _BATCH // width)
    c1 = np.zeros((per, width + 1))
    c2 = np.zeros((per, width + 1))
    d = np.empty((per, width))
    a = np.empty((per, step))
    b = np.empty((per, step))
    flag = np.empty((per, step), dtype=bool)
    out = np.empty(rows_n * step)
    suspects = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for r0 in range(0, rows_n, per):
            block = rows[r0 : r0 + per]
            k = len(block)
            dk, ak, bk = d[:k], a[:k], b[:k]
            np.subtract(block, block[:, :w].mean(axis=1)[:, None], out=dk)
            np.cumsum(dk, axis=1, out=c1[:k, 1:])
            np.cumsum(np.square(dk), axis=1, out=c2[:k, 1:])
            s1 = np.subtract(c1[:k, w:width], c1[:k, :step], out=ak)
            s2 = np.subtract(c2[:k, w:width], c2[:k, :step], out=bk)
            center = s1 / w
            m2 = np.subtract(s2, np.multiply(s1, center, out=ak), out=bk)
            np.greater_equal(np.multiply(c2[:k, w:width], limit, out=ak), m2, out=flag[:k])
            suspects.append(np.flatnonzero(flag[:k]) + r0 * step)
            std = np.sqrt(np.multiply(m2, 1.0 / (w - 1), out=bk), out=bk)
            distance = np.abs(np.subtract(dk[:, w:], center, out=center), out=center)
            np.divide(distance, std, out=out[r0 * step : (r0 + k) * step].reshape(k, step))
    out = out[:count]
    suspect = np.concatenate(suspects)
    suspect = suspect[suspect < count]
    if len(suspect):
        # constant windows (flat lines) first: std 0, so 0 for the same value, else inf
        run_starts = np.concatenate([[0], np.flatnonzero(x[1:] != x[:-1]) + 1])
        last = suspect + w - 1  # the window's last value
        flat = run_starts[np.searchsorted(run_starts, last, side="right") - 1] <= suspect
        idx = suspect[flat]
        out[idx] = np.where(x[idx + w] == x[idx + w - 1], 0.0, math.inf)
        suspect = suspect[~flat]
        windows = sliding_window_view(x, w)
        batch = max(1, _GATHER // w)
        for start in range(0, len(suspect), batch):
            idx = suspect[start : start + batch]
            r, s1_, s2_ = _two_pass(windows[idx])
            out[idx] = _scores(x[idx + w], r, s1_, s2_, w)
    return out


def expanding_scores(x: Floats, block: int = 1024) -> Floats:
    """Element t: the score of ``x[t]`` against all of ``x[:t]`` (NaN for t < 2).

    Values are taken relative to ``x[0]``; the history before each block comes from
    per-block two-pass sums merged with Chan's formula, the part inside the block from
    prefix sums (recomputed with two passes where the error bound is too large). Only
    values before t enter the computation of element t.
    """
    m = len(x)
    out = np.full(m, np.nan)
    if m < 3:
        return out
    y = x - x[0]
    blocks = -(-m // block)
    ys = np.concatenate([y, np.full(blocks * block - m, y[-1])]).reshape(blocks, block)
    # history before each block: count, mean, sum of squared deviations (Chan et al.),
    # merged from each complete block's two-pass sums
    b_ref, b_s1, b_s2 = _two_pass(ys[:-1])
    p_n = np.zeros(blocks)
    p_mean = np.zeros(blocks)
    p_m2 = np.zeros(blocks)
    count, mean, m2 = 0.0, 0.0, 0.0
    for b in range(blocks - 1):
        b_mean = float(b_ref[b] + b_s1[b] / block)
        b_m2 = max(float(b_s2[b] - b_s1[b] * b_s1[b] / block), 0.0)
        count, mean, m2 = _merge(count, mean, m2, float(block), b_mean, b_m2)
        p_n[b + 1], p_mean[b + 1], p_m2[b + 1] = count, mean, m2
    # inside a block: prefix sums relative to the mean of the history before it (causal)
    ref = p_mean
    d = ys - ref[:, None]
    c1 = np.zeros((blocks, block + 1))
    c2 = np.zeros((blocks, block + 1))
    np.cumsum(d, axis=1, out=c1[:, 1:])
    np.cumsum(d * d, axis=1, out=c2[:, 1:])
    j = np.arange(block, dtype=np.float64)
    jj = np.maximum(j, 1.0)
    part_mean = ref[:, None] + c1[:, :block] / jj
    part_m2 = c2[:, :block] - c1[:, :block] * c1[:, :block] / jj
    total = p_n[:, None] + j
    delta = part_mean - p_mean[:, None]
    mean_all = p_mean[:, None] + delta * (j / np.maximum(total, 1.0))
    m2_all = p_m2[:, None] + part_m2 + delta * delta * (p_n[:, None] * j / np.maximum(total, 1.0))
    bound = 1.1 * UNIT_ROUNDOFF * (3 * j + 8)
    suspect = (bound * c2[:, :block] > ERROR_TOL * m2_all).ravel()[:m]
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.sqrt(np.maximum(m2_all, 0.0) / (total - 1))
    scores = ratio_array(np.abs(ys - mean_all), std).ravel()[:m]
    for t in np.flatnonzero(suspect).tolist():
        if t < 2:
            continue
        b, jt = divmod(t, block)
        mean_t, m2_t = float(p_mean[b]), float(p_m2[b])
        if jt:
            part = y[b * block : t]
            r, a, c = _two_pass(part[None, :])
            part_mean_t = float(r[0] + a[0] / jt)
            part_m2_t = max(float(c[0] - a[0] * a[0] / jt), 0.0)
            _, mean_t, m2_t = _merge(float(p_n[b]), mean_t, m2_t, jt, part_mean_t, part_m2_t)
        std_t = math.sqrt(m2_t / (t - 1))
        distance = abs(float(y[t]) - mean_t)
        scores[t] = distance / std_t if std_t > 0 else (0.0 if distance == 0 else math.inf)
    out[2:] = scores[2:]
    return out


def _merge(
    n_a: float, mean_a: float, m2_a: float, n_b: float, mean_b: float, m2_b: float
) -> tuple[float, float, float]:
    """Count, mean and sum of squared deviations of two merged samples (Chan et al.)."""
    n = n_a + n_b
    if n_a == 0:
        return n_b, mean_b, m2_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta * delta * (n_a * n_b / n)
