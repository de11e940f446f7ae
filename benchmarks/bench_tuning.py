"""Tuning cost: a 100-threshold sweep vs one scoring pass, 1M points (zscore, window 100).

The sweep scores once and judges every threshold from that one pass; the target (tuning
issue) is a 100-threshold sweep (``linspace(0, 10, 100)``, with 20 labelled incidents, so
precision, recall, F1 and delays are computed too) <= 1.5 x one scoring pass.

The baseline is the scoring pass the sweep itself makes: the same detector
(``zscore``, window 100, default ``min_baseline``) over the same column of the same
frame (``frame["v"].to_numpy()``, a view, as the sweep reads it). Everything else the
sweep does (reading the timestamps, placing the scores among the thresholds, the
labels, the result DataFrame) is charged to the sweep. The two are timed alternately
(which goes first flips every round) and the medians compared, because other processes
share the machine's cores. An uneven grid of 100 thresholds (which takes the sort path
instead of the arithmetic one) is timed too, for information.

    python benchmarks/bench_tuning.py [--n 1000000] [--rounds 11]

Prints both times and the ratio; exits 2 when the ratio misses the target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from cepkit.anomaly import create
from cepkit.tuning import Incident, Incidents, sweep

TARGET = 1.5


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(1)
    values = rng.normal(50, 5, args.n)
    values[rng.integers(0, args.n, 200)] += 40
    frame = pd.DataFrame({"timestamp": np.arange(args.n, dtype=float) * 60, "v": values})
    labels = Incidents(Incident(s * 60.0, (s + 30) * 60.0) for s in range(1000, args.n, 50_000))
    even = np.linspace(0, 10, 100)
    uneven = np.sort(rng.uniform(0, 10, 100))

    def one_pass() -> object:
        return create("zscore", window=100).score_series(frame["v"].to_numpy())

    def sweep_of(thresholds: np.ndarray) -> Callable[[], object]:
        grid = {"window": [100]}
        return lambda: sweep(frame, "zscore", grid, thresholds=thresholds, value="v", labels=labels)

    times: dict[str, list[float]] = {"pass": [], "even": [], "uneven": []}
    runs = {"pass": one_pass, "even": sweep_of(even), "uneven": sweep_of(uneven)}
    for round_ in range(args.rounds):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for name in order:
            times[name].append(_timed(runs[name]))
    a, b, c = (statistics.median(times[name]) for name in ("pass", "even", "uneven"))
    print(f"{args.n:,} points, zscore window 100, 20 incidents, median of {args.rounds} rounds")
    print(f"  one scoring pass                       {a * 1e3:8.1f} ms")
    print(f"  sweep of 100 thresholds (linspace)     {b * 1e3:8.1f} ms")
    print(f"  sweep of 100 thresholds (uneven, info) {c * 1e3:8.1f} ms  ({c / a:.2f} x)")
    print(f"  sweep / scoring pass = {b / a:.2f}  (target <= {TARGET})")
    return 0 if b / a <= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
