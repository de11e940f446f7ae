"""Anomaly detector speed: streaming against bare loops, vectorised against pandas.

Streaming (window 100, ``score_one`` then ``learn_one`` per value, scores collected):
zscore, iqr and ema each against a bare Python loop of the same algorithm written out
below with local variables (and checked to give the same scores); zscore also against
``river.anomaly.GaussianScorer`` when river is importable. Vectorised (``score_series``
over 1,000,000 values): zscore against pandas ``rolling(100).mean()/.std()`` shifted,
ema against pandas ``ewm(adjust=False).mean()/.std(bias=True)`` shifted, iqr against
pandas ``rolling(100).quantile(0.25)`` plus ``.quantile(0.75)``. mad is reported without
a target. Contenders are interleaved, several rounds, and the median rate is printed
with the ratio measured in this same run next to its target.

Targets: streaming >= 0.7 x the bare loop (zscore, iqr, ema); zscore >= 5 x river;
vectorised zscore and ema >= 0.8 x pandas; iqr >= 2 x pandas. Exits 2 if one is missed.

    python benchmarks/bench_anomaly.py [--n-stream 200000] [--n-vector 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cepkit.anomaly import EMA, IQR, MAD, ZScore, create
from cepkit.anomaly.base import Detector

WINDOW, MIN_BASELINE, ALPHA, K = 100, 30, 0.3, 1.5


def series(n: int, seed: int = 42) -> np.ndarray:
    """A noisy level with a slow cycle and rare spikes."""
    rng = np.random.default_rng(seed)
    x = 50 + 10 * np.sin(np.arange(n) / 500) + rng.normal(0, 2, n)
    spikes = rng.random(n) < 0.001
    x[spikes] += rng.normal(0, 30, spikes.sum())
    return x


# -- bare loops: the detectors' algorithms with locals, no class ----------------------------


def bare_zscore(values: list[float]) -> list[float]:
    """Shifted running sums over a deque, the same error bound and exact recompute."""
    u, tol, max_updates = 2.0**-53, 1e-10, 1 << 16
    buf: deque[float] = deque()
    ref = values[0] if values else 0.0
    s1 = s2 = mass = 0.0
    updates = 0
    out = []
    for x in values:
        n = len(buf)
        if n >= MIN_BASELINE:
            center = s1 / n
            m2 = s2 - s1 * center
            if not u * (8 * updates + 16) * mass <= tol * m2 or updates >= max_updates:
                if min(buf) == max(buf):
                    ref, s1, s2 = buf[0], 0.0, 0.0
                else:
                    ref = math.fsum(buf) / n
                    devs = [v - ref for v in buf]
                    s1, s2 = math.fsum(devs), math.fsum([e * e for e in devs])
                mass, updates = s2, 0
                center = s1 / n
                m2 = s2 - s1 * center
            std = math.sqrt(m2 / (n - 1)) if m2 > 0 else 0.0
            distance = abs((x - ref) - center)
            out.append(distance / std if std > 0 else (0.0 if distance == 0 else math.inf))
        else:
            out.append(math.nan)
        d = x - ref
        dd = d * d
        if n == WINDOW:
            e = buf.popleft() - ref
            s1 += d - e
            s2 += dd - e * e
        else:
            s1 += d
            s2 += dd
        buf.append(x)
        mass += dd
        updates += 1
    return out


def bare_iqr(values: list[float]) -> list[float]:
    """A deque plus a sorted list (insort / bisect + del), interpolated quartiles."""
    buf: deque[float] = deque()
    ordered: list[float] = []
    out = []
    for x in values:
        n = len(ordered)
        if n >= MIN_BASELINE:
            p1, p3 = (n - 1) * 0.25, (n - 1) * 0.75
            i1, i3 = int(p1), int(p3)
            q1 = ordered[i1] + (ordered[min(i1 + 1, n - 1)] - ordered[i1]) * (p1 - i1)
            q3 = ordered[i3] + (ordered[min(i3 + 1, n - 1)] - ordered[i3]) * (p3 - i3)
            iqr = q3 - q1
            beyond = max(q1 - K * iqr - x, x - (q3 + K * iqr), 0.0)
            out.append(beyond / iqr if iqr > 0 else (0.0 if beyond == 0 else math.inf))
        else:
            out.append(math.nan)
        if n == WINDOW:
            del ordered[bisect_left(ordered, buf.popleft())]
        buf.append(x)
        insort(ordered, x)
    return out


def bare_ema(values: list[float]) -> list[float]:
    """West/Finch recurrences with the mean kept as an offset from the last value."""
    decay, floor = 1.0 - ALPHA, 2.0**-968
    neg_decay, gain = -decay, decay * ALPHA
    last = offset = var = 0.0
    out = []
    for n, x in enumerate(values):  # n values learned before x
        if n >= MIN_BASELINE:
            if var < floor:
                out.append(0.0 if x == last else math.inf)
            else:
                out.append(abs((x - last) - offset) / math.sqrt(var))
        else:
            out.append(math.nan)
        if n:
            d = (x - last) - offset
            offset = neg_decay * d
            var = decay * var + gain * d * d
        last = x
    return out


def streaming(detector: Detector) -> Callable[[list[float]], list[float | None]]:
    def run(values: list[float]) -> list[float | None]:
        det = detector.fresh()
        score_learn = det.score_learn_one  # what the engine calls per value
        return [score_learn(x) for x in values]

    return run


def river_gaussian() -> Callable[[list[float]], list[float]] | None:
    try:
        from river.anomaly import GaussianScorer  # type: ignore[import-not-found]
    except ImportError:
        return None

    def run(values: list[float]) -> list[float]:
        scorer = GaussianScorer(window_size=WINDOW, grace_period=MIN_BASELINE)
        out = []
        for x in values:
            out.append(scorer.score_one(None, x))
            scorer.learn_one(None, x)
        return out

    return run


# -- pandas baselines ----------------------------------------------------------------------


def pandas_zscore(x: np.ndarray) -> np.ndarray:
    s = pd.Series(x)
    mean, std = s.rolling(WINDOW).mean().shift(1), s.rolling(WINDOW).std().shift(1)
    return ((s - mean).abs() / std).to_numpy()


def pandas_ema(x: np.ndarray) -> np.ndarray:
    s = pd.Series(x)
    ewm = s.ewm(alpha=ALPHA, adjust=False)
    return ((s - ewm.mean().shift(1)).abs() / ewm.std(bias=True).shift(1)).to_numpy()


def pandas_quartiles(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rolling = pd.Series(x).rolling(WINDOW)
    return rolling.quantile(0.25).to_numpy(), rolling.quantile(0.75).to_numpy()


# -- measurement ---------------------------------------------------------------------------


def measure(
    contenders: dict[str, tuple[Callable[[Any], Any], Any]], rounds: int
) -> dict[str, float]:
    """Median values/s of each contender, interleaved over ``rounds`` rounds."""
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, (fn, data) in contenders.items():
            start = time.perf_counter()
            fn(data)
            rates[name].append(len(data) / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def agree(a: Any, b: Any) -> bool:
    x = np.asarray([math.nan if v is None else v for v in a], dtype=float)
    y = np.asarray(b, dtype=float)
    return bool(np.allclose(x, y, rtol=1e-6, atol=1e-9, equal_nan=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n-stream", type=int, default=200_000)
    parser.add_argument("--n-vector", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    stream_data = series(args.n_stream).tolist()
    vector_data = series(args.n_vector, seed=7)
    zscore = ZScore(window=WINDOW, min_baseline=MIN_BASELINE)
    iqr = IQR(window=WINDOW, multiplier=K, min_baseline=MIN_BASELINE)
    ema = EMA(alpha=ALPHA, min_baseline=MIN_BASELINE)
    mad = MAD(window=WINDOW, min_baseline=MIN_BASELINE)

    stream: dict[str, tuple[Callable[[Any], Any], Any]] = {
        "zscore": (streaming(zscore), stream_data),
        "zscore bare": (bare_zscore, stream_data),
        "iqr": (streaming(iqr), stream_data),
        "iqr bare": (bare_iqr, stream_data),
        "ema": (streaming(ema), stream_data),
        "ema bare": (bare_ema, stream_data),
        "mad": (streaming(mad), stream_data),
    }
    river = river_gaussian()
    if river is not None:
        stream["river GaussianScorer"] = (river, stream_data)
    full = (WINDOW, None)
    vector: dict[str, tuple[Callable[[Any], Any], Any]] = {
        "zscore": (create("zscore", window=WINDOW, min_baseline=WINDOW).score_series, vector_data),
        "zscore pandas": (pandas_zscore, vector_data),
        "ema": (ema.score_series, vector_data),
        "ema pandas": (pandas_ema, vector_data),
        "iqr": (iqr.score_series, vector_data),
        "iqr pandas quartiles": (pandas_quartiles, vector_data),
        "mad": (mad.score_series, vector_data),
    }

    # the baselines compute the same scores (checked once, outside the timings)
    checks = {
        "zscore bare": agree(streaming(zscore)(stream_data), bare_zscore(stream_data)),
        "iqr bare": agree(streaming(iqr)(stream_data), bare_iqr(stream_data)),
        "ema bare": agree(streaming(ema)(stream_data), bare_ema(stream_data)),
        "zscore pandas": agree(
            vector["zscore"][0](vector_data)[slice(*full)], pandas_zscore(vector_data)[slice(*full)]
        ),
        "ema pandas": agree(
            ema.score_series(vector_data)[MIN_BASELINE:], pandas_ema(vector_data)[MIN_BASELINE:]
        ),
    }
    if not all(checks.values()):
        print(f"DISAGREEMENT: {checks}")
        return 1

    s_rate = measure(stream, args.rounds)
    v_rate = measure(vector, args.rounds)
    targets = [
        ("streaming zscore / bare loop", s_rate["zscore"] / s_rate["zscore bare"], 0.7),
        ("streaming iqr / bare loop", s_rate["iqr"] / s_rate["iqr bare"], 0.7),
        ("streaming ema / bare loop", s_rate["ema"] / s_rate["ema bare"], 0.7),
        ("score_series zscore / pandas rolling", v_rate["zscore"] / v_rate["zscore pandas"], 0.8),
        ("score_series ema / pandas ewm", v_rate["ema"] / v_rate["ema pandas"], 0.8),
        (
            "score_series iqr / pandas quartiles",
            v_rate["iqr"] / v_rate["iqr pandas quartiles"],
            2.0,
        ),
    ]
    if river is not None:
        ratio = s_rate["zscore"] / s_rate["river GaussianScorer"]
        targets.insert(1, ("streaming zscore / river GaussianScorer", ratio, 5.0))

    print(f"streaming, window {WINDOW}, {args.n_stream:,} values, median of {args.rounds} rounds")
    for name, rate in s_rate.items():
        print(f"  {name:<24} {rate / 1e6:7.3f} M values/s")
    if river is None:
        print("  (river is not importable: the GaussianScorer comparison is skipped)")
    print(
        f"score_series, window {WINDOW}, {args.n_vector:,} values, median of {args.rounds} rounds"
    )
    for name, rate in v_rate.items():
        print(f"  {name:<24} {rate / 1e6:7.3f} M values/s")
    missed = 0
    for label, ratio, target in targets:
        ok = ratio >= target
        missed += not ok
        print(f"  {label:<42} {ratio:6.2f}  (target >= {target})  {'ok' if ok else 'MISSED'}")
    return 0 if not missed else 2


if __name__ == "__main__":
    sys.exit(main())
