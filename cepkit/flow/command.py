"""``cepkit flow``: run the dataflow from the command line (see the README for clusters).

::

    cepkit flow --redis redis://127.0.0.1:6379/0 --rules data/rules/pack -w 2 \\
        --recovery-dir ./flow-state

One process with ``-w`` worker threads, or one process of a cluster: every process gets
the same ``-a host:port`` list (in the same order) and its own ``-i`` index.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """The ``flow`` sub-command's arguments."""
    flow = sub.add_parser("flow", help="run the rules as a Bytewax dataflow on Redis streams")
    flow.add_argument("--redis", required=True, metavar="URL", help="Redis URL of the streams")
    flow.add_argument("--prefix", default="cepkit:", help="key prefix of the streams")
    flow.add_argument("--partitions", type=int, default=1, help="input streams (default 1)")
    rules = flow.add_mutually_exclusive_group(required=True)
    rules.add_argument("--rules", metavar="PACK", help="rule file or folder")
    rules.add_argument("--db", metavar="URL", help="rule store (active rules, re-read every 5 s)")
    flow.add_argument("-w", "--workers", type=int, default=1, help="worker threads")
    flow.add_argument("--recovery-dir", type=Path, help="Bytewax recovery directory")
    flow.add_argument(
        "--epoch-seconds", type=float, default=1.0, help="snapshot interval (default 1)"
    )
    flow.add_argument(
        "--idle-seconds",
        type=float,
        default=0.0,
        help="advance an idle window rule's time after this long without events (0: never)",
    )
    flow.add_argument("-i", "--process-id", type=int, help="this process's index in -a")
    flow.add_argument(
        "-a", "--addresses", help="host:port of every process of the cluster, ';'-separated"
    )


def run(args: argparse.Namespace) -> int:
    """Run the flow until its input streams end; returns the exit code."""
    from cepkit.errors import CepkitError
    from cepkit.flow.dataflow import build_flow, run_flow
    from cepkit.flow.rules import RuleCatalog
    from cepkit.flow.streams import FlowStreams

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    problems = []
    if args.workers < 1:
        problems.append("--workers must be at least 1")
    if args.partitions < 1:
        problems.append("--partitions must be at least 1")
    if args.epoch_seconds <= 0:
        problems.append("--epoch-seconds must be positive")
    if (args.process_id is None) != (args.addresses is None):
        problems.append("-i/--process-id and -a/--addresses go together")
    if problems:
        for problem in problems:
            sys.stdout.write(f"cepkit flow: {problem}\n")
        return 2
    try:
        catalog = RuleCatalog.of_pack(args.rules) if args.rules else RuleCatalog.of_store(args.db)
        streams = FlowStreams(url=args.redis, prefix=args.prefix, partitions=args.partitions)
    except (CepkitError, ValueError) as exc:
        sys.stdout.write(f"cepkit flow: {exc}\n")
        return 2
    flow = build_flow(
        streams, catalog, recovery_dir=args.recovery_dir, idle_seconds=args.idle_seconds
    )
    addresses = args.addresses.split(";") if args.addresses else None
    run_flow(
        flow,
        workers=args.workers,
        recovery_dir=args.recovery_dir,
        epoch_interval=timedelta(seconds=args.epoch_seconds),
        process_id=args.process_id,
        addresses=addresses,
    )
    return 0
