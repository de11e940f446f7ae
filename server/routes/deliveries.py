"""``/cep/deliveries``: dead letters (deliveries that finally failed) and their retry.

``GET /cep/deliveries`` lists them (``status=dead`` by default), ``GET .../{id}`` shows
one, and ``POST /cep/deliveries/{id}/retry`` delivers it again with its rule as it is now
(fix the channel or the endpoint first, guide Lab 12): the answer is the new delivery
result; a success marks the dead letter ``redelivered``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from cepkit.actions.results import ActionResult
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
    result = await live.delivery.retry(stored)
    return RetryResult(dead_letter_id=dead_letter_id, delivered=result.delivered, result=result)
