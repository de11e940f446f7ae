"""The flow's input: Redis streams read through a consumer group, positions in Bytewax.

One Bytewax input partition per input stream (:class:`RedisStreamSource`), each read by
the consumer ``part-<n>`` of the group ``cepkit-flow``.

**Why nothing is lost or counted twice.** The position of a partition (the id of the
last message it handed on) is its Bytewax snapshot. Bytewax commits an epoch's
snapshots, of the input positions and of every key's engine state together, only after
every step, the firings sink included, has finished that epoch; a restarted flow
resumes every partition and every key from the same committed epoch. So:

- a message at or before a committed position has its effect in the committed engine
  state, and every firing it caused was written to the output stream (``XADD``
  returned) in that epoch or before;
- a message after it is re-read on resume: the partition first reads its own pending
  entries after the position (``XREADGROUP ... <position>``: a consumer group keeps
  every message handed out and not yet acknowledged), then new ones (``>``). The
  restored engine state has not seen them, so windows and baselines count each event
  once; firings re-emitted for them have the same ids (duplicates collapse by id).

**Acknowledgement** (``XACK``) is therefore only ever of messages at or before a
*committed* position: at start, everything up to the resume position; while running,
up to the position Bytewax has committed, read back from the recovery database
(:func:`committed_position`). An unacknowledged message is never skipped, an
acknowledged one never needed again.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from cepkit.flow.streams import GROUP, FlowStreams, decode_batch

__all__ = ["Position", "RedisStreamSource", "committed_position"]

log = logging.getLogger(__name__)

Batch = tuple[float, str, list[Any]]


@dataclass(frozen=True)
class Position:
    """A partition's snapshot: the last message id handed on, and whether the stream ended."""

    last_id: str = "0-0"
    ended: bool = False


def _id_key(message_id: str) -> tuple[int, int]:
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)


def committed_position(db_dir: Path, step_id: str, part: str) -> Position | None:
    """The position of input partition ``part`` in the last epoch Bytewax committed
    (read from the SQLite recovery partitions in ``db_dir``); None when not known.

    Bytewax keeps, per recovery partition, the committed epoch (``commits``) and the
    state snapshots by epoch (``snaps``; the input position of ``step_id``/``part`` is
    one of them, pickled).
    """
    best: tuple[int, Position] | None = None
    for file in sorted(db_dir.glob("part-*.sqlite3")):
        try:
            with sqlite3.connect(f"file:{file}?mode=ro", uri=True, timeout=1) as conn:
                row = conn.execute("SELECT MIN(commit_epoch) FROM commits").fetchone()
                if row is None or row[0] is None:
                    continue
                snap = conn.execute(
                    "SELECT snap_epoch, ser_change FROM snaps WHERE step_id = ? AND "
                    "state_key = ? AND snap_epoch <= ? ORDER BY snap_epoch DESC LIMIT 1",
                    (step_id, part, row[0]),
                ).fetchone()
        except sqlite3.Error as exc:
            log.debug("flow: recovery partition %s unreadable: %s", file, exc)
            continue
        if snap is None or snap[1] is None:
            continue
        state = pickle.loads(snap[1])  # written by this flow's own Bytewax
        if isinstance(state, Position) and (best is None or snap[0] > best[0]):
            best = (snap[0], state)
    return None if best is None else best[1]


class _Partition(StatefulSourcePartition[Batch, Position]):
    def __init__(
        self,
        streams: FlowStreams,
        stream: str,
        consumer: str,
        resume: Position | None,
        *,
        count: int,
        committed: Callable[[], Position | None] | None,
        ack_every: timedelta,
    ) -> None:
        self.client = streams.client()
        self.stream = stream
        self.consumer = consumer
        self.position = resume or Position()
        self.count = count
        self._committed = committed
        self._ack_every = ack_every
        self._next_ack = datetime.now(UTC) + ack_every
        self._acked = "0-0"
        self._backlog = True  # own pending entries after the position come first
        self._idle = False
        try:
            self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except Exception as exc:  # BUSYGROUP: the group exists
            if "BUSYGROUP" not in str(exc):
                raise
        if resume is not None:
            self._ack_upto(resume.last_id)

    def _ack_upto(self, last_id: str) -> None:
        """Acknowledge this consumer's pending messages up to ``last_id`` (committed)."""
        if last_id == "0-0" or _id_key(last_id) <= _id_key(self._acked):
            return
        while True:
            pending = self.client.xpending_range(
                self.stream, GROUP, min="-", max=last_id, count=10_000, consumername=self.consumer
            )
            if not pending:
                break
            ids = [p["message_id"] for p in pending]
            self.client.xack(self.stream, GROUP, *ids)
            if len(ids) < 10_000:
                break
        self._acked = last_id

    def next_batch(self) -> list[Batch]:
        if self.position.ended:
            raise StopIteration
        now = datetime.now(UTC)
        if self._committed is not None and now >= self._next_ack:
            self._next_ack = now + self._ack_every
            committed = self._committed()
            if committed is not None:
                self._ack_upto(committed.last_id)
        start = self.position.last_id if self._backlog else ">"
        reply = self.client.xreadgroup(GROUP, self.consumer, {self.stream: start}, count=self.count)
        messages = reply[0][1] if reply else []
        if self._backlog and not messages:
            self._backlog = False
            return []
        self._idle = not messages
        out: list[Batch] = []
        for raw_id, fields in messages:
            message_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            if not fields:  # deleted from the stream (trimmed) while pending
                self.position = Position(message_id)
                continue
            if b"end" in fields:
                self.position = Position(message_id, ended=True)
                break
            self.position = Position(message_id)
            try:
                at, tenant, events = decode_batch(fields)
            except Exception as exc:  # a bad message is logged and passed over
                log.error("flow: %s %s: %s", self.stream, message_id, exc)
                continue
            if out and out[-1][0] == at and out[-1][1] == tenant:
                out[-1][2].extend(events)  # one item: fewer, larger engine batches
            else:
                out.append((at, tenant, events))
        if self._committed is None and messages:  # no recovery: nothing to wait for
            self.client.xack(self.stream, GROUP, *[m[0] for m in messages])
        return out

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + timedelta(milliseconds=50) if self._idle else None

    def snapshot(self) -> Position:
        return self.position

    def close(self) -> None:
        self.client.close()


class RedisStreamSource(FixedPartitionedSource[Batch, Position]):
    """The input streams of ``streams``, one partition each; see the module docstring.

    ``recovery_dir`` is the flow's Bytewax recovery directory (partitions acknowledge
    what it has committed); without recovery there is no durable state to wait for and
    messages are acknowledged as they are handed on.
    """

    def __init__(
        self,
        streams: FlowStreams,
        *,
        count: int = 50,
        recovery_dir: Path | None = None,
        ack_every: timedelta = timedelta(seconds=0.2),
    ) -> None:
        self.streams = streams
        self.count = count
        self.recovery_dir = recovery_dir
        self.ack_every = ack_every

    def list_parts(self) -> list[str]:
        return [str(n) for n in range(self.streams.partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: Position | None) -> _Partition:
        db_dir = self.recovery_dir

        def committed() -> Position | None:
            assert db_dir is not None
            return committed_position(db_dir, step_id, for_part)

        return _Partition(
            self.streams,
            self.streams.inputs()[int(for_part)],
            f"part-{for_part}",
            resume_state,
            count=self.count,
            committed=committed if db_dir is not None else None,
            ack_every=self.ack_every,
        )
