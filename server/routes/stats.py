"""``/cep/stats``: operational figures, and the guide's daily / weekly checklists (20.4).

- ``GET /cep/stats?period=day|week|all`` (or ``since`` / ``until``, ISO-8601, naive
  means UTC; ``since`` inclusive, ``until`` exclusive): per rule executions, firings,
  ACKs and durations (avg, p50, p95, p99, max); per channel success, fallback and
  breaker figures; events created and the mean time to ACK; the ACK backlog as of now.
- ``GET /cep/stats/checks?period=day|week``: the daily checklist (events count, ACK
  backlog, failed notifications, scheduler health, anomaly precision) over the last
  24 hours or the weekly one (top-5 rules by firings and by dismissals as noise,
  channel failure rate, mean time to ACK) over the last 7 days, each item ``pass``,
  ``warn`` or ``unknown`` (nothing to judge), with the threshold it was held to. The
  thresholds come from guide section 25 and are returned with the answer.

Every figure's definition is in :mod:`server.stats`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from server.checks import Checklist, collect_checks
from server.deps import ClockDep, MaybeLiveDep, TenantDep
from server.live import LiveServices
from server.stats import Stats, collect_stats, period_of

__all__ = ["router"]

router = APIRouter(prefix="/cep/stats", tags=["stats"])


def _live(live: LiveServices | None) -> LiveServices:
    if live is None:
        raise HTTPException(status_code=503, detail="live services are off (no SQL store)")
    return live


@router.get("", summary="Operational statistics", response_model=Stats)
async def get_stats(
    live: MaybeLiveDep,
    tenant: TenantDep,
    clock: ClockDep,
    period: Annotated[Literal["day", "week", "all"], Query()] = "day",
    since: Annotated[datetime | None, Query(description="Start (inclusive), ISO-8601")] = None,
    until: Annotated[datetime | None, Query(description="End (exclusive), ISO-8601")] = None,
) -> Stats:
    """Figures over the last day, the last week, everything, or ``since``..``until``."""
    services = _live(live)
    try:
        window = period_of(period, clock.now(), since=since, until=until)
    except ValueError as exc:
        problem = {
            "loc": ["query", "since"],
            "path": "since",
            "msg": str(exc),
            "type": "value_error",
        }
        raise HTTPException(status_code=422, detail=[problem]) from exc
    return await run_in_threadpool(
        collect_stats,
        engine=services.store.engine,
        events=services.events,
        logs=services.logs,
        clock=clock,
        period=window,
        tenant=tenant,
    )


@router.get("/checks", summary="Daily or weekly checklist (guide 20.4)", response_model=Checklist)
async def get_checks(
    live: MaybeLiveDep,
    tenant: TenantDep,
    clock: ClockDep,
    period: Annotated[Literal["day", "week"], Query()] = "day",
) -> Checklist:
    """``day``: the daily routine over the last 24 h; ``week``: the weekly one over 7 days."""
    services = _live(live)
    return await run_in_threadpool(
        collect_checks,
        engine=services.store.engine,
        events=services.events,
        logs=services.logs,
        rules=services.store,
        clock=clock,
        period=period,
        scheduler=getattr(services, "scheduler", None),
        tenant=tenant,
    )
