"""The cepkit engine as a Bytewax dataflow, fed by and writing to Redis streams.

Contract: the flow runs the same :class:`~cepkit.engine.RuleRuntime` as replay and the
live server, one per (rule, group) where the engine says a rule's state is per group
(:meth:`~cepkit.engine.RuleRuntime.partition_key`: per-event rules with a group-by),
else one per rule (windowed rules among them: one watermark per rule); over the same
events it gives the same firings, ids included, with any number of workers. With
recovery on, a killed flow restarted on the same recovery directory loses no firing and
the state counts every event once (re-emitted firings repeat their ids). Modules:
:mod:`~cepkit.flow.streams` (Redis layout, producer, reader),
:mod:`~cepkit.flow.rules`, :mod:`~cepkit.flow.source`, :mod:`~cepkit.flow.logic`,
:mod:`~cepkit.flow.sink`, :mod:`~cepkit.flow.dataflow`.
"""

from cepkit.flow.dataflow import build_flow, recovery_config, run_flow
from cepkit.flow.rules import FlowRule, RuleCatalog
from cepkit.flow.streams import FlowStreams, OutputFiring, StreamWriter, read_firings

__all__ = [
    "FlowRule",
    "FlowStreams",
    "OutputFiring",
    "RuleCatalog",
    "StreamWriter",
    "build_flow",
    "read_firings",
    "recovery_config",
    "run_flow",
]
