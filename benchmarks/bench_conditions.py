"""Condition evaluation speed: compiled vs a hand-written lambda vs a naive interpreter.

Evaluates the guide's Lab 5 condition (``cpu > 80 OR memory > 70 OR disk > 90``) over
1,000,000 payload dicts with each of the three, interleaved, several rounds, and prints
evaluations/s (median of the rounds) and the ratios measured in this same run.

Targets: compiled >= 0.9 x the lambda, and >= 5 x the naive interpreter.

    python benchmarks/bench_conditions.py [--n 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import operator
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from cepkit.conditions import compile_condition

LAB5 = {
    "conditions": [
        {"field": "cpu", "op": ">", "value": 80},
        {"field": "memory", "op": ">", "value": 70},
        {"field": "disk", "op": ">", "value": 90},
    ],
    "logic": "OR",
}

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def naive(node: dict[str, Any], payload: dict[str, Any]) -> bool:
    """A tree-walking interpreter as one would first write it."""
    if "conditions" in node:
        results = [naive(child, payload) for child in node["conditions"]]
        logic = node.get("logic", "AND")
        if logic == "AND":
            return all(results)
        if logic == "OR":
            return any(results)
        return not any(results)
    value: Any = payload
    for part in node["field"].split("."):
        value = value[part]
    return _OPS[node["op"]](value, node["value"])


def payloads(n: int, seed: int = 42) -> list[dict[str, float]]:
    rnd = random.Random(seed)
    return [
        {"cpu": rnd.uniform(0, 100), "memory": rnd.uniform(0, 100), "disk": rnd.uniform(0, 100)}
        for _ in range(n)
    ]


def rate(fn: Callable[[Any], Any], data: list[dict[str, float]]) -> tuple[float, int]:
    start = time.perf_counter()
    hits = 0
    for p in data:
        if fn(p):
            hits += 1
    return len(data) / (time.perf_counter() - start), hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    data = payloads(args.n)
    compiled = compile_condition(LAB5).fn

    def lambda_(p: dict[str, float]) -> bool:
        return p["cpu"] > 80 or p["memory"] > 70 or p["disk"] > 90

    def interpreter(p: dict[str, float]) -> bool:
        return naive(LAB5, p)

    contenders = {"compiled": compiled, "lambda": lambda_, "naive": interpreter}
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    hits: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            r, h = rate(fn, data)
            rates[name].append(r)
            hits[name] = h
    if len(set(hits.values())) != 1:
        print(f"DISAGREEMENT: {hits}")
        return 1
    med = {name: statistics.median(v) for name, v in rates.items()}
    print(f"Lab 5 condition over {args.n:,} payloads, median of {args.rounds} rounds")
    for name in contenders:
        print(f"  {name:<9} {med[name] / 1e6:6.2f} M evals/s")
    vs_lambda = med["compiled"] / med["lambda"]
    vs_naive = med["compiled"] / med["naive"]
    print(f"  compiled / lambda = {vs_lambda:.2f}  (target >= 0.9)")
    print(f"  compiled / naive  = {vs_naive:.2f}  (target >= 5)")
    return 0 if vs_lambda >= 0.9 and vs_naive >= 5 else 2


if __name__ == "__main__":
    sys.exit(main())
