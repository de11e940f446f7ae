"""The scheduler and the metric poller through HTTP (guide Lab 3 step 4, Lab 9).

Schedule rules on a fake clock moved by the test (``tick_seconds=0``: the test calls
``live.scheduler.tick()``); metric polling against a real HTTP server on 127.0.0.1 with
``live.poller.poll_due()`` called by the test; one test with the real background tasks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock, SystemClock
from cepkit.store import create_store
from cepkit.store.polling import PollSnapshot, PollStore
from server.app import create_app
from server.settings import Settings
from tests.conftest import PG_URL
from tests.server.conftest import drain, free_port, live_of, wait_for

# --- a metrics endpoint on 127.0.0.1 ------------------------------------------------------


@dataclass
class MetricsServer:
    """Answers ``GET /metrics`` with ``{"data": {"cpu": <cpu>, "metrics": {...}}}``,
    ``/broken`` with 500, ``/text`` with plain text; records POSTs (webhook actions)."""

    base: str
    cpu: float = 50.0
    memory: float = 40.0
    posts: list[str] = field(default_factory=list)
    gets: int = 0


@pytest.fixture
def metrics() -> Iterator[MetricsServer]:
    state = MetricsServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.gets += 1
            if self.path == "/metrics":
                body = {
                    "data": {
                        "cpu": state.cpu,
                        "metrics": {"cpu": state.cpu, "memory": state.memory},
                    }
                }
                self._answer(200, json.dumps(body).encode(), "application/json")
            elif self.path == "/broken":
                self._answer(500, b'{"error": "down"}', "application/json")
            elif self.path == "/text":
                self._answer(200, b"cpu is fine", "text/plain")
            else:
                self._answer(404, b"{}", "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.posts.append(self.rfile.read(length).decode())
            self._answer(200, b"{}", "application/json")

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture
def app_client(sqlite_url: str, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(Settings(db=sqlite_url, tick_seconds=0), clock=clock)
    with TestClient(app) as client:
        yield client


@pytest.fixture(params=["sqlite", "postgresql"])
def both_client(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[TestClient]:
    """The app on a SQLite file, then on PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        settings = Settings(db=request.getfixturevalue("sqlite_url"), tick_seconds=0)
    else:
        schema = request.getfixturevalue("pg_clean_schema")
        settings = Settings(db=PG_URL, db_schema=schema, tick_seconds=0)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


def create(client: TestClient, document: dict[str, Any]) -> str:
    answer = client.post("/cep/rules", json=document)
    assert answer.status_code == 201, answer.text
    rule_id: str = answer.json()["rule_id"]
    return rule_id


def poll(client: TestClient) -> list[PollSnapshot]:
    """One round of the poller, on the app's event loop, at the fake clock's now."""
    assert client.portal is not None
    snapshots: list[PollSnapshot] = client.portal.call(live_of(client).poller.poll_due)
    return snapshots


def schedule_rule(name: str, cron: str, tz: str, hook: str) -> dict[str, Any]:
    return {
        "rule_name": name,
        "is_active": True,
        "trigger_type": "schedule",
        "trigger_spec": {"scheduleExpression": cron, "timezone": tz},
        "actions": [{"type": "webhook", "endpoint": hook, "method": "POST"}],
    }


def metric_rule(name: str, endpoint: str, hook: str, **spec: Any) -> dict[str, Any]:
    return {
        "rule_name": name,
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"endpoint": endpoint, **spec},
        "actions": [{"type": "webhook", "endpoint": hook, "method": "POST"}],
    }


def cpu_rule(metrics: MetricsServer, name: str = "polled_cpu", path: str = "/metrics") -> Any:
    return metric_rule(
        name,
        metrics.base + path,
        metrics.base + "/hook",
        value_path="data.cpu",
        metric_name="cpu",
        operator=">",
        threshold=90,
        interval="30s",
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- schedules ---------------------------------------------------------------------------


def test_a_seoul_schedule_fires_at_nine_seoul_time_and_reports_its_runs(
    app_client: TestClient, clock: FakeClock, metrics: MetricsServer
) -> None:
    # 2026-02-08 is a Sunday; the clock starts at 10:30 UTC (19:30 in Seoul)
    hook = metrics.base + "/hook"
    seoul = create(app_client, schedule_rule("seoul_9am", "0 9 * * 1-5", "Asia/Seoul", hook))
    utc = create(app_client, schedule_rule("utc_9am", "0 9 * * 1-5", "UTC", hook))
    live = live_of(app_client)

    before = app_client.get("/cep/scheduler/status").json()
    assert before["running"] is True and before["healthy"] is False
    assert before["problems"] == ["no tick yet"] and before["last_tick"] is None

    live.scheduler.tick()
    while clock.now() < at("2026-02-10T01:00:00+00:00"):
        clock.advance(timedelta(minutes=30))
        live.scheduler.tick()
    drain(app_client)

    events = app_client.get("/cep/events", params={"limit": 100}).json()["events"]
    fired = sorted((e["rule_id"], e["event_time"]) for e in events)
    assert fired == sorted(
        [
            (seoul, "2026-02-09T00:00:00Z"),  # Monday 09:00 in Seoul
            (seoul, "2026-02-10T00:00:00Z"),  # Tuesday 09:00 in Seoul
            (utc, "2026-02-09T09:00:00Z"),  # Monday 09:00 UTC
        ]
    )
    assert {e["source"] for e in events} == {"schedule"}

    status = app_client.get("/cep/scheduler/status").json()
    assert status["healthy"] is True and status["problems"] == []
    assert status["instance_count"] == 1 and status["rules_scheduled"] == 2
    assert status["rules_polled"] == 0 and status["missed_runs"] == 0
    assert status["lag_seconds"] == 0 and status["heartbeat_age_seconds"] == 0
    assert at(status["last_tick"]) == clock.now()
    assert status["ticks"] == 1 + 77  # every 30 minutes for 38.5 hours
    assert at(status["next_run"]) == at("2026-02-10T09:00:00+00:00")  # the UTC rule

    [instance] = app_client.get("/cep/scheduler/instances").json()
    assert instance["instance_id"] == status["instance_id"] and instance["running"] is True
    assert at(instance["heartbeat"]) == clock.now() and instance["ticks"] == status["ticks"]
    owned = {r["rule_id"]: r for r in instance["rules_owned"]}
    assert set(owned) == {seoul, utc}
    assert owned[seoul]["kind"] == "schedule" and owned[seoul]["timezone"] == "Asia/Seoul"
    assert owned[seoul]["schedule"] == "0 9 * * 1-5"
    assert at(owned[seoul]["last_run"]) == at("2026-02-10T00:00:00+00:00")
    assert at(owned[seoul]["next_run"]) == at("2026-02-11T00:00:00+00:00")
    assert owned[seoul]["next_run_local"] == "2026-02-11T09:00:00+09:00"
    assert at(owned[utc]["last_run"]) == at("2026-02-09T09:00:00+00:00")
    assert owned[utc]["next_run_local"] == "2026-02-10T09:00:00+00:00"
    assert at(instance["last_run"]) == at("2026-02-10T00:00:00+00:00")


def test_a_stalled_ticker_shows_as_lag_and_the_runs_catch_up(
    app_client: TestClient, clock: FakeClock, metrics: MetricsServer
) -> None:
    rule_id = create(
        app_client, schedule_rule("every_minute", "* * * * *", "UTC", metrics.base + "/hook")
    )
    live = live_of(app_client)
    live.scheduler.tick()
    clock.advance(150)  # 10:32:30, no tick: 10:31 and 10:32 are due
    status = app_client.get("/cep/scheduler/status").json()
    assert status["healthy"] is False
    assert status["heartbeat_age_seconds"] == 150 and status["lag_seconds"] == 90
    assert any("last tick" in p for p in status["problems"])
    assert any("late" in p for p in status["problems"])

    assert len(live.scheduler.tick().events) == 2  # the due runs fire late, not lost
    status = app_client.get("/cep/scheduler/status").json()
    assert status["healthy"] is True and status["lag_seconds"] == 0
    assert status["missed_runs"] == 0
    [instance] = app_client.get("/cep/scheduler/instances").json()
    [owned] = instance["rules_owned"]
    assert owned["rule_id"] == rule_id
    assert at(owned["last_run"]) == at("2026-02-08T10:32:00+00:00")
    assert at(owned["next_run"]) == at("2026-02-08T10:33:00+00:00")
    drain(app_client)


def test_runs_skipped_after_an_edit_before_the_next_tick_are_counted_as_missed(
    app_client: TestClient, clock: FakeClock, metrics: MetricsServer
) -> None:
    document = schedule_rule("every_5m", "*/5 * * * *", "UTC", metrics.base + "/hook")
    rule_id = create(app_client, document)
    live = live_of(app_client)
    live.scheduler.tick()
    clock.advance(300)
    assert len(live.scheduler.tick().events) == 1  # 10:35
    edited = {**document, "description": "edited"}
    assert app_client.put(f"/cep/rules/{rule_id}", json=edited).status_code == 200
    clock.advance(720)  # 10:47, no tick since the edit at 10:35: 10:40 and 10:45 skipped
    assert live.scheduler.tick().events == []  # the new runtime starts its schedule here
    clock.advance(180)
    assert len(live.scheduler.tick().events) == 1  # 10:50
    status = app_client.get("/cep/scheduler/status").json()
    assert status["missed_runs"] == 2
    [instance] = app_client.get("/cep/scheduler/instances").json()
    [owned] = instance["rules_owned"]
    assert owned["missed_runs"] == 2
    assert at(owned["last_run"]) == at("2026-02-08T10:50:00+00:00")
    drain(app_client)


# --- metric polling ----------------------------------------------------------------------


def test_a_polled_metric_is_stored_and_fires_when_it_crosses_the_threshold(
    both_client: TestClient, clock: FakeClock, metrics: MetricsServer
) -> None:
    app_client = both_client
    rule_id = create(app_client, cpu_rule(metrics))

    metrics.cpu = 50
    [first] = poll(app_client)
    assert (first.rule_id, first.status, first.value, first.http_status) == (
        rule_id,
        "ok",
        50,
        200,
    )
    assert first.event_ids == [] and first.polled_at == clock.now()
    assert first.latency_ms is not None and first.latency_ms > 0
    assert first.raw is not None and '"cpu": 50' in first.raw
    assert poll(app_client) == []  # not due again before 30 s
    assert metrics.gets == 1

    clock.advance(30)
    metrics.cpu = 93
    [second] = poll(app_client)
    assert second.status == "ok" and second.value == 93 and len(second.event_ids) == 1
    drain(app_client)

    events = app_client.get("/cep/events").json()["events"]
    assert [e["event_id"] for e in events] == second.event_ids
    assert events[0]["rule_id"] == rule_id
    assert events[0]["payload"]["cpu"] == 93 and events[0]["payload"]["source"] == "poll"
    assert events[0]["event_time"] == "2026-02-08T10:30:30Z"

    polling = app_client.get("/cep/scheduler/metric-polling").json()
    assert polling["running"] is False and polling["total"] == 1  # tick_seconds=0: no task
    [rule] = polling["rules"]
    assert rule["rule_id"] == rule_id and rule["endpoint"] == metrics.base + "/metrics"
    assert rule["value_path"] == "data.cpu" and rule["metric_name"] == "cpu"
    assert rule["interval"] == "30s" and rule["interval_seconds"] == 30
    assert rule["pollable"] is True and rule["last_status"] == "ok"
    assert rule["last_value"] == 93 and rule["polls"] == 2 and rule["errors"] == 0
    assert at(rule["last_poll"]) == clock.now()
    assert at(rule["next_poll"]) == clock.now() + timedelta(seconds=30)

    latest = app_client.get("/cep/scheduler/metric-polling/snapshots/latest").json()
    assert latest["total"] == 1
    assert latest["snapshots"][0]["value"] == 93
    assert latest["snapshots"][0]["event_ids"] == second.event_ids
    history = app_client.get(
        "/cep/scheduler/metric-polling/snapshots", params={"rule_id": rule_id}
    ).json()
    assert [s["value"] for s in history["snapshots"]] == [93, 50]

    status = app_client.get("/cep/scheduler/status").json()
    assert status["rules_polled"] == 1 and status["rules_scheduled"] == 0
    [instance] = app_client.get("/cep/scheduler/instances").json()
    [owned] = instance["rules_owned"]
    assert owned["kind"] == "poll" and owned["schedule"] == "every 30s"
    assert at(owned["next_run"]) == clock.now() + timedelta(seconds=30)


def test_failing_endpoints_give_error_snapshots_and_no_events(
    app_client: TestClient, clock: FakeClock, metrics: MetricsServer
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/metrics"  # nobody listens there
    ids = {
        "broken": create(app_client, cpu_rule(metrics, "broken", "/broken")),
        "text": create(app_client, cpu_rule(metrics, "text", "/text")),
        "refused": create(
            app_client,
            metric_rule(
                "refused",
                closed,
                metrics.base + "/hook",
                value_path="data.cpu",
                metric_name="cpu",
                operator=">",
                threshold=90,
            ),
        ),
        "no_path": create(
            app_client,
            metric_rule(
                "no_path",
                metrics.base + "/metrics",
                metrics.base + "/hook",
                value_path="data.disk",
                metric_name="disk",
                operator=">",
                threshold=90,
            ),
        ),
        "relative": create(
            app_client,
            metric_rule(
                "relative",
                "/api/metrics/system",
                metrics.base + "/hook",
                value_path="data.metrics",
            ),
        ),
    }
    metrics.cpu = 99
    snapshots = {s.rule_name: s for s in poll(app_client)}
    assert set(snapshots) == {"broken", "text", "refused", "no_path"}
    assert all(s.status == "error" and s.event_ids == [] for s in snapshots.values())
    assert snapshots["broken"].http_status == 500 and snapshots["broken"].error == "HTTP 500"
    assert snapshots["broken"].raw == '{"error": "down"}'
    assert snapshots["text"].error == "the answer is not JSON"
    assert snapshots["refused"].http_status is None
    assert snapshots["refused"].error is not None
    assert snapshots["refused"].error.startswith("ConnectError")
    assert snapshots["no_path"].error == "value_path 'data.disk' is not in the answer"
    assert app_client.get("/cep/events").json()["total"] == 0

    polling = {
        r["rule_name"]: r for r in app_client.get("/cep/scheduler/metric-polling").json()["rules"]
    }
    assert polling["relative"]["pollable"] is False and polling["relative"]["next_poll"] is None
    assert "relative endpoint" in polling["relative"]["problem"]
    assert polling["broken"]["last_status"] == "error" and polling["broken"]["errors"] == 1
    assert polling["broken"]["last_http_status"] == 500

    latest = app_client.get(
        "/cep/scheduler/metric-polling/snapshots/latest",
        params={"rule_id": [ids["broken"], ids["refused"]]},
    ).json()
    assert {s["rule_id"] for s in latest["snapshots"]} == {ids["broken"], ids["refused"]}

    # the poller goes on: each rule again after its interval (30 s, or the default 60 s)
    clock.advance(30)
    assert {s.rule_name for s in poll(app_client)} == {"broken", "text"}
    clock.advance(30)
    assert {s.rule_name for s in poll(app_client)} == {"broken", "text", "no_path", "refused"}
    status = app_client.get("/cep/scheduler/status").json()
    assert status["rules_polled"] == 4  # the relative endpoint is not polled


def test_a_polled_object_is_spread_into_the_event_guide_data_metrics(
    app_client: TestClient, metrics: MetricsServer
) -> None:
    rule = metric_rule(
        "system_resource_alert",
        metrics.base + "/metrics",
        metrics.base + "/hook",
        value_path="data.metrics",
        method="GET",
    )
    rule["composite_condition"] = {
        "conditions": [
            {"field": "cpu", "op": ">", "value": 80},
            {"field": "memory", "op": ">", "value": 70},
        ],
        "logic": "OR",
    }
    create(app_client, rule)
    metrics.cpu, metrics.memory = 85, 30
    [snapshot] = poll(app_client)
    assert snapshot.value == {"cpu": 85, "memory": 30} and len(snapshot.event_ids) == 1
    drain(app_client)
    [event] = app_client.get("/cep/events").json()["events"]
    assert event["payload"]["cpu"] == 85 and event["payload"]["memory"] == 30


def test_the_background_tasks_tick_and_poll_on_their_own(
    sqlite_url: str, metrics: MetricsServer
) -> None:
    app = create_app(Settings(db=sqlite_url, tick_seconds=0.05), clock=SystemClock())
    with TestClient(app) as client:
        create(
            client,
            {
                **cpu_rule(metrics),
                "trigger_spec": {**cpu_rule(metrics)["trigger_spec"], "interval": "1s"},
            },
        )
        live = live_of(client)
        wait_for(lambda: live.poller.snapshots.count() >= 2, timeout=15)
        status = client.get("/cep/scheduler/status").json()
        assert status["running"] is True and status["ticks"] > 0
        assert status["healthy"] is True, status["problems"]
        polling = client.get("/cep/scheduler/metric-polling").json()
        assert polling["running"] is True and polling["rules"][0]["last_status"] == "ok"
    assert live.poller.running is False


def test_snapshot_store_on_postgresql(pg_clean_schema: str, clock: FakeClock) -> None:
    store = create_store(PG_URL, clock=clock, schema=pg_clean_schema)
    try:
        polls = PollStore(store.engine)
        polls.create_table()
        rule = f"rule_pg_{id(polls):x}"
        for value in range(5):
            polls.add(
                PollSnapshot(
                    rule_id=rule,
                    rule_name="cpu",
                    endpoint="http://127.0.0.1/metrics",
                    polled_at=clock.advance(30),
                    status="ok",
                    value={"cpu": value},
                    http_status=200,
                    latency_ms=1.5,
                )
            )
        [latest] = polls.latest([rule])
        assert latest.value == {"cpu": 4} and latest.polled_at == clock.now()
        assert polls.prune(rule, keep=2) == 3
        assert [s.value for s in polls.history(rule)] == [{"cpu": 4}, {"cpu": 3}]
        assert polls.count(rule) == 2
    finally:
        store.close()
