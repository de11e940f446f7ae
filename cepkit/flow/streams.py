"""The Redis side of the flow: stream names, the message format, a producer and a reader.

Events go in as **batches**: one stream message per ingest batch, with the fields

``at``      the receive time (epoch seconds): the time of events without a timestamp,
``tenant``  whose rules see the batch (``default`` for a rule pack),
``events``  the events, a JSON list of objects,

on one of ``partitions`` input streams ``<prefix>flow:in:<n>`` (one Bytewax input
partition each; the order of two batches is kept only within one stream). A message
with the field ``end`` ends a stream: the flow stops when every stream has ended (a
finite run, as in tests and benchmarks). Firings come out on ``<prefix>flow:out``, one
message each: ``id`` (the firing id), ``tenant``, ``source`` (``schedule`` for schedule
rules, else ``ingest``) and ``firing`` (the :class:`~cepkit.firing.Firing` as JSON).
Open suppressions are keys ``<prefix>silence:<rule_id>:<digest>`` (see
:mod:`cepkit.flow.silences`).

>>> streams = FlowStreams(url="redis://127.0.0.1:6379/0", prefix="demo:", partitions=2)
>>> streams.inputs()
['demo:flow:in:0', 'demo:flow:in:1']
>>> streams.output
'demo:flow:out'
>>> print(streams.silence_match("cpu*"))
demo:silence:cpu\\*:*
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cepkit.errors import CepkitError
from cepkit.firing import Firing

__all__ = ["FlowStreams", "OutputFiring", "StreamWriter", "read_firings"]

#: the consumer group the flow reads the input streams with
GROUP = "cepkit-flow"


class FlowStreams(BaseModel):
    """Where the flow reads and writes: the Redis URL, a key prefix, the input streams."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(description="Redis URL, e.g. redis://127.0.0.1:6379/0")
    prefix: str = Field(default="cepkit:", description="key prefix of every stream")
    partitions: int = Field(default=1, ge=1, le=1024, description="input streams")

    def inputs(self) -> list[str]:
        """The input stream names, in partition order."""
        return [f"{self.prefix}flow:in:{n}" for n in range(self.partitions)]

    @property
    def output(self) -> str:
        """The firings stream."""
        return f"{self.prefix}flow:out"

    def silence_key(self, rule_id: str, key_digest: str) -> str:
        """The key of one open suppression (see :mod:`cepkit.flow.silences`)."""
        return f"{self.prefix}silence:{rule_id}:{key_digest}"

    def silence_match(self, rule_id: str) -> str:
        """The ``SCAN`` pattern of a rule's open suppressions (glob characters escaped)."""
        escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in rule_id)
        return f"{self.prefix}silence:{escaped}:*"

    def client(self) -> Any:
        """A new synchronous Redis client (bytes replies)."""
        import redis

        return redis.Redis.from_url(self.url)


class OutputFiring(BaseModel):
    """One message of the firings stream, decoded."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    tenant: str
    source: str
    firing: Firing


def encode_batch(
    events: Sequence[Mapping[str, Any]], *, at: float, tenant: str, text: str | None = None
) -> dict[str, Any]:
    """The stream message fields of one batch; ``text``, when given, is ``events`` already
    as the JSON text of a list (a request body) and is sent as it is."""
    return {
        "at": repr(float(at)),
        "tenant": tenant,
        "events": text if text is not None else json.dumps(list(events), separators=(",", ":")),
    }


def decode_batch(fields: Mapping[bytes, bytes]) -> tuple[float, str, list[dict[str, Any]]]:
    """(at, tenant, events) of one stream message; CepkitError naming the field."""
    try:
        at = float(fields[b"at"])
        tenant = fields.get(b"tenant", b"default").decode()
        events = json.loads(fields[b"events"])
    except KeyError as exc:
        raise CepkitError(f"flow input message: field {exc.args[0]!r} is missing") from exc
    except ValueError as exc:
        raise CepkitError(f"flow input message: unreadable field: {exc}") from exc
    if not isinstance(events, list):
        raise CepkitError("flow input message: events must be a JSON list")
    return at, tenant, events


class StreamWriter:
    """Puts batches on the input streams (``send``) and ends them (``end``).

    A batch goes to the stream chosen by ``partition_by`` (a value hashed to a stream,
    e.g. the source's name) or to stream 0: batches of one source stay in order.
    """

    def __init__(self, streams: FlowStreams, client: Any | None = None) -> None:
        self.streams = streams
        self.client = client if client is not None else streams.client()
        self._names = streams.inputs()

    def stream_for(self, partition_by: str | None) -> str:
        """The input stream a batch partitioned by ``partition_by`` goes to."""
        if partition_by is None:
            return self._names[0]
        return self._names[zlib.crc32(partition_by.encode()) % len(self._names)]

    def send(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        at: float,
        tenant: str = "default",
        partition_by: str | None = None,
    ) -> str:
        """Append one batch; returns its message id."""
        fields = encode_batch(events, at=at, tenant=tenant)
        message_id = self.client.xadd(self.stream_for(partition_by), fields)
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    def send_many(
        self, batches: Sequence[Sequence[Mapping[str, Any]]], *, at: float, tenant: str = "default"
    ) -> None:
        """Append many batches to stream 0 in one round trip (bulk loads, tests)."""
        pipe = self.client.pipeline(transaction=False)
        for batch in batches:
            pipe.xadd(self._names[0], encode_batch(batch, at=at, tenant=tenant))
        pipe.execute()

    def end(self) -> None:
        """Append the end mark to every input stream."""
        for name in self._names:
            self.client.xadd(name, {"end": "1"})

    def close(self) -> None:
        """Close the Redis client."""
        self.client.close()


def read_firings(
    streams: FlowStreams, client: Any | None = None, *, after: str = "0-0", count: int = 10_000
) -> Iterator[OutputFiring]:
    """Every firing on the output stream after message id ``after``, in stream order."""
    redis_client = client if client is not None else streams.client()
    cursor = after
    while True:
        chunk = redis_client.xrange(streams.output, min=f"({cursor}", max="+", count=count)
        if not chunk:
            return
        for message_id, fields in chunk:
            yield decode_firing(message_id, fields)
        cursor = _text(chunk[-1][0])


def decode_firing(message_id: bytes | str, fields: Mapping[bytes, bytes]) -> OutputFiring:
    """One message of the firings stream."""
    return OutputFiring(
        message_id=_text(message_id),
        tenant=fields[b"tenant"].decode(),
        source=fields[b"source"].decode(),
        firing=Firing.model_validate_json(fields[b"firing"]),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
