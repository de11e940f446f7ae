"""Where the ``store`` action appends firings: named sinks the caller registers.

A sink is anything with ``async def append(record)``; the ``store`` action's ``target``
names one in the dispatcher's ``sinks`` mapping (the server adds its events table).
Here: :class:`CsvSink`, :class:`ParquetSink` (a file each), :class:`RedisStreamSink`
(``XADD``) and :class:`ListSink` (in memory, for notebooks and tests). A record is flat
JSON: scalars as they are, objects (``values``, ``group``, ``payload``) as JSON text.

>>> import asyncio, csv, io, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "firings.csv"
>>> asyncio.run(CsvSink(path).append({"firing_id": "f1", "rule_name": "cpu",
...                                   "values": {"avg_cpu": 91.5}}))
>>> row = next(csv.DictReader(io.StringIO(path.read_text())))
>>> row["firing_id"], row["values"]
('f1', '{"avg_cpu": 91.5}')
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "RECORD_FIELDS",
    "CsvSink",
    "ListSink",
    "ParquetSink",
    "RedisStreamSink",
    "Sink",
    "flat_record",
]

#: the columns of a stored firing, in file order
RECORD_FIELDS: tuple[str, ...] = (
    "firing_id",
    "rule_id",
    "rule_name",
    "severity",
    "kind",
    "event_time",
    "window_start",
    "window_end",
    "group",
    "values",
    "payload",
    "stored_at",
)


@runtime_checkable
class Sink(Protocol):
    """A named place the ``store`` action appends to."""

    async def append(self, record: Mapping[str, Any]) -> None: ...


def flat_record(record: Mapping[str, Any]) -> dict[str, str]:
    """Every :data:`RECORD_FIELDS` column as text ('' for absent, JSON for objects).

    >>> flat_record({"firing_id": "f1", "group": {"host": "a"}})["group"]
    '{"host": "a"}'
    """
    flat: dict[str, str] = {}
    for name in RECORD_FIELDS:
        value = record.get(name)
        if value is None:
            flat[name] = ""
        elif isinstance(value, str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return flat


class ListSink:
    """Keeps records in a list (``records``)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def append(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))


class CsvSink:
    """Appends one CSV row per record; writes the header when the file is new."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _write(self, row: dict[str, str]) -> None:
        with self._lock:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=RECORD_FIELDS)
                if new:
                    writer.writeheader()
                writer.writerow(row)

    async def append(self, record: Mapping[str, Any]) -> None:
        await asyncio.to_thread(self._write, flat_record(record))


class ParquetSink:
    """Appends to a Parquet file (all columns text), rewritten atomically per append.

    Parquet files cannot grow in place; this suits alert volumes, not event streams.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _write(self, row: dict[str, str]) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        with self._lock:
            table = pa.Table.from_pylist(
                [row], schema=pa.schema([(n, pa.string()) for n in RECORD_FIELDS])
            )
            if self.path.exists():
                table = pa.concat_tables([pq.read_table(self.path), table])
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".partial")
            pq.write_table(table, partial)
            os.replace(partial, self.path)

    async def append(self, record: Mapping[str, Any]) -> None:
        await asyncio.to_thread(self._write, flat_record(record))


class RedisStreamSink:
    """``XADD`` each record to a Redis stream (``client``: a ``redis.asyncio.Redis``).

    ``maxlen`` trims the stream approximately, as Redis does cheaply.
    """

    def __init__(self, client: Any, stream: str, *, maxlen: int | None = None) -> None:
        self._client = client
        self.stream = stream
        self.maxlen = maxlen

    async def append(self, record: Mapping[str, Any]) -> None:
        fields = {name: value for name, value in flat_record(record).items() if value != ""}
        await self._client.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
