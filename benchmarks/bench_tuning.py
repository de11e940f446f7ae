"""Tuning cost: a 100-threshold sweep vs one scoring pass, 1M points (zscore, window 100).

The sweep scores once and judges every threshold from the sorted scores; the target
(tuning issue) is a 100-threshold sweep <= 1.5 x one scoring pass (``score_series``
over the same points). Prints both times (median of the rounds) and the ratio.

    python benchmarks/bench_tuning.py [--n 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import pandas as pd

from cepkit.anomaly import create
from cepkit.tuning import Incident, Incidents, sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(1)
    values = rng.normal(50, 5, args.n)
    values[rng.integers(0, args.n, 200)] += 40
    frame = pd.DataFrame({"timestamp": np.arange(args.n, dtype=float) * 60, "v": values})
    labels = Incidents(Incident(s * 60.0, (s + 30) * 60.0) for s in range(1000, args.n, 50_000))
    thresholds = np.linspace(0, 10, 100)
    one, many = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        create("zscore", window=100).score_series(values)
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        sweep(frame, "zscore", {"window": [100]}, thresholds=thresholds, value="v", labels=labels)
        many.append(time.perf_counter() - start)
    a, b = statistics.median(one), statistics.median(many)
    print(f"{args.n:,} points, zscore window 100, median of {args.rounds}")
    print(f"  one scoring pass            {a * 1e3:8.1f} ms")
    print(f"  sweep of 100 thresholds     {b * 1e3:8.1f} ms")
    print(f"  sweep / scoring pass = {b / a:.2f}  (target <= 1.5)")
    return 0 if b / a <= 1.5 else 2


if __name__ == "__main__":
    sys.exit(main())
