"""Replay's columnar fast path against numpy/pandas doing the bare computation.

Cases, each contender on the same frame in the same run (median of the rounds,
interleaved, since the CPUs are shared):

- ``threshold``: ``cpu > 84.5`` (fires on ~0.03% of the rows) over N rows whose
  timestamps are a pandas datetime column, ``replay([rule], frame)`` (the summary
  computed, the firing models built lazily) against the bare numpy
  ``np.flatnonzero(cpu > 84.5)`` (the mask and the firing rows; no timestamps, no
  counters). Shown beside it, the same frame with float epoch-second timestamps: replay
  must then also scan the timestamp column for infinities (a value the engine cannot
  read changes the counts), one more pass over a second column of the same size, so its
  ratio is lower (0.33-0.5 here); integer epoch timestamps need no scan, like datetimes.
- ``zscore``: a zscore anomaly rule (window 100, threshold 4) over M rows against pandas
  ``s.rolling(100).mean()`` and ``s.rolling(100).std()`` on the same column.

Also shown, for scale: the time to build the firing models of the threshold case, and
the engine loop (``fast=False``) on a slice, in rows per second. Before timing, the fast
path is checked against the engine loop on a slice (same firings, ids and summary).

Targets (replay issue): threshold (datetime timestamps) >= 0.5 x the numpy mask; zscore
>= 0.8 x pandas rolling mean/std. Prints the ratios; exits 2 when a target is missed.

    python benchmarks/bench_replay.py [--n 10000000] [--m 1000000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cepkit.replay import replay

T0 = 1_770_000_000.0
THRESHOLD = 84.5
THRESHOLD_RULE = {
    "rule_name": "cpu_high",
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": THRESHOLD},
}
ZSCORE_RULE = {
    "rule_name": "latency_zscore",
    "trigger_type": "anomaly",
    "trigger_spec": {
        "value_path": "latency",
        "anomaly_method": "zscore",
        "window": 100,
        "threshold": 4.0,
        "min_baseline": 30,
    },
}


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    """100 rows a second from T0; timestamps as a pandas datetime column (UTC)."""
    rng = np.random.default_rng(seed)
    latency = rng.gamma(4.0, 25.0, n)
    latency[rng.random(n) < 2e-4] *= 6  # a few spikes
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(T0 * 1e9 + np.arange(n) * 1e7, utc=True),
            "cpu": rng.normal(50.0, 10.0, n),
            "latency": latency,
        }
    )


def with_epoch_seconds(data: pd.DataFrame) -> pd.DataFrame:
    """The same frame with float epoch-second timestamps."""
    return data.assign(timestamp=T0 + np.arange(len(data)) * 0.01)


def median_seconds(fn: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(contenders: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds per contender, rounds interleaved (shared CPUs drift over time)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}


def agree(rule: dict[str, Any], data: pd.DataFrame) -> bool:
    fast, loop = replay([rule], data), replay([rule], data, fast=False)
    return fast.summary == loop.summary and fast.firing_models == loop.firing_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="rows, threshold case")
    parser.add_argument("--m", type=int, default=1_000_000, help="rows, zscore case")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--slice", type=int, default=50_000, help="rows for the engine loop")
    args = parser.parse_args(argv)
    data = frame(max(args.n, args.m))
    big, small = data.iloc[: args.n].copy(), data.iloc[: args.m].copy()
    epoch = with_epoch_seconds(big)
    for rule in (THRESHOLD_RULE, ZSCORE_RULE):
        for sample in (data.iloc[: args.slice], epoch.iloc[: args.slice]):
            if not agree(rule, sample):
                print(f"DISAGREEMENT: fast path vs engine loop ({rule['rule_name']})")
                return 1
    cpu = big["cpu"].to_numpy()
    latency = small["latency"]
    result = replay([THRESHOLD_RULE], big)
    fired = result.summary.rules["cpu_high"].firings
    assert fired == len(np.flatnonzero(cpu > THRESHOLD))
    threshold = interleaved(
        {
            "replay": lambda: replay([THRESHOLD_RULE], big),
            "replay, epoch": lambda: replay([THRESHOLD_RULE], epoch),
            "numpy": lambda: np.flatnonzero(cpu > THRESHOLD),
        },
        args.rounds,
    )
    zscore = interleaved(
        {
            "replay": lambda: replay([ZSCORE_RULE], small),
            "pandas": lambda: (latency.rolling(100).mean(), latency.rolling(100).std()),
        },
        args.rounds,
    )
    build = median_seconds(lambda: replay([THRESHOLD_RULE], big).firing_models, 3)
    anomalies = replay([ZSCORE_RULE], small).summary.rules["latency_zscore"].firings
    engine = median_seconds(lambda: replay([THRESHOLD_RULE], big.iloc[: args.slice], fast=False), 3)
    print(f"replay fast path, median of {args.rounds} rounds")
    print(f"  threshold cpu > {THRESHOLD}, {args.n:,} rows, {fired:,} firings")
    print(f"    replay (summary, lazy firings) {threshold['replay'] * 1e3:8.1f} ms")
    print(f"    replay, float epoch timestamps {threshold['replay, epoch'] * 1e3:8.1f} ms")
    print(f"    numpy flatnonzero(cpu > t)     {threshold['numpy'] * 1e3:8.1f} ms")
    print(f"    + building the firing models   {(build - threshold['replay']) * 1e3:8.1f} ms")
    print(f"    engine loop (fast=False)       {args.slice / engine / 1e3:8.0f} k rows/s")
    print(f"  zscore window 100, {args.m:,} rows, {anomalies:,} firings")
    print(f"    replay                         {zscore['replay'] * 1e3:8.1f} ms")
    print(f"    pandas rolling mean + std      {zscore['pandas'] * 1e3:8.1f} ms")
    ok = True
    ratio = threshold["numpy"] / threshold["replay"]
    ok &= ratio >= 0.5
    print(f"  threshold: replay / numpy mask       = {ratio:.2f}  (target >= 0.5)")
    ratio = threshold["numpy"] / threshold["replay, epoch"]
    print(f"    float epoch timestamps / numpy     = {ratio:.2f}  (shown; one more column scan)")
    ratio = zscore["pandas"] / zscore["replay"]
    ok &= ratio >= 0.8
    print(f"  zscore: replay / pandas rolling      = {ratio:.2f}  (target >= 0.8)")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
