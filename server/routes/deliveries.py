"""``/cep/deliveries``: dead letters (deliveries that finally failed) and their retry.

``GET /cep/deliveries`` lists them (``status=dead`` by default), ``GET .../{id}`` shows
one, and ``POST /cep/deliveries/{id}/retry`` delivers it again with its rule as it is now
(fix the channel or the endpoint first, guide Lab 12): the answer is the new delivery
result; a success marks the dead letter ``redelivered``. Every retry is an execution log
of its own (trigger ``retry``), so the rule's logs show the final outcome.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from cepkit.actions.results import ActionResult
from cepkit.store import ExecutionLog
from cepkit.store.deliveries import StoredDeadLetter
from server.deps import LiveDep, TenantDep
from server.schemas import MessageOut

__all__ = ["router"]

router = APIRouter(prefix="/cep/deliveries", tags=["channels"])

_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": MessageOut, "description": "No dead letter with that id"}
}


class DeadLetterList(BaseModel):
    """Dead letters, newest first."""

    model_config = ConfigDict(frozen=True)

    deliveries: list[StoredDeadLetter]
    total: int


class RetryResult(BaseModel):
    """What a retry did."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str
    delivered: bool
    result: ActionResult
    exec_id: str  # the execution log of this retry (trigger ``retry``)


@router.get("", summary="Dead letters", response_model=DeadLetterList)
def list_dead_letters(
    live: LiveDep,
    tenant: TenantDep,
    status: Annotated[Literal["dead", "redelivered", "all"], Query()] = "dead",
    rule_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetterList:
    """Deliveries that finally failed (``all`` includes the redelivered ones)."""
    letters = live.dead_letters.list(
        status=None if status == "all" else status, rule_id=rule_id, limit=limit, tenant=tenant
    )
    return DeadLetterList(deliveries=letters, total=len(letters))


@router.get(
    "/{dead_letter_id}",
    summary="One dead letter",
    response_model=StoredDeadLetter,
    responses=_NOT_FOUND,
)
def get_dead_letter(dead_letter_id: str, live: LiveDep, tenant: TenantDep) -> StoredDeadLetter:
    """The failed delivery, its firing and its last error."""
    return live.dead_letters.get(dead_letter_id, tenant=tenant)


@router.post(
    "/{dead_letter_id}/retry",
    summary="Deliver a dead letter again",
    response_model=RetryResult,
    responses=_NOT_FOUND,
)
async def retry_dead_letter(dead_letter_id: str, live: LiveDep, tenant: TenantDep) -> RetryResult:
    """With the rule as it is now; success marks it ``redelivered``."""
    stored = live.dead_letters.get(dead_letter_id, tenant=tenant)
    started = live.clock.now()
    t0 = time.perf_counter()
    result = await live.delivery.retry(stored)
    letter = stored.letter
    entry = ExecutionLog.new(
        tenant=tenant,
        rule_id=letter.rule_id,
        rule_name=letter.rule_name,
        event_id=letter.firing.firing_id,
        trigger="retry",
        status="success" if result.delivered else "failed",
        started_at=started,
        duration_ms=round((time.perf_counter() - t0) * 1000.0, 3),
        error_message=None if result.delivered else result.error,
        actions=[result.model_dump(mode="json")],
    )
    await run_in_threadpool(live.logs.add, entry)
    live.hub.notify()
    return RetryResult(
        dead_letter_id=dead_letter_id,
        delivered=result.delivered,
        result=result,
        exec_id=entry.exec_id,
    )
