"""The flow's output: every firing appended to the firings stream (``XADD``), and every
suppression a firing opens written as its own expiring key (``SET ... PXAT``).

Each worker writes its part of an epoch in one pipelined round trip; ``write_batch``
returns only after Redis answered, so an epoch Bytewax commits has its firings on the
stream. Re-emitted firings (after a restart) carry the same id; readers collapse them,
and their suppressions rewrite the same keys. A suppression whose ``until`` is already
past by the sink's clock (a backfill of old data) is not written
(:mod:`cepkit.flow.silences`).
"""

from __future__ import annotations

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from cepkit.clock import Clock, SystemClock
from cepkit.flow.logic import FiringOut
from cepkit.flow.streams import FlowStreams

__all__ = ["RedisFiringSink"]


class _Partition(StatelessSinkPartition[FiringOut]):
    def __init__(self, streams: FlowStreams, clock: Clock) -> None:
        self.client = streams.client()
        self.streams = streams
        self.stream = streams.output
        self.clock = clock

    def write_batch(self, items: list[FiringOut]) -> None:
        pipe = self.client.pipeline(transaction=False)
        now_ms: int | None = None
        for firing_id, tenant, source, body, silence in items:
            pipe.xadd(
                self.stream, {"id": firing_id, "tenant": tenant, "source": source, "firing": body}
            )
            if silence is None:
                continue
            if now_ms is None:
                now_ms = round(self.clock.now().timestamp() * 1000)
            rule_id, key_digest, record, until_ms = silence
            if until_ms > now_ms:
                pipe.set(self.streams.silence_key(rule_id, key_digest), record, pxat=until_ms)
        pipe.execute()

    def close(self) -> None:
        self.client.close()


class RedisFiringSink(DynamicSink[FiringOut]):
    """Firings to ``streams.output`` and their suppressions to their keys, one writer per
    worker; ``clock`` (the wall clock by default) tells which suppressions are over."""

    def __init__(self, streams: FlowStreams, *, clock: Clock | None = None) -> None:
        self.streams = streams
        self.clock = clock if clock is not None else SystemClock()

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self.streams, self.clock)
