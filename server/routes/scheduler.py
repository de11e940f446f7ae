"""``/cep/scheduler``: the scheduler's health, its instances and the metric polling.

- ``GET /cep/scheduler/status``: running, healthy (with the problems when not), instance
  count, rules scheduled and polled, last tick, heartbeat age, lag, missed runs.
- ``GET /cep/scheduler/instances``: each instance (one per server process) with its id,
  start, heartbeat and the rules it owns, each with its last and next run (UTC, and the
  next run in the rule's time zone as ``next_run_local``).
- ``GET /cep/scheduler/metric-polling``: every polled metric rule: endpoint, value_path,
  interval, last and next poll, last status, value and error.
- ``GET /cep/scheduler/metric-polling/snapshots/latest[?rule_id=]``: the newest snapshot
  per rule; ``GET /cep/scheduler/metric-polling/snapshots?rule_id=`` one rule's history.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cepkit.store import RuleStore
from server.deps import LiveDep, StoreDep
from server.polling import MetricPollingStatus, SnapshotList
from server.scheduler import SchedulerInstance, SchedulerStatus

__all__ = ["router"]


def _rule_ids(store: RuleStore) -> set[str]:
    """The ids of the rules the caller's tenant owns (the store is scoped to it)."""
    return {rule.rule_id for rule in store.list()}


router = APIRouter(prefix="/cep/scheduler", tags=["scheduler"])


@router.get("/status", summary="Scheduler health", response_model=SchedulerStatus)
def scheduler_status(live: LiveDep) -> SchedulerStatus:
    """Whether the scheduler runs, is on time (heartbeat age, lag) and healthy."""
    return live.scheduler.status()


@router.get("/instances", summary="Scheduler instances", response_model=list[SchedulerInstance])
def scheduler_instances(live: LiveDep, store: StoreDep) -> list[SchedulerInstance]:
    """The instances with their heartbeat and the rules each owns (last/next run); only
    the caller's tenant's rules are listed."""
    mine = _rule_ids(store)
    return [
        instance.model_copy(
            update={"rules_owned": [r for r in instance.rules_owned if r.rule_id in mine]}
        )
        for instance in live.scheduler.instances()
    ]


@router.get("/metric-polling", summary="Polled metric rules", response_model=MetricPollingStatus)
def metric_polling(live: LiveDep, store: StoreDep) -> MetricPollingStatus:
    """Each metric rule with ``endpoint`` + ``value_path``: its last and next poll."""
    mine = _rule_ids(store)
    rules = [rule for rule in live.poller.status() if rule.rule_id in mine]
    return MetricPollingStatus(running=live.poller.running, rules=rules, total=len(rules))


@router.get(
    "/metric-polling/snapshots/latest",
    summary="Latest poll snapshot per rule",
    response_model=SnapshotList,
)
def latest_snapshots(
    live: LiveDep, store: StoreDep, rule_id: Annotated[list[str] | None, Query()] = None
) -> SnapshotList:
    """The newest snapshot of each polled rule (of the ``rule_id`` s given)."""
    mine = _rule_ids(store)
    snapshots = [s for s in live.poller.snapshots.latest(rule_id) if s.rule_id in mine]
    return SnapshotList(snapshots=snapshots, total=len(snapshots))


@router.get(
    "/metric-polling/snapshots", summary="One rule's poll history", response_model=SnapshotList
)
def snapshot_history(
    live: LiveDep,
    store: StoreDep,
    rule_id: Annotated[str, Query(min_length=1)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> SnapshotList:
    """One rule's snapshots, newest first."""
    store.get(rule_id)  # another tenant's rule is no rule (404)
    snapshots = live.poller.snapshots.history(rule_id, limit=limit)
    return SnapshotList(snapshots=snapshots, total=len(snapshots))
