"""The Bytewax dataflow: Redis input streams -> route -> engine per key -> firings stream.

::

    redis_in (RedisStreamSource, one partition per input stream)
      -> route      (flat_map: per rule, the batch split by the engine's partition key)
      -> engine     (stateful_batch: one RuleRuntime per (rule, group) or per rule)
      -> redis_out  (RedisFiringSink: XADD to the firings stream, SET each suppression)

The engine step is ``stateful_batch``, the primitive Bytewax builds ``stateful_map``
and ``stateful_flat_map`` from, used directly for three things they hide: a key's
items of one activation arrive together (``process_batch``, the engine's columnar path),
``on_eof`` closes open windows at the end of a finite input (as replay does), and
``notify_at`` moves idle window rules on. No Bytewax windowing operator is involved:
windows, watermarks and lateness are the engine's.

With ``recovery_dir`` Bytewax snapshots every key's engine state and every input
position at the end of each epoch (``epoch_interval``); a restarted flow resumes from
the last committed epoch (see :mod:`cepkit.flow.source` for the delivery argument).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir

from cepkit.clock import Clock
from cepkit.flow.logic import EngineLogic, FiringOut, Router
from cepkit.flow.rules import RuleCatalog
from cepkit.flow.sink import RedisFiringSink
from cepkit.flow.source import RedisStreamSource
from cepkit.flow.streams import FlowStreams

__all__ = ["build_flow", "recovery_config", "run_flow"]


def build_flow(
    streams: FlowStreams,
    catalog: RuleCatalog,
    *,
    recovery_dir: Path | None = None,
    idle_seconds: float = 0.0,
    clock: Clock | None = None,
    read_count: int = 50,
) -> Dataflow:
    """The dataflow over ``streams`` running the rules of ``catalog``.

    ``recovery_dir`` only tells the input where Bytewax keeps its commits (to
    acknowledge messages); pass the same directory to :func:`run_flow`.

    >>> streams = FlowStreams(url="redis://127.0.0.1:6379/0", prefix="doc:")
    >>> flow = build_flow(streams, RuleCatalog.of_documents([]))
    >>> flow.flow_id
    'cepkit_flow'
    """
    flow = Dataflow("cepkit_flow")
    source = RedisStreamSource(streams, count=read_count, recovery_dir=recovery_dir)
    batches = op.input("redis_in", flow, source)
    router = Router(catalog)
    keyed = op.flat_map("route", batches, router.route)

    def builder(resume: dict[str, Any] | None) -> EngineLogic:
        return EngineLogic(catalog, resume, clock=clock, idle_seconds=idle_seconds)

    firings = op.stateful_batch("engine", keyed, builder)
    unkeyed = op.map("unkey", firings, _value)
    op.output("redis_out", unkeyed, RedisFiringSink(streams, clock=clock))
    return flow


def _value(item: tuple[str, FiringOut]) -> FiringOut:
    return item[1]


def recovery_config(directory: Path) -> RecoveryConfig:
    """Bytewax recovery in ``directory`` (created, with one SQLite partition, if empty)."""
    directory.mkdir(parents=True, exist_ok=True)
    if not any(directory.glob("part-*.sqlite3")):
        init_db_dir(directory, 1)  # type: ignore[no-untyped-call]
    return RecoveryConfig(directory)  # type: ignore[no-untyped-call]


def run_flow(
    flow: Dataflow,
    *,
    workers: int = 1,
    recovery_dir: Path | None = None,
    epoch_interval: timedelta = timedelta(seconds=1),
    process_id: int | None = None,
    addresses: list[str] | None = None,
) -> None:
    """Run ``flow`` in this process with ``workers`` threads until its input ends.

    Several processes (on several machines) form one cluster with ``addresses`` (every
    process's ``host:port``, the same list everywhere) and this one's ``process_id``.
    """
    from bytewax.run import cli_main

    cli_main(  # type: ignore[no-untyped-call]
        flow,
        workers_per_process=workers,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=epoch_interval,
        recovery_config=recovery_config(recovery_dir) if recovery_dir is not None else None,
    )
