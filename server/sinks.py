"""Where the ``store`` action appends, in the server: named sinks.

``events`` is always there: the firing becomes an event of the console (once per firing
id, so storing a firing the runner already stored changes nothing). More are configured
with ``CEPKIT_SINKS``, a JSON object of name -> spec::

    {"audit": {"type": "csv", "path": "/var/lib/cepkit/audit.csv"},
     "lake": {"type": "parquet", "path": "/var/lib/cepkit/firings.parquet"},
     "bus": {"type": "redis_stream", "url": "redis://127.0.0.1:6379/0", "stream": "firings"}}

>>> [spec.type for spec in parse_sinks('{"audit": {"type": "csv", "path": "a.csv"}}').values()]
['csv']
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cepkit.actions.sinks import CsvSink, ParquetSink, RedisStreamSink, Sink
from cepkit.firing import Firing
from cepkit.store import EventStore

__all__ = ["EventsSink", "SinkSpec", "build_sinks", "parse_sinks"]


class SinkSpec(BaseModel):
    """One configured sink."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["csv", "parquet", "redis_stream"]
    path: str | None = None
    url: str | None = None
    stream: str | None = None
    maxlen: int | None = Field(default=None, ge=1)


_SPECS = TypeAdapter(dict[str, SinkSpec])


def parse_sinks(text: str | None) -> dict[str, SinkSpec]:
    """``CEPKIT_SINKS`` as specs; ValueError naming the bad entry otherwise."""
    if text is None or not text.strip():
        return {}
    try:
        specs = _SPECS.validate_python(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"CEPKIT_SINKS: {exc}") from None
    for name, spec in specs.items():
        if spec.type in ("csv", "parquet") and not spec.path:
            raise ValueError(f"CEPKIT_SINKS.{name}.path is required for a {spec.type} sink")
        if spec.type == "redis_stream" and not (spec.url and spec.stream):
            raise ValueError(f"CEPKIT_SINKS.{name}: a redis_stream sink needs url and stream")
    return specs


class EventsSink:
    """The ``events`` sink: the firing record becomes an event of the current tenant;
    ``on_stored`` hears when it made a new one (the SSE streams are woken)."""

    def __init__(
        self,
        events: EventStore,
        tenant: contextvars.ContextVar[str],
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._events = events
        self._tenant = tenant
        self._on_stored = on_stored

    async def append(self, record: Mapping[str, Any]) -> None:
        if self._events.recently_stored(str(record["firing_id"])):
            return  # the runner stored it (as it stores every firing): nothing to do
        firing = Firing(
            firing_id=str(record["firing_id"]),
            rule_id=record.get("rule_id"),
            rule_name=str(record["rule_name"]),
            severity=str(record.get("severity", "medium")),
            kind=record.get("kind", "firing"),
            group=dict(record.get("group") or {}),
            window_start=_when(record.get("window_start")),
            window_end=_when(record.get("window_end")),
            event_time=_when(record["event_time"]),
            values=dict(record.get("values") or {}),
            payload=record.get("payload"),
        )
        added = await asyncio.to_thread(
            self._events.add, [firing], source="store", tenant=self._tenant.get()
        )
        if added and self._on_stored is not None:
            self._on_stored()


def _when(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def build_sinks(
    specs: Mapping[str, SinkSpec],
    events: EventStore,
    tenant: contextvars.ContextVar[str],
    on_stored: Callable[[], None] | None = None,
) -> tuple[dict[str, Sink], list[Any]]:
    """The sinks by name (``events`` first, telling ``on_stored`` of a new event) and the
    clients to close at shutdown."""
    sinks: dict[str, Sink] = {"events": EventsSink(events, tenant, on_stored)}
    clients: list[Any] = []
    for name, spec in specs.items():
        if spec.type == "csv":
            sinks[name] = CsvSink(str(spec.path))
        elif spec.type == "parquet":
            sinks[name] = ParquetSink(str(spec.path))
        else:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(str(spec.url))
            clients.append(client)
            sinks[name] = RedisStreamSink(client, str(spec.stream), maxlen=spec.maxlen)
    return sinks, clients
