"""``/cep/stats`` and ``/cep/stats/checks``: known rows in, exact figures out.

Execution logs are written through ``ExecutionLogStore.add`` with per-action results in
the dispatcher's shape (``ActionResult.model_dump(mode="json")``); events come from
ingest (ACK times on the fake clock) or straight from ``EventStore.add``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from cepkit.firing import Firing
from cepkit.store import ExecutionLog
from server.app import create_app
from server.checks import compute_checks, scheduler_health
from server.settings import Settings
from server.stats import AckBacklog, EventFacts, channel_stats, compute_stats, period_of
from tests.server.conftest import drain, live_of

CPU_RULE: dict[str, Any] = {
    "rule_name": "cpu_over_90",
    "severity": "high",
    "is_active": True,
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
    "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu {{cpu_usage}}"}],
}

ANOMALY_RULE: dict[str, Any] = {
    "rule_name": "latency_z",
    "trigger_type": "anomaly",
    "trigger_spec": {"value_path": "latency_ms", "anomaly_method": "zscore", "threshold": 3},
    "actions": [{"type": "notify", "channels": ["Slack"], "message": "lat"}],
}

PAGERDUTY = "https://events.pagerduty.com/v2/enqueue"


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[TestClient]:
    """The app on a SQLite file, then on PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        settings = Settings(db=request.getfixturevalue("sqlite_url"), tick_seconds=0)
    else:
        schema = request.getfixturevalue("pg_clean_schema")
        settings = Settings(db=request.getfixturevalue("pg_url"), db_schema=schema, tick_seconds=0)
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


# --- rows in the dispatcher's shape -------------------------------------------------------


def attempt(number: int, status_code: int | None = 200, error: str | None = None) -> dict[str, Any]:
    return {
        "attempt": number,
        "status_code": status_code,
        "error": error,
        "latency_ms": 12.5,
        "delay_before_s": 0.0 if number == 1 else float(2 ** (number - 2)),
        "at": None,
    }


def delivery(
    channel: str | None,
    status: str,
    tries: int,
    breaker: str | None,
    *,
    fallback: dict[str, Any] | None = None,
    role: str = "primary",
    action_type: str = "notify",
    action_index: int = 0,
    target: str | None = None,
) -> dict[str, Any]:
    """One ``ActionResult`` as ``model_dump(mode="json")`` gives it."""
    failed = status == "failed"
    code = 503 if failed else 200
    return {
        "action_index": action_index,
        "action_type": action_type,
        "channel": channel,
        "target": target or channel,
        "role": role,
        "status": status,
        "attempts": [attempt(n, code, "HTTP 503" if failed else None) for n in range(1, tries + 1)],
        "error": "HTTP 503" if failed else None,
        "breaker": breaker,
        "fallback": fallback,
        "dead_letter": None,
        "detail": {},
        "fallback_used": fallback is not None,
        "delivered": not failed or (fallback is not None and fallback["status"] == "success"),
    }


def log_row(
    rule: str,
    started_at: datetime,
    duration_ms: float,
    *,
    status: str = "success",
    actions: list[dict[str, Any]] | None = None,
) -> ExecutionLog:
    return ExecutionLog.new(
        rule_id=f"rule_{rule}",
        rule_name=rule,
        trigger="ingest",
        status=status,
        started_at=started_at,
        duration_ms=duration_ms,
        actions=actions or [],
    )


def firings(name: str, count: int) -> list[Firing]:
    return [
        Firing.build(
            rule_key=name,
            rule_id=f"rule_{name}",
            rule_name=name,
            severity="high",
            event_time=float(60 * i),
            values={"i": i},
        )
        for i in range(count)
    ]


def by_rule(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["rule_name"]: rule for rule in body["rules"]}


def item(checklist: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in checklist["items"] if i["key"] == key)
    return found


# --- per rule: executions and exact percentiles ---------------------------------------------


def test_durations_are_exact_percentiles_over_the_period(
    client: TestClient, clock: FakeClock
) -> None:
    live = live_of(client)
    now = clock.now()
    for ms in range(1, 101):  # 1..100 ms within the last hour
        live.logs.add(log_row("cpu", now - timedelta(hours=1) + timedelta(seconds=ms), ms))
    live.logs.add(log_row("cpu", now - timedelta(minutes=5), 0.0, status="suppressed"))
    live.logs.add(log_row("cpu", now - timedelta(days=2), 1000.0, status="failed"))

    day = client.get("/cep/stats", params={"period": "day"}).json()
    cpu = by_rule(day)["cpu"]
    assert cpu["rule_id"] == "rule_cpu"
    assert (cpu["executions"], cpu["success"], cpu["failed"], cpu["suppressed"]) == (100, 100, 0, 1)
    assert cpu["duration"] == {
        "count": 100,
        "avg_ms": 50.5,
        "p50_ms": 50.5,
        "p95_ms": 95.05,
        "p99_ms": 99.01,
        "max_ms": 100.0,
    }
    assert day["executions"]["executions"] == 100 and day["executions"]["suppressed"] == 1
    assert day["period"]["name"] == "day"
    assert day["period"]["since"] == (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    week = by_rule(client.get("/cep/stats", params={"period": "week"}).json())["cpu"]
    assert (week["executions"], week["failed"]) == (101, 1)
    # 101 values: 1..100 and 1000; rank 0.95 * 100 = 95 -> 96, rank 99 -> 100
    assert week["duration"]["p95_ms"] == 96.0 and week["duration"]["p99_ms"] == 100.0
    assert week["duration"]["avg_ms"] == round(6050 / 101, 3) and week["duration"]["max_ms"] == 1000

    custom = client.get(
        "/cep/stats",
        params={
            "since": (now - timedelta(days=2, minutes=1)).isoformat(),
            "until": (now - timedelta(days=2)).isoformat(),  # exclusive: the old row is out
        },
    ).json()
    assert custom["period"]["name"] == "custom" and custom["rules"] == []
    naive_since = (now - timedelta(days=3)).replace(tzinfo=None).isoformat()
    old = client.get("/cep/stats", params={"since": naive_since, "until": now.isoformat()}).json()
    assert by_rule(old)["cpu"]["executions"] == 101  # a naive datetime is UTC


# --- per channel: success, fallback, breaker -------------------------------------------------


def channel_rows(now: datetime) -> list[ExecutionLog]:
    """A: Slack ok + webhook ok; B: Slack fails and opens its breaker, Email delivers;
    C: Slack short-circuited, Email delivers; D: Slack ok again; E: Slack and Discord fail,
    their shared Email fallback fails too; F: a dry run; G: results that are not deliveries."""
    email_ok = delivery("Email", "success", 1, "closed", role="fallback")
    email_bad = delivery("Email", "failed", 1, "closed", role="fallback")
    at = [now - timedelta(hours=3) + timedelta(minutes=n) for n in range(7)]
    return [
        log_row(
            "cpu",
            at[0],
            10,
            actions=[
                delivery("Slack", "success", 1, "closed"),
                delivery(
                    None,
                    "success",
                    1,
                    "closed",
                    action_type="webhook",
                    action_index=1,
                    target=PAGERDUTY,
                ),
            ],
        ),
        log_row(
            "cpu", at[1], 10, actions=[delivery("Slack", "failed", 5, "open", fallback=email_ok)]
        ),
        log_row(
            "cpu", at[2], 10, actions=[delivery("Slack", "failed", 0, "open", fallback=email_ok)]
        ),
        log_row("cpu", at[3], 10, actions=[delivery("Slack", "success", 1, "closed")]),
        log_row(
            "cpu",
            at[4],
            10,
            status="failed",
            actions=[
                delivery("Slack", "failed", 1, "closed", fallback=email_bad),
                delivery("Discord", "failed", 1, "closed", fallback=email_bad),
            ],
        ),
        log_row(
            "cpu",
            at[5],
            1,
            status="dry_run",
            actions=[
                {"type": "notify", "channels": ["Slack"], "status": "planned", "attempts": []}
            ],
        ),
        log_row(
            "cpu",
            at[6],
            10,
            status="partial",
            actions=[
                {},  # nothing in it
                {"channel": "Slack", "attempts": []},  # no status: not counted
                {"action_type": "trigger", "status": "success"},  # no channel: not counted
            ],
        ),
    ]


def test_channel_success_fallback_and_breaker_figures(client: TestClient, clock: FakeClock) -> None:
    live = live_of(client)
    for row in channel_rows(clock.now()):
        live.logs.add(row)
    body = client.get("/cep/stats").json()
    channels = {c["channel"]: c for c in body["channels"]}
    assert list(channels) == ["Discord", "Email", "Slack", "webhook:events.pagerduty.com"]
    slack = channels["Slack"]
    assert {k: slack[k] for k in slack if k != "channel"} == {
        "deliveries": 5,
        "primary": 5,
        "as_fallback": 0,
        "succeeded": 2,
        "failed": 3,
        "success_rate": 0.4,
        "failure_rate": 0.6,
        "fallback_used": 3,
        "fallback_rate": 0.6,
        "undelivered": 1,
        "attempts": 8,
        "breaker_opens": 1,
        "short_circuited": 1,
        "breaker_state": "closed",
    }
    email = channels["Email"]
    assert (email["deliveries"], email["as_fallback"], email["succeeded"], email["failed"]) == (
        3,
        3,
        2,
        1,
    )  # E's shared fallback counts once
    assert email["success_rate"] == 0.666667 and email["fallback_rate"] is None
    discord = channels["Discord"]
    assert (discord["failure_rate"], discord["fallback_rate"], discord["undelivered"]) == (1, 1, 1)
    hook = channels["webhook:events.pagerduty.com"]
    assert (hook["deliveries"], hook["success_rate"]) == (1, 1.0)

    weekly = client.get("/cep/stats/checks", params={"period": "week"}).json()
    failure = item(weekly, "channel_failure_rate")
    assert failure["status"] == "warn" and failure["value"] == 0.5  # 5 of 10 deliveries
    assert "Slack: success 40%, fallback 60%, breaker opened 1x" in failure["detail"]
    assert "Email: success 66.67%" in failure["detail"]
    daily = client.get("/cep/stats/checks", params={"period": "day"}).json()
    failed = item(daily, "failed_notifications")
    assert (failed["status"], failed["value"]) == ("warn", 2)  # E failed, G partial
    assert "2 deliveries lost" in failed["detail"]


def test_the_dispatchers_own_results_give_the_same_figures(clock: FakeClock) -> None:
    results = pytest.importorskip("cepkit.actions.results")
    now = clock.now()
    fallback = results.ActionResult(
        action_index=0,
        action_type="notify",
        channel="Email",
        role="fallback",
        status="success",
        attempts=[results.Attempt(attempt=1, status_code=250)],
        breaker="closed",
    )
    opened = results.ActionResult(
        action_index=0,
        action_type="notify",
        channel="Slack",
        status="failed",
        attempts=[results.Attempt(attempt=n, status_code=503) for n in range(1, 6)],
        error="HTTP 503",
        breaker="open",
        fallback=fallback,
    )
    real = log_row("cpu", now, 5, actions=[opened.model_dump(mode="json")])
    ours = log_row(
        "cpu",
        now,
        5,
        actions=[
            delivery(
                "Slack",
                "failed",
                5,
                "open",
                fallback=delivery("Email", "success", 1, "closed", role="fallback"),
            )
        ],
    )
    assert channel_stats([real]) == channel_stats([ours])


# --- ACKs: MTTA, backlog ------------------------------------------------------------------------


def test_mean_time_to_ack_and_the_backlog(client: TestClient, clock: FakeClock) -> None:
    start = clock.now()
    client.post("/cep/rules", json=CPU_RULE)

    def ingest(ts: int) -> str:
        answer = client.post("/cep/ingest", json={"timestamp": ts, "cpu_usage": 95}).json()
        event_id: str = answer["event_ids"][0]
        return event_id

    first = ingest(60)
    clock.advance(timedelta(minutes=10))
    second = ingest(120)
    clock.advance(timedelta(minutes=5))
    client.post(f"/cep/events/{first}/ack", json={"by": "kim"})  # 15 min after creation
    clock.advance(timedelta(minutes=5))
    client.post(f"/cep/events/{second}/dismiss", json={"by": "kim"})  # 10 min after
    third = ingest(180)
    drain(client)
    fresh = client.get("/cep/stats/checks", params={"period": "day"}).json()
    assert item(fresh, "ack_backlog")["status"] == "pass"  # waiting 0 s, within the SLA

    clock.advance(timedelta(hours=2))
    body = client.get("/cep/stats").json()
    assert body["events"] == {
        "created": 3,
        "acked": 2,
        "dismissed": 1,
        "unacked": 1,
        "mtta_seconds": 750.0,  # (900 + 600) / 2
    }
    created_third = start + timedelta(minutes=20)
    assert body["backlog"] == {
        "unacked": 1,
        "oldest_unacked_at": created_third.isoformat().replace("+00:00", "Z"),
        "oldest_unacked_age_seconds": 7200.0,
        "over_sla": 1,
        "sla_seconds": 3600.0,
    }
    cpu = by_rule(body)["cpu_over_90"]
    assert (cpu["firings"], cpu["acked"], cpu["dismissed"], cpu["unacked"]) == (3, 2, 1, 1)
    assert cpu["false_positive_rate"] == 0.5 and cpu["mtta_seconds"] == 750.0
    assert client.get(f"/cep/events/{third}").json()["acked"] is False

    daily = client.get("/cep/stats/checks", params={"period": "day"}).json()
    backlog = item(daily, "ack_backlog")
    assert (backlog["status"], backlog["value"]) == ("warn", 1)
    assert "the oldest waits 7200 s" in backlog["detail"]
    count = item(daily, "events_count")
    assert (count["status"], count["value"]) == ("pass", 3)  # budget 24 for 1 active rule
    weekly = client.get("/cep/stats/checks", params={"period": "week"}).json()
    mtta = item(weekly, "mean_time_to_ack")
    assert (mtta["status"], mtta["value"], mtta["threshold"]) == ("pass", 750.0, "<= 3600 s")


# --- top-5 lists and anomaly precision ------------------------------------------------------


def test_top_five_by_firings_and_by_noise(client: TestClient) -> None:
    events = live_of(client).events
    counts = {"alpha": 3, "bravo": 6, "charlie": 6, "delta": 1, "echo": 4, "foxtrot": 2, "golf": 5}
    stored = {name: events.add(firings(name, n)) for name, n in counts.items()}
    verdicts = {  # name: (dismissed, acknowledged only)
        "alpha": (2, 0),
        "bravo": (2, 2),
        "delta": (1, 0),
        "echo": (1, 3),
        "foxtrot": (1, 1),
        "golf": (1, 0),
    }
    for name, (noise, real) in verdicts.items():
        for event in stored[name][:noise]:
            events.dismiss(event.event_id, by="kim")
        for event in stored[name][noise : noise + real]:
            events.ack(event.event_id, by="kim")

    weekly = client.get("/cep/stats/checks", params={"period": "week"}).json()
    assert weekly["kind"] == "weekly" and weekly["period"]["name"] == "week"
    assert [i["key"] for i in weekly["items"]] == [
        "top_rules_by_firings",
        "top_rules_by_noise",
        "channel_failure_rate",
        "mean_time_to_ack",
    ]
    top = item(weekly, "top_rules_by_firings")
    assert [(r["rule_name"], r["count"]) for r in top["top"]] == [
        ("bravo", 6),
        ("charlie", 6),  # ties by name
        ("golf", 5),
        ("echo", 4),
        ("alpha", 3),
    ]
    assert top["status"] == "pass" and top["threshold"] == "<= 168 firings per rule"
    noisy = item(weekly, "top_rules_by_noise")
    assert [(r["rule_name"], r["count"], r["rate"]) for r in noisy["top"]] == [
        ("alpha", 2, 1.0),
        ("bravo", 2, 0.5),
        ("delta", 1, 1.0),  # ties by false-positive rate, then name
        ("golf", 1, 1.0),
        ("foxtrot", 1, 0.5),
    ]
    assert noisy["status"] == "warn"
    assert weekly["status"] == "warn"
    assert item(weekly, "channel_failure_rate")["status"] == "pass"  # nothing delivered
    assert weekly["thresholds"]["max_false_positive_rate"] == 0.05


def test_daily_checklist_and_anomaly_precision(client: TestClient) -> None:
    created = client.post("/cep/rules", json=ANOMALY_RULE).json()
    events = live_of(client).events
    anomaly = events.add(
        [f.model_copy(update={"rule_id": created["rule_id"]}) for f in firings("latency_z", 4)]
    )
    daily = client.get("/cep/stats/checks", params={"period": "day"}).json()
    assert daily["kind"] == "daily"
    assert [i["key"] for i in daily["items"]] == [
        "events_count",
        "ack_backlog",
        "failed_notifications",
        "scheduler_health",
        "anomaly_precision",
    ]
    assert item(daily, "anomaly_precision")["status"] == "unknown"  # no verdicts yet
    for event in anomaly[:3]:
        events.ack(event.event_id, by="kim")
    events.dismiss(anomaly[3].event_id, by="kim")
    other = events.add(firings("cpu", 2))
    events.dismiss(other[0].event_id, by="kim")  # not an anomaly rule: not counted

    daily = client.get("/cep/stats/checks", params={"period": "day"}).json()
    precision = item(daily, "anomaly_precision")
    assert (precision["status"], precision["value"]) == ("warn", 0.75)
    assert precision["detail"] == "3 incidents, 1 noise among 4 verdicts on 1 anomaly rules"
    scheduler = item(daily, "scheduler_health")
    assert scheduler["value"] in ("healthy", "degraded", "unknown")
    assert scheduler["status"] in ("pass", "warn", "unknown")
    assert item(daily, "failed_notifications")["status"] == "pass"
    assert daily["thresholds"]["ack_sla_seconds"] == 3600.0


# --- parameters ------------------------------------------------------------------------------


def test_bad_periods_are_422(client: TestClient, clock: FakeClock) -> None:
    now = clock.now().isoformat()
    backwards = client.get("/cep/stats", params={"since": now, "until": now})
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["path"] == "since"
    assert "must be before until" in backwards.json()["detail"][0]["msg"]
    assert client.get("/cep/stats", params={"period": "month"}).status_code == 422
    assert client.get("/cep/stats/checks", params={"period": "all"}).status_code == 422
    empty = client.get("/cep/stats", params={"period": "all"}).json()
    assert empty["period"] == {"name": "all", "since": None, "until": None}
    assert empty["rules"] == [] and empty["channels"] == []
    assert empty["executions"]["duration"]["p95_ms"] is None


# --- pure pieces ---------------------------------------------------------------------------


def test_events_over_the_budget_warn(clock: FakeClock) -> None:
    now = clock.now()
    facts = [
        EventFacts(event_id=f"e{i}", rule_id="rule_a", rule_name="a", created_at=now)
        for i in range(25)
    ]
    period = period_of("day", now)
    stats = compute_stats(
        facts, [], period=period, now=now, backlog=AckBacklog(unacked=0, sla_seconds=3600)
    )
    checks = compute_checks(stats, kind="daily", scheduler=scheduler_health(None), active_rules=1)
    count = next(i for i in checks.items if i.key == "events_count")
    assert (count.status, count.value) == ("warn", 25)
    assert checks.status == "warn"
    assert next(i for i in checks.items if i.key == "scheduler_health").status == "unknown"


class _Status:
    def __init__(self, report: Any) -> None:
        self.report = report

    def status(self) -> Any:
        if isinstance(self.report, Exception):
            raise self.report
        return self.report


def test_scheduler_health_reads_what_the_scheduler_reports() -> None:
    assert scheduler_health(None).state == "unknown"
    healthy = scheduler_health(_Status({"running": True, "healthy": True, "missed_runs": 0}))
    assert healthy.state == "healthy" and healthy.status is not None
    sick = scheduler_health(
        _Status({"running": True, "healthy": False, "problems": ["no heartbeat for 30 s"]})
    )
    assert (sick.state, sick.detail) == ("degraded", "no heartbeat for 30 s")
    assert scheduler_health(_Status({"status": "running", "missed": 2})).state == "degraded"
    assert scheduler_health(_Status({"state": "leader"})).state == "healthy"
    assert scheduler_health(_Status({"uptime": 5})).state == "unknown"
    assert scheduler_health(_Status("fine")).state == "unknown"
    broken = scheduler_health(_Status(RuntimeError("lost the lock")))
    assert (broken.state, broken.detail) == ("unknown", "status unreadable: lost the lock")
