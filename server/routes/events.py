"""``/cep/events``: the event console (list, detail, ACK, dismiss as noise, labels, SSE).

Events are what the live runner's firings became. ``POST .../ack`` is idempotent (a
second ACK keeps the first one's who/when/note); ``dismiss`` marks an event as noise (and
acknowledges it). ``GET /cep/events/labels`` exports the operators' verdicts for tuning
(``incident`` for acknowledged events, ``noise`` for dismissed ones; JSON or CSV).
``GET /cep/events/stream`` is a Server-Sent Events stream of ``created``, ``acked`` and
``dismissed`` changes whose ``id`` is the change's sequence number: a client that
reconnects with ``Last-Event-ID`` (or ``?last_event_id=``) gets every change it missed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.sse import format_sse_event
from pydantic import BaseModel, ConfigDict, Field

from cepkit.store import StoredEvent
from cepkit.store.events import EventFilter, EventPage, LabelRow
from cepkit.store.logs import ExecutionLog
from server.deps import LiveDep, TenantDep
from server.schemas import MessageOut

__all__ = ["router"]

router = APIRouter(prefix="/cep/events", tags=["events"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": MessageOut, "description": "No event with that id"}
}


class AckRequest(BaseModel):
    """Who acknowledges (or dismisses), and an optional note."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str = Field(default="operator", min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class BulkAckRequest(AckRequest):
    """Several events at once."""

    event_ids: list[str] = Field(min_length=1, max_length=1000)


class BulkAckResult(BaseModel):
    """What a bulk ACK did: the events acknowledged and the ids not found."""

    model_config = ConfigDict(frozen=True)

    acked: list[StoredEvent]
    not_found: list[str]


class EventDetail(StoredEvent):
    """An event with its deliveries (the execution logs it caused)."""

    deliveries: list[ExecutionLog] = Field(default_factory=list)


class LabelList(BaseModel):
    """The exported labels."""

    model_config = ConfigDict(frozen=True)

    labels: list[LabelRow]
    total: int


@router.get("", summary="List events", response_model=EventPage)
def list_events(
    live: LiveDep,
    tenant: TenantDep,
    rule_id: str | None = None,
    severity: str | None = None,
    ack: Annotated[Literal["acked", "unacked", "all"], Query()] = "all",
    dismissed: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EventPage:
    """Newest first; every filter optional (``since`` inclusive, ``until`` exclusive)."""
    where = EventFilter(
        rule_id=rule_id,
        severity=severity,
        ack=ack,
        dismissed=dismissed,
        since=since,
        until=until,
        text=text,
        tenant=tenant,
    )
    return live.events.list(where, limit=limit, offset=offset)


#: changes read per pass on the event loop (a resumed stream's backlog takes several
#: passes, each a few milliseconds at most, the loop serving others in between)
_LOCAL_READ = 100


async def _changes(
    request: Request, live: Any, last: int, ping_seconds: float, tenant: str
) -> AsyncIterator[bytes]:
    """The stream's bytes: every change found by one read of the feed is written as one
    chunk (one write and one pass of the event loop per read, however many events it
    holds; an event at a time, a busy loop had held the stream back past 1,000 events/s).

    On SQLite the feed is read on the event loop: handed to a thread, the read's answer
    waited behind whatever the loop did meanwhile (the actions of the very events it
    carries), which doubled the time from ingest to the stream (bench_ingest's SSE case,
    alternated 7 times each: p50 17.6 -> 8.7 ms, p99 43 -> 23 ms). A remote database is
    read in a thread, not to hold the loop for a round trip."""
    yield format_sse_event(comment="connected", retry=3000)
    local = live.events.local
    seq = last
    idle = 0.0
    step = min(1.0, ping_seconds)  # how often a quiet stream checks for a gone client
    while not live.hub.closed and not await request.is_disconnected():
        waiter = live.hub.waiter()
        if local:  # a short read of a local file: at once, no hop to a thread and back
            changes = live.events.changes_since(seq, tenant=tenant, limit=_LOCAL_READ)
        else:
            changes = await asyncio.to_thread(live.events.changes_since, seq, tenant=tenant)
        if changes:
            live.hub.drop(waiter)
            idle = 0.0
            seq = changes[-1].seq
            yield b"".join(
                format_sse_event(
                    id=str(change.seq),
                    event=change.change,
                    data_str=change.event.model_dump_json(),
                )
                for change in changes
            )
            continue
        if await live.hub.wait(waiter, timeout=step):
            continue
        idle += step
        if idle >= ping_seconds:
            idle = 0.0
            yield format_sse_event(comment="ping")


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `created`, `acked` and `dismissed`, each with "
        "the event as JSON data and the change's sequence number as its id",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/stream",
    summary="Live stream of event changes (Server-Sent Events)",
    response_class=StreamingResponse,
    responses=_STREAM_DOC,
)
async def stream_events(
    request: Request,
    live: LiveDep,
    tenant: TenantDep,
    last_event_id: Annotated[
        int | None, Query(ge=0, description="Resume after this change id")
    ] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", include_in_schema=False)
    ] = None,
    ping_seconds: Annotated[float, Query(gt=0, le=60)] = 15.0,
) -> StreamingResponse:
    """``created`` / ``acked`` / ``dismissed`` changes, each with the event as JSON data.

    Without a resume point the stream starts at the present; ``: ping`` comments keep an
    idle connection alive.
    """
    last = last_event_id
    if last is None and last_event_id_header is not None and last_event_id_header.isdigit():
        last = int(last_event_id_header)
    if last is None:
        last = await asyncio.to_thread(live.events.last_seq)
    return StreamingResponse(
        _changes(request, live, last, ping_seconds, tenant),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/labels",
    summary="Operator verdicts as labels for tuning (JSON or CSV)",
    response_model=LabelList,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_labels(
    live: LiveDep,
    tenant: TenantDep,
    rule_id: str | None = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """``incident`` for acknowledged events, ``noise`` for dismissed ones, oldest first.

    The CSV has ``start,end,label,rule_id,rule_name,event_id`` plus one column per group
    field, the shape :meth:`cepkit.tuning.Incidents.from_labels` reads.
    """
    labels = live.events.labels(rule_id=rule_id, tenant=tenant)
    if format == "json":
        return LabelList(labels=labels, total=len(labels))
    group_keys = sorted({key for row in labels for key in row.group})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["start", "end", "label", "rule_id", "rule_name", "event_id", *group_keys])
    for row in labels:
        writer.writerow(
            [
                row.start.isoformat(),
                row.end.isoformat(),
                row.label,
                row.rule_id or "",
                row.rule_name,
                row.event_id,
                *(_cell(row.group.get(key)) for key in group_keys),
            ]
        )
    return Response(content=out.getvalue(), media_type="text/csv")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


@router.post("/ack", summary="Acknowledge several events", response_model=BulkAckResult)
def bulk_ack(body: BulkAckRequest, live: LiveDep, tenant: TenantDep) -> BulkAckResult:
    """Acknowledge each id; unknown ids are listed, the others acknowledged."""
    acked: list[StoredEvent] = []
    missing: list[str] = []
    for event_id in dict.fromkeys(body.event_ids):
        try:
            acked.append(live.events.ack(event_id, by=body.by, note=body.note, tenant=tenant))
        except KeyError:
            missing.append(event_id)
    return BulkAckResult(acked=acked, not_found=missing)


@router.get("/{event_id}", summary="One event", response_model=EventDetail, responses=_NOT_FOUND)
def get_event(event_id: str, live: LiveDep, tenant: TenantDep) -> EventDetail:
    """The event, its condition trace, payload and deliveries."""
    event = live.events.get(event_id, tenant=tenant)
    deliveries = live.logs.for_event(event_id)
    return EventDetail(**event.model_dump(), deliveries=deliveries)


@router.post(
    "/{event_id}/ack",
    summary="Acknowledge an event (idempotent)",
    response_model=StoredEvent,
    responses=_NOT_FOUND,
)
def ack_event(
    event_id: str, live: LiveDep, tenant: TenantDep, body: AckRequest | None = None
) -> StoredEvent:
    """Record who acknowledged it, when, and a note; a second ACK changes nothing."""
    body = body or AckRequest()
    return live.events.ack(event_id, by=body.by, note=body.note, tenant=tenant)


@router.post(
    "/{event_id}/dismiss",
    summary="Dismiss an event as noise",
    response_model=StoredEvent,
    responses=_NOT_FOUND,
)
def dismiss_event(
    event_id: str, live: LiveDep, tenant: TenantDep, body: AckRequest | None = None
) -> StoredEvent:
    """Mark it as a false alarm (exported as a ``noise`` label); also acknowledges it."""
    body = body or AckRequest()
    return live.events.dismiss(event_id, by=body.by, note=body.note, tenant=tenant)
