"""Engine memory: 10,000 group keys with 5-minute tumbling windows.

Feeds 10,000 hosts x 60 events (one every 10 s for 10 minutes, so two 5m windows per
host; avg, max and count per window) through one runtime, and prints the peak of
Python allocations (tracemalloc) and the process's peak RSS. Target (engine issue):
peak under 300 MB.

    python benchmarks/bench_engine_memory.py [--keys 10000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tracemalloc

from cepkit.engine import RuleRuntime

RULE = {
    "rule_name": "per_host_5m",
    "trigger_type": "event",
    "trigger_spec": {},
    "window_config": {"type": "tumbling", "size": "5m"},
    "aggregation": [
        {"type": "avg", "field": "cpu", "group_by": ["host"]},
        {"type": "max", "field": "cpu", "group_by": ["host"]},
        {"type": "count", "group_by": ["host"]},
    ],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    args = parser.parse_args(argv)
    runtime = RuleRuntime(RULE)
    firings = 0
    tracemalloc.start()
    for step in range(60):
        batch = [
            {"timestamp": 1_770_000_000.0 + step * 10, "host": f"host-{k:05d}", "cpu": k % 100}
            for k in range(args.keys)
        ]
        firings += len(runtime.process_batch(batch))
    firings += len(runtime.flush())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.keys:,} keys x 60 events, 5m windows: {firings:,} firings")
    print(f"  peak Python allocations {peak / 2**20:7.1f} MB (tracemalloc)")
    print(f"  peak process RSS        {rss_mb:7.1f} MB (target < 300)")
    return 0 if rss_mb < 300 else 2


if __name__ == "__main__":
    sys.exit(main())
