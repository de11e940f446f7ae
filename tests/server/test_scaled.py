"""Scaled mode: two API replicas behind one Redis and one PostgreSQL, the rules in the flow.

An event ingested through replica A goes through the Redis input stream to the Bytewax
flow (in a thread of this process), its firing comes back on the firings stream, one
replica stores it, and an SSE client on replica B sees it (woken through pub/sub).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from cepkit.flow import FlowStreams, RuleCatalog, StreamWriter, build_flow, run_flow
from server.app import create_app
from server.live import LiveServices
from server.settings import Settings
from tests.conftest import PG_URL
from tests.fakes import FakeService, service
from tests.server.conftest import client_for, serving, wait_for

__all__ = ["service"]  # the fake-service fixture, used by name

RULE: dict[str, Any] = {
    "rule_name": "cpu_over_90",
    "is_active": True,
    "group_by": ["host"],
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
    "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu {{cpu_usage}}"}],
}


def _sse_created(base: str, frames: queue.Queue[dict[str, Any]], stop: threading.Event) -> None:
    """Read ``/cep/events/stream`` and queue the ``created`` events (as JSON) until
    ``stop`` is set (checked at each ping, every 0.2 s)."""
    with (
        httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", "/cep/events/stream", params={"ping_seconds": 0.2}) as response,
    ):
        kind = ""
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                kind = line.partition(":")[2].strip()
            elif line.startswith("data:") and kind == "created":
                frames.put(json.loads(line.partition(":")[2]))


def _settings(schema: str, redis_url: str, prefix: str) -> Settings:
    return Settings(
        db=PG_URL,
        db_schema=schema,
        tick_seconds=0,
        mode="scaled",
        redis_url=redis_url,
        redis_prefix=prefix,
        dashboards=False,
    )


@pytest.fixture
def replicas(
    pg_clean_schema: str, redis_server: str, redis_prefix: str
) -> Iterator[tuple[str, str, Any, Any]]:
    """Base URLs and apps of two scaled replicas."""
    settings = _settings(pg_clean_schema, redis_server, redis_prefix)
    app_a = create_app(settings, clock=FakeClock())
    app_b = create_app(settings, clock=FakeClock())
    with serving(app_a) as a, serving(app_b) as b:
        yield a, b, app_a, app_b


def test_an_event_ingested_on_a_streams_from_b(
    replicas: tuple[str, str, Any, Any], pg_clean_schema: str, redis_server: str, redis_prefix: str
) -> None:
    a, b, _, app_b = replicas
    with client_for(a) as api_a, client_for(b) as api_b:
        assert api_a.post("/cep/rules", json=RULE).status_code == 201
        streams = FlowStreams(url=redis_server, prefix=redis_prefix)
        catalog = RuleCatalog.of_store(PG_URL, schema=pg_clean_schema, refresh_seconds=0.2)
        flow = threading.Thread(target=run_flow, args=(build_flow(streams, catalog),))
        flow.start()
        frames: queue.Queue[dict[str, Any]] = queue.Queue()
        stop = threading.Event()
        reader = threading.Thread(target=_sse_created, args=(b, frames, stop), daemon=True)
        reader.start()
        try:
            wait_for(lambda: api_b.get("/cep/events").status_code == 200)
            answer = api_a.post(
                "/cep/ingest",
                json=[
                    {"timestamp": "2026-02-08T10:30:00Z", "host": "web-1", "cpu_usage": 95},
                    {"timestamp": "not a time", "host": "web-2", "cpu_usage": 99},
                    {"timestamp": "2026-02-08T10:30:05Z", "host": "web-2", "cpu_usage": 20},
                ],
            ).json()
            assert answer["accepted"] == 2
            assert answer["errors"] == [
                {"index": 1, "path": "timestamp", "message": answer["errors"][0]["message"]}
            ]
            created = frames.get(timeout=20)
            assert created["rule_name"] == "cpu_over_90"
            assert created["payload"]["host"] == "web-1"
            live_b: LiveServices = app_b.state.live
            assert live_b.scaled is not None and live_b.scaled.wakeups >= 1  # via pub/sub
            events = api_b.get("/cep/events").json()
            assert [e["event_id"] for e in events["events"]] == [created["event_id"]]
        finally:
            stop.set()
            writer = StreamWriter(streams)
            writer.end()
            writer.close()
            flow.join(timeout=30)
            catalog.close()
            reader.join(timeout=10)
        assert not flow.is_alive()


def test_embedded_redis_takes_ingest_to_the_stream(sqlite_url: str) -> None:
    settings = Settings(
        db=sqlite_url, tick_seconds=0, mode="scaled", redis_url="embedded", dashboards=False
    )
    with TestClient(create_app(settings, clock=FakeClock())) as client:
        live: LiveServices = client.app.state.live  # type: ignore[attr-defined]
        assert live.embedded_redis is not None and live.scaled is not None
        answer = client.post("/cep/ingest", json={"host": "a", "cpu_usage": 1}).json()
        assert answer["accepted"] == 1
        redis_client = live.scaled.streams.client()
        ((_, fields),) = redis_client.xrange(live.scaled.streams.inputs()[0])
        redis_client.close()
        assert json.loads(fields[b"events"]) == [{"host": "a", "cpu_usage": 1}]
    with pytest.raises(ValueError, match="scaled mode needs redis_url"):
        LiveServices(live.store, clock=FakeClock(), mode="scaled")


def test_one_replica_schedules_and_polls_and_another_takes_over(
    pg_clean_schema: str, redis_server: str, redis_prefix: str, service: FakeService
) -> None:
    """Two scaled replicas share a lease in Redis: only its holder polls a metric rule's
    endpoint (the other reports itself a healthy standby); when the holder stops, the
    lease lapses and the other replica takes it over and polls."""
    metrics = service.route("/metrics", 200, body='{"data": {"cpu": 42}}')
    settings = _settings(pg_clean_schema, redis_server, redis_prefix).model_copy(
        update={"tick_seconds": 0.1}
    )
    rule = {
        "rule_name": "polled_cpu",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {
            "endpoint": metrics,
            "value_path": "data.cpu",
            "metric_name": "cpu",
            "operator": ">",
            "threshold": 90,
            "interval": "1s",
        },
        "actions": [{"type": "store", "target": "events"}],
    }
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(serving(create_app(settings, clock=FakeClock())))
        b_stack = contextlib.ExitStack()
        b = b_stack.enter_context(serving(create_app(settings, clock=FakeClock())))
        with client_for(a) as api:
            assert api.post("/cep/rules", json=rule).status_code == 201

        def roles() -> dict[str, bool]:
            out = {}
            for name, base in (("a", a), ("b", b)):
                with client_for(base) as api:
                    status = api.get("/cep/scheduler/status").json()
                    assert status["healthy"], status
                    out[name] = status["leading"]
            return out

        wait_for(lambda: len(service.hits("/metrics")) >= 1)

        def split() -> dict[str, bool] | None:
            found = roles()
            return found if sorted(found.values()) == [False, True] else None

        leading = wait_for(split)
        polls = {}
        for name, base in (("a", a), ("b", b)):
            with client_for(base) as api:
                [polled] = api.get("/cep/scheduler/metric-polling").json()["rules"]
                polls[name] = polled["polls"]
        leader = "a" if leading["a"] else "b"
        assert polls[leader] >= 1 and polls["b" if leader == "a" else "a"] == 0
        if leader == "b":  # stop the leader, then the other replica must take over
            b_stack.close()
            wait_for(lambda: _leads(a), timeout=15)
        else:
            stack.close()
            wait_for(lambda: _leads(b), timeout=15)
        b_stack.close()


def _leads(base: str) -> bool:
    with client_for(base) as api:
        leading: bool = api.get("/cep/scheduler/status").json()["leading"]
        return leading


def test_suppressions_opened_by_the_flow_are_listed_by_every_replica(
    replicas: tuple[str, str, Any, Any], pg_clean_schema: str, redis_server: str, redis_prefix: str
) -> None:
    a, b, _, _ = replicas
    rule = {**RULE, "suppression": {"interval": "10m", "key": ["host"]}}
    with client_for(a) as api_a, client_for(b) as api_b:
        rule_id = api_a.post("/cep/rules", json=rule).json()["rule_id"]
        streams = FlowStreams(url=redis_server, prefix=redis_prefix)
        catalog = RuleCatalog.of_store(PG_URL, schema=pg_clean_schema, refresh_seconds=0.2)
        flow = threading.Thread(target=run_flow, args=(build_flow(streams, catalog),))
        flow.start()
        now = time.time()
        try:
            events = [
                {"timestamp": now - 20, "host": "web-1", "cpu_usage": 95},
                {"timestamp": now - 10, "host": "web-1", "cpu_usage": 97},  # suppressed
                {"timestamp": now - 5, "host": "web-2", "cpu_usage": 99},
            ]
            assert api_a.post("/cep/ingest", json=events).json()["accepted"] == 3
            path = f"/cep/rules/{rule_id}/suppressions"

            def both_hosts() -> dict[str, Any] | None:
                found: dict[str, Any] = api_b.get(path).json()
                return found if len(found["suppressions"]) == 2 else None

            listed = wait_for(both_hosts)
            assert api_a.get(path).json() == listed
            fired = {e["group"]["host"]: e for e in api_b.get("/cep/events").json()["events"]}
            assert sorted(fired) == ["web-1", "web-2"]
            assert [s["key"] for s in listed["suppressions"]] == [
                {"host": "web-1"},
                {"host": "web-2"},
            ]
            for item in listed["suppressions"]:
                opened = fired[item["key"]["host"]]
                assert item["firing_id"] == opened["event_id"]
                until = datetime.fromisoformat(item["until"]).timestamp()
                assert until == pytest.approx(
                    datetime.fromisoformat(opened["event_time"]).timestamp() + 600
                )
        finally:
            writer = StreamWriter(streams)
            writer.end()
            writer.close()
            flow.join(timeout=30)
            catalog.close()
        assert not flow.is_alive()
