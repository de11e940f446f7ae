"""``POST /cep/ingest``: events into the live runner.

The body is one event (a JSON object) or a list of them. Items that cannot be accepted
(not an object, an unreadable ``timestamp``) are answered with their index and JSON
path while the rest of the batch is accepted; the answer comes after the batch is in the
journal, so an accepted event survives a crash.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool

from server.deps import LiveDep, TenantDep
from server.runner import IngestResult

__all__ = ["router"]

router = APIRouter(prefix="/cep", tags=["ingest"])

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"type": "object"},
                        {"type": "array", "items": {}, "maxItems": 100_000},
                    ]
                },
                "example": [
                    {"timestamp": "2026-02-08T10:30:00Z", "host": "web-1", "cpu_usage": 93.5}
                ],
            }
        },
    }
}


@router.post(
    "/ingest",
    summary="Ingest one event or a list",
    response_model=IngestResult,
    openapi_extra=_BODY,
)
async def ingest(live: LiveDep, tenant: TenantDep, body: Annotated[Any, Body()]) -> IngestResult:
    """Route each event to every active rule; answers accepted/rejected counts, per-item
    errors (``index``, ``path``, ``message``) and the ids of the events it created."""
    items = body if isinstance(body, list) else [body]
    if live.scaled is not None:  # the flow runs the rules (server.scaled)
        return await live.scaled.ingest(items, tenant=tenant)
    return await run_in_threadpool(live.runner.ingest, items, tenant=tenant)
