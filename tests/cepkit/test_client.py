"""``cepkit.client.Client`` against a real server (uvicorn in a thread, SQLite file)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cepkit.client import Client
from cepkit.clock import FakeClock
from cepkit.errors import ClientError
from cepkit.store.events import EventChange
from server.app import create_app
from server.settings import Settings
from tests.fakes import FakeService, free_port, service
from tests.server.conftest import no_sleep, serving, wait_for

__all__ = ["service"]  # the fake-service fixture, used by name

SECRET = "/services/T000/B000/secret-token-123"


def cpu_rule(name: str = "cpu_over_90", **extra: Any) -> dict[str, Any]:
    return {
        "rule_name": name,
        "is_active": True,
        "severity": "critical",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
        "actions": [{"type": "notify", "channels": ["Slack"], "message": "CPU {{cpu_usage}}"}],
        **extra,
    }


@pytest.fixture
def base(sqlite_url: str) -> Iterator[str]:
    app = create_app(Settings(db=sqlite_url, tick_seconds=0), clock=FakeClock(), sleep=no_sleep)
    with serving(app) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[Client]:
    with Client(base) as api:
        yield api


def test_rules_round_trip_with_versions_rollback_and_activation(client: Client) -> None:
    created = client.create_rule(cpu_rule())
    assert created.rule_name == "cpu_over_90" and created.version == 1
    assert [r.rule_id for r in client.rules()] == [created.rule_id]
    assert client.rule(created.rule_id).model_extra["trigger_spec"]["threshold"] == 90  # type: ignore[index]
    updated = client.update_rule(
        created.rule_id,
        cpu_rule(trigger_spec={"metric_name": "cpu_usage", "operator": ">", "threshold": 95}),
    )
    assert updated.version == 2
    assert client.deactivate(created.rule_id).model_extra["is_active"] is False  # type: ignore[index]
    assert client.rules(active=True) == []
    assert client.activate(created.rule_id).version == 4
    back = client.rollback(created.rule_id, 1)
    assert back.version == 5 and back.model_extra["trigger_spec"]["threshold"] == 90  # type: ignore[index]
    history = client.versions(created.rule_id)
    assert history.total == 5 and [v.version for v in history.versions] == [1, 2, 3, 4, 5]
    form = client.create_rule_from_form(cpu_rule("from_form"))
    assert form.message == "Rule created from form." and form.rule.rule_name == "from_form"
    client.delete_rule(form.rule.rule_id)
    with pytest.raises(ClientError) as gone:
        client.rule(form.rule.rule_id)
    assert gone.value.status_code == 404 and "not found" in str(gone.value)


def test_errors_carry_the_status_and_every_json_path(client: Client) -> None:
    bad = cpu_rule(trigger_spec={"metric_name": "cpu", "operator": "gt", "threshold": 1})
    bad["window_config"] = {"type": "tumbling", "size": "7q"}
    with pytest.raises(ClientError) as refused:
        client.create_rule(bad)
    paths = {problem.path for problem in refused.value.problems}
    assert refused.value.status_code == 422
    assert paths >= {"trigger_spec.operator", "window_config.size"}
    assert "trigger_spec.operator" in str(refused.value)
    assert {p.path for p in Client.validate(bad)} == paths  # the same validator, no round trip
    client.create_rule(cpu_rule())
    with pytest.raises(ClientError) as conflict:
        client.create_rule(cpu_rule())
    assert conflict.value.status_code == 409
    with pytest.raises(ClientError) as query:
        client.events(limit=0)
    assert query.value.status_code == 422 and query.value.problems[0].path == "query.limit"


def test_unreachable_server_and_bad_base_url() -> None:
    with (
        Client(f"http://127.0.0.1:{free_port()}", timeout=2) as api,
        pytest.raises(ClientError) as no,
    ):
        api.rules()
    assert no.value.status_code is None and "GET /cep/rules: no answer" in str(no.value)
    with pytest.raises(ValueError, match="base_url"):
        Client("127.0.0.1:8000")


def test_simulate_trigger_logs_and_runtime(client: Client) -> None:
    rule_id = client.create_rule(cpu_rule()).rule_id
    sim = client.simulate(rule_id, {"cpu_usage": 95})
    assert sim.matched and sim.triggered_actions == ["notify"]
    missing = client.simulate(rule_id, {"memory": 1})
    assert not missing.matched and missing.errors
    run = client.trigger(rule_id, {"cpu_usage": 97}, dry_run=True)
    assert run.matched and run.status == "dry_run"
    logs = client.logs(rule_id)
    assert logs.total == 1 and logs.logs[0].exec_id == run.exec_id
    assert client.event(run.event_id).source == "manual"
    counters = client.runtime(rule_id)
    assert counters.running and counters.rule_id == rule_id
    with pytest.raises(ClientError) as not_anomaly:
        client.anomaly_status(rule_id)
    assert not_anomaly.value.problems[0].path == "trigger_type"


def test_anomaly_status(client: Client) -> None:
    rule = {
        "rule_name": "latency_anomaly",
        "is_active": True,
        "trigger_type": "anomaly",
        "trigger_spec": {"value_path": "latency", "anomaly_method": "zscore", "threshold": 3},
        "actions": [{"type": "store", "target": "events"}],
    }
    rule_id = client.create_rule(rule).rule_id
    client.ingest([{"latency": 10.0 + i % 3} for i in range(5)])
    status = client.anomaly_status(rule_id)
    assert status.method == "zscore" and status.running
    assert status.groups and status.groups[0].status == "baseline_insufficient"


def test_suppressions(client: Client) -> None:
    rule = cpu_rule(
        suppression={"interval": "10m"}, actions=[{"type": "store", "target": "events"}]
    )
    rule_id = client.create_rule(rule).rule_id
    assert client.suppressions(rule_id).suppressions == []
    client.ingest([{"timestamp": 60, "cpu_usage": 95}, {"timestamp": 90, "cpu_usage": 99}])
    listed = client.suppressions(rule_id)
    assert listed.rule_id == rule_id
    [whole_rule] = listed.suppressions
    assert whole_rule.key == {} and whole_rule.until == datetime.fromtimestamp(660, UTC)
    with pytest.raises(ClientError) as missing:
        client.suppressions("rule_nope")
    assert missing.value.status_code == 404


def test_ingest_events_filters_ack_dismiss_and_labels(client: Client) -> None:
    rule_id = client.create_rule(cpu_rule()).rule_id
    result = client.ingest(
        [{"host": f"web-{i}", "cpu_usage": 91 + i, "timestamp": 60 + i} for i in range(4)]
        + [{"timestamp": "yesterday"}]
    )
    assert result.accepted == 4 and result.rejected == 1
    assert result.errors[0].index == 4 and result.errors[0].path == "timestamp"
    assert len(result.event_ids) == 4
    page = client.events(ack="unacked", rule_id=rule_id, severity="critical")
    assert page.total == 4 and {e.event_id for e in page.events} == set(result.event_ids)
    first, second, third, fourth = result.event_ids
    acked = client.ack(first, by="kim", note="looked")
    assert acked.acked and acked.acked_by == "kim"
    bulk = client.bulk_ack([second, "nope"], by="lee")
    assert [e.event_id for e in bulk.acked] == [second] and bulk.not_found == ["nope"]
    noise = client.dismiss(third, by="kim")
    assert noise.dismissed and noise.acked
    assert [e.event_id for e in client.events(ack="unacked").events] == [fourth]
    assert client.events(ack="acked").total == 3
    assert client.events(text="nothing-like-this").total == 0
    detail = client.event(first)
    assert detail.payload == {"host": "web-0", "cpu_usage": 91, "timestamp": 60}
    assert detail.condition_evaluated is not None
    labels = client.labels(rule_id=rule_id)
    assert sorted(row.label for row in labels.labels) == ["incident", "incident", "noise"]


def test_changes_stream_until_stopped(client: Client) -> None:
    client.create_rule(cpu_rule())
    stop = threading.Event()
    opened = threading.Event()
    seen: list[EventChange] = []

    def read() -> None:
        for change in client.changes(ping_seconds=0.2, stop=stop, on_open=opened.set):
            seen.append(change)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert opened.wait(10)  # the stream starts at the present: ingest once it is open
        event_id = client.ingest({"cpu_usage": 99, "timestamp": 1}).event_ids[0]
        wait_for(lambda: any(c.change == "created" for c in seen), timeout=10)
        assert seen[0].event.event_id == event_id
        client.ack(event_id, by="kim")
        wait_for(lambda: any(c.change == "acked" for c in seen), timeout=10)
        acked = next(c for c in seen if c.change == "acked")
        assert acked.event.acked_by == "kim" and acked.seq > seen[0].seq
    finally:
        stop.set()
        reader.join(timeout=5)
    assert not reader.is_alive()  # a ping every 0.2 s lets the reader see ``stop``
    resumed = client.changes(last_event_id=0, ping_seconds=0.2, stop=stop)
    assert list(resumed) == []  # stop already set: returns at the first frame
    # resuming from 0 replays both changes; max_seconds ends the request by itself
    replay = list(client.changes(last_event_id=0, ping_seconds=0.1, max_seconds=0.5))
    assert [(c.seq, c.change) for c in replay] == [(c.seq, c.change) for c in seen]


def test_channels_configure_masked_test_and_dead_letter_retry(
    client: Client, service: FakeService
) -> None:
    assert client.channel_types()[:4] == ["Slack", "Email", "SMS", "Discord"]
    assert client.channel_status()["Slack"].status == "not_configured"
    service.route(SECRET, 200, body="ok")
    stored = client.configure_channel("Slack", {"webhook_url": service.url(SECRET)})
    assert stored.config == {"webhook_url": "**********"}
    assert "secret-token" not in client.channel("Slack").model_dump_json()
    ok = client.test_channel("Slack", message="CEP 채널 테스트")
    assert ok.status == "ok" and ok.latency_ms >= 0
    assert service.hits(SECRET)[-1].json["text"].endswith("CEP 채널 테스트")
    status = client.channel_status()["Slack"]
    assert status.status == "ok" and status.breaker == "closed"
    with pytest.raises(ClientError) as invalid:
        client.configure_channel("Email", {"smtp_host": "x", "to": []})
    assert {"config.from", "config.to"} <= {p.path for p in invalid.value.problems}
    # a 404 is not retried: one dead letter, retried once the channel is fixed
    service.route("/gone", 404)
    client.configure_channel("Slack", {"webhook_url": service.url("/gone")})
    client.create_rule(cpu_rule())
    client.ingest({"cpu_usage": 95, "timestamp": 60})
    letters = wait_for(lambda: client.dead_letters(), timeout=10)
    assert letters[0].letter.channel == "Slack"
    client.configure_channel("Slack", {"webhook_url": service.url(SECRET)})
    retried = client.retry_delivery(letters[0].dead_letter_id)
    assert retried.delivered
    assert client.dead_letters() == [] and len(client.dead_letters(status="all")) == 1


def test_stats_checks_and_scheduler(client: Client) -> None:
    rule_id = client.create_rule(cpu_rule()).rule_id
    client.trigger(rule_id, {"cpu_usage": 99}, dry_run=True)
    stats = client.stats("all")
    assert stats.backlog.unacked == 1
    row = next(r for r in stats.rules if r.rule_id == rule_id)
    assert row.executions == 1 and row.duration.p95_ms is not None
    assert client.checks("week").kind == "weekly"
    scheduler = client.scheduler_status()
    assert scheduler.rules_scheduled == 0 and scheduler.instance_count >= 1


def test_api_key_is_sent(sqlite_url: str) -> None:
    settings = Settings(db=sqlite_url, tick_seconds=0, api_keys="view-key:viewer,admin-key:admin")
    with serving(create_app(settings, clock=FakeClock(), sleep=no_sleep)) as url:
        with Client(url) as anonymous, pytest.raises(ClientError) as unauthorized:
            anonymous.rules()
        assert unauthorized.value.status_code == 401
        with Client(url, api_key="view-key") as viewer:
            assert viewer.rules() == []
            with pytest.raises(ClientError) as forbidden:
                viewer.create_rule(cpu_rule())
            assert forbidden.value.status_code == 403 and "needs admin" in str(forbidden.value)
        with Client(url, api_key="admin-key") as admin:
            assert admin.create_rule(cpu_rule()).version == 1
