"""Flow throughput: the engine as a Bytewax dataflow on Redis vs bare Bytewax flows.

One input, N events (tumbling 1m avg per host, 10 hosts, epoch timestamps, as in
``bench_engine.py``) in messages of 1,000 events on a Redis stream, copied under one
key prefix per contender; every contender reads it with the flow's own source
(:class:`~cepkit.flow.source.RedisStreamSource`: consumer group, JSON decoding), in
this process, timed from start to the end of its input:

- ``engine flow, 1 worker`` / ``2 workers``: :func:`cepkit.flow.build_flow` (route by
  the engine's partition key, ``RuleRuntime.process_batch`` per (rule, host), firings
  to the output stream); 2 workers are 2 threads of this process (they share the GIL);
- ``bare pass-through``: the same source straight into a sink that drops the batches
  (Redis read + decoding + Bytewax, nothing else): the ceiling;
- ``bare per event``: the same, split into single events, keyed by host, dropped;
- ``bytewax fold_window``: the events keyed by host through Bytewax's own tumbling
  ``fold_window`` (EventClock) computing the same averages.

Targets (scale-out issue): engine flow (1 worker) >= 0.3 x bare pass-through and
>= 3 x fold_window. Checks the engine flows' and fold_window's averages against a plain
loop's. Exits 2 when a target is missed.

    python benchmarks/bench_flow.py [--n 500000] [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from cepkit.flow import FlowStreams, RuleCatalog, build_flow, read_firings, run_flow
from cepkit.flow.source import RedisStreamSource
from cepkit.flow.streams import encode_batch

RULE = {
    "rule_name": "cpu_1m",
    "trigger_type": "event",
    "trigger_spec": {},
    "window_config": {"type": "tumbling", "size": "1m"},
    "aggregation": {"type": "avg", "field": "cpu", "group_by": ["host"]},
}
T0 = 1_770_000_000.0
BATCH = 1000
Averages = dict[tuple[str, float], float]


def events(n: int) -> list[dict[str, Any]]:
    """Events 1/128 s apart: exact in binary, so Bytewax's datetimes (rounded to the
    microsecond) put every event in the same window as the engine's float seconds."""
    rnd = random.Random(0)
    return [
        {"timestamp": T0 + i / 128, "host": f"h{i % 10}", "cpu": rnd.uniform(0, 100)}
        for i in range(n)
    ]


class _Drop(StatelessSinkPartition[Any]):
    def __init__(self, into: list[Any] | None) -> None:
        self.into = into

    def write_batch(self, items: list[Any]) -> None:
        if self.into is not None:
            self.into.extend(items)


class DropSink(DynamicSink[Any]):
    """Drops what it gets (or keeps it in ``into``)."""

    def __init__(self, into: list[Any] | None = None) -> None:
        self.into = into

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Drop:
        return _Drop(self.into)


def _split(batch: tuple[float, str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return batch[2]


def engine_flow(streams: FlowStreams, workers: int) -> Averages:
    run_flow(build_flow(streams, RuleCatalog.of_documents([RULE])), workers=workers)
    return {
        (o.firing.group["host"], o.firing.window_start.timestamp()): o.firing.values["avg_cpu"]  # type: ignore[union-attr]
        for o in read_firings(streams)
    }


def bare(streams: FlowStreams) -> Averages:
    flow = Dataflow("bare")
    op.output("drop", op.input("in", flow, RedisStreamSource(streams)), DropSink())
    run_flow(flow)
    return {}


def bare_per_event(streams: FlowStreams) -> Averages:
    flow = Dataflow("bare_per_event")
    batches = op.input("in", flow, RedisStreamSource(streams))
    keyed = op.key_on("host", op.flat_map("split", batches, _split), lambda e: e["host"])
    op.output("drop", keyed, DropSink())
    run_flow(flow)
    return {}


def fold_window(streams: FlowStreams) -> Averages:
    flow = Dataflow("fold_window")
    batches = op.input("in", flow, RedisStreamSource(streams))
    keyed = op.key_on("host", op.flat_map("split", batches, _split), lambda e: e["host"])
    # the watermark runs on with system time: without slack, events read after a pause
    # in the input would be dropped as late
    clock = win.EventClock(
        lambda e: datetime.fromtimestamp(e["timestamp"], UTC),
        wait_for_system_duration=timedelta(minutes=10),
    )
    windower = win.TumblingWindower(
        length=timedelta(minutes=1), align_to=datetime(1970, 1, 1, tzinfo=UTC)
    )

    def folder(acc: list[float], e: dict[str, Any]) -> list[float]:
        acc[0] += e["cpu"]
        acc[1] += 1
        return acc

    def merger(a: list[float], b: list[float]) -> list[float]:
        return [a[0] + b[0], a[1] + b[1]]

    folded = win.fold_window("avg", keyed, clock, windower, lambda: [0.0, 0], folder, merger)
    result: list[Any] = []
    op.output("out", folded.down, DropSink(result))
    run_flow(flow)
    return {(host, window_id * 60.0): total / count for host, (window_id, (total, count)) in result}


def load(streams: FlowStreams, messages: list[dict[str, Any]]) -> None:
    client = streams.client()
    name = streams.inputs()[0]
    for i in range(0, len(messages), 200):
        pipe = client.pipeline(transaction=False)
        for fields in messages[i : i + 200]:
            pipe.xadd(name, fields)
        pipe.execute()
    client.xadd(name, {"end": "1"})
    client.close()


def hand_averages(data: list[dict[str, Any]]) -> Averages:
    """The expected averages, by a plain loop."""
    sums: dict[tuple[str, float], list[float]] = {}
    for e in data:
        acc = sums.setdefault((e["host"], (e["timestamp"] // 60.0) * 60.0), [0.0, 0])
        acc[0] += e["cpu"]
        acc[1] += 1
    return {k: total / count for k, (total, count) in sums.items()}


def agree(a: Averages, b: Averages) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-9 * max(1.0, abs(a[k])) for k in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args(argv)
    data = events(args.n)
    messages = [
        encode_batch(data[i : i + BATCH], at=T0, tenant="default")
        for i in range(0, len(data), BATCH)
    ]
    contenders: list[tuple[str, Callable[[FlowStreams], Averages]]] = [
        ("engine flow, 1 worker", lambda s: engine_flow(s, 1)),
        ("engine flow, 2 workers", lambda s: engine_flow(s, 2)),
        ("bare pass-through", bare),
        ("bare per event", bare_per_event),
        ("bytewax fold_window", fold_window),
    ]
    rates: dict[str, list[float]] = {name: [] for name, _ in contenders}
    results: dict[str, Averages] = {}
    base = f"bench-flow-{uuid.uuid4().hex[:6]}:"
    cleanup = FlowStreams(url=args.redis, prefix=base).client()
    try:
        for round_no in range(args.rounds):
            for index, (name, fn) in enumerate(contenders):
                streams = FlowStreams(url=args.redis, prefix=f"{base}{round_no}:{index}:")
                load(streams, messages)
                start = time.perf_counter()
                result = fn(streams)
                rates[name].append(args.n / (time.perf_counter() - start))
                if result:
                    results[name] = result
                keys = list(cleanup.scan_iter(match=streams.prefix + "*"))
                if keys:
                    cleanup.delete(*keys)
    finally:
        cleanup.close()
    reference = hand_averages(data)
    for name, result in results.items():
        if not agree(result, reference):
            print(f"DISAGREEMENT between {name} and the averages computed by hand")
            return 1
    med = {name: statistics.median(v) for name, v in rates.items()}
    print(
        f"tumbling 1m avg by host (10 hosts), {args.n:,} events in messages of {BATCH:,} "
        f"on Redis, median of {args.rounds}"
    )
    for name, value in med.items():
        print(f"  {name:<24} {value / 1e3:8.0f} k events/s")
    engine = med["engine flow, 1 worker"]
    to_bare = engine / med["bare pass-through"]
    to_fold = engine / med["bytewax fold_window"]
    print(f"  engine flow / bare pass-through   = {to_bare:.2f}  (target >= 0.3)")
    print(f"  engine flow / bare per event      = {engine / med['bare per event']:.2f}")
    print(f"  engine flow / bytewax fold_window = {to_fold:.2f}  (target >= 3)")
    print(
        f"  2 workers / 1 worker              = {med['engine flow, 2 workers'] / engine:.2f}"
        "  (threads of one process)"
    )
    return 0 if to_bare >= 0.3 and to_fold >= 3 else 2


if __name__ == "__main__":
    sys.exit(main())
