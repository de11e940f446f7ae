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
from datetime import timedelta
from typing import Any

import bytewax.operators as op
from bench_engine import (
    RULE,
    T0,
    Averages,
    agree,
    by_window,
    fold_avg,
    window_averages,
    with_hand_loop,
)
from bytewax.dataflow import Dataflow, Stream
from bytewax.operators import KeyedStream
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from cepkit.flow import FlowStreams, RuleCatalog, StreamWriter, build_flow, read_firings, run_flow
from cepkit.flow.source import RedisStreamSource

BATCH = 1000


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


def _keyed(flow: Dataflow, streams: FlowStreams) -> KeyedStream[dict[str, Any]]:
    """The flow's input split into single events, keyed by host."""
    batches: Stream[Any] = op.input("in", flow, RedisStreamSource(streams))
    return op.key_on("host", op.flat_map("split", batches, _split), lambda e: e["host"])


def engine_flow(streams: FlowStreams, workers: int) -> Averages:
    run_flow(build_flow(streams, RuleCatalog.of_documents([RULE])), workers=workers)
    return by_window([o.firing for o in read_firings(streams)])


def bare(streams: FlowStreams) -> Averages:
    flow = Dataflow("bare")
    op.output("drop", op.input("in", flow, RedisStreamSource(streams)), DropSink())
    run_flow(flow)
    return {}


def bare_per_event(streams: FlowStreams) -> Averages:
    flow = Dataflow("bare_per_event")
    op.output("drop", _keyed(flow, streams), DropSink())
    run_flow(flow)
    return {}


def fold_window(streams: FlowStreams) -> Averages:
    flow = Dataflow("fold_window")
    result: list[Any] = []
    # the watermark runs on with system time: without slack, events read after a pause
    # in the input would be dropped as late
    op.output("out", fold_avg(_keyed(flow, streams), timedelta(minutes=10)), DropSink(result))
    run_flow(flow)
    return window_averages(result)


def load(streams: FlowStreams, batches: list[list[dict[str, Any]]]) -> None:
    """Put the batches on input stream 0, 200 messages a round trip, then the end mark."""
    writer = StreamWriter(streams)
    for i in range(0, len(batches), 200):
        writer.send_many(batches[i : i + 200], at=T0)
    writer.end()
    writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args(argv)
    data = events(args.n)
    batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
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
                load(streams, batches)
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
    reference = with_hand_loop(data)
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
