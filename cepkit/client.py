"""A typed HTTP client for the cepkit server's ``/cep`` API (dashboards and notebooks).

``Client(base_url, api_key=None, transport=None)`` wraps an :class:`httpx.Client`; every
method returns the server's own response model (the pydantic classes its routes answer
with, imported from ``server`` and ``cepkit.store``), so a field renamed on one side is
caught by mypy and by the client's tests. An error answer raises
:class:`~cepkit.errors.ClientError` with the status code and the server's ``detail``;
a 422's items become ``problems`` naming each JSON path. A server that cannot be reached
raises ``ClientError`` with ``status_code=None``.

``transport`` is any httpx transport: ``httpx.ASGITransport(app)`` does not work with a
sync client, so tests run a real server; ``httpx.MockTransport`` suits users' own tests.

:meth:`Client.changes` reads the ``/cep/events/stream`` Server-Sent Events as
:class:`~cepkit.store.events.EventChange` items; it asks the server for a ``: ping``
every ``ping_seconds`` so a ``stop`` event set by another thread ends it promptly.

>>> import httpx
>>> def answer(request: httpx.Request) -> httpx.Response:
...     return httpx.Response(200, json={"channels": ["Slack", "Email"]})
>>> with Client("http://cep.test", transport=httpx.MockTransport(answer)) as client:
...     client.channel_types()
['Slack', 'Email']
>>> def refuse(request: httpx.Request) -> httpx.Response:
...     return httpx.Response(422, json={"detail": [
...         {"loc": ["trigger_spec", "operator"], "path": "trigger_spec.operator",
...          "msg": "unknown operator 'gt'", "type": "value_error"}]})
>>> with Client("http://cep.test", transport=httpx.MockTransport(refuse)) as client:
...     client.create_rule({"rule_name": "x"})
Traceback (most recent call last):
...
cepkit.errors.ClientError: POST /cep/rules: HTTP 422: trigger_spec.operator: unknown operator 'gt'
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from cepkit.actions.results import ChannelTestResult
from cepkit.copilot import Draft
from cepkit.errors import ClientError, Problem, RuleValidationError
from cepkit.plan import check_rule
from cepkit.simulate import SimulationResult
from cepkit.store.deliveries import StoredDeadLetter
from cepkit.store.events import EventChange, EventPage, StoredEvent
from server.checks import Checklist
from server.routes.channels import ChannelOut, ChannelStatus, ChannelStatusList, ChannelTypes
from server.routes.deliveries import DeadLetterList, RetryResult
from server.routes.events import BulkAckResult, EventDetail, LabelList
from server.routes.rule_ops import (
    AnomalyStatus,
    LogList,
    RuntimeCounters,
    SuppressionList,
    TriggerResult,
)
from server.runner import IngestResult
from server.scheduler import SchedulerStatus
from server.schemas import RuleFormCreated, RuleList, RulePublic, RuleVersionList
from server.stats import Stats

__all__ = [
    "AckFilter",
    "Client",
    "ClientError",
    "DeliveryStatus",
]

M = TypeVar("M", bound=BaseModel)
AckFilter = Literal["acked", "unacked", "all"]
DeliveryStatus = Literal["dead", "redelivered", "all"]


def _param(value: object) -> str | int | float | bool:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"unsupported query value {value!r}")


def _clean(params: Mapping[str, object]) -> dict[str, str | int | float | bool]:
    return {key: _param(value) for key, value in params.items() if value is not None}


class Client:
    """Every ``/cep`` call the dashboards need, typed.

    ``base_url`` is the server's root (``http://127.0.0.1:8000``); ``api_key`` is sent as
    ``X-API-Key``; ``timeout`` (seconds) bounds every call except the event stream.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: expected http(s)://host[:port], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, transport=transport, timeout=timeout
        )

    # -- plumbing ---------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: object = None,
        has_body: bool = False,
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                path,
                params=_clean(params or {}),
                content=json.dumps(body).encode() if has_body else None,
                headers={"content-type": "application/json"} if has_body else None,
            )
        except httpx.HTTPError as exc:
            raise ClientError(method, path, None, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise ClientError(method, path, response.status_code, _detail(response))
        return response

    def _get(self, model: type[M], path: str, **params: object) -> M:
        return _parse(model, self._call("GET", path, params=params), path)

    def _post(self, model: type[M], path: str, body: object = None, **params: object) -> M:
        response = self._call("POST", path, params=params, body=body, has_body=True)
        return _parse(model, response, path)

    # -- rules ------------------------------------------------------------------------

    def rules(self, *, active: bool | None = None) -> list[RulePublic]:
        """``GET /cep/rules``: every rule (optionally only active or inactive ones)."""
        return self._get(RuleList, "/cep/rules", active=active).rules

    def rule(self, rule_id: str) -> RulePublic:
        """``GET /cep/rules/{id}``: the document as saved, plus its metadata."""
        return self._get(RulePublic, f"/cep/rules/{rule_id}")

    def create_rule(self, document: Mapping[str, Any]) -> RulePublic:
        """``POST /cep/rules``; a bad document raises ClientError with its problems."""
        return self._post(RulePublic, "/cep/rules", dict(document))

    def create_rule_from_form(self, document: Mapping[str, Any]) -> RuleFormCreated:
        """``POST /cep/rules/form``: answers ``"Rule created from form."`` and the rule."""
        return self._post(RuleFormCreated, "/cep/rules/form", dict(document))

    def update_rule(self, rule_id: str, document: Mapping[str, Any]) -> RulePublic:
        """``PUT /cep/rules/{id}``: full replacement, as a new version."""
        path = f"/cep/rules/{rule_id}"
        response = self._call("PUT", path, body=dict(document), has_body=True)
        return _parse(RulePublic, response, path)

    def delete_rule(self, rule_id: str) -> None:
        """``DELETE /cep/rules/{id}``."""
        self._call("DELETE", f"/cep/rules/{rule_id}")

    def versions(self, rule_id: str) -> RuleVersionList:
        """``GET /cep/rules/{id}/versions``, oldest first."""
        return self._get(RuleVersionList, f"/cep/rules/{rule_id}/versions")

    def rollback(self, rule_id: str, version: int) -> RulePublic:
        """``POST /cep/rules/{id}/rollback``: version ``version`` becomes a new version."""
        return self._post(RulePublic, f"/cep/rules/{rule_id}/rollback", {"version": version})

    def activate(self, rule_id: str) -> RulePublic:
        """``POST /cep/rules/{id}/activate``."""
        return self._post(RulePublic, f"/cep/rules/{rule_id}/activate")

    def deactivate(self, rule_id: str) -> RulePublic:
        """``POST /cep/rules/{id}/deactivate``."""
        return self._post(RulePublic, f"/cep/rules/{rule_id}/deactivate")

    def simulate(
        self,
        rule_id: str,
        payload: Mapping[str, Any],
        history: Sequence[float] | None = None,
    ) -> SimulationResult:
        """``POST /cep/rules/{id}/simulate``: never runs an action."""
        body: dict[str, Any] = {"payload": dict(payload)}
        if history is not None:
            body["history"] = list(history)
        return self._post(SimulationResult, f"/cep/rules/{rule_id}/simulate", body)

    @staticmethod
    def validate(document: Mapping[str, Any]) -> tuple[Problem, ...]:
        """The problems the server would answer 422 with (empty when valid), checked here
        by the same validator (:func:`cepkit.plan.check_rule`) without a round trip.

        >>> spec = {"metric_name": "cpu", "operator": "gt", "threshold": 90}
        >>> doc = {"rule_name": "x", "trigger_type": "metric", "trigger_spec": spec}
        >>> [p.path for p in Client.validate(doc)]
        ['trigger_spec.operator']
        """
        try:
            check_rule(dict(document))
        except RuleValidationError as exc:
            return exc.problems
        return ()

    def trigger(
        self, rule_id: str, payload: Mapping[str, Any] | None = None, *, dry_run: bool = False
    ) -> TriggerResult:
        """``POST /cep/rules/{id}/trigger``: a manual run (actions for real unless dry_run)."""
        body = {"payload": dict(payload or {}), "dry_run": dry_run}
        return self._post(TriggerResult, f"/cep/rules/{rule_id}/trigger", body)

    def logs(self, rule_id: str, *, limit: int = 50) -> LogList:
        """``GET /cep/rules/{id}/logs``: execution logs, newest first."""
        return self._get(LogList, f"/cep/rules/{rule_id}/logs", limit=limit)

    def anomaly_status(self, rule_id: str) -> AnomalyStatus:
        """``GET /cep/rules/{id}/anomaly-status``: the live baselines per group."""
        return self._get(AnomalyStatus, f"/cep/rules/{rule_id}/anomaly-status")

    def runtime(self, rule_id: str) -> RuntimeCounters:
        """``GET /cep/rules/{id}/runtime``: the live engine's counters."""
        return self._get(RuntimeCounters, f"/cep/rules/{rule_id}/runtime")

    def suppressions(self, rule_id: str) -> SuppressionList:
        """``GET /cep/rules/{id}/suppressions``: the suppressions open now, per key."""
        return self._get(SuppressionList, f"/cep/rules/{rule_id}/suppressions")

    def draft(self, text: str) -> Draft:
        """``POST /cep/copilot/draft``: a rule draft from a sentence (nothing is stored)."""
        return self._post(Draft, "/cep/copilot/draft", {"text": text})

    # -- ingest and events ----------------------------------------------------------

    def ingest(self, events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> IngestResult:
        """``POST /cep/ingest``: one event or a list."""
        body: object = dict(events) if isinstance(events, Mapping) else [dict(e) for e in events]
        return self._post(IngestResult, "/cep/ingest", body)

    def events(
        self,
        *,
        ack: AckFilter = "all",
        rule_id: str | None = None,
        severity: str | None = None,
        dismissed: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> EventPage:
        """``GET /cep/events``: newest first, every filter optional."""
        return self._get(
            EventPage,
            "/cep/events",
            ack=ack,
            rule_id=rule_id,
            severity=severity,
            dismissed=dismissed,
            since=since,
            until=until,
            text=text,
            limit=limit,
            offset=offset,
        )

    def event(self, event_id: str) -> EventDetail:
        """``GET /cep/events/{id}``: the event, its condition trace and its deliveries."""
        return self._get(EventDetail, f"/cep/events/{event_id}")

    def ack(self, event_id: str, *, by: str = "operator", note: str | None = None) -> StoredEvent:
        """``POST /cep/events/{id}/ack`` (idempotent)."""
        return self._post(StoredEvent, f"/cep/events/{event_id}/ack", {"by": by, "note": note})

    def bulk_ack(
        self, event_ids: Sequence[str], *, by: str = "operator", note: str | None = None
    ) -> BulkAckResult:
        """``POST /cep/events/ack``: unknown ids come back in ``not_found``."""
        body = {"event_ids": list(event_ids), "by": by, "note": note}
        return self._post(BulkAckResult, "/cep/events/ack", body)

    def dismiss(
        self, event_id: str, *, by: str = "operator", note: str | None = None
    ) -> StoredEvent:
        """``POST /cep/events/{id}/dismiss``: noise (also acknowledges it)."""
        return self._post(StoredEvent, f"/cep/events/{event_id}/dismiss", {"by": by, "note": note})

    def labels(self, *, rule_id: str | None = None) -> LabelList:
        """``GET /cep/events/labels``: the operators' verdicts as labels for tuning."""
        return self._get(LabelList, "/cep/events/labels", rule_id=rule_id)

    def changes(
        self,
        *,
        last_event_id: int | None = None,
        ping_seconds: float = 1.0,
        stop: threading.Event | None = None,
        on_open: Callable[[], None] | None = None,
        max_seconds: float | None = None,
    ) -> Iterator[EventChange]:
        """``GET /cep/events/stream`` as :class:`EventChange` items, until ``stop`` is set
        (checked at every frame, pings included), ``max_seconds`` have passed (then resume
        with the last ``seq`` as ``last_event_id``: nothing is lost) or the server closes
        the stream.

        Without ``last_event_id`` the stream starts at the present: ``on_open`` is called
        once the server sent its first line, so whatever a caller reads after it is
        covered.
        """
        path = "/cep/events/stream"
        params = _clean({"last_event_id": last_event_id, "ping_seconds": ping_seconds})
        timeout = httpx.Timeout(self._http.timeout.connect, read=max(30.0, 3 * ping_seconds))
        try:
            with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError("GET", path, response.status_code, _detail(response))
                deadline = None if max_seconds is None else time.monotonic() + max_seconds
                yield from _sse_changes(response.iter_lines(), stop, deadline, on_open)
        except httpx.HTTPError as exc:
            if stop is not None and stop.is_set():
                return
            raise ClientError("GET", path, None, f"{type(exc).__name__}: {exc}") from exc

    # -- channels and deliveries ---------------------------------------------------

    def channel_types(self) -> list[str]:
        """``GET /cep/channels/types``."""
        return self._get(ChannelTypes, "/cep/channels/types").channels

    def channel_status(self) -> dict[str, ChannelStatus]:
        """``GET /cep/channels/status``: per channel configured, status, breaker..."""
        return self._get(ChannelStatusList, "/cep/channels/status").channels

    def channel(self, name: str) -> ChannelOut:
        """``GET /cep/channels/{name}``: the configuration, secrets masked."""
        return self._get(ChannelOut, f"/cep/channels/{name}")

    def configure_channel(self, name: str, config: Mapping[str, Any]) -> ChannelOut:
        """``PUT /cep/channels/{name}``: masked secrets sent back keep their value."""
        path = f"/cep/channels/{name}"
        response = self._call("PUT", path, body={"config": dict(config)}, has_body=True)
        return _parse(ChannelOut, response, path)

    def test_channel(
        self,
        channel: str,
        *,
        config: Mapping[str, Any] | None = None,
        message: str | None = None,
    ) -> ChannelTestResult:
        """``POST /cep/channels/test`` (the stored configuration unless ``config``)."""
        body = {
            "channel": channel,
            "config": dict(config) if config is not None else None,
            "test_message": message,
        }
        return self._post(ChannelTestResult, "/cep/channels/test", body)

    def dead_letters(
        self, *, status: DeliveryStatus = "dead", rule_id: str | None = None, limit: int = 100
    ) -> list[StoredDeadLetter]:
        """``GET /cep/deliveries``: deliveries that finally failed, newest first."""
        page = self._get(
            DeadLetterList, "/cep/deliveries", status=status, rule_id=rule_id, limit=limit
        )
        return page.deliveries

    def retry_delivery(self, dead_letter_id: str) -> RetryResult:
        """``POST /cep/deliveries/{id}/retry``: deliver again with the rule as it is now."""
        return self._post(RetryResult, f"/cep/deliveries/{dead_letter_id}/retry")

    # -- operations -------------------------------------------------------------------

    def stats(
        self,
        period: Literal["day", "week", "all"] = "day",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Stats:
        """``GET /cep/stats``: per rule p95/p99, per channel rates, the ACK backlog."""
        return self._get(Stats, "/cep/stats", period=period, since=since, until=until)

    def checks(self, period: Literal["day", "week"] = "day") -> Checklist:
        """``GET /cep/stats/checks``: the daily or weekly checklist."""
        return self._get(Checklist, "/cep/stats/checks", period=period)

    def scheduler_status(self) -> SchedulerStatus:
        """``GET /cep/scheduler/status``."""
        return self._get(SchedulerStatus, "/cep/scheduler/status")


def _detail(response: httpx.Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return body.get("detail", body) if isinstance(body, dict) else body


def _parse(model: type[M], response: httpx.Response, path: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ClientError(
            response.request.method,
            path,
            response.status_code,
            f"unexpected answer (not a {model.__name__}): {exc}",
        ) from exc


def _sse_changes(
    lines: Iterator[str],
    stop: threading.Event | None,
    deadline: float | None,
    on_open: Callable[[], None] | None = None,
) -> Iterator[EventChange]:
    """Frames of an SSE stream (``id``, ``event``, ``data`` lines, a blank line ends one)
    as changes; comment frames (``: ping``) only give ``stop`` and the deadline a chance.

    ``on_open`` is called at the first line: the server fixes where a stream without
    ``last_event_id`` starts before it sends anything (its ``: connected`` comment), but
    after the response's headers.
    """
    fields: dict[str, str] = {}
    for line in lines:
        if on_open is not None:
            on_open()
            on_open = None
        if stop is not None and stop.is_set():
            return
        if deadline is not None and not line and time.monotonic() >= deadline:
            return
        if line:
            name, _, value = line.partition(":")
            if name:  # a line starting with ':' is a comment
                value = value.removeprefix(" ")
                fields[name] = (
                    f"{fields[name]}\n{value}" if name == "data" and name in fields else value
                )
            continue
        if "data" in fields and fields.get("id", "").isdigit():
            change = {
                "seq": int(fields["id"]),
                "change": fields.get("event", "created"),
                "event": json.loads(fields["data"]),
            }
            yield EventChange.model_validate(change)
        fields = {}
