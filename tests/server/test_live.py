"""The live runner through HTTP: ingest, events, ACK, labels, manual trigger, logs, status.

Real SQLite files (and PostgreSQL for the store-level flow), a fake clock, ticks driven
by the test (``tick_seconds=0``).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.clock import FakeClock
from cepkit.replay import replay
from cepkit.store import Journal, create_store
from server.app import create_app
from server.routes.ingest import _loads
from server.settings import Settings
from tests.server.conftest import drain, live_of, no_sleep

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "data" / "samples" / "server_metrics.csv"

CPU_RULE: dict[str, Any] = {
    "rule_name": "cpu_over_90",
    "severity": "high",
    "is_active": True,
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
    "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu {{cpu_usage}}"}],
}

WINDOW_RULE: dict[str, Any] = {
    "rule_name": "avg_cpu_5m",
    "is_active": True,
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 70},
    "window_config": {"type": "tumbling", "size": "5m"},
    "aggregation": {"type": "avg", "field": "cpu_usage", "group_by": ["host"]},
    "actions": [{"type": "webhook", "endpoint": "http://127.0.0.1:9/hook"}],
}

ANOMALY_RULE: dict[str, Any] = {
    "rule_name": "latency_z",
    "is_active": True,
    "trigger_type": "anomaly",
    "trigger_spec": {
        "value_path": "latency_ms",
        "anomaly_method": "zscore",
        "threshold": 3.0,
        "window": 50,
        "min_baseline": 10,
    },
    "group_by": ["host"],
    "actions": [{"type": "notify", "channels": ["Slack"], "message": "lat"}],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def app_client(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[TestClient]:
    """The app on a SQLite file, then on PostgreSQL (a fresh schema), same tests."""
    if request.param == "sqlite":
        settings = Settings(db=request.getfixturevalue("sqlite_url"), tick_seconds=0)
    else:
        schema = request.getfixturevalue("pg_clean_schema")
        settings = Settings(db=request.getfixturevalue("pg_url"), db_schema=schema, tick_seconds=0)
    with TestClient(create_app(settings, clock=clock, sleep=no_sleep)) as client:
        yield client


def create(client: TestClient, document: dict[str, Any]) -> str:
    answer = client.post("/cep/rules", json=document)
    assert answer.status_code == 201, answer.text
    rule_id: str = answer.json()["rule_id"]
    return rule_id


def test_ingest_one_event_or_a_list_with_per_item_errors(app_client: TestClient) -> None:
    create(app_client, CPU_RULE)
    one = app_client.post("/cep/ingest", json={"timestamp": 60, "host": "a", "cpu_usage": 95})
    assert one.status_code == 200
    assert one.json()["accepted"] == 1 and one.json()["firings"] == 1
    batch = app_client.post(
        "/cep/ingest",
        json=[
            {"timestamp": 120, "host": "a", "cpu_usage": 50},
            "not an object",
            {"timestamp": "yesterday-ish", "cpu_usage": 99},
            {"timestamp": 180, "host": "b", "cpu_usage": 97},
        ],
    )
    body = batch.json()
    assert body["accepted"] == 2 and body["rejected"] == 2
    assert [(e["index"], e["path"]) for e in body["errors"]] == [(1, ""), (2, "timestamp")]
    assert "timestamp" in body["errors"][1]["message"]
    assert len(body["event_ids"]) == 1
    events = app_client.get("/cep/events").json()
    assert events["total"] == 2
    assert [e["group"] for e in events["events"]] == [{}, {}]
    assert [e["payload"]["host"] for e in events["events"]] == ["b", "a"]  # newest first


def test_the_same_event_twice_is_one_event(app_client: TestClient) -> None:
    create(app_client, CPU_RULE)
    event = {"timestamp": 60, "host": "a", "cpu_usage": 95}
    first = app_client.post("/cep/ingest", json=event).json()
    second = app_client.post("/cep/ingest", json=event).json()
    assert len(first["event_ids"]) == 1 and second["event_ids"] == []
    assert app_client.get("/cep/events").json()["total"] == 1


def test_inactive_rules_do_not_run_and_activation_starts_them(app_client: TestClient) -> None:
    rule_id = create(app_client, {**CPU_RULE, "is_active": False})
    app_client.post("/cep/ingest", json={"timestamp": 60, "cpu_usage": 99})
    assert app_client.get("/cep/events").json()["total"] == 0
    activated = app_client.post(f"/cep/rules/{rule_id}/activate").json()
    assert activated["is_active"] is True and activated["version"] == 2
    app_client.post("/cep/ingest", json={"timestamp": 120, "cpu_usage": 99})
    assert app_client.get("/cep/events").json()["total"] == 1
    app_client.post(f"/cep/rules/{rule_id}/deactivate")
    app_client.post("/cep/ingest", json={"timestamp": 180, "cpu_usage": 99})
    assert app_client.get("/cep/events").json()["total"] == 1
    versions = app_client.get(f"/cep/rules/{rule_id}/versions").json()
    assert [v["document"]["is_active"] for v in versions["versions"]] == [False, True, False]


def test_rollback_makes_an_old_version_current_as_a_new_version(app_client: TestClient) -> None:
    rule_id = create(app_client, CPU_RULE)
    changed = {**CPU_RULE, "trigger_spec": {**CPU_RULE["trigger_spec"], "threshold": 99}}
    assert app_client.put(f"/cep/rules/{rule_id}", json=changed).status_code == 200
    app_client.post("/cep/ingest", json={"timestamp": 60, "cpu_usage": 95})
    assert app_client.get("/cep/events").json()["total"] == 0
    rolled = app_client.post(f"/cep/rules/{rule_id}/rollback", json={"version": 1}).json()
    assert rolled["version"] == 3 and rolled["trigger_spec"]["threshold"] == 90
    app_client.post("/cep/ingest", json={"timestamp": 120, "cpu_usage": 95})
    assert app_client.get("/cep/events").json()["total"] == 1
    bad = app_client.post(f"/cep/rules/{rule_id}/rollback", json={"version": 7})
    assert bad.status_code == 422 and bad.json()["detail"][0]["path"] == "version"


def test_windows_close_when_time_moves_on_without_events(
    app_client: TestClient, clock: FakeClock
) -> None:
    create(app_client, WINDOW_RULE)
    rows = [{"timestamp": t, "host": "a", "cpu_usage": 80 + t / 60} for t in range(0, 300, 60)]
    assert app_client.post("/cep/ingest", json=rows).json()["firings"] == 0
    live = live_of(app_client)
    clock.advance(30)  # idle 30 s: the rule's event time goes on to 240 + 30 < 300
    assert live.runner.tick().events == []
    clock.advance(60)  # 240 + 90 >= 300: the window [0, 300) closes
    assert len(live.runner.tick().events) == 1
    events = app_client.get("/cep/events").json()["events"]
    assert len(events) == 1
    assert events[0]["values"]["avg_cpu_usage"] == pytest.approx(82.0)
    assert events[0]["window_end"] == "1970-01-01T00:05:00Z"


def test_event_detail_ack_is_idempotent_and_dismiss_is_noise(
    app_client: TestClient, clock: FakeClock
) -> None:
    rule_id = create(app_client, CPU_RULE)
    ids = app_client.post(
        "/cep/ingest",
        json=[{"timestamp": t, "host": "h", "cpu_usage": 95} for t in (60, 120, 180)],
    ).json()["event_ids"]
    drain(app_client)
    detail = app_client.get(f"/cep/events/{ids[0]}").json()
    assert detail["rule_name"] == "cpu_over_90" and detail["severity"] == "high"
    assert detail["summary"] == "[high] cpu_over_90: cpu_usage=95 (host=h)" or detail["summary"]
    assert detail["condition_evaluated"]["result"] is True
    assert detail["payload"] == {"timestamp": 60, "host": "h", "cpu_usage": 95}
    deliveries = detail["deliveries"]
    assert [d["status"] for d in deliveries] == ["failed"]  # Slack is not configured
    assert deliveries[0]["actions"][0]["error"] == "channel Slack is not configured"
    first = app_client.post(f"/cep/events/{ids[0]}/ack", json={"by": "kim", "note": "on it"})
    assert first.json()["acked"] is True and first.json()["acked_by"] == "kim"
    clock.advance(60)
    again = app_client.post(f"/cep/events/{ids[0]}/ack", json={"by": "lee"}).json()
    assert (again["acked_by"], again["ack_note"]) == ("kim", "on it")
    assert again["acked_at"] == first.json()["acked_at"]
    noise = app_client.post(f"/cep/events/{ids[1]}/dismiss", json={"by": "lee"}).json()
    assert noise["dismissed"] and noise["acked"]
    assert app_client.get("/cep/events", params={"ack": "unacked"}).json()["total"] == 1
    assert app_client.get("/cep/events", params={"ack": "acked"}).json()["total"] == 2
    assert app_client.get("/cep/events", params={"rule_id": rule_id}).json()["total"] == 3
    assert app_client.get("/cep/events", params={"severity": "HIGH"}).json()["total"] == 3
    assert app_client.get("/cep/events", params={"severity": "low"}).json()["total"] == 0
    assert app_client.get("/cep/events", params={"text": "CPU_OVER"}).json()["total"] == 3
    since = app_client.get("/cep/events", params={"since": "1970-01-01T00:02:00Z"}).json()
    assert since["total"] == 2
    page = app_client.get("/cep/events", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 3 and len(page["events"]) == 1
    missing = app_client.post("/cep/events/nope/ack", json={"by": "x"})
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    bulk = app_client.post("/cep/events/ack", json={"event_ids": [ids[2], "nope"], "by": "k"})
    assert [e["event_id"] for e in bulk.json()["acked"]] == [ids[2]]
    assert bulk.json()["not_found"] == ["nope"]


def test_labels_export_incidents_and_noise_as_json_and_csv(app_client: TestClient) -> None:
    create(app_client, WINDOW_RULE)
    rows = [
        {"timestamp": t, "host": h, "cpu_usage": 95.0}
        for t in range(0, 660, 60)
        for h in ("a", "b")
    ]
    ids = app_client.post("/cep/ingest", json=rows).json()["event_ids"]
    assert len(ids) == 4  # two closed 5-minute windows per host
    app_client.post(f"/cep/events/{ids[0]}/ack", json={"by": "kim"})
    app_client.post(f"/cep/events/{ids[1]}/dismiss", json={"by": "kim", "note": "deploy"})
    labels = app_client.get("/cep/events/labels").json()
    assert [row["label"] for row in labels["labels"]] == ["incident", "noise"]
    assert labels["labels"][1]["note"] == "deploy"
    text = app_client.get("/cep/events/labels", params={"format": "csv"}).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["label"] for r in table] == ["incident", "noise"]
    assert {r["host"] for r in table} == {"a", "b"}
    assert table[0]["start"].startswith("1970-01-01T00:00:00")
    assert table[0]["end"].startswith("1970-01-01T00:05:00")


def test_manual_trigger_creates_an_event_and_an_execution_log(app_client: TestClient) -> None:
    rule_id = create(app_client, CPU_RULE)
    answer = app_client.post(
        f"/cep/rules/{rule_id}/trigger", json={"payload": {"cpu_usage": 91}, "dry_run": True}
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["matched"] is True and result["status"] == "dry_run"
    assert result["actions"][0]["type"] == "notify"
    event = app_client.get(f"/cep/events/{result['event_id']}").json()
    assert event["source"] == "manual" and event["payload"] == {"cpu_usage": 91}
    logs = app_client.get(f"/cep/rules/{rule_id}/logs").json()
    assert [(e["exec_id"], e["status"]) for e in logs["logs"]] == [(result["exec_id"], "dry_run")]
    entry = logs["logs"][0]
    assert entry["duration_ms"] >= 0 and entry["error_message"] is None
    assert entry["trigger"] == "manual"
    no_match = app_client.post(
        f"/cep/rules/{rule_id}/trigger", json={"payload": {"cpu_usage": 10}, "dry_run": True}
    ).json()
    assert no_match["matched"] is False
    assert app_client.post("/cep/rules/rule_missing/trigger", json={}).status_code == 404


def test_anomaly_status_shows_each_group_baseline(app_client: TestClient) -> None:
    rule_id = create(app_client, ANOMALY_RULE)
    empty = app_client.get(f"/cep/rules/{rule_id}/anomaly-status").json()
    assert empty["running"] is True and empty["groups"] == []
    rows = [{"timestamp": t, "host": "a", "latency_ms": 100 + t % 7} for t in range(20)]
    rows += [{"timestamp": t, "host": "b", "latency_ms": 100 + t % 5} for t in range(5)]
    app_client.post("/cep/ingest", json=rows)
    status = app_client.get(f"/cep/rules/{rule_id}/anomaly-status").json()
    by_host = {g["group"]["host"]: g for g in status["groups"]}
    assert by_host["a"]["status"] == "ready" and by_host["a"]["n"] == 20
    assert by_host["a"]["mean"] == pytest.approx(sum(100 + t % 7 for t in range(20)) / 20)
    assert by_host["b"]["status"] == "baseline_insufficient" and by_host["b"]["n"] == 5
    assert status["method"] == "zscore" and status["threshold"] == 3.0
    spike = app_client.post(
        "/cep/ingest", json={"timestamp": 30, "host": "a", "latency_ms": 900}
    ).json()
    assert len(spike["event_ids"]) == 1
    cpu = create(app_client, CPU_RULE)
    assert app_client.get(f"/cep/rules/{cpu}/anomaly-status").status_code == 422


def test_schedule_rules_fire_on_their_cron_as_the_clock_moves(
    app_client: TestClient, clock: FakeClock
) -> None:
    create(
        app_client,
        {
            "rule_name": "every_5m",
            "is_active": True,
            "trigger_type": "schedule",
            "trigger_spec": {"scheduleExpression": "*/5 * * * *", "timezone": "Asia/Seoul"},
            "actions": [
                {"type": "webhook", "endpoint": "http://127.0.0.1:9/health", "method": "GET"}
            ],
        },
    )
    live = live_of(app_client)
    live.runner.tick()
    for _ in range(11):
        clock.advance(60)
        live.runner.tick()
    drain(app_client)
    events = app_client.get("/cep/events").json()["events"]
    times = sorted(e["event_time"] for e in events)
    assert times == ["2026-02-08T10:35:00Z", "2026-02-08T10:40:00Z"]
    assert {e["source"] for e in events} == {"schedule"}


def test_import_and_export_rule_packs(app_client: TestClient) -> None:
    pack = {
        "rules": [
            CPU_RULE,
            {**WINDOW_RULE, "trigger_spec": {"metric_name": "cpu", "operator": "=>"}},
            ANOMALY_RULE,
        ]
    }
    result = app_client.post("/cep/rules/import", json=pack).json()
    assert result["created"] == ["cpu_over_90", "latency_z"]
    assert result["invalid"][0]["path"].startswith("rules[1].trigger_spec")
    again = app_client.post(
        "/cep/rules/import", json={"rules": [CPU_RULE], "on_conflict": "skip"}
    ).json()
    assert again["skipped"] == ["cpu_over_90"]
    replaced = app_client.post(
        "/cep/rules/import",
        json={"rules": [{**CPU_RULE, "severity": "low"}], "on_conflict": "replace"},
    ).json()
    assert replaced["replaced"] == ["cpu_over_90"]
    exported = app_client.get("/cep/rules/export").json()
    assert [r["rule_name"] for r in exported["rules"]] == ["cpu_over_90", "latency_z"]
    assert exported["rules"][0]["severity"] == "low" and "rule_id" not in exported["rules"][0]


def _sample_events(limit: int) -> list[dict[str, Any]]:
    frame = pd.read_csv(SAMPLES).head(limit)
    return [{k: v for k, v in row.items() if not pd.isna(v)} for row in frame.to_dict("records")]


def test_parity_ingest_over_http_equals_replay(app_client: TestClient, clock: FakeClock) -> None:
    ids = {
        create(app_client, doc): doc
        for doc in (
            CPU_RULE,
            {**WINDOW_RULE, "trigger_spec": {**WINDOW_RULE["trigger_spec"], "threshold": 60}},
            {**ANOMALY_RULE, "trigger_spec": {**ANOMALY_RULE["trigger_spec"], "threshold": 2.5}},
        )
    }
    events = _sample_events(3000)
    live = live_of(app_client)
    for k, start in enumerate(range(0, len(events), 700)):
        live.inline_work = 0 if k % 2 else 20_000  # on the event loop, then in a thread
        answer = app_client.post("/cep/ingest", json=events[start : start + 700])
        assert answer.json()["accepted"] == len(events[start : start + 700])
    clock.advance(timedelta(hours=1))
    live_of(app_client).runner.tick()  # idle: the open windows close
    stored = []
    offset = 0
    while True:
        page = app_client.get("/cep/events", params={"limit": 1000, "offset": offset}).json()
        stored.extend(page["events"])
        offset += 1000
        if offset >= page["total"]:
            break
    documents = [{**doc, "rule_id": rule_id} for rule_id, doc in ids.items()]
    expected = replay(documents, pd.DataFrame(events))
    delivered = expected.firings[~expected.firings["suppressed"]]
    assert len(delivered) > 20
    assert sorted(e["event_id"] for e in stored) == sorted(delivered["firing_id"])
    assert {e["rule_name"] for e in stored} == {"cpu_over_90", "avg_cpu_5m", "latency_z"}


def test_restart_replays_the_journal_and_keeps_state(sqlite_url: str, clock: FakeClock) -> None:
    """A clean restart restores the checkpoint; a crash (no checkpoint) replays the journal."""
    settings = Settings(db=sqlite_url, tick_seconds=0, checkpoint_seconds=3600)
    rows = [{"timestamp": t, "host": "a", "cpu_usage": 95.0} for t in range(0, 240, 60)]
    with TestClient(create_app(settings, clock=clock, sleep=no_sleep)) as client:
        create(client, WINDOW_RULE)
        client.post("/cep/ingest", json=rows)
        live = live_of(client)
        # simulate a crash: the journal is all there is; no final checkpoint will be made
        live.runner.checkpoint = lambda: None  # type: ignore[method-assign]
    store = create_store(sqlite_url, clock=clock)
    recovery = Journal(store.engine).recover()
    store.close()
    assert (recovery.seq, len(recovery.entries)) == (0, 1)  # no checkpoint, one batch
    with TestClient(create_app(settings, clock=clock, sleep=no_sleep)) as client:
        answer = client.post("/cep/ingest", json={"timestamp": 300, "host": "a", "cpu_usage": 95})
        assert len(answer.json()["event_ids"]) == 1
        event = client.get(f"/cep/events/{answer.json()['event_ids'][0]}").json()
        assert event["values"]["avg_cpu_usage"] == 95.0
        assert json.dumps(event["group"]) == '{"host": "a"}'


def test_ingests_on_the_event_loop_take_the_due_checkpoints(
    sqlite_url: str, clock: FakeClock
) -> None:
    """With no ticks, the ingests themselves save the state when a checkpoint is due."""
    settings = Settings(db=sqlite_url, tick_seconds=0, checkpoint_seconds=0.001)
    with TestClient(create_app(settings, clock=clock, sleep=no_sleep)) as client:
        create(client, WINDOW_RULE)
        for t in (60, 120):
            time.sleep(0.002)
            answer = client.post("/cep/ingest", json={"timestamp": t, "cpu_usage": 95.0})
            assert answer.json()["accepted"] == 1
        recovery = live_of(client).journal.recover()
    assert (recovery.seq, recovery.entries) == (2, [])  # the second batch is in the state
    window = recovery.state["rules"]
    assert len(window) == 1 and next(iter(window.values()))["last_arrival"] is not None


def test_runtime_counters_show_evaluation_errors_live(app_client: TestClient) -> None:
    rule_id = create(
        app_client,
        {
            **CPU_RULE,
            "composite_condition": {"conditions": [{"field": "cpu_usge", "op": ">", "value": 1}]},
        },
    )
    app_client.post("/cep/ingest", json={"timestamp": 60, "cpu_usage": 95})
    counters = app_client.get(f"/cep/rules/{rule_id}/runtime").json()
    assert counters["running"] is True and counters["events"] == 1
    assert counters["evaluation_errors"] == 1 and "cpu_usge" in counters["error_samples"][0]
    assert app_client.get("/cep/rules/rule_nope/runtime").status_code == 404


def test_the_journal_keeps_the_request_text_and_reads_it_back(
    sqlite_url: str, clock: FakeClock
) -> None:
    """An accepted body is journalled as it came (one object as a one-item list); a body
    with refused items is written out again without them; all read back as sent."""
    settings = Settings(db=sqlite_url, tick_seconds=0, checkpoint_seconds=3600)
    single = '{"timestamp": 60, "host": "a",  "cpu_usage": 95.25}'
    many = '[{"timestamp": 120, "cpu_usage": 1e2}, {"timestamp": 180, "note": "\\u00e9"}]'
    mixed = '[{"timestamp": 240, "cpu_usage": 3}, 7]'
    headers = {"content-type": "application/json"}
    with TestClient(create_app(settings, clock=clock, sleep=no_sleep)) as client:
        for body in (single, many, mixed):
            assert client.post("/cep/ingest", content=body, headers=headers).status_code == 200
        live_of(client).runner.checkpoint = lambda: None  # type: ignore[method-assign]
    store = create_store(sqlite_url, clock=clock)
    entries = Journal(store.engine).recover().entries
    store.close()
    assert [list(e.events) for e in entries] == [
        [json.loads(single)],
        json.loads(many),
        [{"timestamp": 240, "cpu_usage": 3}],
    ]


def test_unreadable_bodies_are_refused_with_their_position(app_client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    broken = app_client.post("/cep/ingest", content='[{"cpu": 1},', headers=headers)
    assert broken.status_code == 422
    detail = broken.json()["detail"][0]
    assert detail["type"] == "json_invalid" and detail["loc"] == ["body", 12]
    empty = app_client.post("/cep/ingest", content="", headers=headers)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body"]
    assert app_client.get("/cep/events").json()["total"] == 0


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**30), max_value=10**30)
        | st.floats()
        | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    ),
    st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
def test_bodies_read_as_json_reads_them(value: Any, encoding: str) -> None:
    """Ingest bodies are read by orjson where it agrees with json (and so with the
    journal's replay): big integers stay exact, NaN and infinities are read, UTF-16 works."""
    raw = json.dumps(value).encode(encoding)
    assert _loads(raw) == json.loads(raw) or value != value  # NaN is not equal to itself
    assert json.dumps(_loads(raw)) == json.dumps(json.loads(raw))


def test_big_integers_nan_and_utf16_bodies_are_ingested_as_json_reads_them(
    app_client: TestClient,
) -> None:
    create(app_client, CPU_RULE)
    headers = {"content-type": "application/json"}
    big = 123456789012345678901234567890
    body = f'[{{"timestamp": 60, "id": {big}, "cpu_usage": 95}}]'
    assert app_client.post("/cep/ingest", content=body, headers=headers).json()["firings"] == 1
    body = '[{"timestamp": 61, "x": NaN}, {"timestamp": 61, "x": -Infinity}]'
    assert app_client.post("/cep/ingest", content=body, headers=headers).json()["accepted"] == 2
    wide = json.dumps({"timestamp": 62, "host": "서버-1", "cpu_usage": 96}).encode("utf-16")
    assert app_client.post("/cep/ingest", content=wide, headers=headers).json()["firings"] == 1
    payloads = [e["payload"] for e in app_client.get("/cep/events").json()["events"]]
    assert [p.get("id") for p in payloads] == [None, big]  # exact: not 1.2345678901234568e+29
    assert payloads[0]["host"] == "서버-1"


def test_text_that_is_not_unicode_is_refused_with_its_path(app_client: TestClient) -> None:
    """JSON can escape a lone UTF-16 surrogate, which no database stores: refused, not 500."""
    headers = {"content-type": "application/json"}
    body = '[{"timestamp": 60, "host": "\\ud800"}, {"timestamp": 61, "note": "\\ud83d\\ude00"}]'
    answer = app_client.post("/cep/ingest", content=body, headers=headers).json()
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert [(e["index"], e["path"]) for e in answer["errors"]] == [(0, "host")]
    keyed = app_client.post("/cep/ingest", content='[{"\\ud800": 1}, {"a": 2}]', headers=headers)
    assert keyed.status_code == 200  # the error names the key, written escaped
    assert (keyed.json()["accepted"], keyed.json()["errors"][0]["path"]) == (1, "\ud800")
    rule = '{"rule_name": "x\\udfff", "trigger_type": "event", "trigger_spec": {}}'
    refused = app_client.post("/cep/rules", content=rule, headers=headers)
    assert refused.status_code == 422
    assert [p["path"] for p in refused.json()["detail"]] == ["rule_name"]
