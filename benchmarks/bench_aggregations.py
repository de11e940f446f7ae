"""Aggregator ``add`` speed against a bare loop and the engine's yardstick, a dict loop.

Feeds 1,000,000 floats to one aggregator of each kind (``agg.add(v, ts)`` in a plain
``for`` loop), interleaved with two baselines, several rounds, and prints adds/s (median
of the rounds) and ratios measured in this same run:

- ``bare``: ``s += v; n += 1`` on locals, the floor no method call can reach;
- ``dict``: ``s[k] += v; c[k] += 1``, the hand-written loop the whole engine is held to
  (engine >= 0.5 x dict).

Target: ``avg`` >= 1.0 x ``dict``, so that one aggregate takes at most half the engine's
per-event budget.

    python benchmarks/bench_aggregations.py [--n 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from cepkit.aggregations import create_aggregator

NAMES = ["avg", "sum", "count", "min", "max", "stddev", "p95", "distinct_count", "first", "last"]


def bare(values: list[float], ts: list[float]) -> float:
    start = time.perf_counter()
    s, n = 0.0, 0
    for v in values:
        s += v
        n += 1  # noqa: SIM113 (the baseline is this loop, as written by hand)
    return time.perf_counter() - start


def dict_loop(values: list[float], ts: list[float]) -> float:
    s: dict[str, float] = {"cpu": 0.0}
    c: dict[str, int] = {"cpu": 0}
    k = "cpu"
    start = time.perf_counter()
    for v in values:
        s[k] += v
        c[k] += 1
    return time.perf_counter() - start


def aggregator(name: str) -> Callable[[list[float], list[float]], float]:
    def run(values: list[float], ts: list[float]) -> float:
        agg = create_aggregator(name)
        start = time.perf_counter()
        for v, t in zip(values, ts, strict=True):
            agg.add(v, t)
        elapsed = time.perf_counter() - start
        agg.result(0.0, 1.0)
        return elapsed

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    rnd = random.Random(42)
    values = [round(rnd.uniform(0, 100), 1) for _ in range(args.n)]
    ts = [1.7e9 + i / 1000 for i in range(args.n)]
    contenders: dict[str, Callable[[list[float], list[float]], float]] = {
        "bare": bare,
        "dict": dict_loop,
        **{name: aggregator(name) for name in NAMES},
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            times[name].append(fn(values, ts))
    rate = {name: args.n / statistics.median(t) for name, t in times.items()}
    print(f"add() over {args.n:,} floats, median of {args.rounds} rounds")
    for name in contenders:
        print(
            f"  {name:<15} {rate[name] / 1e6:6.2f} M adds/s  {1e9 / rate[name]:6.1f} ns/add"
            f"  {rate[name] / rate['dict']:5.2f} x dict  {rate[name] / rate['bare']:5.2f} x bare"
        )
    vs_dict = rate["avg"] / rate["dict"]
    print(f"  avg / dict = {vs_dict:.2f}  (target >= 1.0)")
    return 0 if vs_dict >= 1.0 else 2


if __name__ == "__main__":
    sys.exit(main())
