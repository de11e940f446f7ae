"""The flow's output: every firing appended to the firings stream (``XADD``).

Each worker writes its part of an epoch in one pipelined round trip; ``write_batch``
returns only after Redis answered, so an epoch Bytewax commits has its firings on the
stream. Re-emitted firings (after a restart) carry the same id; readers collapse them.
"""

from __future__ import annotations

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from cepkit.flow.logic import FiringOut
from cepkit.flow.streams import FlowStreams

__all__ = ["RedisFiringSink"]


class _Partition(StatelessSinkPartition[FiringOut]):
    def __init__(self, streams: FlowStreams) -> None:
        self.client = streams.client()
        self.stream = streams.output

    def write_batch(self, items: list[FiringOut]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for firing_id, tenant, source, body in items:
            pipe.xadd(
                self.stream, {"id": firing_id, "tenant": tenant, "source": source, "firing": body}
            )
        pipe.execute()

    def close(self) -> None:
        self.client.close()


class RedisFiringSink(DynamicSink[FiringOut]):
    """Firings to ``streams.output``, one writer per worker."""

    def __init__(self, streams: FlowStreams) -> None:
        self.streams = streams

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self.streams)
