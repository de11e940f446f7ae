"""Operating one rule: activate / deactivate, rollback, manual trigger, logs, anomaly status.

- ``POST /cep/rules/{id}/activate`` and ``/deactivate`` set ``is_active`` (a new version).
- ``POST /cep/rules/{id}/rollback {"version": N}`` makes version N's document current
  again, as a new version (history is never rewritten).
- ``POST /cep/rules/{id}/trigger {"payload": {...}, "dry_run": false}`` runs the rule once
  by hand: it is evaluated on the payload (the answer says whether it matched), an event
  is created (source ``manual``), the actions run for real (or are only listed when
  ``dry_run``) and an execution log is written.
- ``GET /cep/rules/{id}/logs``: the newest execution logs first.
- ``GET /cep/rules/{id}/anomaly-status``: per group, the live baseline (n, mean, std, q1,
  q3, ema, ready or ``baseline_insufficient``).
- ``GET /cep/rules/{id}/runtime``: the live engine's counters (evaluation errors with
  samples, late events, filtered out, firings, suppressed...).
- ``GET /cep/rules/{id}/suppressions``: the suppressions open now, per key with their
  end: the live engine's (embedded mode) or those the flow keeps in Redis (scaled mode,
  the same on every replica).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from cepkit.anomaly import DetectorStatus
from cepkit.errors import Problem, RuleValidationError
from cepkit.firing import Firing
from cepkit.plan import compile_plan
from cepkit.rules import AnomalyTrigger, parse_rule
from cepkit.simulate import simulate
from cepkit.store import ExecutionLog
from server.deps import ClockDep, LiveDep, StoreDep
from server.dispatch import Job
from server.routes.rules import validated_document
from server.schemas import MessageOut, RulePublic, ValidationErrorOut

__all__ = ["router"]

router = APIRouter(prefix="/cep/rules", tags=["rules"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": MessageOut, "description": "No rule with that id"}
}


class RollbackRequest(BaseModel):
    """The version to make current again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)


class TriggerRequest(BaseModel):
    """A manual run: the payload and whether to only list the actions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payload: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False


class TriggerResult(BaseModel):
    """What a manual run did."""

    model_config = ConfigDict(frozen=True)

    exec_id: str
    event_id: str
    status: str
    matched: bool
    duration_ms: float
    error_message: str | None = None
    actions: list[dict[str, Any]] = Field(default_factory=list)


class LogList(BaseModel):
    """A rule's execution logs, newest first."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    logs: list[ExecutionLog]
    total: int


class GroupStatus(DetectorStatus):
    """One group's baseline and whether it can judge yet."""

    group: dict[str, Any] = Field(default_factory=dict)
    status: str = "ready"
    min_baseline: int = 0


class AnomalyStatus(BaseModel):
    """An anomaly rule's live baselines."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    method: str
    threshold: float
    running: bool
    groups: list[GroupStatus]


def store_tenant(store: Any) -> str:
    """The tenant a request's (scoped) rule store belongs to."""
    return str(getattr(store, "tenant", "default"))


def _set_active(rule_id: str, active: bool, store: Any, live: Any) -> dict[str, Any]:
    current = store.get(rule_id)
    document = {**current.document, "is_active": active}
    stored = store.update(rule_id, validated_document(document))
    live.runner.reload()
    result: dict[str, Any] = stored.public()
    return result


@router.post(
    "/{rule_id}/activate",
    summary="Activate a rule",
    response_model=None,
    responses={200: {"model": RulePublic}, **_NOT_FOUND},
)
def activate(rule_id: str, store: StoreDep, live: LiveDep) -> dict[str, Any]:
    """``is_active: true`` as a new version; the live runner starts the rule."""
    return _set_active(rule_id, True, store, live)


@router.post(
    "/{rule_id}/deactivate",
    summary="Deactivate a rule",
    response_model=None,
    responses={200: {"model": RulePublic}, **_NOT_FOUND},
)
def deactivate(rule_id: str, store: StoreDep, live: LiveDep) -> dict[str, Any]:
    """``is_active: false`` as a new version; the live runner stops the rule."""
    return _set_active(rule_id, False, store, live)


@router.post(
    "/{rule_id}/rollback",
    summary="Make an earlier version current again",
    response_model=None,
    responses={200: {"model": RulePublic}, **_NOT_FOUND},
)
def rollback(rule_id: str, body: RollbackRequest, store: StoreDep, live: LiveDep) -> dict[str, Any]:
    """The document of ``version`` becomes a new version (history is kept)."""
    versions = {v.version: v for v in store.versions(rule_id)}
    if body.version not in versions:
        raise RuleValidationError(
            [
                Problem(
                    path="version",
                    message=f"rule {rule_id} has no version {body.version}; "
                    f"known: {', '.join(map(str, sorted(versions)))}",
                    loc=("version",),
                )
            ]
        )
    stored = store.update(rule_id, validated_document(versions[body.version].document))
    live.runner.reload()
    result: dict[str, Any] = stored.public()
    return result


@router.post(
    "/{rule_id}/trigger",
    summary="Run a rule once by hand (actions run for real unless dry_run)",
    response_model=TriggerResult,
    responses=_NOT_FOUND,
)
async def trigger(
    rule_id: str,
    store: StoreDep,
    live: LiveDep,
    clock: ClockDep,
    body: Annotated[TriggerRequest | None, Body()] = None,
) -> TriggerResult:
    """Evaluate, create an event (source ``manual``), run the actions, log the execution."""
    body = body or TriggerRequest()
    stored = await run_in_threadpool(store.get, rule_id)
    rule = parse_rule({**stored.document, "rule_id": rule_id})
    outcome = simulate(rule, body.payload)
    values = outcome.window_values or {}
    if not values and outcome.extracted_value is not None:
        values = {"value": outcome.extracted_value}
    firing = Firing.build(
        rule_key=compile_plan(rule).rule_key,
        rule_id=rule_id,
        rule_name=rule.rule_name,
        severity=rule.severity,
        event_time=clock.now().timestamp(),
        values=values,
        explain=outcome.explain,
        payload=body.payload,
        identity=("manual", uuid.uuid4().hex),
        notes=["manual trigger", *([] if outcome.matched else ["condition did not match"])],
    )
    tenant = store_tenant(store)
    events = await run_in_threadpool(live.events.add, [firing], source="manual", tenant=tenant)
    live.hub.notify()
    entry = await live.actions.run_now(
        Job(rule, firing, events[0].event_id, "manual", dry_run=body.dry_run, tenant=tenant)
    )
    return TriggerResult(
        exec_id=entry.exec_id,
        event_id=events[0].event_id,
        status=entry.status,
        matched=outcome.matched,
        duration_ms=entry.duration_ms,
        error_message=entry.error_message,
        actions=entry.actions,
    )


@router.get(
    "/{rule_id}/logs",
    summary="A rule's execution logs",
    response_model=LogList,
    responses=_NOT_FOUND,
)
def logs(
    rule_id: str,
    store: StoreDep,
    live: LiveDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> LogList:
    """exec_id, status, duration_ms, error_message and per-action results with attempts."""
    store.get(rule_id)
    entries = live.logs.for_rule(rule_id, limit=limit, tenant=store_tenant(store))
    return LogList(rule_id=rule_id, logs=entries, total=len(entries))


@router.get(
    "/{rule_id}/anomaly-status",
    summary="An anomaly rule's live baselines",
    response_model=AnomalyStatus,
    responses={
        **_NOT_FOUND,
        422: {"model": ValidationErrorOut, "description": "Not an anomaly rule"},
    },
)
def anomaly_status(rule_id: str, store: StoreDep, live: LiveDep) -> AnomalyStatus:
    """Per group: n, mean, std, q1, q3, ema and ``ready`` / ``baseline_insufficient``."""
    rule = parse_rule(store.get(rule_id).document)
    spec = rule.trigger_spec
    if not isinstance(spec, AnomalyTrigger):
        raise RuleValidationError(
            [
                Problem(
                    path="trigger_type",
                    message=f"rule {rule_id} is a {rule.trigger_type} rule, not an anomaly rule",
                    loc=("trigger_type",),
                )
            ]
        )
    statuses = live.runner.inspect(rule_id, lambda runtime: runtime.anomaly_status())
    groups = []
    if statuses is not None:
        for group, status in statuses:
            groups.append(
                GroupStatus(
                    **status.model_dump(),
                    group=group,
                    status="ready" if status.ready else "baseline_insufficient",
                    min_baseline=spec.min_baseline,
                )
            )
    return AnomalyStatus(
        rule_id=rule_id,
        method=spec.anomaly_method,
        threshold=spec.threshold,
        running=statuses is not None,
        groups=groups,
    )


class RuntimeCounters(BaseModel):
    """What the live engine counted for one rule since it started (or was edited)."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    running: bool
    events: int = 0
    filtered_out: int = 0
    evaluation_errors: int = 0
    invalid_time: int = 0
    late: int = 0
    skipped_values: int = 0
    windows_closed: int = 0
    baseline_insufficient: int = 0
    firings: int = 0
    suppressed: int = 0
    pending: int = 0
    recoveries: int = 0
    enrichment_errors: int = 0
    late_samples: list[float] = Field(default_factory=list)
    error_samples: list[str] = Field(default_factory=list)


@router.get(
    "/{rule_id}/runtime",
    summary="The live engine's counters for a rule",
    response_model=RuntimeCounters,
    responses=_NOT_FOUND,
)
def runtime_counters(rule_id: str, store: StoreDep, live: LiveDep) -> RuntimeCounters:
    """Events seen, filtered out, evaluation errors (with samples naming the path), late
    events, firings, suppressed...: how an operator sees a field path error live."""
    store.get(rule_id)
    counters = live.runner.inspect(rule_id, lambda runtime: runtime.stats.as_dict())
    if counters is None:
        return RuntimeCounters(rule_id=rule_id, running=False)
    return RuntimeCounters(rule_id=rule_id, running=True, **counters)


class Suppression(BaseModel):
    """One open suppression: the key's values (``{}``: the whole rule) and its end (event
    time); in scaled mode also the firing that opened it."""

    model_config = ConfigDict(frozen=True)

    key: dict[str, Any] = Field(default_factory=dict)
    until: datetime
    firing_id: str | None = None
    event_time: datetime | None = None


class SuppressionList(BaseModel):
    """A rule's open suppressions, soonest to end first."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    suppressions: list[Suppression]


@router.get(
    "/{rule_id}/suppressions",
    summary="A rule's open suppressions",
    response_model=SuppressionList,
    responses=_NOT_FOUND,
)
async def suppressions(rule_id: str, store: StoreDep, live: LiveDep) -> SuppressionList:
    """Embedded mode: those the live engine holds at its latest event time (none for a
    rule not running). Scaled mode: those the flow wrote to Redis, until they expire."""
    await run_in_threadpool(store.get, rule_id)
    if live.scaled is not None:
        records = await live.scaled.silences(rule_id, tenant=store_tenant(store))
        items = [
            Suppression(key=r.key, until=r.until, firing_id=r.firing_id, event_time=r.event_time)
            for r in records
        ]
    else:
        silences = await run_in_threadpool(
            live.runner.inspect, rule_id, lambda runtime: runtime.silences()
        )
        items = [Suppression(key=s.key, until=s.until) for s in silences or []]
    return SuppressionList(rule_id=rule_id, suppressions=items)
