"""The ``store`` action in the server: the events table, a CSV file, a Redis stream."""

from __future__ import annotations

import asyncio
import contextvars
import csv
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cepkit.actions.runtime import Job, firing_record
from cepkit.clock import FakeClock
from cepkit.firing import Firing
from cepkit.rules import Rule
from cepkit.store import EventStore, create_store
from server.app import create_app
from server.live import LiveServices
from server.settings import Settings
from server.sinks import EventsSink, parse_sinks


def test_store_actions_append_to_the_events_table_a_csv_and_a_redis_stream(
    sqlite_url: str, clock: FakeClock, tmp_path: Path, redis_server: str
) -> None:
    stream = f"cepkit-test-{uuid.uuid4().hex[:8]}:firings"
    sinks = {
        "audit": {"type": "csv", "path": str(tmp_path / "audit.csv")},
        "bus": {"type": "redis_stream", "url": redis_server, "stream": stream},
    }
    settings = Settings(db=sqlite_url, tick_seconds=0, sinks=json.dumps(sinks))
    rule: dict[str, Any] = {
        "rule_name": "cpu_store",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
        "actions": [
            {"type": "store", "target": "events"},
            {"type": "store", "target": "audit"},
            {"type": "store", "target": "bus"},
            {"type": "store", "target": "nowhere"},
        ],
    }
    client = redis.Redis.from_url(redis_server)
    try:
        with TestClient(create_app(settings, clock=clock)) as app:
            rule_id = app.post("/cep/rules", json=rule).json()["rule_id"]
            ids = app.post(
                "/cep/ingest", json={"timestamp": 60, "host": "a", "cpu_usage": 95}
            ).json()["event_ids"]
            live = app.app.state.live  # type: ignore[attr-defined]
            assert isinstance(live, LiveServices) and app.portal is not None
            app.portal.call(live.actions.join)
            log = app.get(f"/cep/rules/{rule_id}/logs").json()["logs"][0]
            statuses = [a["status"] for a in log["actions"]]
            assert statuses == ["success", "success", "success", "failed"]
            assert log["status"] == "partial"
            assert "no store named 'nowhere'" in log["actions"][3]["error"]
            assert app.get("/cep/events").json()["total"] == 1  # the same firing, once
        with (tmp_path / "audit.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert [r["firing_id"] for r in rows] == ids
        entries = client.xrange(stream)
        assert len(entries) == 1
        fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
        assert fields["firing_id"] == ids[0]
    finally:
        client.delete(stream)
        client.close()


def test_sink_configuration_errors_name_the_sink() -> None:
    with pytest.raises(ValueError, match=r"CEPKIT_SINKS.audit.path"):
        parse_sinks('{"audit": {"type": "csv"}}')
    with pytest.raises(ValueError, match="CEPKIT_SINKS"):
        parse_sinks('{"x": {"type": "kafka"}}')


def test_the_events_sink_tells_the_streams_of_an_event_it_made(
    sqlite_url: str, clock: FakeClock
) -> None:
    """A firing the runner did not store (here: made by hand) becomes a ``store`` event
    and wakes the SSE streams; one already stored does neither."""
    store = create_store(sqlite_url, clock=clock)
    events = EventStore(store.engine, clock=clock)
    heard: list[None] = []
    tenant = contextvars.ContextVar("tenant", default="acme")
    sink = EventsSink(events, tenant, lambda: heard.append(None))
    rule = Rule.model_validate(
        {"rule_name": "cpu", "trigger_type": "event", "trigger_spec": {}, "actions": []}
    )
    firing = Firing.build(
        rule_key="r", rule_id="r", rule_name="cpu", severity="high", event_time=60
    )
    record = {**firing_record(Job(rule, firing, {})), "stored_at": "now"}
    try:
        asyncio.run(sink.append(record))
        assert len(heard) == 1
        stored = events.get(firing.firing_id, tenant="acme")
        assert stored.source == "store" and stored.rule_name == "cpu"
        asyncio.run(sink.append(record))  # stored already: nothing new to tell
        assert len(heard) == 1
    finally:
        store.close()
